"""Connections before authentication (issue 16, « Limits »): the cap per source
address, the shorter deadline before authentication, the file descriptor reserve and
the refusals logged once per address.  Each test runs its own server with small
limits; a second source address is the loopback alias 127.0.0.2 (Linux)."""

from __future__ import annotations

import select
import socket
import time
import urllib.request

import raw

OTHER_ADDRESS = "127.0.0.2"
REFUSED_LINE = "refusing unauthenticated connections from 127.0.0.1"


def open_idle(host: str, port: int, source: str | None = None) -> socket.socket:
    """A TCP connection that never sends a byte."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(5)
    s.connect((host, port))
    return s


def closed_within(s: socket.socket, seconds: float) -> bool:
    """Whether the server closes `s` within `seconds` (whatever it wrote first)."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if not s.recv(4096):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def still_open(s: socket.socket) -> bool:
    readable, _, _ = select.select([s], [], [], 0)
    return not readable or not closed_within(s, 0.01)


def websocket_upgrade(host: str, port: int, source: str | None = None) -> tuple[int, socket.socket]:
    """An XMPP WebSocket upgrade that sends nothing after it: (HTTP status, socket)."""
    s = open_idle(host, port, source)
    s.sendall(
        f"GET /xmpp-websocket HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    if not head:
        return 0, s  # closed before any answer
    status_line = head.split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1]), s


def websocket_upgrade_status(host: str, port: int) -> int:
    """The upgrade's HTTP status; 0 when the connection is closed without an answer."""
    try:
        status, s = websocket_upgrade(host, port)
    except (ConnectionResetError, BrokenPipeError):
        return 0
    s.close()
    return status


def refusal_lines(srv) -> list[str]:
    return [line for line in srv.log_text().splitlines() if "unauthenticated connections from" in line]


def test_cap_per_address_and_deadline_before_authentication(make_server):
    srv = make_server(limits={"unauthenticated_per_address": 50, "unauthenticated_timeout_secs": 4})
    A, B = srv.add_user("alice", "pw-a"), srv.add_user("bob", "pw-b")
    # An authenticated session from the flooding address, idle all along.
    bound = raw.login_server(srv, A, "idle")
    idle: list[socket.socket] = []
    extra: list[socket.socket] = []
    others: list[raw.RawClient] = []
    try:
        t0 = time.monotonic()
        # An idle WebSocket from the other address: upgraded, then silent.
        status, ws_idle = websocket_upgrade(srv.host, srv.http_port, OTHER_ADDRESS)
        extra.append(ws_idle)
        assert status == 101, status
        # Idle HTTP and HTTPS connections from there too: nothing sent.
        web_idle = [open_idle(srv.host, srv.http_port, OTHER_ADDRESS),
                    open_idle(srv.host, srv.https_port, OTHER_ADDRESS)]
        extra += web_idle
        idle = [open_idle(srv.host, srv.c2s_port) for _ in range(50)]
        time.sleep(0.5)  # the server has accepted them all
        assert all(still_open(s) for s in idle), "a connection within the cap was closed"

        # Beyond the cap, on every door: closed at once.
        refused = [open_idle(srv.host, srv.c2s_port) for _ in range(5)]
        refused += [open_idle(srv.host, srv.c2s_tls_port) for _ in range(3)]
        extra += refused
        for s in refused:
            assert closed_within(s, 2), "a connection beyond the cap was served"
        # The HTTP listener counts its connections until their first bytes: this one is
        # closed at once (an upgrade that got through would be refused with 503).
        assert websocket_upgrade_status(srv.host, srv.http_port) in (0, 503)

        # Another address logs in meanwhile, on both TCP doors.
        others.append(raw.login(srv.host, srv.c2s_port, srv.domain, B.user, B.password, "s",
                                source=OTHER_ADDRESS))
        others.append(raw.login(srv.host, srv.c2s_tls_port, srv.domain, B.user, B.password, "t",
                                direct_tls=True, source=OTHER_ADDRESS))
        for o in others:
            assert o.ping_server(5).get("type") == "result"
        assert time.monotonic() - t0 < 4, "too slow to check before the deadline"

        # The deadline before authentication closes the idle connections, the WebSocket
        # too...
        for s in idle + [ws_idle] + web_idle:
            assert closed_within(s, 8 - (time.monotonic() - t0)), "idle unauthenticated connection kept"
        elapsed = time.monotonic() - t0
        assert 3 <= elapsed <= 8, f"idle connections closed after {elapsed:.1f}s (deadline 4s)"
        # ... not the authenticated sessions, idle as long.
        assert bound.ping_server(5).get("type") == "result"
        # The address has its places back.
        others.append(raw.login_server(srv, A, "again"))

        # Nine refusals, one log line, in English, naming the address and the reason.
        lines = refusal_lines(srv)
        assert len(lines) == 1, lines
        assert REFUSED_LINE in lines[0] and "too many unauthenticated connections" in lines[0], lines
        assert "authenticated peer=127.0.0.2" in srv.log_text()
    finally:
        for s in idle + extra:
            s.close()
        for c in [bound, *others]:
            c.close()


def test_descriptor_reserve_keeps_the_server_reachable(make_server):
    """With 256 descriptors, idle connections stop being served when fewer than the
    reserve (a quarter: 64) are free: no "Too many open files", the authenticated
    session and the admin HTTP keep working, and logins come back after the deadline."""
    srv = make_server(limits={"unauthenticated_timeout_secs": 4}, nofile=256)
    A = srv.add_user("alice", "pw-a")
    bound = raw.login_server(srv, A, "idle")
    flood: list[socket.socket] = []
    try:
        t0 = time.monotonic()
        for _ in range(240):
            try:
                flood.append(open_idle(srv.host, srv.c2s_port))
            except OSError:
                break  # the kernel's backlog is full: the server is not accepting
        time.sleep(0.5)
        refused = sum(1 for s in flood if closed_within(s, 0.05))
        assert refused > 0, "every idle connection was kept with 256 descriptors"
        log = srv.log_text()
        assert "Too many open files" not in log, "the server ran out of descriptors"
        assert "file descriptors below the reserve" in log
        # What is there keeps working: the bound session and the admin HTTP.
        assert bound.ping_server(5).get("type") == "result"
        with urllib.request.urlopen(f"http://{srv.host}:{srv.http_port}/healthz", timeout=5) as r:
            assert r.status == 200
        # Once the idle ones reach the deadline, logins are served again.
        time.sleep(max(0.0, 4 - (time.monotonic() - t0)))
        again = None
        while again is None:
            try:
                again = raw.login_server(srv, A, "again")
            except (raw.StreamClosed, OSError):
                # The server is still closing the idle ones: a refused login is closed
                # at once; give it until two seconds past the deadline.
                assert time.monotonic() - t0 < 6, "no login 2 s after the idle connections' deadline"
                time.sleep(0.2)
        assert again.ping_server(5).get("type") == "result"
        again.close()
        assert bound.ping_server(5).get("type") == "result"
    finally:
        for s in flood:
            s.close()
        bound.close()


def test_an_http_request_cut_short_is_closed_at_the_deadline_and_counted_until_then(make_server):
    """A client that sends the start of an HTTP request and then nothing (slowloris) keeps
    its connection only until the deadline before authentication, and counts among its
    address's unauthenticated connections until its headers are complete. (From the
    second loopback address: the harness's own probes come from the first.)"""
    srv = make_server(limits={"unauthenticated_per_address": 3, "unauthenticated_timeout_secs": 3})
    half = []
    try:
        t0 = time.monotonic()
        for _ in range(3):
            s = open_idle(srv.host, srv.http_port, OTHER_ADDRESS)
            s.sendall(f"GET / HTTP/1.1\r\nHost: {srv.host}\r\n".encode())
            half.append(s)
        time.sleep(0.5)
        # The address's three places are taken: a fourth connection is closed at once.
        beyond = open_idle(srv.host, srv.http_port, OTHER_ADDRESS)
        half.append(beyond)
        assert closed_within(beyond, 2), "the half-sent requests no longer counted"
        # At the deadline, the half-sent requests are closed.
        for s in half[:3]:
            assert closed_within(s, 8 - (time.monotonic() - t0)), "a half-sent request kept"
        assert time.monotonic() - t0 <= 8
        # The same over HTTPS, after its handshake.
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t1 = time.monotonic()
        tls = ctx.wrap_socket(open_idle(srv.host, srv.https_port), server_hostname="localhost")
        half.append(tls)
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {srv.host}\r\n".encode())
        assert closed_within(tls, 8), "a half-sent request over HTTPS kept"
        assert time.monotonic() - t1 <= 8
        # A whole request is served as usual.
        with urllib.request.urlopen(f"http://{srv.host}:{srv.http_port}/healthz", timeout=5) as r:
            assert r.status == 200
    finally:
        for s in half:
            s.close()
