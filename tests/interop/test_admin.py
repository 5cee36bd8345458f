"""The admin API (/admin/api, docs/admin-api.md) acting on real XMPP clients:
a locked account cannot log in and its connected session is closed at once;
a profile whose chat is turned off is refused at login (its sessions closed);
a rule change lets a refused message through, and « reset » refuses it again."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from slixmpp import Message

from clients import befriend
from directory_fixture import S1, assert_refusal, is_error_from, password, sasl_plain, school
from harness import Account
from sasl2_client import new_agent, scram_login
from test_directory import make_school  # noqa: F401  (pytest fixture)

ALL_PROFILES = ["student", "relative", "teacher", "personnel", "guest"]


class Api:
    """A client of the admin API with its session cookie and CSRF token."""

    def __init__(self, srv):
        self.base = f"http://{srv.host}:{srv.http_port}/admin/api"
        self.cookie: str | None = None
        self.csrf: str | None = None

    def _call(self, method: str, path: str, body=None):
        headers = {"Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = f"causerie_admin={self.cookie}"
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                status, raw, hdrs = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), e.headers
        return status, (json.loads(raw) if raw else None), hdrs

    async def call(self, method: str, path: str, body=None):
        return await asyncio.to_thread(self._call, method, path, body)

    async def ok(self, method: str, path: str, body=None):
        status, answer, _ = await self.call(method, path, body)
        assert status == 200, f"{method} {path}: {status} {answer}"
        return answer

    async def login(self, login: str, pw: str) -> dict:
        status, answer, hdrs = await self.call("POST", "/login", {"login": login, "password": pw})
        assert status == 200, f"admin login: {status} {answer}"
        cookie = hdrs.get("Set-Cookie", "")
        assert cookie.startswith("causerie_admin=") and "HttpOnly" in cookie, cookie
        self.cookie = cookie.split(";", 1)[0].split("=", 1)[1]
        self.csrf = answer["csrf"]
        return answer


def school_with_admin() -> dict:
    """The interop school, anne.durand (a teacher of the collège) being its local administrator."""
    d = school()
    for u in d["users"]:
        if u["login"] == "anne.durand":
            u["admin_of"] = [S1]
    return d


async def admin_of_school(make_school):
    sch = make_school(snapshot=school_with_admin())
    api = Api(sch.srv)
    session = await api.login("anne.durand", password("anne.durand"))
    assert session["role"] == "local"
    assert [s["id"] for s in session["structures"]] == [S1]
    return sch, api


async def wait_closed(client, timeout: float = 10) -> None:
    await asyncio.wait_for(client.disconnected.wait(), timeout)


async def test_the_card_names_the_software_and_device_a_phone_logged_in_with(make_school):
    """« Appareils connectés »: a phone's SASL2 login names its software and device
    (XEP-0388 `<user-agent/>`), which the card's « Logiciel » shows; a login that named
    none (RFC 6120 SASL) shows nothing there."""
    sch, api = await admin_of_school(make_school)
    lea = await sch.login("lea.martin")
    phone, out = scram_login(sch.srv, Account("lea.martin", password("lea.martin")),
                             agent=new_agent(), software="Conversations <2.17>", bind=True,
                             tag="Phone")
    try:
        assert out.ok, out.el
        user = await api.ok("GET", "/users/lea.martin")
        agents = {s["resource"]: s["agent"] for s in user["sessions"]}
        phone_resource = out.authzid.split("/", 1)[1]
        assert agents == {"r": None, phone_resource: "Conversations <2.17> · pytest"}, agents
    finally:
        phone.close()
        await lea.disconnect()


async def test_locking_an_account_closes_its_session_and_refuses_login(make_school):
    sch, api = await admin_of_school(make_school)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    user = await api.ok("GET", "/users/lea.martin")
    assert user["locked"] is False and user["chat_allowed"] is True
    assert [s["resource"] for s in user["sessions"]] == ["r"]
    assert user["sessions"][0]["transport"] == "tcp"

    locked = await api.ok("POST", "/users/lea.martin/lock")
    assert locked["locked"] is True
    assert locked["chat_refused_because"] == "account-locked"
    await wait_closed(lea)
    assert "policy-violation" in lea.stream_errors, lea.stream_errors

    out = await sasl_plain(sch.srv, "lea.martin")
    assert not out.ok, f"a locked account logged in: {out}"
    assert out.condition == "account-disabled", out
    assert "administrateur" in out.text and "administrator" in out.text, out.text

    await api.ok("POST", "/users/lea.martin/unlock")
    assert (await sasl_plain(sch.srv, "lea.martin")).ok
    lea = await sch.login("lea.martin", "again")
    # A lock is not the rules: their contact outlived it, on both sides.
    assert (await lea.get_roster())[hugo.bare]["subscription"] == "both"
    assert (await hugo.get_roster())[lea.bare]["subscription"] == "both"

    audit = await api.ok("GET", "/audit")
    assert [r["action"] for r in audit[:2]] == ["user.unlock", "user.lock"]
    assert audit[1]["actor"] == "anne.durand" and audit[1]["target"] == "lea.martin"


async def test_turning_a_profiles_chat_off_refuses_it_at_login(make_school):
    sch, api = await admin_of_school(make_school)
    hugo = await sch.login("hugo.bernard")  # a pupil of the collège
    teachers = [p for p in ALL_PROFILES if p != "student"]
    answer = await api.ok("PUT", f"/structures/{S1}/access", {"enabled": True, "profiles": teachers})
    assert answer["profiles"] == teachers
    # Connected pupils are closed at once; new logins are refused with a reason.
    await wait_closed(hugo)
    out = await sasl_plain(sch.srv, "lea.martin")
    assert not out.ok and out.condition == "account-disabled", out
    assert "Élève" in out.text, out.text
    assert (await sasl_plain(sch.srv, "paul.martin")).ok, "a parent still may"

    # Bad input changes nothing.
    status, err, _ = await api.call("PUT", f"/structures/{S1}/access", {"enabled": True, "profiles": ["pupil"]})
    assert status == 400 and err["error"]["field"] == "profiles[0]", err
    assert not (await sasl_plain(sch.srv, "lea.martin")).ok

    await api.ok("PUT", f"/structures/{S1}/access", {"enabled": True, "profiles": ALL_PROFILES})
    assert (await sasl_plain(sch.srv, "lea.martin")).ok


async def test_a_rule_change_delivers_a_refused_message_until_reset(make_school):
    sch, api = await admin_of_school(make_school)
    lea = await sch.login("lea.martin")  # 6e A
    noah = await sch.login("noah.robert")  # 6e B, in no group with Léa

    async def refused(text: str) -> None:
        ml, mn = lea.mark(), noah.mark()
        lea.send_message(noah.bare, text)
        err = await lea.wait_for(lambda st: is_error_from(st, "message", noah.bare), start=ml,
                                 what="the refusal of a message to another class")
        assert_refusal(err)
        await noah.expect_none(lambda st: isinstance(st, Message) and st["body"] == text,
                               0.6, "a refused message", start=mn)

    await refused("coucou (avant)")

    # Pupils of the whole collège may now reach each other.
    structure = await api.ok("GET", f"/structures/{S1}")
    rules = structure["rules"] + [
        {"from": ["student"], "to": ["student"], "scope": "same_structure", "two_way": True}
    ]
    changed = await api.ok("PUT", f"/structures/{S1}/rules", {"rules": rules})
    assert changed["custom_rules"] is True
    await befriend(lea, noah)
    mn = noah.mark()
    lea.send_message(noah.bare, "coucou (règle)")
    got = await noah.wait_for(lambda st: isinstance(st, Message) and st["body"] == "coucou (règle)",
                              start=mn, what="the message the new rule lets through")
    assert got["from"].bare == lea.bare

    # « Reset to the default rules »: refused again from the next stanza.
    reset = await api.ok("DELETE", f"/structures/{S1}/rules")
    assert reset["custom_rules"] is False
    await refused("coucou (après)")

    actions = [r["action"] for r in await api.ok("GET", f"/audit?structure={S1}")]
    assert actions[:2] == ["structure.rules_reset", "structure.rules"], actions


async def test_cli_grants_and_revokes_administrators(make_school):
    sch = make_school()
    srv = sch.srv
    api = Api(srv)
    status, err, _ = await api.call("POST", "/login", {"login": "marc.leroy", "password": password("marc.leroy")})
    assert status == 403 and err["error"]["code"] == "not-admin", err

    assert "now administers" in srv.cli("admin", "grant", "marc.leroy", "0750002B").stdout
    refused = srv.cli("admin", "grant", "marc.leroy", "NOWHERE", check=False)
    assert refused.returncode != 0 and "NOWHERE" in refused.stderr, refused.stderr
    session = await api.login("marc.leroy", password("marc.leroy"))
    assert session["role"] == "local"
    assert [s["id"] for s in session["structures"]] == ["0750002B"]
    listed = srv.cli("admin", "list").stdout
    assert "marc.leroy\t0750002B\t(grant)" in listed, listed

    # Revoked: his open session is refused from the next request on.
    srv.cli("admin", "revoke", "marc.leroy", "0750002B")
    status, err, _ = await api.call("GET", "/session")
    assert status == 403 and err["error"]["code"] == "not-admin", err

    # A super-administrator sees every structure.
    srv.cli("admin", "add", "marc.leroy", "--super")
    status, session, _ = await api.call("GET", "/session")
    assert status == 200 and session["role"] == "super", session
    assert {s["id"] for s in session["structures"]} == {S1, "0750002B"}
    rows = await api.ok("GET", "/audit")
    assert [r["action"] for r in rows[:3]] == ["admin.super_add", "admin.revoke", "admin.grant"]
    assert all(r["actor"] == "cli" for r in rows[:3])


async def test_sessions_show_their_transport_and_disconnect_closes_them(make_school):
    import websockets
    from test_websocket import WsClient, ws_url

    sch, api = await admin_of_school(make_school)
    tcp = await sch.login("lea.martin", "phone")
    async with websockets.connect(ws_url(sch.srv), subprotocols=["xmpp"]) as ws:
        web = WsClient(ws)
        await web.login(sch.srv.domain, "lea.martin", password("lea.martin"), "web")
        user = await api.ok("GET", "/users/lea.martin")
        assert {s["resource"]: s["transport"] for s in user["sessions"]} == {"phone": "tcp", "web": "websocket"}
        assert all(s["address"] == "127.0.0.1" and s["since"].endswith("Z") for s in user["sessions"])
        live = await api.ok("GET", "/live")
        assert live["online_users"] == 1 and live["sessions"] == 2, live

        assert await api.ok("POST", "/users/lea.martin/disconnect") == {"disconnected": 2}
        while True:
            el = await web.recv()
            if el.tag == "{http://etherx.jabber.org/streams}error":
                break
        streams = "urn:ietf:params:xml:ns:xmpp-streams"
        assert el.find(f"{{{streams}}}policy-violation") is not None
        text = el.findtext(f"{{{streams}}}text") or ""
        assert "administrateur" in text and "administrator" in text, text
    await wait_closed(tcp)
    assert "policy-violation" in tcp.stream_errors, tcp.stream_errors
    for _ in range(50):
        if (await api.ok("GET", "/users/lea.martin"))["sessions"] == []:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("sessions still listed after the disconnection")
    rows = await api.ok("GET", "/audit")
    assert rows[0]["action"] == "user.disconnect" and rows[0]["before"] == {"sessions": 2}


def test_guesses_sent_at_once_are_not_all_checked(make_server):
    """The lockout per login (5 failures in 15 minutes) holds against guesses sent all at
    once: the checks for one login run one after the other, so the lockout counts each."""
    from concurrent.futures import ThreadPoolExecutor
    srv = make_server()
    srv.add_user("root", "right-password")
    srv.cli("admin", "add", "root", "--super")
    api = Api(srv)
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(
            lambda i: api._call("POST", "/login", {"login": "root", "password": f"wrong{i}"}),
            range(24)))
    codes = [a["error"]["code"] for _, a, _ in answers]
    checked = codes.count("bad-credentials")
    assert checked <= 5, f"{checked} guesses checked at once: {codes}"
    assert set(codes) <= {"bad-credentials", "locked-out"}, codes
    assert all(status in (401, 429) for status, _, _ in answers)


def test_console_login_failures_are_slowed_down_per_address(make_server):
    """Wrong passwords for many different logins (each below its own lockout) from one address
    wait longer and longer, as XMPP's SASL failures do; a success resets the penalty."""
    import time
    delay = 0.3
    srv = make_server(auth={"failure_delay_ms": int(delay * 1000)})
    srv.add_user("root", "right-password")
    srv.cli("admin", "add", "root", "--super")
    api = Api(srv)

    def failure(login):
        t0 = time.monotonic()
        status, answer, _ = api._call("POST", "/login", {"login": login, "password": "wrong"})
        assert status == 401 and answer["error"]["code"] == "bad-credentials", (status, answer)
        return time.monotonic() - t0

    times = [failure(f"guess{i}") for i in range(4)]
    assert times[2] > times[0] + delay * 0.8, f"3rd failure not slower than the 1st: {times}"
    assert times[3] >= times[1] + delay * 0.8, f"the delay does not grow: {times}"
    status, answer, _ = api._call("POST", "/login", {"login": "root", "password": "right-password"})
    assert status == 200, (status, answer)
    after = failure("guess9")
    assert after < times[3] - delay * 0.5, f"penalty not reset by a success: {times} then {after:.3f}"
