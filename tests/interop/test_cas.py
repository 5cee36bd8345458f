"""Single sign-on with the portal's CAS server (issue 18): a real CAS server
(django-cas-server from PyPI, tests/cas/serve.py) signs the browser in; Causerie
validates the service ticket, gives the browser single-use login tokens, and the
XMPP login takes one with SASL OAUTHBEARER, never a password. The CAS server's
single log-out ends that browser's chat sessions.

The browser is played by ``requests`` (cookies, redirects, the CAS login form); the
XMPP side by a raw client (slixmpp has no OAUTHBEARER)."""

from __future__ import annotations

import base64
import html
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

import harness
from directory_fixture import S1, access, import_ok, school, user_entry
from directory_fixture import password as directory_password
from raw import NS_SASL, RawClient, local, tostring

ROOT = Path(__file__).resolve().parents[2]
CAS_PASSWORD = "portal-Secret-1"
# CAS users: the pupils and teacher of the school by their login, one user the
# directory does not know, and one whose CAS id is not a login but whose released
# attribute ENTPersonLogin (tests/cas/serve.py maps last_name to it) is.
CAS_USERS = [
    "lea.martin:%s:lea.martin" % CAS_PASSWORD,
    "hugo.bernard:%s:hugo.bernard" % CAS_PASSWORD,
    "ines.petit:%s:ines.petit" % CAS_PASSWORD,
    "stranger:%s:" % CAS_PASSWORD,
    "F0042XYZ:%s:hugo.bernard" % CAS_PASSWORD,
]


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    """The CAS server's base URL, for the module's tests."""
    port = harness.free_ports(1)[0]
    data = tmp_path_factory.mktemp("cas")
    args = [sys.executable, str(ROOT / "tests/cas/serve.py"), "--port", str(port),
            "--data", str(data), "--service", r"^http://127\.0\.0\.1:\d+/sso/cas"]
    for u in CAS_USERS:
        args += ["--user", u]
    log = open(data / "cas.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if "CAS ready" in (data / "cas.log").read_text():
            break
        assert proc.poll() is None, (data / "cas.log").read_text()
        time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("the CAS server did not start:\n" + (data / "cas.log").read_text())
    yield f"http://127.0.0.1:{port}/cas"
    proc.terminate()
    proc.wait(10)


def cas_toml(cas: str, **extra) -> str:
    lines = ["[cas]", f"server_url = '{cas}'"] + [
        f"{k} = {v}" if isinstance(v, int) else f"{k} = '{v}'" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


class CasSchool:
    def __init__(self, srv):
        self.srv = srv


def cas_school(make_server, cas: str, snapshot: dict | None = None, **extra) -> CasSchool:
    """A server of the test school whose [cas] names its own callback (`service_url`
    is required: never derived from a request's Host)."""
    srv = make_server(auth={"failure_delay_ms": 50}, start=False)
    srv.extra_toml = cas_toml(
        cas, service_url=f"http://127.0.0.1:{srv.http_port}/sso/cas", **extra)
    srv.write_config()
    srv.start()
    import_ok(srv, snapshot if snapshot is not None else school())
    return CasSchool(srv)


def chat_url(srv, path: str) -> str:
    return f"http://{srv.host}:{srv.http_port}{path}"


def portal_sign_in(srv, login: str, *, next_path: str = "/",
                   follow: bool = True) -> tuple[requests.Session, str]:
    """A browser opens the chat's /sso/login, signs into the CAS server with its
    form, and comes back: the session and the URL it ended on (``follow=False``: the
    URL the CAS server sends it back to, with the ticket, not followed)."""
    s = requests.Session()
    r = s.get(chat_url(srv, f"/sso/login?next={requests.utils.quote(next_path, safe='')}"),
              allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303), r.text
    to_cas = r.headers["location"]
    page = s.get(to_cas, timeout=10)
    assert page.status_code == 200 and "login_form" in page.text, page.text[:500]
    form = {k: html.unescape(v) for k, v in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    form.update(username=login, password=CAS_PASSWORD)
    back = s.post(page.url, data=form, timeout=15, allow_redirects=follow)
    return s, (back.url if follow else back.headers["location"])


def sso_token(s: requests.Session, srv) -> requests.Response:
    return s.post(chat_url(srv, "/sso/token"), timeout=10)


def xmpp_features(srv) -> tuple[RawClient, ET.Element]:
    c = RawClient(srv.host, srv.c2s_port, srv.domain)
    c.connect()
    c.open_stream()
    return c, c.starttls()


def bearer(c: RawClient, token: str, authzid: str = "") -> ET.Element:
    msg = f"n,{'a=' + authzid if authzid else ''},\x01auth=Bearer {token}\x01\x01"
    payload = base64.b64encode(msg.encode()).decode()
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='OAUTHBEARER'>{payload}</auth>")
    return c.wait_for(lambda e: e.tag in (f"{{{NS_SASL}}}success", f"{{{NS_SASL}}}failure"),
                      what="SASL outcome")


def token_login(srv, token: str, authzid: str = "", resource: str = "web") -> RawClient:
    c, feats = xmpp_features(srv)
    assert "OAUTHBEARER" in RawClient.mechanisms(feats), tostring(feats)
    out = bearer(c, token, authzid)
    assert local(out.tag) == "success", tostring(out)
    c.features = c.open_stream()
    c.bind(resource)
    return c


import xml.etree.ElementTree as ET  # noqa: E402


def without_password(snapshot: dict, *logins: str) -> dict:
    for login in logins:
        user_entry(snapshot, login).pop("password", None)
    return snapshot


def test_a_pupil_signed_into_the_portal_chats_without_a_chat_password(make_server, cas):
    sch = cas_school(make_server, cas, snapshot=without_password(school(), "lea.martin"))
    srv = sch.srv
    s, landed = portal_sign_in(srv, "lea.martin", next_path="/?embedded=1")
    # Back on the web client, where it asked to go, with the session's cookie (HttpOnly,
    # only for /sso).
    assert landed == chat_url(srv, "/?embedded=1"), landed
    cookie = next(c for c in s.cookies if c.name == "causerie_sso")
    assert cookie.path == "/sso" and cookie.has_nonstandard_attr("HttpOnly")

    r = sso_token(s, srv)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    got = r.json()
    assert got["jid"] == f"lea.martin@{srv.domain}"
    lea = token_login(srv, got["token"], authzid=got["jid"])
    try:
        # She chats with a classmate, who logs in as usual.
        from raw import login_server
        from directory_fixture import account
        hugo = login_server(srv, account("hugo.bernard", srv.domain), "pc")
        hugo.presence()
        lea.presence()
        # Pupils chat with accepted contacts (the default rules): they become contacts.
        hugo_jid, lea_jid = f"hugo.bernard@{srv.domain}", f"lea.martin@{srv.domain}"
        lea.send(f"<presence type='subscribe' to='{hugo_jid}'/>")
        hugo.wait_for(lambda e: e.get("type") == "subscribe", what="lea's request")
        hugo.send(f"<presence type='subscribed' to='{lea_jid}'/>")
        hugo.send(f"<presence type='subscribe' to='{lea_jid}'/>")
        lea.wait_for(lambda e: e.get("type") == "subscribe", what="hugo's request")
        lea.send(f"<presence type='subscribed' to='{hugo_jid}'/>")
        hugo.wait_for(lambda e: e.tag == "{jabber:client}presence" and e.get("type") is None
                      and e.get("from", "").startswith(lea_jid), what="lea's presence")
        lea.message(f"hugo.bernard@{srv.domain}", "coucou depuis l'ENT")
        m = hugo.wait_for(lambda e: e.findtext("{jabber:client}body") == "coucou depuis l'ENT",
                          what="lea's message")
        assert m.get("from", "").startswith(f"lea.martin@{srv.domain}/")
        hugo.close()
        # The operator's log says how she signed in.
        assert "signed in through the portal (CAS)" in srv.log_text()
    finally:
        lea.close()

    # A token logs in once.
    c, _ = xmpp_features(srv)
    out = bearer(c, got["token"])
    assert local(out.tag) == "failure" and out.find(f"{{{NS_SASL}}}not-authorized") is not None
    c.close()
    # Another token for the same browser works; a made-up one does not.
    again = sso_token(s, srv).json()
    assert again["token"] != got["token"]
    token_login(srv, again["token"]).close()
    c, _ = xmpp_features(srv)
    assert local(bearer(c, "A" * 43).tag) == "failure"
    c.close()
    # A token of lea's cannot be used in someone else's name.
    third = sso_token(s, srv).json()["token"]
    c, _ = xmpp_features(srv)
    out = bearer(c, third, authzid=f"hugo.bernard@{srv.domain}")
    assert local(out.tag) == "failure", tostring(out)
    assert out.find(f"{{{NS_SASL}}}invalid-authzid") is not None, tostring(out)
    c.close()
    # Without the cookie, no token; nor for a page of another site.
    assert requests.post(chat_url(srv, "/sso/token"), timeout=10).status_code == 401
    assert s.post(chat_url(srv, "/sso/token"), headers={"Origin": "https://evil.test"},
                  timeout=10).status_code == 403

    # « Mes données » without a chat password: the portal's session stands for it.
    r = s.post(chat_url(srv, "/sso/export"), timeout=10)
    assert r.status_code == 200, r.text
    assert "lea.martin" in r.text and r.headers["content-disposition"].startswith("attachment")
    assert requests.post(chat_url(srv, "/sso/export"), timeout=10).status_code == 401


def test_the_portals_single_log_out_ends_that_browsers_chat(make_server, cas):
    sch = cas_school(make_server, cas)
    srv = sch.srv
    s, _ = portal_sign_in(srv, "lea.martin")
    lea = token_login(srv, sso_token(s, srv).json()["token"], resource="ent")
    # The same pupil on another computer, by the portal too, and on her phone by password.
    other, _ = portal_sign_in(srv, "lea.martin")
    lea2 = token_login(srv, sso_token(other, srv).json()["token"], resource="ent2")
    from directory_fixture import account
    from raw import login_server
    phone = login_server(srv, account("lea.martin", srv.domain), "phone")
    try:
        # She signs out of the portal (the CAS server's /logout): the CAS server posts
        # the single log-out request to the chat, which ends this browser's session.
        r = s.get(cas + "/logout", timeout=15)
        assert r.status_code == 200
        condition = lea.expect_stream_error(timeout=10)
        assert condition == "not-authorized", condition
        assert sso_token(s, srv).status_code == 401
        # The other computer and the phone stay connected.
        assert lea2.ping_server().get("type") == "result"
        assert phone.ping_server().get("type") == "result"
        assert sso_token(other, srv).status_code == 200
        assert "single log-out from the portal" in srv.log_text()
    finally:
        for c in (lea, lea2, phone):
            c.close()


def test_cas_protocol_2_signs_in_too(make_server, cas):
    # /serviceValidate (CAS 2.0): the user id, no attributes.
    sch = cas_school(make_server, cas, protocol=2)
    srv = sch.srv
    s, landed = portal_sign_in(srv, "hugo.bernard")
    assert landed == chat_url(srv, "/"), landed
    got = sso_token(s, srv).json()
    assert got["jid"] == f"hugo.bernard@{srv.domain}"
    token_login(srv, got["token"]).close()


def test_signing_out_of_the_chat_ends_the_browsers_session(make_server, cas):
    sch = cas_school(make_server, cas)
    srv = sch.srv
    s, _ = portal_sign_in(srv, "hugo.bernard")
    token = sso_token(s, srv).json()["token"]
    r = s.post(chat_url(srv, "/sso/logout"), timeout=10)
    assert r.status_code == 204
    assert sso_token(s, srv).status_code == 401
    # A token given before is gone with its session.
    c, _ = xmpp_features(srv)
    assert local(bearer(c, token).tag) == "failure"
    c.close()


def test_the_cas_user_is_mapped_by_the_configured_attribute(make_server, cas):
    sch = cas_school(make_server, cas, user_attribute="ENTPersonLogin")
    srv = sch.srv
    # CAS id F0042XYZ, released attribute ENTPersonLogin=hugo.bernard.
    s, _ = portal_sign_in(srv, "F0042XYZ")
    assert sso_token(s, srv).json()["jid"] == f"hugo.bernard@{srv.domain}"
    # A CAS user whose attribute is empty is no one here.
    s, landed = portal_sign_in(srv, "stranger")
    assert landed.endswith("/#sso-error=unknown-user"), landed
    assert sso_token(s, srv).status_code == 401


def test_refusals_go_back_to_the_client_with_their_reason(make_server, cas):
    sch = cas_school(make_server, cas)
    srv = sch.srv
    # Known to the portal, not to the school's directory.
    s, landed = portal_sign_in(srv, "stranger", next_path="/?embedded=1")
    assert landed == chat_url(srv, "/?embedded=1#sso-error=unknown-user"), landed
    assert sso_token(s, srv).status_code == 401
    # A ticket the CAS server never gave.
    r = requests.get(chat_url(srv, "/sso/cas?ticket=ST-made-up&next=/"), allow_redirects=False,
                     timeout=15)
    assert r.headers["location"] == "/#sso-error=cas-failed"
    # A ticket taken to another browser (a link sent to a victim: login CSRF) signs no one in.
    _, with_ticket = portal_sign_in(srv, "hugo.bernard", follow=False)
    assert "ticket=ST-" in with_ticket and "state=" in with_ticket, with_ticket
    victim = requests.Session()
    r = victim.get(with_ticket, allow_redirects=False, timeout=15)
    assert r.headers["location"] == "/#sso-error=cas-failed"
    assert sso_token(victim, srv).status_code == 401
    # A return path elsewhere is not followed (a tab would be dropped by the browser,
    # leaving `//evil.test`).
    for elsewhere in ("https://evil.test/", "/%09/evil.test", "//evil.test"):
        r = requests.get(chat_url(srv, f"/sso/login?next={elsewhere}"), allow_redirects=False,
                         timeout=10)
        service = parse_qs(urlparse(r.headers["location"]).query)["service"][0]
        assert service.startswith(f"http://127.0.0.1:{srv.http_port}/sso/cas?"), service
        assert parse_qs(urlparse(service).query)["next"] == ["/"], elsewhere
        r = requests.get(chat_url(srv, f"/sso/cas?next={elsewhere}"), allow_redirects=False,
                         timeout=10)
        assert r.headers["location"] == "/#sso-error=cas-failed", elsewhere
    # Whatever Host a request names, the service is the configured one.
    r = requests.get(chat_url(srv, "/sso/login"), headers={"Host": "evil.test"},
                     allow_redirects=False, timeout=10)
    service = parse_qs(urlparse(r.headers["location"]).query)["service"][0]
    assert service.startswith(f"http://127.0.0.1:{srv.http_port}/sso/cas?"), service
    # The school turns the chat off: the portal's sign-in says so, and a browser signed in
    # before gets no more tokens.
    s, _ = portal_sign_in(srv, "ines.petit")
    assert sso_token(s, srv).status_code == 200
    access(srv, S1, False)
    time.sleep(1.0)
    assert sso_token(s, srv).status_code == 403
    _, landed = portal_sign_in(srv, "lea.martin")
    assert landed.endswith("/#sso-error=no-access"), landed


def test_oauthbearer_is_offered_only_with_cas_and_never_without_tls(make_server, server, cas):
    # The shared server has no [cas]: no OAUTHBEARER, and /sso is not there.
    c, feats = xmpp_features(server)
    assert "OAUTHBEARER" not in RawClient.mechanisms(feats)
    c.close()
    assert requests.post(chat_url(server, "/sso/token"), timeout=10).status_code == 404
    sch = cas_school(make_server, cas)
    c = RawClient(sch.srv.host, sch.srv.c2s_port, sch.srv.domain)
    c.connect()
    before_tls = c.open_stream()
    assert "OAUTHBEARER" not in RawClient.mechanisms(before_tls)
    assert "OAUTHBEARER" in RawClient.mechanisms(c.starttls())
    c.close()


@pytest.mark.parametrize("cas_section,field", [
    ("[cas]\nserver_url = 'https://cas.ent.test/cas'\n", "cas.service_url"),
    ("[cas]\nserver_url = 'http://cas.ent.test/cas'\nservice_url = 'https://chat.test/sso/cas'\n",
     "cas.server_url"),
])
def test_a_cas_configuration_that_could_be_abused_is_refused(make_server, cas_section, field):
    srv = make_server(start=False, extra_toml=cas_section)
    srv.write_config()
    cp = srv.check()
    assert cp.returncode != 0 and field in (cp.stdout + cp.stderr), (cp.stdout, cp.stderr)


def test_scram_s_downgrade_hash_counts_the_portal_s_mechanism(make_server, cas):
    """XEP-0474: with the portal's login on, RFC 6120's list carries OAUTHBEARER and
    SASL2's does not; SCRAM's `h` is the hash of the list of the profile the client
    uses, as this client saw it, so the two differ."""
    from sasl2_client import Scram, authenticate, h_attribute, mechanisms, sasl_scram, ssdp

    sch = cas_school(make_server, cas)
    srv = sch.srv
    login = "hugo.bernard"
    seen = []
    for profile in ("sasl", "sasl2"):
        c, feats = xmpp_features(srv)
        with c:
            cb = feats.find("{urn:xmpp:sasl-cb:0}sasl-channel-binding")
            types = [t.get("type") for t in cb]
            s = Scram(login, directory_password(login))
            if profile == "sasl":
                offered = RawClient.mechanisms(feats)
                assert "OAUTHBEARER" in offered, offered
                el, verified = sasl_scram(c, "SCRAM-SHA-256", s)
                assert local(el.tag) == "success" and verified, tostring(el)
            else:
                offered = mechanisms(feats)
                assert "OAUTHBEARER" not in offered, offered
                out = authenticate(c, "SCRAM-SHA-256", s.first(), scram=s)
                assert out.ok and out.scram_verified, tostring(out.el)
            assert h_attribute(s.server_first) == ssdp(offered, types)
            seen.append(h_attribute(s.server_first))
    assert seen[0] != seen[1]
