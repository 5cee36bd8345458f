"""The command line contract: option placement, default storage, shutdown."""

from __future__ import annotations

import signal
import subprocess
import time

import harness
import raw
from clients import Client


def test_config_option_after_subcommand(server, make_user):
    alice = make_user("alice")
    cp = subprocess.run([str(harness.BINARY), "user", "list", "--config", str(server.config_path)],
                        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, cp.stderr
    assert alice.jid in cp.stdout.split()


def test_serve_with_config_after_subcommand(make_server):
    srv = make_server(start=False)
    with open(srv.log_path, "ab") as log:
        proc = subprocess.Popen([str(harness.BINARY), "serve", "--config", str(srv.config_path)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not harness.port_open(srv.c2s_port):
            assert proc.poll() is None, f"server exited {proc.returncode}:\n{srv.log_text()}"
            assert time.monotonic() < deadline, "server did not listen"
            time.sleep(0.05)
        with raw.RawClient(srv.host, srv.c2s_port, srv.domain) as c:
            c.connect()
            c.open_stream()
            assert c.stream_attrs.get("from") == srv.domain
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_default_storage_location(make_server):
    srv = make_server(storage_url=None)
    acct = srv.add_user("alice", "pw-alice")
    c = await Client.login(srv, acct, "x")
    await c.disconnect()
    assert (srv.data_dir / "causerie.db").is_file(), f"no database at {srv.data_dir / 'causerie.db'}"
    assert acct.jid in srv.list_users()


def test_sigterm_stops_server_with_clients_connected(make_server):
    srv = make_server()
    acct = srv.add_user("alice", "pw-alice")
    c = raw.login_server(srv, acct, "r")
    try:
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(10)
        assert time.monotonic() - t0 < 8, "server took too long to stop on SIGTERM"
        assert c.wait_closed(5), "client connection left open after shutdown"
    finally:
        c.close()
