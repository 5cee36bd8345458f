"""Privacy for minors (issue 16, docs/safety.md): what users and the school's staff observe.

- a pupil's client cannot turn on OMEMO (its PEP nodes are refused with a text in « tu »
  and in English); an adult's can;
- a pupil cannot set a photo (vCard PHOTO, XEP-0084 avatar, vCard4 photo) until his
  structure allows it in the console; nor choose a nickname other than the school's name
  (PEP node, or a nickname attached to a contact request: replaced by the school's);
- the structure's staff read a pupil's archives only under a grant asked with a typed
  reason, for a bounded time; the grant and each read are in the audit log; another
  structure's administrator, and a grant that ended, are refused;
- a user downloads his own data as JSON with his password; an administrator of his
  structure gets it on request (audited);
- a user who left the directory is purged after `[archive] departed_days`: when he comes
  back, nothing of his old account is left.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.error
import urllib.request

from clients import befriend
from directory_fixture import S1, S2, error_of, import_ok, password, school, vcard
from test_admin import Api, school_with_admin
from test_directory import make_school  # noqa: F401  (pytest fixture)

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_MAM = "urn:xmpp:mam:2"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def school_with_staff() -> dict:
    """anne.durand administers the collège (S1), marc.leroy the lycée (S2)."""
    d = school_with_admin()
    for u in d["users"]:
        if u["login"] == "marc.leroy":
            u["admin_of"] = [S2]
    return d


async def publish(c, node: str, payload: str, item_id: str = "current"):
    return await c.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{node}'>"
                               f"<item id='{item_id}'>{payload}</item></publish></pubsub>", "set")


def refusal(reply) -> tuple[str | None, dict[str, str]]:
    assert reply["type"] == "error", f"expected a refusal, got {reply}"
    return error_of(reply.xml)


OMEMO_LEGACY = ("eu.siacs.conversations.axolotl.devicelist",
                "<list xmlns='eu.siacs.conversations.axolotl'><device id='12345'/></list>")
OMEMO_2 = ("urn:xmpp:omemo:2:devices",
           "<devices xmlns='urn:xmpp:omemo:2'><device id='12345'/></devices>")
OX_KEYS = ("urn:xmpp:openpgp:0:public-keys",
           "<public-keys-list xmlns='urn:xmpp:openpgp:0'><pubkey-metadata "
           "v4-fingerprint='1357B01865B2503C18453D208CAC2A9678548E35' "
           "date='2026-12-01T10:00:00Z'/></public-keys-list>")
OX_KEY = ("urn:xmpp:openpgp:0:public-keys:1357B01865B2503C18453D208CAC2A9678548E35",
          "<pubkey xmlns='urn:xmpp:openpgp:0'><data>AAAA</data></pubkey>")
OMEMO_MESSAGE = ("<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'>"
                 "<key rid='2'>AAAA</key><iv>AAAA</iv></header><payload>AAAA</payload></encrypted>")
OMEMO_2_MESSAGE = ("<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'><keys jid='x@y'>"
                   "<key rid='2'>AAAA</key></keys></header><payload>AAAA</payload></encrypted>")
OX_MESSAGE = "<openpgp xmlns='urn:xmpp:openpgp:0'>AAAA</openpgp>"
PGP_LEGACY_MESSAGE = "<x xmlns='jabber:x:encrypted'>AAAA</x>"
AVATAR_DATA = ("urn:xmpp:avatar:data", f"<data xmlns='urn:xmpp:avatar:data'>{PNG}</data>")
AVATAR_META = ("urn:xmpp:avatar:metadata",
               "<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='70' id='abc' "
               "height='1' width='1' type='image/png'/></metadata>")
VCARD_PHOTO = (f"<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>{PNG}</BINVAL>"
               "</PHOTO></vCard>")


async def test_pupils_get_no_omemo_and_are_told_why(make_school):
    sch = make_school(snapshot=school())
    lea, anne = await sch.login("lea.martin"), await sch.login("anne.durand")
    for node, payload in (OMEMO_LEGACY, OMEMO_2, OX_KEYS, OX_KEY,
                          ("eu.siacs.conversations.axolotl.bundles:12345",
                           "<bundle xmlns='eu.siacs.conversations.axolotl'/>")):
        cond, texts = refusal(await publish(lea, node, payload))
        assert cond == "not-allowed", (node, texts)
        assert "ton établissement doit pouvoir lire un message signalé" in texts["fr"], texts
        assert "vous" not in texts["fr"].lower()
        assert "End-to-end encryption (OMEMO, OpenPGP) is not offered to pupils" in texts["en"], texts
    # Creating the node is refused too.
    r = await lea.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><create node='{OMEMO_2[0]}'/></pubsub>", "set")
    assert refusal(r)[0] == "not-allowed"
    # Nothing was stored: a contact asking for her device list finds none.
    r = await lea.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><items node='{OMEMO_LEGACY[0]}'/></pubsub>")
    assert r["type"] == "error" or r.xml.find(f".//{{{NS_PUBSUB}}}item") is None, r
    # An adult keeps OMEMO and OpenPGP.
    for node, payload in (OMEMO_LEGACY, OMEMO_2, OX_KEYS):
        r = await publish(anne, node, payload)
        assert r["type"] == "result", r


def send_encrypted(c, to: str, mid: str, payload: str) -> None:
    c.xmpp.send_raw(f"<message to='{to}' type='chat' id='{mid}'>{payload}"
                    "<body>Ce message est chiffré de bout en bout.</body></message>")


async def test_end_to_end_encrypted_messages_from_or_to_a_pupil_are_refused(make_school):
    """Keys exchanged some other way: a message carrying an OMEMO or OpenPGP payload from
    or to a pupil is refused with a text and reaches nobody; between adults it goes."""
    sch = make_school(snapshot=school())
    lea, hugo = await sch.login("lea.martin"), await sch.login("hugo.bernard")
    anne, paul = await sch.login("anne.durand"), await sch.login("paul.martin")
    await befriend(lea, hugo)
    await befriend(anne, lea)
    await befriend(anne, paul)
    for n, (frm, to, payload) in enumerate((
            (lea, hugo, OMEMO_MESSAGE), (lea, hugo, OX_MESSAGE), (lea, hugo, PGP_LEGACY_MESSAGE),
            (anne, lea, OMEMO_MESSAGE), (hugo, lea, OMEMO_2_MESSAGE))):
        mid, mf, mt = f"e2e-{n}", frm.mark(), to.mark()
        send_encrypted(frm, to.bare, mid, payload)
        err = await frm.wait_for(lambda st: st["type"] == "error" and st["id"] == mid,
                                 start=mf, what="the refusal")
        cond, texts = error_of(err.xml)
        assert cond == "policy-violation", (n, texts)
        assert "ne peut pas être envoyé par un élève ni à un élève" in texts["fr"], texts
        assert "cannot be sent by or to a pupil" in texts["en"], texts
        # « tu » to a pupil, « vous » to an adult.
        assert ("Envoie-le" if frm in (lea, hugo) else "Envoyez-le") in texts["fr"], texts
        await ping_both(frm, to)
        assert not to.matching(lambda st: st["id"] == mid, mt), n
    # The same text without the payload goes; and between adults, encrypted goes too.
    mt = hugo.mark()
    lea.send_message(hugo.bare, "en clair", mid="plain")
    await hugo.wait_message(body="en clair", start=mt)
    mt = paul.mark()
    send_encrypted(anne, paul.bare, "adults", OMEMO_MESSAGE)
    got = await paul.wait_for(lambda st: st["id"] == "adults", start=mt, what="the adults' message")
    assert "axolotl" in str(got)


async def ping_both(*clients) -> None:
    for c in clients:
        r = await c.query(None, "<ping xmlns='urn:xmpp:ping'/>")
        assert r["type"] == "result", r


async def test_pupils_photos_are_off_until_the_structure_allows_them(make_school):
    sch = make_school(snapshot=school_with_staff())
    lea, anne, emma = (await sch.login("lea.martin"), await sch.login("anne.durand"),
                       await sch.login("emma.roux"))
    for node, payload in (AVATAR_DATA, AVATAR_META):
        cond, texts = refusal(await publish(lea, node, payload, "abc"))
        assert cond == "not-allowed"
        assert texts["fr"] == "Les photos de profil ne sont pas activées pour les élèves de ton établissement.", texts
        assert texts["en"] == "Profile photos are turned off for pupils at this school.", texts
    cond, texts = refusal(await lea.query(None, VCARD_PHOTO, "set"))
    assert cond == "not-allowed" and "photos de profil" in texts["fr"], texts
    r = await publish(lea, "urn:xmpp:vcard4",
                      "<vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'><photo><uri>data:image/png;base64,"
                      f"{PNG}</uri></photo></vcard>")
    assert refusal(r)[0] == "not-allowed"
    # A card without a photo is still hers to set.
    r = await lea.query(None, "<vCard xmlns='vcard-temp'><NICKNAME>lele</NICKNAME></vCard>", "set")
    assert r["type"] == "result", r
    # Adults have photos.
    assert (await anne.query(None, VCARD_PHOTO, "set"))["type"] == "result"
    assert (await publish(anne, *AVATAR_META, "abc"))["type"] == "result"

    # The collège allows its pupils' photos in the console; the lycée does not.
    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    shown = await api.ok("GET", f"/structures/{S1}")
    assert shown["pupil_photos"] is False and shown["pupil_photos_own"] is False
    status, _, _ = await api.call("PUT", f"/structures/{S2}/pupil-photos", {"allowed": True})
    assert status == 403
    status, ans, _ = await api.call("PUT", f"/structures/{S1}/pupil-photos", {"allowed": "yes"})
    assert status == 400, ans
    shown = await api.ok("PUT", f"/structures/{S1}/pupil-photos", {"allowed": True})
    assert shown["pupil_photos"] is True and shown["pupil_photos_own"] is True
    assert (await publish(lea, *AVATAR_META, "abc"))["type"] == "result"
    assert (await lea.query(None, VCARD_PHOTO, "set"))["type"] == "result"
    own = await vcard(lea, lea.bare)
    assert own.xml.find(".//{vcard-temp}PHOTO/{vcard-temp}BINVAL") is not None
    # Emma (lycée) still cannot.
    assert refusal(await publish(emma, *AVATAR_META, "abc"))[0] == "not-allowed"
    # Back to the default: Léa's stored photo is no longer shown, new ones refused.
    shown = await api.ok("DELETE", f"/structures/{S1}/pupil-photos")
    assert shown["pupil_photos"] is False
    own = await vcard(lea, lea.bare)
    assert own.xml.find(".//{vcard-temp}PHOTO") is None, own
    assert refusal(await publish(lea, *AVATAR_DATA, "abc"))[0] == "not-allowed"
    log = await api.ok("GET", "/audit")
    actions = [e["action"] for e in (log["entries"] if isinstance(log, dict) else log)]
    assert actions.count("structure.pupil_photos") == 2, actions
    # The command line: the lycée allows them; Emma may then publish.
    assert "pupils' photos off (the default)" in sch.srv.cli("photos", "show", S2).stdout
    assert sch.srv.cli("photos", "set", S2, "maybe", check=False).returncode != 0
    sch.srv.cli("photos", "set", S2, "on")
    assert "pupils' photos on (its own)" in sch.srv.cli("photos", "show", S2).stdout
    assert (await publish(emma, *AVATAR_META, "abc"))["type"] == "result"


async def test_directory_users_keep_the_schools_name_as_nickname(make_school):
    sch = make_school(snapshot=school())
    lea = await sch.login("lea.martin")
    nick = "http://jabber.org/protocol/nick"
    cond, texts = refusal(await publish(lea, nick, f"<nick xmlns='{nick}'>Lili</nick>"))
    assert cond == "not-allowed" and "annuaire" in texts["fr"] and texts["en"], texts
    assert (await publish(lea, nick, f"<nick xmlns='{nick}'>MARTIN Léa</nick>"))["type"] == "result"
    # A name inside a child element is shown by clients too: refused, whatever its text.
    for inner in ("<b>Lili</b>", "MARTIN Léa<b> (Enseignante)</b>", "<b>MARTIN Léa</b>"):
        cond, texts = refusal(await publish(lea, nick, f"<nick xmlns='{nick}'>{inner}</nick>"))
        assert cond == "not-allowed", (inner, texts)
    # A nickname attached to a contact request (XEP-0172) arrives as her school name.
    hugo = await sch.login("hugo.bernard")
    mark = hugo.mark()
    lea.xmpp.send_raw(f"<presence to='{hugo.bare}' type='subscribe'><nick xmlns='{nick}'>Lili</nick></presence>")
    req = await hugo.wait_presence(frm=lea.bare, ptype="subscribe", start=mark)
    nicks = [n.text for n in req.xml.findall(f"{{{nick}}}nick")]
    assert nicks == ["MARTIN Léa"], nicks
    # And her vCard's name (already the school's).
    r = await lea.query(None, "<vCard xmlns='vcard-temp'><FN>Lili</FN></vCard>", "set")
    assert refusal(r)[0] == "not-allowed"


async def exchange(a, b, n: int, prefix: str) -> None:
    for i in range(n):
        mark = b.mark()
        a.send_message(b.bare, f"{prefix} {i}")
        await b.wait_message(body=f"{prefix} {i}", start=mark)


async def test_staff_read_a_pupils_archive_only_under_a_grant_and_audited(make_school):
    sch = make_school(snapshot=school_with_staff())
    lea, hugo = await sch.login("lea.martin"), await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    await exchange(hugo, lea, 3, "menace")
    await exchange(lea, hugo, 1, "laisse-moi")

    anne = Api(sch.srv)
    session = await anne.login("anne.durand", password("anne.durand"))
    assert [s["id"] for s in session["archive_structures"]] == [S1]
    # No reason, a too short one, someone of another school: refused, nothing granted.
    for body, field in (({"login": "lea.martin"}, None),
                        ({"login": "lea.martin", "reason": "parce que"}, "reason"),
                        ({"login": "emma.roux", "reason": "Signalement de harcèlement n°12"}, "login"),
                        ({"login": "lea.martin", "reason": "Signalement de harcèlement n°12", "hours": 1000}, "hours")):
        status, ans, _ = await anne.call("POST", f"/structures/{S1}/archive-access", body)
        assert status == 400, (body, status, ans)
        if field:
            assert ans["error"]["field"] == field, ans
    assert await anne.ok("GET", f"/structures/{S1}/archive-access") == []
    # The lycée's administrator cannot ask for the collège.
    marc = Api(sch.srv)
    await marc.login("marc.leroy", password("marc.leroy"))
    status, _, _ = await marc.call("POST", f"/structures/{S1}/archive-access",
                                   {"login": "lea.martin", "reason": "Curiosité mal placée ici"})
    assert status == 403

    status, grant, _ = await anne.call("POST", f"/structures/{S1}/archive-access",
                                       {"login": "lea.martin", "reason": "Signalement de harcèlement n°12", "hours": 2})
    assert status == 201, grant
    assert grant["login"] == "lea.martin" and grant["active"] is True
    assert grant["reason"] == "Signalement de harcèlement n°12"
    page = await anne.ok("GET", f"/archive-access/{grant['id']}/messages")
    bodies = [m["body"] for m in page["messages"]]
    assert bodies == ["menace 0", "menace 1", "menace 2", "laisse-moi 0"], bodies
    assert page["messages"][0]["from"] == hugo.bare and page["messages"][0]["to"] == lea.bare
    page = await anne.ok("GET", f"/archive-access/{grant['id']}/messages?with={hugo.bare}&limit=2")
    assert [m["body"] for m in page["messages"]] == ["menace 2", "laisse-moi 0"]
    # Nobody else uses Anne's grant; the lycée's admin does not even see it.
    status, _, _ = await marc.call("GET", f"/archive-access/{grant['id']}/messages")
    assert status == 404
    status, _, _ = await marc.call("GET", f"/structures/{S1}/archive-access")
    assert status == 403

    # The grant and each read are in the audit log, with the reason.
    log = await anne.ok("GET", "/audit")
    entries = log["entries"] if isinstance(log, dict) else log
    granted = [e for e in entries if e["action"] == "archive.grant"]
    assert len(granted) == 1 and granted[0]["actor"] == "anne.durand"
    assert granted[0]["target"] == "lea.martin"
    assert "Signalement de harcèlement n°12" in json.dumps(granted[0], ensure_ascii=False)
    reads = [e for e in entries if e["action"] == "archive.read"]
    assert len(reads) == 2, reads

    # A grant that ended is refused (its end moved into the past in the database).
    with sqlite3.connect(sch.srv.db_path) as db:
        db.execute("UPDATE archive_grants SET expires_ms = 1000 WHERE id = ?", (grant["id"],))
    status, ans, _ = await anne.call("GET", f"/archive-access/{grant['id']}/messages")
    assert status == 403 and ans["error"]["code"] == "grant-expired", ans
    listed = await anne.ok("GET", f"/structures/{S1}/archive-access")
    assert [g["active"] for g in listed] == [False]


def post_export(srv, login: str, pw: str):
    req = urllib.request.Request(
        f"http://{srv.host}:{srv.http_port}/api/export",
        data=json.dumps({"login": login, "password": pw}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


async def test_a_user_downloads_his_own_data(make_school):
    sch = make_school(snapshot=school_with_staff())
    lea, hugo = await sch.login("lea.martin"), await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    await exchange(hugo, lea, 2, "coucou")
    await lea.query(None, "<vCard xmlns='vcard-temp'><NICKNAME>lele</NICKNAME></vCard>", "set")

    status, ans, _ = await asyncio.to_thread(post_export, sch.srv, "lea.martin", "wrong")
    assert status == 401, ans
    status, doc, hdrs = await asyncio.to_thread(post_export, sch.srv, "lea.martin", password("lea.martin"))
    assert status == 200, doc
    assert "attachment" in hdrs.get("Content-Disposition", "")
    assert doc["format"] == "causerie-export/1"
    assert doc["account"]["jid"] == lea.bare
    assert doc["account"]["directory"]["name"] == "MARTIN Léa"
    assert doc["account"]["directory"]["profile"] == "student"
    assert [c["jid"] for c in doc["contacts"]] == [hugo.bare]
    assert "lele" in doc["vcard"]
    got = [(m["with"], m["direction"]) for m in doc["archive"]]
    assert got == [(hugo.bare, "received"), (hugo.bare, "received")], got
    assert all("coucou" in m["stanza"] for m in doc["archive"])

    # The collège's administrator gets it on request, without her messages (reading
    # them is the safety staff's, under a grant); the lycée's cannot.
    anne = Api(sch.srv)
    await anne.login("anne.durand", password("anne.durand"))
    doc2 = await anne.ok("GET", "/users/lea.martin/export")
    assert doc2["account"]["login"] == "lea.martin"
    assert [c["jid"] for c in doc2["contacts"]] == [hugo.bare]
    assert doc2["archive"] is None and doc2["offline_messages"] is None, doc2
    assert doc2["conversations"].startswith("withheld"), doc2
    assert "coucou" not in json.dumps(doc2)
    assert doc["conversations"] == "included"
    marc = Api(sch.srv)
    await marc.login("marc.leroy", password("marc.leroy"))
    status, _, _ = await marc.call("GET", "/users/lea.martin/export")
    assert status in (403, 404)
    log = await anne.ok("GET", "/audit")
    entries = log["entries"] if isinstance(log, dict) else log
    exports = [(e["actor"], e["target"]) for e in entries if e["action"] == "user.export"]
    assert ("anne.durand", "lea.martin") in exports, exports


async def test_a_departed_user_is_purged_after_the_delay(make_school):
    sch = make_school(snapshot=school(), extra_toml="[archive]\ndeparted_days = 0\n")
    lea, hugo = await sch.login("lea.martin"), await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    await exchange(hugo, lea, 2, "avant")
    await hugo.query(None, "<vCard xmlns='vcard-temp'><NICKNAME>hugo-old</NICKNAME></vCard>", "set")

    # Hugo leaves the directory; the purge (hourly, here run at once) deletes his account.
    snap = school()
    snap["users"] = [u for u in snap["users"] if u["login"] != "hugo.bernard"]
    import_ok(sch.srv, snap)
    out = sch.srv.cli("archive", "purge").stdout
    assert "1 departed users purged: hugo.bernard" in out, out
    again = sch.srv.cli("archive", "purge").stdout
    assert "0 departed users purged" in again, again

    # He comes back at the next import: a fresh account, nothing of the old one.
    import_ok(sch.srv, school())
    hugo2 = await sch.login("hugo.bernard")
    card = await vcard(hugo2, hugo2.bare)
    assert "hugo-old" not in str(card), card
    r = await hugo2.query(None, f"<query xmlns='{NS_MAM}'/>", "set")
    assert r["type"] == "result", r
    await asyncio.sleep(0.5)
    assert not hugo2.matching(lambda s: s.xml.find(f".//{{{NS_MAM}}}result") is not None)
    # Léa's own copy of their conversation is hers and stays.
    status, doc, _ = await asyncio.to_thread(post_export, sch.srv, "lea.martin", password("lea.martin"))
    assert status == 200 and len(doc["archive"]) == 2, doc
