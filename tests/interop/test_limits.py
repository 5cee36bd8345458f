"""Resource limits: stanza size, handshake timeout, slow readers, connection
storms.  Each test runs its own server with small limits."""

from __future__ import annotations

import asyncio
import socket
import time

from slixmpp.stanza import Message

import raw
from clients import Client
from raw import RawClient, RawTimeout, StreamClosed


# -------------------------------------------------------------- stanza size
async def test_stanza_size_limit(make_server):
    srv = make_server(limits={"max_stanza_bytes": 10000})
    A, B = srv.add_user("alice", "pw-a"), srv.add_user("bob", "pw-b")
    b = await Client.login(srv, B, "b")
    try:
        a = await asyncio.to_thread(raw.login_server, srv, A, "big")
        # below the limit: delivered
        small = "s" * 5000
        await asyncio.to_thread(a.message, b.full, small)
        await b.wait_message(body=small)
        # above the limit: stream error, connection closed, nothing delivered
        big = "B" * 20000
        await asyncio.to_thread(a.try_send, f"<message to='{b.full}' type='chat'><body>{big}</body></message>")
        cond = await asyncio.to_thread(a.expect_stream_error, 10)
        assert cond == "policy-violation", cond
        assert await asyncio.to_thread(a.wait_closed, 5)
        a.close()
        await b.expect_none(lambda s: isinstance(s, Message) and s["body"] == big, 0.5, "the oversized message")
        # the server is fine
        reply = await b.xmpp.plugin["xep_0199"].send_ping(srv.domain, timeout=5)
        assert reply["type"] == "result"
    finally:
        await b.disconnect()


def _send_until_refused(c: RawClient, opening: str, piece, most: int) -> tuple[str | None, int]:
    """Sends `opening`, then `piece(k)` for k = 0, 1, … (never ending what it opened)
    until the server ends the stream or `most` bytes went; the stream error and how many
    bytes went before it."""
    c.send(opening)
    cond, sent, k = None, 0, 0
    while sent < most:
        data = piece(k)
        k += 1
        if not c.try_send(data):
            break
        sent += len(data)
        try:
            c.recv(timeout=0.02)
        except RawTimeout:
            continue
        except StreamClosed as e:
            cond = e.condition
            break
    if cond is None and c.stream_error is None:
        try:
            cond = c.expect_stream_error(5)
        except StreamClosed as e:
            cond = e.condition
    return cond or c.stream_error, sent


def test_unterminated_oversized_stanza(make_server):
    """The limit applies while the stanza is still being received: the server
    must not buffer an endless stanza."""
    srv = make_server(limits={"max_stanza_bytes": 10000})
    A = srv.add_user("alice", "pw-a")
    c = raw.login_server(srv, A, "endless")
    try:
        # up to 300 KB, 30x the limit
        cond, sent = _send_until_refused(
            c, f"<message to='{A.jid}' type='chat'><body>", lambda _: "z" * 2000, 300_000)
        assert cond == "policy-violation", f"after {sent} bytes of body: stream error {cond!r}"
        assert sent < 200_000, f"server accepted {sent} bytes of a stanza limited to 10000"
    finally:
        c.close()


def _pad_until_refused(c: RawClient, opening: str, limit: int) -> tuple[str | None, int]:
    """Sends `opening` then attributes, never closing the tag; the stream error and how
    many bytes went before it."""
    return _send_until_refused(
        c, opening, lambda k: "".join(f" a{i}='1'" for i in range(200 * k, 200 * k + 200)),
        40 * limit)


def test_a_tag_padded_with_attributes_before_login_is_refused_while_it_comes(make_server):
    """Before authentication, a stream header or an element whose start tag never ends
    (millions of attributes) is refused at 16 KiB, not buffered: an attacker's thousands
    of unauthenticated connections cannot hold the server's memory."""
    srv = make_server()
    A = srv.add_user("alice", "pw-a")
    # In the stream header.
    c = RawClient(srv.host, srv.c2s_port, srv.domain)
    c.connect()
    try:
        cond, sent = _pad_until_refused(
            c, f"<?xml version='1.0'?><stream:stream to='{srv.domain}' xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'", 16 * 1024)
        assert cond == "policy-violation", (cond, sent)
        assert sent < 64 * 1024, f"the server took {sent} bytes of an unfinished header"
    finally:
        c.close()
    # In an element before STARTTLS.
    c = RawClient(srv.host, srv.c2s_port, srv.domain)
    c.connect()
    c.open_stream()
    try:
        cond, sent = _pad_until_refused(
            c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'", 16 * 1024)
        assert cond == "policy-violation", (cond, sent)
        assert sent < 64 * 1024, f"the server took {sent} bytes of an unfinished tag"
    finally:
        c.close()
    # Logged in, stanzas have the configured size (256 KiB) again.
    a = raw.login_server(srv, A, "big")
    try:
        big = "B" * 100_000
        a.message(A.jid, big)
        reply = a.ping_server(10)
        assert reply.get("type") == "result"
        assert a.stream_error is None
    finally:
        a.close()


# -------------------------------------------------------- handshake timeout
def test_handshake_timeout(make_server):
    srv = make_server(limits={"handshake_timeout_secs": 2})
    A = srv.add_user("alice", "pw-a")
    t0 = time.monotonic()
    header_only = RawClient(srv.host, srv.c2s_port, srv.domain)
    header_only.connect()
    header_only.open_stream()
    after_tls = RawClient(srv.host, srv.c2s_port, srv.domain)
    after_tls.connect()
    after_tls.open_stream()
    after_tls.starttls()
    silent = socket.create_connection((srv.host, srv.c2s_port), timeout=10)
    bound = raw.login_server(srv, A, "bound")
    try:
        cond = header_only.expect_stream_error(8)
        elapsed = time.monotonic() - t0
        assert cond == "connection-timeout", cond
        assert 1.5 <= elapsed <= 6, f"closed after {elapsed:.1f}s with handshake_timeout_secs=2"
        assert after_tls.expect_stream_error(6) == "connection-timeout"
        # a connection that never sent anything is closed too
        silent.settimeout(6)
        while True:
            try:
                data = silent.recv(4096)
            except (ConnectionResetError, socket.timeout) as e:
                assert not isinstance(e, socket.timeout), "silent connection not closed"
                break
            if not data:
                break
        # a bound session is not subject to the handshake timeout
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        assert bound.ping_server(5).get("type") == "result"
    finally:
        for c in (header_only, after_tls, bound):
            c.close()
        silent.close()


# ------------------------------------------------------------- slow reader
async def test_slow_reader_is_disconnected(make_server):
    # The sender floods on purpose: no message rate here (test_rate_limits.py).
    srv = make_server(limits={"send_queue_len": 50},
                      extra_toml="[rates.adults]\nmessages_per_minute = 0\n")
    R, S, T = (srv.add_user(n, f"pw-{n}") for n in ("sink", "sender", "third"))
    sink = await asyncio.to_thread(raw.login_server, srv, R, "sink", rcvbuf=4096)
    s = await Client.login(srv, S, "s")
    t = await Client.login(srv, T, "t")
    try:
        chunk = "F" * 50_000
        sent = 0
        gone = lambda st: isinstance(st, Message) and st["type"] == "error" and str(st["from"]) == sink.jid
        for i in range(400):  # at most 20 MB
            s.send_message(sink.jid, f"{i} {chunk}")
            sent += 1
            if i % 10 == 9:
                await asyncio.sleep(0.02)
                if s.matching(gone):
                    break
        # everything we sent has been read by the server once it answers this
        reply = await s.xmpp.plugin["xep_0199"].send_ping(srv.domain, timeout=20)
        assert reply["type"] == "result"

        def drain() -> tuple[int, bool]:
            n = 0
            try:
                while True:
                    el = sink.recv(timeout=10)
                    if el.tag == raw.MESSAGE:
                        n += 1
            except StreamClosed:
                return n, True
            except RawTimeout:
                return n, False
        received, closed = await asyncio.to_thread(drain)
        assert closed, (f"the non-reading session is still open after {sent} messages of 50 KB "
                        f"(it then read {received})")
        assert received < sent
        # the sender is fine and chats with a third user
        assert s.connected
        s.send_message(t.full, "after the flood")
        await t.wait_message(body="after the flood", frm=s.full, timeout=10)
        t.send_message(s.full, "reply after the flood")
        await s.wait_message(body="reply after the flood", frm=t.full, timeout=10)
    finally:
        sink.close()
        await s.disconnect()
        await t.disconnect()


# --------------------------------------------------------- connection storm
async def test_connection_storm_keeps_memory_bounded(make_server):
    srv = make_server()
    A = srv.add_user("alice", "pw-a")
    c = await Client.login(srv, A, "warmup")
    await c.disconnect()
    await asyncio.sleep(0.5)
    baseline = srv.rss_kb()

    header = (f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
              f"xmlns:stream='http://etherx.jabber.org/streams' to='{srv.domain}' version='1.0'>").encode()
    tls_ctx = raw.make_client_ssl_context()
    sem = asyncio.Semaphore(100)
    failures = []

    async def one(i: int) -> None:
        async with sem:
            try:
                kind = i % 8
                if kind == 7:  # direct TLS handshake, then drop
                    r, w = await asyncio.wait_for(asyncio.open_connection(
                        srv.host, srv.c2s_tls_port, ssl=tls_ctx, server_hostname=srv.domain), 10)
                else:
                    r, w = await asyncio.wait_for(asyncio.open_connection(srv.host, srv.c2s_port), 10)
                if kind in (1, 2, 3, 7):  # open a stream, read a bit of the answer
                    w.write(header)
                    await w.drain()
                    try:
                        await asyncio.wait_for(r.read(256), 2)
                    except asyncio.TimeoutError:
                        pass
                if kind == 4:  # half a stanza
                    w.write(header + b"<message to='x@localhost'><body>" + b"p" * 2000)
                    await w.drain()
                if kind % 2 == 0:
                    w.transport.abort()  # RST
                else:
                    w.close()
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(2000)))
    storm = time.monotonic() - t0
    assert len(failures) < 20, f"{len(failures)} connections failed: {failures[:5]}"
    assert srv.is_running(), "server died during the connection storm"

    await asyncio.sleep(2)
    after = srv.rss_kb()
    # the server still answers
    c = await Client.login(srv, A, "after")
    try:
        reply = await c.xmpp.plugin["xep_0199"].send_ping(srv.domain, timeout=5)
        assert reply["type"] == "result"
    finally:
        await c.disconnect()
    assert after <= baseline + 30 * 1024, (
        f"RSS grew from {baseline} KiB to {after} KiB after 2000 dropped connections ({storm:.1f}s)")
