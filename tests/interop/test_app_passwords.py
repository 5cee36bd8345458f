"""App passwords (« Mots de passe d'application », docs/web-client.md): a standard XMPP
app logs in with one (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN) beside the account's password;
the user makes and revokes his own through the web client's API, the school through the
admin API and the CLI; revoking one ends the sessions logged in with it; a structure
that does not allow them (pupils by default) refuses to create them and their logins.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request

import pytest

from clients import Client, LoginFailed
from raw import NS_SASL, RawClient, local, ns, tostring
from sasl2_client import Scram
from directory_fixture import S1, password
from harness import Account
from test_admin import Api, school_with_admin, wait_closed
from test_directory import make_school  # noqa: F401  (pytest fixture)


def _post(srv, path: str, body: dict):
    req = urllib.request.Request(
        f"http://{srv.host}:{srv.http_port}{path}", data=json.dumps(body).encode(),
        method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, (json.loads(raw) if raw else None)


async def own(srv, login: str, op: str, **extra):
    """The user's own door, with his password (the web client after a password login)."""
    return await asyncio.to_thread(
        _post, srv, f"/api/app-passwords/{op}",
        {"login": login, "password": password(login), **extra})


async def test_an_app_logs_in_with_an_app_password_until_it_is_revoked(make_school):
    sch = make_school()
    srv = sch.srv
    status, made = await own(srv, "paul.martin", "create", label="Téléphone de Paul")
    assert status == 201, made
    secret = made["secret"]
    assert made["jid"] == f"paul.martin@{srv.domain}" and made["server"] == srv.domain
    assert made["label"] == "Téléphone de Paul" and made["created_by"] is None
    app = Account("paul.martin", secret, srv.domain)
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        c = await sch.login_account(app, f"app-{mech}", mech=mech)
        assert c.mechanism == mech
        await c.disconnect()
    # The account's password still works, with every mechanism.
    for mech in ("SCRAM-SHA-256", "PLAIN"):
        c = await sch.login("paul.martin", f"pw-{mech}", mech=mech)
        await c.disconnect()
    # Listed without its secret, with its last use; never in the files or the log.
    status, listed = await own(srv, "paul.martin", "list")
    assert status == 200 and listed["allowed"] is True, listed
    [item] = listed["items"]
    assert item["label"] == "Téléphone de Paul" and item["last_used_ms"], item
    assert "secret" not in item
    for path in srv.storage_files():
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in srv.log_text(tail=10**9)
    # A wrong password does not open the door.
    status, _ = await asyncio.to_thread(
        _post, srv, "/api/app-passwords/list", {"login": "paul.martin", "password": "nope"})
    assert status == 401
    # Revoking it ends the session logged in with it, not the others; then it fails.
    by_app = await sch.login_account(app, "phone", mech="SCRAM-SHA-256")
    by_pw = await sch.login("paul.martin", "desk")
    status, _ = await own(srv, "paul.martin", "revoke", id=made["id"])
    assert status == 204
    await wait_closed(by_app)
    assert not by_pw.disconnected.is_set()
    for mech in ("SCRAM-SHA-256", "PLAIN"):
        with pytest.raises(LoginFailed) as ei:
            await Client.login(srv, app, "again", mech=mech)
        assert ei.value.condition == "not-authorized", ei.value
    # A new password of the account keeps the app passwords working.
    status, made = await own(srv, "paul.martin", "create", label="Tablette")
    assert status == 201
    srv.passwd(f"paul.martin@{srv.domain}", "Nouveau-mot-de-passe-1")
    c = await sch.login_account(Account("paul.martin", made["secret"], srv.domain), "t",
                                mech="SCRAM-SHA-256")
    await c.disconnect()


async def test_an_app_password_revoked_during_a_login_opens_no_session(make_school):
    """A login that read the app password's keys (SCRAM's first step) before it was
    revoked is refused at its last step: revoking cannot be outrun by a login kept open."""
    sch = make_school()
    srv = sch.srv
    status, made = await own(srv, "paul.martin", "create", label="Volé")
    assert status == 201, made
    scram = Scram("paul.martin", made["secret"])
    c = RawClient(srv.host, srv.c2s_port, srv.domain)

    def first_step():
        c.connect()
        c.open_stream()
        c.starttls()
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256'>"
               f"{base64.b64encode(scram.first()).decode()}</auth>")
        return c.wait_for(lambda e: ns(e.tag) == NS_SASL, what="SASL challenge")

    challenge = await asyncio.to_thread(first_step)
    assert local(challenge.tag) == "challenge", tostring(challenge)
    status, _ = await own(srv, "paul.martin", "revoke", id=made["id"])
    assert status == 204

    def last_step():
        c.send(f"<response xmlns='{NS_SASL}'>"
               f"{base64.b64encode(scram.final(base64.b64decode(challenge.text))).decode()}"
               "</response>")
        return c.wait_for(lambda e: ns(e.tag) == NS_SASL, what="SASL answer")

    answer = await asyncio.to_thread(last_step)
    c.close()
    assert local(answer.tag) == "failure", tostring(answer)
    # The condition of a login its account's state refuses (RFC 6120 §6.5.1), with why.
    assert answer.find(f"{{{NS_SASL}}}account-disabled") is not None, tostring(answer)
    assert "supprimé" in (answer.findtext(f"{{{NS_SASL}}}text") or ""), tostring(answer)
    # The account's own password still logs in.
    own_login = await sch.login("paul.martin", "desk")
    await own_login.disconnect()


async def test_the_school_makes_them_and_each_structure_chooses_who_may(make_school):
    sch = make_school(snapshot=school_with_admin())
    srv = sch.srv
    api = Api(srv)
    await api.login("anne.durand", password("anne.durand"))
    # Pupils: not by default, neither by themselves nor by the school.
    status, ans = await own(srv, "lea.martin", "create", label="Téléphone de Léa")
    assert status == 409, ans
    assert "pour toi" in ans["error"]["message_fr"], ans
    status, ans, _ = await api.call("POST", "/users/lea.martin/app-passwords", {"label": "x"})
    assert status == 409, ans
    # An adult, by the school: the secret answered once, audited as the administrator;
    # Paul, connected, is told at once (a credential made behind his back shows).
    paul = await sch.login("paul.martin", "web")
    status, made, _ = await api.call("POST", "/users/paul.martin/app-passwords",
                                     {"label": "Ordinateur de Paul"})
    assert status == 201, made
    assert made["created_by"] == "anne.durand"
    told = await paul.wait_message(frm=srv.domain)
    assert told["type"] == "headline"
    assert ("Un mot de passe d'application « Ordinateur de Paul » vient d'être créé pour votre "
            "compte (par l'administrateur anne.durand)") in told["body"], told
    await paul.disconnect()
    app = Account("paul.martin", made["secret"], srv.domain)
    c = await sch.login_account(app, "pc", mech="PLAIN")
    await c.disconnect()
    listed = await api.ok("GET", "/users/paul.martin/app-passwords")
    assert [i["label"] for i in listed["items"]] == ["Ordinateur de Paul"]
    assert "secret" not in listed["items"][0]
    # The collège forbids them to adults too: the existing one stops working, the
    # account's password does not.
    shown = await api.ok("GET", f"/structures/{S1}")
    assert shown["app_passwords"] == {"pupils": False, "adults": True}
    assert shown["app_passwords_own"] is False
    live = await sch.login_account(app, "pc-live", mech="PLAIN")
    shown = await api.ok("PUT", f"/structures/{S1}/app-passwords", {"pupils": False, "adults": False})
    assert shown["app_passwords"] == {"pupils": False, "adults": False}
    # … and the session opened with it ends at once.
    await wait_closed(live)
    for mech in ("SCRAM-SHA-256", "PLAIN"):
        with pytest.raises(LoginFailed) as ei:
            await Client.login(srv, app, "pc", mech=mech)
        assert ei.value.reason == "auth", ei.value
    c = await sch.login("paul.martin", "pw", mech="SCRAM-SHA-256")
    await c.disconnect()
    status, ans = await own(srv, "paul.martin", "create", label="encore")
    assert status == 409, ans
    # Pupils allowed: Léa makes hers and logs in with it.
    await api.ok("PUT", f"/structures/{S1}/app-passwords", {"pupils": True, "adults": True})
    status, lea = await own(srv, "lea.martin", "create", label="Téléphone de Léa")
    assert status == 201, lea
    c = await sch.login_account(Account("lea.martin", lea["secret"], srv.domain), "tel",
                                mech="SCRAM-SHA-256")
    await c.disconnect()
    # Paul's works again; the school revokes it.
    c = await sch.login_account(app, "pc2", mech="SCRAM-SHA-256")
    after = await api.ok("DELETE", f"/users/paul.martin/app-passwords/{made['id']}")
    assert after["items"] == []
    await wait_closed(c)
    log = await api.ok("GET", "/audit")
    actions = [e["action"] for e in (log["entries"] if isinstance(log, dict) else log)]
    assert actions.count("structure.app_passwords") == 2, actions
    # The command line.
    assert "for pupils on, for adults on (its own)" in srv.cli("app-passwords", "show", S1).stdout
    srv.cli("app-passwords", "reset", S1)
    assert "(the default)" in srv.cli("app-passwords", "show", S1).stdout
    out = srv.cli("user", "app-password", "add", f"paul.martin@{srv.domain}", "--label", "Gajim").stdout
    secret = out.split(": ", 1)[1].split()[0]
    c = await sch.login_account(Account("paul.martin", secret, srv.domain), "gajim",
                                mech="SCRAM-SHA-1")
    await c.disconnect()
    listing = srv.cli("user", "app-password", "list", f"paul.martin@{srv.domain}").stdout
    assert "Gajim" in listing and "by cli" in listing, listing
    app_id = listing.split("\t", 1)[0]
    srv.cli("user", "app-password", "revoke", f"paul.martin@{srv.domain}", app_id)
    with pytest.raises(LoginFailed):
        await Client.login(srv, Account("paul.martin", secret, srv.domain), "g", mech="PLAIN")
