"""XEP-0388 SASL2, XEP-0386 Bind 2 and XEP-0484 FAST, on raw XML over a socket
(slixmpp speaks none of them; ``sasl2_client`` is written from the XEPs).

What a phone observes: one round trip logs in and binds with a token, the token is
refused once expired, revoked (new password, logout, lock) or replayed, and the
failures say why in the stream's language."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest

from raw import IQ, MESSAGE, NS_SASL, tostring
from sasl2_client import (HT, NS_BIND2, NS_FAST, NS_SASL2, NS_SM, Scram, authenticate, connect,
                          ht_proof, mechanisms, new_agent, q, scram_login, token_login)
from test_directory import make_school  # noqa: F401  (pytest fixture)


def test_sasl2_is_offered_with_bind2_and_fast(server):
    c, feats = connect(server)
    try:
        auth = feats.find(q("authentication"))
        assert auth is not None, "no <authentication/> feature"
        # The channel-bound variants first on TLS 1.3 (test_channel_binding.py).
        assert mechanisms(feats)[:4] == [
            "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1",
        ]
        inline = auth.find(q("inline"))
        assert inline is not None and inline.find(q("bind", NS_BIND2)) is not None
        fast = inline.find(q("fast", NS_FAST))
        # FAST's bound mechanisms too, before -NONE (test_channel_binding.py).
        assert fast is not None and [m.text for m in fast] == ["HT-SHA-256-EXPR", "HT-SHA-256-ENDP", HT]
        # The RFC 6120 profile is still offered beside it.
        assert feats.find(f"{{{NS_SASL}}}mechanisms") is not None
    finally:
        c.close()


def test_scram_login_binds_in_one_round_trip_and_chats(server, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    agent = new_agent()
    c, out = scram_login(server, alice, agent=agent, bind=True, tag="Phone", sm=True)
    try:
        assert out.ok, out.el
        assert out.scram_verified, f"server-final in <additional-data/>: {out.additional!r}"
        assert out.authzid.startswith(f"{alice.jid}/Phone."), out.authzid
        assert len(out.authzid) > len(f"{alice.jid}/Phone.")
        enabled = out.bound.find(f"{{{NS_SM}}}enabled")
        assert enabled is not None and enabled.get("resume") == "true" and enabled.get("id"), out.bound
        # Bound already: no <bind/> offered again, and the session answers.
        assert out.features.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") is None
        assert out.token is None, "no token unless asked"
        pong = c.ping_server()
        assert pong.get("type") == "result"
        c.presence()
        # Another login with the same tag gets another resource.
        c2, out2 = scram_login(server, alice, agent=new_agent(), bind=True, tag="Phone")
        assert out2.ok and out2.authzid != out.authzid
        c2.close()
        # A message from bob (RFC 6120 login) reaches the bound resource.
        from raw import login
        b = login(server.host, server.c2s_port, server.domain, bob.user, bob.password, "pc")
        b.message(out.authzid, "bonjour")
        m = c.wait_for(lambda e: e.tag == MESSAGE and e.findtext("{jabber:client}body") == "bonjour",
                       what="bob's message")
        assert m.get("to") == out.authzid
        b.close()
    finally:
        c.close()


def test_a_phone_resumes_its_session_inside_sasl2(server, make_user):
    """XEP-0198's SASL2 integration: a phone back from a tunnel logs in and takes its
    session over in one round trip, and gets what came meanwhile."""
    alice, bob = make_user("alice"), make_user("bob")
    c, out = scram_login(server, alice, agent=new_agent(), bind=True, tag="Phone", sm=True)
    assert out.ok
    inline = out.features  # the features after Bind 2
    smid = out.bound.find(f"{{{NS_SM}}}enabled").get("id")
    full = out.authzid
    c.presence()
    assert c.ping_server().get("type") == "result"
    # The network goes: no goodbye.
    c.abort()
    from raw import login
    b = login(server.host, server.c2s_port, server.domain, bob.user, bob.password, "pc")
    b.message(full, "pendant le tunnel")
    time.sleep(0.3)
    # Back: the feature says resumption may come inline.
    c2, feats = connect(server)
    auth_feature = feats.find(q("authentication"))
    assert auth_feature.find(f"{q('inline')}/{{{NS_SM}}}sm") is not None, tostring(feats)
    s = Scram(alice.user, alice.password)
    out2 = authenticate(c2, "SCRAM-SHA-256", s.first(), scram=s, resume=(smid, 0),
                        bind=True, tag="Other")
    try:
        assert out2.ok and out2.resumed is not None, out2.el
        assert out2.resumed.get("previd") == smid
        # The same session: its full JID, no new binding, no stream features.
        assert out2.authzid == full and out2.bound is None and out2.features is None
        m = c2.wait_for(lambda e: e.tag == MESSAGE and e.findtext("{jabber:client}body") == "pendant le tunnel",
                        what="the message sent while away")
        assert m.get("to") == full
        assert c2.ping_server().get("type") == "result"
    finally:
        c2.close()
        b.close()
    assert inline is not None
    # An unknown session: <failed/> inside <success/>, and Bind 2 goes on.
    c3, feats = connect(server)
    s = Scram(alice.user, alice.password)
    out3 = authenticate(c3, "SCRAM-SHA-256", s.first(), scram=s, resume=("no-such-id", 0),
                        bind=True, tag="Tab")
    try:
        assert out3.ok and out3.resumed is None and out3.sm_failed is not None, out3.el
        assert out3.sm_failed.find("{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found") is not None
        assert out3.bound is not None and out3.authzid.startswith(f"{alice.jid}/Tab.")
        assert c3.ping_server().get("type") == "result"
    finally:
        c3.close()


def test_sasl2_without_bind2_continues_on_the_same_stream(server, make_user):
    alice = make_user("alice")
    c, out = scram_login(server, alice)
    try:
        assert out.ok and out.authzid == alice.jid
        assert out.features.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") is not None
        assert c.bind("legacy") == f"{alice.jid}/legacy"
    finally:
        c.close()


@pytest.mark.parametrize("lang,expected", [
    ("fr", "Identifiant ou mot de passe incorrect."),
    ("en", "Wrong login or password."),
])
def test_failures_say_why_in_the_streams_language(server, make_user, lang, expected):
    alice = make_user("alice")
    c, _ = connect(server, lang)
    try:
        s = Scram(alice.user, alice.password + "-wrong")
        out = authenticate(c, "SCRAM-SHA-256", s.first(), scram=s)
        assert not out.ok and out.condition == "not-authorized"
        assert (out.text, out.text_lang) == (expected, lang)
        out = authenticate(c, "DIGEST-MD5", b"x")
        assert out.condition == "invalid-mechanism"
        assert ("proposée" in out.text) == (lang == "fr"), out.text
        # The stream stays open for another try, which works.
        s = Scram(alice.user, alice.password)
        assert authenticate(c, "SCRAM-SHA-256", s.first(), scram=s).ok
    finally:
        c.close()


def _token(server, account, agent, **kw):
    c, out = scram_login(server, account, agent=agent, request_token=True, **kw)
    c.close()
    assert out.ok and out.token, out.el
    return out


def test_a_token_logs_in_in_one_round_trip(server, make_user):
    alice = make_user("alice")
    agent = new_agent()
    got = _token(server, alice, agent)
    expiry = datetime.strptime(got.expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(expiry - (datetime.now(timezone.utc) + timedelta(days=30))) < timedelta(minutes=5)
    assert len(got.token) > 64
    c, out = token_login(server, alice, got.token, agent, bind=True, tag="Tel")
    try:
        assert out.ok, out.el
        # Mutual authentication: the server proves it has the token too.
        assert out.additional == ht_proof(got.token, b"Responder")
        assert out.authzid.startswith(f"{alice.jid}/Tel.")
        assert c.ping_server().get("type") == "result"
    finally:
        c.close()
    # Stored hashed: the database holds the token's SHA-256, never the token.
    db = sqlite3.connect(server.db_path)
    try:
        rows = db.execute("SELECT agent, key_hash FROM fast_tokens").fetchall()
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert (agent, hashlib.sha256(got.token.encode()).digest()) in rows
    assert got.token not in dump


@pytest.mark.parametrize("lang,word", [("fr", "Jeton"), ("en", "token")])
def test_a_token_is_refused_for_another_client_or_account(server, make_user, lang, word):
    alice, bob = make_user("alice"), make_user("bob")
    agent = new_agent()
    got = _token(server, alice, agent)
    for account, ag in ((alice, new_agent()), (bob, agent)):
        c, out = token_login(server, account, got.token, ag, lang=lang)
        c.close()
        assert not out.ok and out.condition == "not-authorized"
        assert word in out.text and out.text_lang == lang, out.text
    # Without a user-agent id, a token means nothing.
    c, _ = connect(server)
    out = authenticate(c, HT, alice.user.encode() + b"\0" + ht_proof(got.token, b"Initiator"))
    c.close()
    assert out.condition == "not-authorized"


def test_replays_rotation_and_logout(server, make_user):
    alice = make_user("alice")
    agent = new_agent()
    first = _token(server, alice, agent).token
    # count only moves forward.
    for count, ok in ((5, True), (5, False), (4, False), (6, True), (None, False)):
        c, out = token_login(server, alice, first, agent, count=count)
        c.close()
        assert out.ok == ok, (count, out.el)
    # Once counted, a login without a count is a proof seen before: refused, with why.
    assert out.condition == "not-authorized"
    # Rotation: a token login asks for the next one; both work until the newer is used.
    c, out = token_login(server, alice, first, agent, count=7, request_token=True)
    c.close()
    second = out.token
    assert out.ok and second and second != first
    c, out = token_login(server, alice, first, agent, count=8)
    c.close()
    assert out.ok, "the previous token still works while the new one is unused"
    c, out = token_login(server, alice, second, agent)
    c.close()
    assert out.ok
    c, out = token_login(server, alice, first, agent, count=9)
    c.close()
    assert not out.ok, "using the newer token retires the older"
    # Logout: invalidate='true' logs in once more, then the token is gone.
    c, out = token_login(server, alice, second, agent, invalidate=True)
    c.close()
    assert out.ok
    c, out = token_login(server, alice, second, agent)
    c.close()
    assert not out.ok and out.condition == "not-authorized"


def test_a_new_password_or_expiry_ends_the_tokens(server, make_user):
    alice = make_user("alice")
    agent = new_agent()
    token = _token(server, alice, agent).token
    server.passwd(alice.jid, alice.password + "-new")
    c, out = token_login(server, alice, token, agent)
    c.close()
    assert not out.ok and out.condition == "not-authorized"
    alice.password += "-new"
    token = _token(server, alice, agent).token
    # Past its expiry (set in the database: thirty days are long for a test).
    db = sqlite3.connect(server.db_path)
    try:
        db.execute("UPDATE fast_tokens SET expires_ms = ?", (int(time.time() * 1000) - 1,))
        db.commit()
    finally:
        db.close()
    c, out = token_login(server, alice, token, agent)
    c.close()
    assert not out.ok and out.condition == "not-authorized"


def test_fast_off_issues_and_accepts_no_token(make_server):
    srv = make_server(auth={"fast_token_days": 0})
    alice = srv.add_user("alice", "Secret-alice-42")
    c, feats = connect(srv)
    assert feats.find(q("authentication")).find(q("inline")).find(q("fast", NS_FAST)) is None
    c.close()
    c, out = scram_login(srv, alice, agent=new_agent(), request_token=True)
    c.close()
    assert out.ok and out.token is None
    c, out = token_login(srv, alice, "x" * 88, new_agent())
    c.close()
    assert out.condition == "invalid-mechanism"


async def test_a_locked_account_cannot_use_its_token(make_school):
    from directory_fixture import password
    from harness import Account
    from test_admin import admin_of_school

    sch, api = await admin_of_school(make_school)
    lea = Account("lea.martin", password("lea.martin"), sch.srv.domain)
    agent = new_agent()
    token = _token(sch.srv, lea, agent).token
    await api.ok("POST", "/users/lea.martin/lock")
    c, out = token_login(sch.srv, lea, token, agent, lang="fr")
    c.close()
    assert not out.ok and out.condition == "account-disabled", out.el
    assert out.text, "the refusal says why"
    await api.ok("POST", "/users/lea.martin/unlock")
    c, out = token_login(sch.srv, lea, token, agent)
    c.close()
    assert out.ok, "the lock refused the login; the token itself was not spent"


def test_the_cli_revokes_an_accounts_tokens(server, make_user):
    alice = make_user("alice")
    phone, laptop = new_agent(), new_agent()
    t_phone = _token(server, alice, phone).token
    t_laptop = _token(server, alice, laptop).token
    out = server.cli("user", "revoke-tokens", alice.jid, "--agent", phone).stdout
    assert "1 login token(s)" in out, out
    c, o = token_login(server, alice, t_phone, phone)
    c.close()
    assert not o.ok
    c, o = token_login(server, alice, t_laptop, laptop)
    c.close()
    assert o.ok, "another client's token stays"
    server.cli("user", "revoke-tokens", alice.jid)
    c, o = token_login(server, alice, t_laptop, laptop)
    c.close()
    assert not o.ok
