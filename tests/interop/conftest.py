"""Fixtures for the Causerie interop suite.

Fixture contract
----------------
``server``        session-scoped, a running Causerie with default-ish config
                  (small auth failure delay so wrong-password tests stay fast).
                  Shared by all tests: create fresh accounts, never reuse names.
``make_user``     function-scoped factory on ``server``:
                  ``make_user("alice") -> Account(user, password, domain)``
                  (unique name, created with ``causerie user add``).
``clients``       function-scoped ``clients.Clients`` bound to ``server``:
                  ``await clients.login(account, "res")``; every client is
                  disconnected at teardown.
``make_server``   function-scoped factory for a private server with special
                  config: ``make_server(limits={...}, auth={...}, tls={...},
                  start=True, storage_url=None|"...", extra_toml="...")``;
                  stopped at teardown.

When a test fails, the part of each involved server's log (stdout+stderr)
written during the test is attached to the report.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from clients import Clients  # noqa: E402

# Servers whose logs should be attached to a failing test's report:
# {nodeid: [(server, log_offset), ...]}
_involved: dict[str, list] = {}
_session_server = None


def _log_size(srv) -> int:
    try:
        return os.path.getsize(srv.log_path)
    except OSError:
        return 0


def _remember(nodeid: str, srv) -> None:
    _involved.setdefault(nodeid, []).append((srv, _log_size(srv)))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    global _session_server
    srv = harness.SERVER_CLASS(
        tmp_path_factory.mktemp("causerie-session"),
        auth={"failure_delay_ms": 50},
    )
    srv.start()
    _session_server = srv
    yield srv
    _session_server = None
    srv.stop()


@pytest.fixture(autouse=True)
def _track_session_server(request):
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        _remember(request.node.nodeid, srv)
    yield


@pytest.fixture
def make_user(server):
    def make(prefix: str = "u", password: str | None = None):
        return server.new_account(prefix, password)
    return make


@pytest.fixture
async def clients(server):
    cs = Clients(server)
    yield cs
    await cs.close()


@pytest.fixture
def make_server(tmp_path, request):
    created = []

    def make(*, limits=None, auth=None, tls=None, start: bool = True, **kw):
        srv = harness.SERVER_CLASS(tmp_path / f"srv{len(created)}", limits=limits, auth=auth, tls=tls, **kw)
        created.append(srv)
        _remember(request.node.nodeid, srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in created:
        srv.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown":
        servers = _involved.pop(item.nodeid, [])
    else:
        servers = _involved.get(item.nodeid, [])
    if report.failed:
        for srv, offset in servers:
            try:
                with open(srv.log_path, "rb") as f:
                    f.seek(offset)
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                text = "(no log)"
            if len(text) > 30000:
                text = "...(truncated)...\n" + text[-30000:]
            report.sections.append((f"server log {srv.root.name} ({report.when})", text or "(empty)"))
