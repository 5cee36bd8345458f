"""Moderation (issue 16): XEP-0425 moderated retraction in a room by its owner (refused to a
member), the retraction every occupant receives, the tombstone MAM and the raw store keep
instead of the text; and the staff's actions from a report in the admin API (delete the
messages of a room or of a one-to-one conversation, block the pair, remove from the room,
lock the account, close the room), each audited, refused to another school's staff."""

from __future__ import annotations

import asyncio
import sqlite3

from slixmpp import Message

from clients import befriend, stanza_error
from directory_fixture import S1, password
from test_admin import Api
from test_directory import make_school  # noqa: F401  (pytest fixture)
from test_mam import MAM_PLUGINS, archive
from test_muc import PLUGINS, create, disco_info, groupchat, invite_and_join, new_room
from test_reports import CONFIG, exchange, report_xml, school_with_staff, stanza_id_of

NS_SID = "urn:xmpp:sid:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_MODERATE = "urn:xmpp:message-moderate:1"
NS_CLIENT = "jabber:client"
NS_BLOCKING = "urn:xmpp:blocking"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
ROOM_PLUGINS = tuple(dict.fromkeys(PLUGINS + MAM_PLUGINS + ("xep_0425",)))


def moderate_xml(stanza_id: str, reason: str | None = None) -> str:
    r = f"<reason>{reason}</reason>" if reason else ""
    return (f"<moderate xmlns='{NS_MODERATE}' id='{stanza_id}'>"
            f"<retract xmlns='{NS_RETRACT}'/>{r}</moderate>")


def retraction_of(room_or_domain: str, sid: str):
    """A retraction of message ``sid`` by the moderators, from ``room_or_domain``."""
    def pred(st):
        if not isinstance(st, Message) or str(st["from"]) != room_or_domain:
            return False
        r = st.xml.find(f"{{{NS_RETRACT}}}retract")
        return (r is not None and r.get("id") == sid
                and r.find(f"{{{NS_MODERATE}}}moderated") is not None)
    return pred


def room_sid(msg, room: str) -> str:
    return next(s for s in msg.xml.findall(f"{{{NS_SID}}}stanza-id") if s.get("by") == room).get("id")


def raw_rows(srv, sql: str, *args) -> list[str]:
    db = sqlite3.connect(srv.db_path)
    try:
        return [r[0] for r in db.execute(sql, args).fetchall()]
    finally:
        db.close()


def tombstone_in_mam(rows: list[dict], sid: str) -> None:
    """The archive's answer holds message ``sid`` without a body."""
    [row] = [r for r in rows if r["id"] == sid]
    assert row["body"] is None, row


async def test_the_owner_deletes_a_room_message_for_everyone(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    lea = await sch.login("lea.martin", plugins=ROOM_PLUGINS)
    hugo = await sch.login("hugo.bernard", plugins=ROOM_PLUGINS)
    tom = await sch.login("tom.girard", plugins=ROOM_PLUGINS)
    room = new_room(sch.srv)
    await create(lea, room, "MARTIN Léa")
    await invite_and_join(lea, room, hugo, "BERNARD Hugo")
    await invite_and_join(lea, room, tom, "GIRARD Tom")

    # The feature is advertised on the room.
    info = await disco_info(lea, room)
    features = {f.get("var") for f in info.xml.iter(f"{{{NS_DISCO_INFO}}}feature")}
    assert {NS_MODERATE, NS_RETRACT} <= features, features

    sids = {}
    for text in ("salut", "t'es vraiment nulle", "bon"):
        mark = tom.mark()
        hugo.send_message(room, text, mtype="groupchat")
        sids[text] = room_sid(await tom.wait_for(groupchat(room, text), start=mark), room)
    bad = sids["t'es vraiment nulle"]

    # A member (Tom), and the sender himself, are refused with a text.
    for who in (tom, hugo):
        r = await who.query(room, moderate_xml(bad), "set")
        assert stanza_error(r) == "forbidden", r
        assert "créateur de la conversation" in str(r) or "conversation's creator" in str(r), r
    # An unknown message: item-not-found.
    r = await lea.query(room, moderate_xml("no-such-id"), "set")
    assert stanza_error(r) == "item-not-found", r

    # Léa (the owner) deletes it: every occupant gets the retraction from the room.
    marks = {c: c.mark() for c in (lea, hugo, tom)}
    r = await lea.query(room, moderate_xml(bad, "insulte"), "set")
    assert r["type"] == "result", r
    for c in (lea, hugo, tom):
        got = await c.wait_for(retraction_of(room, bad), start=marks[c], what="the retraction")
        moderated = got.xml.find(f"{{{NS_RETRACT}}}retract/{{{NS_MODERATE}}}moderated")
        assert moderated.get("by") == f"{room}/MARTIN Léa"

    # The slixmpp XEP-0425 plugin speaks the same protocol (again: nothing changes).
    from slixmpp import JID
    await lea.xmpp.plugin["xep_0425"].moderate(JID(room), bad, "insulte")

    # MAM: the tombstone, not the text; the other messages untouched.
    rows, _, _ = await archive(tom, to=room)
    tombstone_in_mam(rows, bad)
    assert [r["body"] for r in rows if r["id"] != bad] == ["salut", "bon"]
    # The raw store: the text is gone from the room's archive, a tombstone remains.
    stanzas = raw_rows(sch.srv, "SELECT stanza FROM room_archive WHERE stanza_id = ?", bad)
    assert len(stanzas) == 1 and "nulle" not in stanzas[0] and NS_RETRACT in stanzas[0], stanzas
    assert not raw_rows(sch.srv, "SELECT stanza FROM room_archive WHERE stanza LIKE ?", "%vraiment nulle%")

    # The audit log says who and when, not the text.
    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    audit = await api.ok("GET", "/audit")
    [row] = [a for a in audit if a["action"] == "room.message_moderated"]
    assert row["actor"] == "lea.martin" and "nulle" not in str(row), row


async def threat_reported(lea, hugo, tom, room: str) -> str:
    """Léa's room `room` with Hugo and Tom; Hugo threatens, Tom reports it (« menace »):
    the threat's stanza-id."""
    await create(lea, room, "MARTIN Léa")
    await invite_and_join(lea, room, hugo, "BERNARD Hugo")
    await invite_and_join(lea, room, tom, "GIRARD Tom")
    mark = tom.mark()
    hugo.send_message(room, "je vais te frapper", mtype="groupchat")
    bad = room_sid(await tom.wait_for(groupchat(room, "je vais te frapper"), start=mark), room)
    r = await tom.query(None, report_xml(room, [bad], "menace"), "set")
    assert r["type"] == "result", r
    return bad


async def staff_consoles(srv) -> tuple[Api, Api]:
    """The consoles on `srv` of the collège's administrator (anne.durand) and of
    claire.cpe, whom she names its safety staff."""
    api = Api(srv)
    await api.login("anne.durand", password("anne.durand"))
    await api.ok("PUT", f"/structures/{S1}/safety-staff", {"logins": ["claire.cpe"]})
    cpe = Api(srv)
    await cpe.login("claire.cpe", password("claire.cpe"))
    return api, cpe


async def test_staff_act_on_a_room_report(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    lea = await sch.login("lea.martin", plugins=ROOM_PLUGINS)
    hugo = await sch.login("hugo.bernard", plugins=ROOM_PLUGINS)
    tom = await sch.login("tom.girard", plugins=ROOM_PLUGINS)
    room = new_room(sch.srv)
    bad = await threat_reported(lea, hugo, tom, room)

    api, cpe = await staff_consoles(sch.srv)
    [rep] = await cpe.ok("GET", f"/structures/{S1}/reports")

    # Another school's administrator: the report is not found, nothing happens.
    lycee = Api(sch.srv)
    await lycee.login("marc.leroy", password("marc.leroy"))
    for action in ("delete_messages", "block", "lock", "close_room"):
        status, _, _ = await lycee.call("POST", f"/reports/{rep['id']}/actions", {"action": action})
        assert status == 404, action
    # Unknown action, a message not in the report: refused.
    status, err, _ = await cpe.call("POST", f"/reports/{rep['id']}/actions", {"action": "explode"})
    assert status == 400 and err["error"]["field"] == "action", err
    status, err, _ = await cpe.call("POST", f"/reports/{rep['id']}/actions",
                                    {"action": "delete_messages", "stanza_ids": ["other"]})
    assert status == 400 and err["error"]["field"] == "stanza_ids", err

    # The CPE deletes the message: every occupant gets the retraction (by the room), the
    # archive keeps a tombstone, the report keeps its copy.
    marks = {c: c.mark() for c in (lea, hugo, tom)}
    done = await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "delete_messages"})
    assert done["done"] == {"action": "delete_messages", "changed": True, "count": 1}, done["done"]
    for c in (lea, hugo, tom):
        got = await c.wait_for(retraction_of(room, bad), start=marks[c], what="the retraction")
        by = got.xml.find(f"{{{NS_RETRACT}}}retract/{{{NS_MODERATE}}}moderated").get("by")
        assert by == room, by
    rows, _, _ = await archive(lea, to=room)
    tombstone_in_mam(rows, bad)
    assert not raw_rows(sch.srv, "SELECT stanza FROM room_archive WHERE stanza LIKE ?", "%frapper%")
    assert [m["body"] for m in done["messages"]] == ["je vais te frapper"]
    assert done["notes"][-1]["author"] == "claire.cpe" and "supprimés" in done["notes"][-1]["text"]

    # Remove Hugo from the room: he is told, the others see him go; his membership ends.
    hmark = hugo.mark()
    await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "remove_from_room"})
    await hugo.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                        and "retiré" in str(s), start=hmark, what="the removal notice")
    status, err, _ = await cpe.call("POST", f"/reports/{rep['id']}/actions", {"action": "remove_from_room"})
    assert status == 409, err

    # Lock Hugo's account: his session is closed.
    await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "lock"})
    user = await api.ok("GET", "/users/hugo.bernard")
    assert user["locked"] is True, user
    for _ in range(50):
        if hugo.stream_errors:
            break
        await asyncio.sleep(0.1)
    assert hugo.stream_errors, "Hugo's session is still open"

    # Close the room: occupants leave with the school's notice, the room is gone, the
    # archive stays (with its tombstone).
    lmark = lea.mark()
    await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "close_room"})
    await lea.wait_for(lambda s: s.xml.tag == f"{{{NS_CLIENT}}}presence" and s["from"].bare == room
                       and "Conversation fermée par" in str(s), start=lmark, what="the room closed")
    assert raw_rows(sch.srv, "SELECT name FROM rooms WHERE name = ?", room.split("@")[0]) == []
    assert raw_rows(sch.srv, "SELECT stanza_id FROM room_archive WHERE stanza_id = ?", bad) == [bad]

    audit = await api.ok("GET", "/audit")
    actions = [a["action"] for a in audit if a["actor"] == "claire.cpe"]
    for want in ("room.message_moderated", "moderation.remove_from_room", "user.lock",
                 "moderation.close_room", "report.note"):
        assert want in actions, (want, actions)


async def test_staff_delete_a_one_to_one_message_from_both_archives(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    lea = await sch.login("lea.martin", plugins=MAM_PLUGINS)
    hugo = await sch.login("hugo.bernard", plugins=MAM_PLUGINS)
    await befriend(lea, hugo)
    ids = await exchange(hugo, lea, 3, "insulte")
    r = await lea.query(None, report_xml(hugo.bare, [ids[1]]), "set")
    assert r["type"] == "result", r

    cpe = Api(sch.srv)
    await cpe.login("anne.durand", password("anne.durand"))
    [rep] = await cpe.ok("GET", f"/structures/{S1}/reports")
    # No room in this report: room actions are refused.
    for action in ("remove_from_room", "close_room"):
        status, err, _ = await cpe.call("POST", f"/reports/{rep['id']}/actions", {"action": action})
        assert status == 400, (action, err)

    # As XEP-0424 names a one-to-one message: by the id its sender gave it.
    [got] = [m for m in lea.inbox if isinstance(m, Message) and m["body"] == "insulte 2"]
    origin = got.xml.find(f"{{{NS_SID}}}origin-id")
    sender_id = origin.get("id") if origin is not None else got["id"]
    assert sender_id

    marks = {c: c.mark() for c in (lea, hugo)}
    done = await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "delete_messages"})
    assert done["done"]["count"] == 1, done
    # Both parties' clients get the retraction from the server.
    for c in (lea, hugo):
        await c.wait_for(retraction_of(sch.srv.domain, sender_id), start=marks[c], what="the retraction")
    # Both archives: a tombstone where the message was, the others untouched.
    for c in (lea, hugo):
        rows, _, _ = await archive(c)
        tombstone_in_mam(rows, ids[1])
        assert [r["body"] for r in rows if r["id"] != ids[1]] == ["insulte 1", "insulte 3"]
    assert not raw_rows(sch.srv, "SELECT stanza FROM account_archive WHERE stanza LIKE ?", "%insulte 2%")
    assert len(raw_rows(sch.srv, "SELECT stanza FROM account_archive WHERE stanza_id = ?", ids[1])) == 2
    # The report's own copy stays.
    assert "insulte 2" in [m["body"] for m in done["messages"]]

    # Block the pair: Hugo can no longer write to Léa.
    await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "block"})
    got = await lea.query(None, f"<blocklist xmlns='{NS_BLOCKING}'/>")
    assert [i.get("jid") for i in got.xml.iter(f"{{{NS_BLOCKING}}}item")] == [hugo.bare]
    mark = lea.mark()
    hugo.send_message(lea.bare, "tu me bloques ?")
    await lea.expect_none(lambda s: isinstance(s, Message) and "bloques" in str(s), 0.6,
                          "a message from the blocked person", start=mark)


async def test_the_staff_cannot_lock_an_administrator_from_a_report(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    anne, lea = await sch.login("anne.durand"), await sch.login("lea.martin")
    await befriend(anne, lea)
    await exchange(anne, lea, 1, "bonjour")
    r = await lea.query(None, report_xml(anne.bare), "set")
    assert r["type"] == "result", r

    admin = Api(sch.srv)
    await admin.login("anne.durand", password("anne.durand"))
    await admin.ok("PUT", f"/structures/{S1}/safety-staff", {"logins": ["claire.cpe"]})
    cpe = Api(sch.srv)
    await cpe.login("claire.cpe", password("claire.cpe"))
    [rep] = await cpe.ok("GET", f"/structures/{S1}/reports")
    # The reported person is the collège's administrator: the role order refuses it.
    status, err, _ = await cpe.call("POST", f"/reports/{rep['id']}/actions", {"action": "lock"})
    assert status == 403, err
    user = await admin.ok("GET", "/users/anne.durand")
    assert user["locked"] is False, user
    # Blocking the pair stays possible: it protects the pupil without touching the account.
    done = await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "block"})
    assert done["done"]["changed"] is True
    # Nothing named by the report (reported without messages): nothing to delete.
    status, err, _ = await cpe.call("POST", f"/reports/{rep['id']}/actions", {"action": "delete_messages"})
    assert status == 400 and err["error"]["field"] == "stanza_ids", err
