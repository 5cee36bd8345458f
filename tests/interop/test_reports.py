"""Reports (« Signaler », XEP-0377): a pupil reports a message or a person; the report
reaches his school's staff through the admin API (docs/admin-api.md, « Signalements »)
with a bounded context copied from his own archive; he gets a confirmation, the reported
person is told nothing; reports on strangers, on others' messages and floods are refused;
another school's staff cannot read them."""

from __future__ import annotations

from slixmpp import Message
from slixmpp.stanza import Iq

from clients import befriend, stanza_error
from directory_fixture import C2A, S1, S2, _user, password
from test_admin import Api, school_with_admin
from test_directory import make_school  # noqa: F401  (pytest fixture)

NS_REPORTING = "urn:xmpp:reporting:1"
NS_BLOCKING = "urn:xmpp:blocking"
NS_SID = "urn:xmpp:sid:0"
NS_CONFIRMATION = "urn:causerie:report:0"
ABUSE = "urn:xmpp:reporting:abuse"

CONFIG = """
[reports]
context_messages = 3
per_hour = 4
"""


def school_with_staff() -> dict:
    """The interop school: anne.durand administers the collège, marc.leroy the lycée, and
    the collège has a CPE (personnel) who administers nothing."""
    d = school_with_admin()
    for u in d["users"]:
        if u["login"] == "marc.leroy":
            u["admin_of"] = [S2]
    d["users"].append(_user("claire.cpe", "Dupont", "Claire", "personnel", [S1]))
    return d


def report_xml(jid: str, ids=(), text: str = "", reason: str = ABUSE) -> str:
    sids = "".join(f"<stanza-id xmlns='{NS_SID}' by='x' id='{i}'/>" for i in ids)
    txt = f"<text>{text}</text>" if text else ""
    return f"<report xmlns='{NS_REPORTING}' jid='{jid}' reason='{reason}'>{sids}{txt}</report>"


def stanza_id_of(msg: Message) -> str:
    sid = msg.xml.find(f"{{{NS_SID}}}stanza-id")
    assert sid is not None, f"no stanza-id in {msg}"
    return sid.get("id")


def bodies_of(msg: Message) -> dict[str, str]:
    """A message's bodies by language ('' for the one in the stream's language)."""
    out = {}
    for b in msg.xml.findall("{jabber:client}body"):
        out[b.get("{http://www.w3.org/XML/1998/namespace}lang", "")] = b.text
    return out


def confirmations(c, start: int = 0) -> list:
    return c.matching(lambda s: isinstance(s, Message) and s.xml.find(f"{{{NS_CONFIRMATION}}}report-confirmation") is not None, start)


async def exchange(sender, receiver, n: int, prefix: str) -> list[str]:
    """`sender` sends `n` messages to `receiver`; the stanza-ids `receiver` got."""
    ids = []
    for i in range(1, n + 1):
        mark = receiver.mark()
        sender.send_message(receiver.bare, f"{prefix} {i}")
        got = await receiver.wait_message(body=f"{prefix} {i}", start=mark)
        ids.append(stanza_id_of(got))
    return ids


async def test_a_pupil_reports_a_message_and_the_staff_read_it(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    lea, hugo, tom = (await sch.login("lea.martin"), await sch.login("hugo.bernard"),
                      await sch.login("tom.girard"))
    await befriend(lea, hugo)
    await befriend(tom, hugo)
    ids = await exchange(hugo, lea, 12, "message")
    # Hugo writes to Tom too: Lea never saw these.
    tom_ids = await exchange(hugo, tom, 2, "pour tom")

    # Lea reports message 6 on its own (no block): accepted, confirmed in « tu ».
    mark, hmark = lea.mark(), hugo.mark()
    reply = await lea.query(None, report_xml(hugo.bare, [ids[5]], "Il m'insulte <b>encore</b>".replace("<", "&lt;")), "set")
    assert reply["type"] == "result", reply
    await lea.wait_for(lambda s: confirmations(lea, mark) != [], what="the confirmation")
    conf = confirmations(lea, mark)[0]
    assert conf["type"] == "headline"
    # slixmpp's stream is in English: English first, French beside.
    assert bodies_of(conf) == {"": "Your report was sent to your school.",
                               "fr": "Ton signalement a été transmis à ton établissement."}
    # Hugo is told nothing.
    await hugo.expect_none(lambda s: isinstance(s, Message) and s["from"].bare in (sch.srv.domain, lea.bare),
                           0.5, "anything about the report", start=hmark)

    # Refusals: another person's message (Hugo→Tom: not in her archive), a classmate she
    # never exchanged with, a stranger of another school, herself, a room she is not in.
    for jid, sid, condition in [
        (hugo.bare, tom_ids[0], "item-not-found"),
        (tom.bare, ids[0], "not-acceptable"),
        (sch.jid("emma.roux"), None, "not-acceptable"),
        (lea.bare, None, "not-acceptable"),
        (f"salon@conference.{sch.srv.domain}", ids[0], "not-acceptable"),
    ]:
        r = await lea.query(None, report_xml(jid, [sid] if sid else []), "set")
        assert stanza_error(r) == condition, (jid, r)
    # A text too long is refused before anything is stored.
    r = await lea.query(None, report_xml(hugo.bare, [], "x" * 1001), "set")
    assert stanza_error(r) == "not-acceptable", r

    # The collège's administrator (the default reader) sees the report with 3 messages
    # before and after the reported one, all from Lea's archive.
    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    listed = await api.ok("GET", f"/structures/{S1}/reports")
    assert len(listed) == 1, listed
    rep = listed[0]
    assert rep["reporter"]["login"] == "lea.martin" and rep["reported"]["login"] == "hugo.bernard"
    assert rep["status"] == "new" and rep["reason"] == "abuse" and rep["room"] is None
    assert rep["text"] == "Il m'insulte <b>encore</b>"
    detail = await api.ok("GET", f"/reports/{rep['id']}")
    bodies = [m["body"] for m in detail["messages"]]
    assert bodies == [f"message {i}" for i in range(3, 10)], bodies
    assert [m["reported"] for m in detail["messages"]] == [False] * 3 + [True] + [False] * 3
    assert detail["messages"][3]["stanza_id"] == ids[5]
    assert detail["messages"][3]["sender"]["login"] == "hugo.bernard"
    assert not any("pour tom" in b for b in bodies)

    # Status and note, then the audit log holds every access.
    after = await api.ok("PUT", f"/reports/{rep['id']}/status", {"status": "in_progress"})
    assert after["status"] == "in_progress"
    after = await api.ok("POST", f"/reports/{rep['id']}/notes", {"text": "Vu avec Hugo et ses parents."})
    assert [(n["author"], n["text"]) for n in after["notes"]] == [("anne.durand", "Vu avec Hugo et ses parents.")]
    status, err, _ = await api.call("PUT", f"/reports/{rep['id']}/status", {"status": "archived"})
    assert status == 400 and err["error"]["field"] == "status"
    status, err, _ = await api.call("POST", f"/reports/{rep['id']}/notes", {"text": "  "})
    assert status == 400
    audit = await api.ok("GET", "/audit")
    actions = [r["action"] for r in audit[:4]]
    assert actions == ["report.note", "report.status", "report.read", "report.list"], actions

    # The lycée's administrator cannot read the collège's reports.
    lycee = Api(sch.srv)
    await lycee.login("marc.leroy", password("marc.leroy"))
    status, _, _ = await lycee.call("GET", f"/structures/{S1}/reports")
    assert status == 403
    status, _, _ = await lycee.call("GET", f"/reports/{rep['id']}")
    assert status == 404
    status, _, _ = await lycee.call("PUT", f"/reports/{rep['id']}/status", {"status": "closed"})
    assert status == 404
    assert await lycee.ok("GET", f"/structures/{S2}/reports") == []

    # The collège names its CPE as safety staff: she logs in to the console and reads the
    # reports; the administrator no longer does.
    staff = await api.ok("PUT", f"/structures/{S1}/safety-staff", {"logins": ["claire.cpe"]})
    assert [p["login"] for p in staff["readers"]] == ["claire.cpe"]
    status, err, _ = await api.call("PUT", f"/structures/{S1}/safety-staff", {"logins": ["lea.martin"]})
    assert status == 400, err
    cpe = Api(sch.srv)
    session = await cpe.login("claire.cpe", password("claire.cpe"))
    assert session["role"] == "safety" and session["structures"] == []
    assert [s["id"] for s in session["report_structures"]] == [S1]
    assert [r["id"] for r in await cpe.ok("GET", f"/structures/{S1}/reports")] == [rep["id"]]
    status, _, _ = await cpe.call("GET", "/users/hugo.bernard")
    assert status in (403, 404)
    status, _, _ = await api.call("GET", f"/structures/{S1}/reports")
    assert status == 403
    await api.ok("DELETE", f"/structures/{S1}/safety-staff")
    assert len(await api.ok("GET", f"/structures/{S1}/reports")) == 1


async def test_the_directory_s_cpe_and_direction_read_reports_by_default(make_school):
    """With no safety staff named, the structure's teachers and staff whose directory
    entry has the `cpe` or `direction` function read its reports, instead of its local
    administrators; a school's own choice beats them; another school's CPE reads nothing."""
    snap = school_with_staff()
    for u in snap["users"]:
        if u["login"] == "claire.cpe":
            u["functions"] = ["cpe"]
    snap["users"].append(_user("paul.proviseur", "Roux", "Paul", "personnel", [S2], functions=["direction"]))
    # A pupil cannot hold the function: it is ignored for him.
    for u in snap["users"]:
        if u["login"] == "tom.girard":
            u["functions"] = ["cpe"]
    sch = make_school(snapshot=snap, extra_toml=CONFIG)
    lea, hugo = await sch.login("lea.martin"), await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    ids = await exchange(hugo, lea, 2, "message")
    reply = await lea.query(None, report_xml(hugo.bare, [ids[0]]), "set")
    assert reply["type"] == "result", reply

    admin = Api(sch.srv)
    await admin.login("anne.durand", password("anne.durand"))
    staff = await admin.ok("GET", f"/structures/{S1}/safety-staff")
    assert staff["safety_staff"] is None
    assert [p["login"] for p in staff["readers"]] == ["claire.cpe"]
    status, _, _ = await admin.call("GET", f"/structures/{S1}/reports")
    assert status == 403

    cpe = Api(sch.srv)
    session = await cpe.login("claire.cpe", password("claire.cpe"))
    assert session["role"] == "safety"
    assert [s["id"] for s in session["report_structures"]] == [S1]
    assert len(await cpe.ok("GET", f"/structures/{S1}/reports")) == 1

    # The lycée's direction reads the lycée's reports only.
    head = Api(sch.srv)
    session = await head.login("paul.proviseur", password("paul.proviseur"))
    assert [s["id"] for s in session["report_structures"]] == [S2]
    status, _, _ = await head.call("GET", f"/structures/{S1}/reports")
    assert status == 403
    # The pupil with a « cpe » function reads nothing.
    pupil = Api(sch.srv)
    status, _, _ = await pupil.call("POST", "/login", {"login": "tom.girard", "password": password("tom.girard")})
    assert status == 403

    # The collège names someone else: the CPE no longer reads; back to the default, she does.
    await admin.ok("PUT", f"/structures/{S1}/safety-staff", {"logins": ["anne.durand"]})
    assert len(await admin.ok("GET", f"/structures/{S1}/reports")) == 1
    status, _, _ = await cpe.call("GET", f"/structures/{S1}/reports")
    assert status in (401, 403)
    await admin.ok("DELETE", f"/structures/{S1}/safety-staff")
    cpe = Api(sch.srv)
    await cpe.login("claire.cpe", password("claire.cpe"))
    assert len(await cpe.ok("GET", f"/structures/{S1}/reports")) == 1


async def test_block_with_report_and_the_hourly_limit(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    lea, hugo = await sch.login("lea.martin"), await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    ids = await exchange(hugo, lea, 2, "spam")

    # XEP-0377 inside a XEP-0191 block: stored and blocked.
    mark = lea.mark()
    block = (f"<block xmlns='{NS_BLOCKING}'><item jid='{hugo.bare}'>"
             f"<report xmlns='{NS_REPORTING}' reason='urn:xmpp:reporting:spam'>"
             f"<stanza-id xmlns='{NS_SID}' by='{lea.bare}' id='{ids[1]}'/></report></item></block>")
    reply = await lea.query(None, block, "set")
    assert reply["type"] == "result", reply
    await lea.wait_for(lambda s: confirmations(lea, mark) != [], what="the confirmation")
    got = await lea.query(None, f"<blocklist xmlns='{NS_BLOCKING}'/>")
    assert [i.get("jid") for i in got.xml.iter(f"{{{NS_BLOCKING}}}item")] == [hugo.bare]

    # per_hour = 4: three more, then refused with resource-constraint.
    for _ in range(3):
        r = await lea.query(None, report_xml(hugo.bare), "set")
        assert r["type"] == "result", r
    r = await lea.query(None, report_xml(hugo.bare), "set")
    assert stanza_error(r) == "resource-constraint", r
    assert "réessaie dans une heure" in str(r)

    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    listed = await api.ok("GET", f"/structures/{S1}/reports")
    assert len(listed) == 4
    first = listed[-1]
    assert first["reason"] == "spam" and first["stanza_ids"] == [ids[1]]
    # Without messages, the last messages with him are the context.
    detail = await api.ok("GET", f"/reports/{listed[0]['id']}")
    assert [m["body"] for m in detail["messages"]] == ["spam 1", "spam 2"]

    # The command line: list, show, status, note, all in the audit log as `cli`.
    out = sch.srv.cli("reports", "list", S1).stdout
    assert len(out.strip().splitlines()) == 4 and "lea.martin -> hugo.bernard" in out, out
    out = sch.srv.cli("reports", "show", str(first["id"])).stdout
    assert '"spam 2"' in out and "reason: spam" in out, out
    sch.srv.cli("reports", "status", str(first["id"]), "closed")
    sch.srv.cli("reports", "note", str(first["id"]), "Classé.")
    bad = sch.srv.cli("reports", "status", str(first["id"]), "done", check=False)
    assert bad.returncode != 0 and "unknown status" in bad.stderr
    detail = await api.ok("GET", f"/reports/{first['id']}")
    assert detail["status"] == "closed" and detail["notes"][0]["author"] == "cli"
    audit = await api.ok("GET", "/audit")
    assert [(r["actor"], r["action"]) for r in audit[1:5]] == [
        ("cli", "report.note"), ("cli", "report.status"), ("cli", "report.read"), ("cli", "report.list")]


async def test_an_adult_is_answered_with_vous(make_school):
    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    anne, lea = await sch.login("anne.durand"), await sch.login("lea.martin")
    await befriend(anne, lea)
    await exchange(lea, anne, 1, "bonjour")
    mark = anne.mark()
    r = await anne.query(None, report_xml(lea.bare), "set")
    assert r["type"] == "result", r
    await anne.wait_for(lambda s: confirmations(anne, mark) != [], what="the confirmation")
    assert bodies_of(confirmations(anne, mark)[0])["fr"] == \
        "Votre signalement a été transmis à votre établissement."
    assert isinstance(r, Iq)

    # Refused attempts are paced too (each costs the server a write): 10 a minute, then
    # resource-constraint, in « vous ».
    stranger = sch.jid("emma.roux")
    for _ in range(9):
        r = await anne.query(None, report_xml(stranger), "set")
        assert stanza_error(r) == "not-acceptable", r
    r = await anne.query(None, report_xml(stranger), "set")
    assert stanza_error(r) == "resource-constraint", r
    assert "attendez une minute" in str(r)


async def test_a_message_of_a_room_is_reported_by_a_member_only(make_school):
    from test_muc import PLUGINS, create, groupchat, invite_and_join, new_room, service

    sch = make_school(snapshot=school_with_staff(), extra_toml=CONFIG)
    lea = await sch.login("lea.martin", plugins=PLUGINS)
    hugo = await sch.login("hugo.bernard", plugins=PLUGINS)
    tom = await sch.login("tom.girard", plugins=PLUGINS)
    room = new_room(sch.srv)
    await create(lea, room, "MARTIN Léa")
    await invite_and_join(lea, room, hugo, "BERNARD Hugo")
    sids = []
    for text in ("bonjour", "t'es nulle", "vraiment"):
        mark = lea.mark()
        hugo.send_message(room, text, mtype="groupchat")
        got = await lea.wait_for(groupchat(room, text), start=mark)
        sid = next(s for s in got.xml.findall(f"{{{NS_SID}}}stanza-id") if s.get("by") == room)
        sids.append(sid.get("id"))
    mark = lea.mark()
    lea.send_message(room, "arrête", mtype="groupchat")
    mine = await lea.wait_for(groupchat(room, "arrête"), start=mark)
    my_sid = next(s for s in mine.xml.findall(f"{{{NS_SID}}}stanza-id") if s.get("by") == room).get("id")

    # Tom is not a member: refused; Léa's own message: refused.
    r = await tom.query(None, report_xml(room, [sids[1]]), "set")
    assert stanza_error(r) == "not-acceptable", r
    r = await lea.query(None, report_xml(room, [my_sid]), "set")
    assert stanza_error(r) == "item-not-found", r
    r = await lea.query(None, report_xml(room, [sids[1]], "dans le salon"), "set")
    assert r["type"] == "result", r

    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    [rep] = await api.ok("GET", f"/structures/{S1}/reports")
    assert rep["room"] == room.split("@")[0] and rep["reported"]["login"] == "hugo.bernard"
    assert service(sch.srv) in room
    detail = await api.ok("GET", f"/reports/{rep['id']}")
    assert [(m["body"], m["reported"]) for m in detail["messages"]] == [
        ("bonjour", False), ("t'es nulle", True), ("vraiment", False), ("arrête", False)]


async def test_a_room_report_goes_to_the_school_shared_with_its_sender_and_no_other_acts_on_him(make_school):
    """Anne teaches in both schools and supervises a room of Léa (collège) and Emma
    (lycée). Anne's report of Emma goes to the lycée, which they share; Léa's, who
    shares no school with Emma, to the collège, whose staff may read it but not act on
    Emma (remove her, close the lycée teacher's room, delete her words)."""
    from test_muc import PLUGINS, create, groupchat, invite_and_join, new_room

    snap = school_with_staff()
    for u in snap["users"]:
        if u["login"] == "anne.durand":
            u["structures"] = [S1, S2]
            u["classes"] = u["classes"] + [C2A]
    sch = make_school(snapshot=snap, extra_toml=CONFIG)
    anne = await sch.login("anne.durand", plugins=PLUGINS)
    lea = await sch.login("lea.martin", plugins=PLUGINS)
    emma = await sch.login("emma.roux", plugins=PLUGINS)
    room = new_room(sch.srv)
    await create(anne, room, None)
    await invite_and_join(anne, room, lea, None)
    await invite_and_join(anne, room, emma, None)
    mark = lea.mark()
    emma.send_message(room, "t'es nulle", mtype="groupchat")
    got = await lea.wait_for(groupchat(room, "t'es nulle"), start=mark)
    sid = next(s for s in got.xml.findall(f"{{{NS_SID}}}stanza-id") if s.get("by") == room).get("id")
    for reporter in (anne, lea):
        r = await reporter.query(None, report_xml(room, [sid]), "set")
        assert r["type"] == "result", r
    lycee = Api(sch.srv)
    await lycee.login("marc.leroy", password("marc.leroy"))
    [by_anne] = await lycee.ok("GET", f"/structures/{S2}/reports")
    assert by_anne["reporter"]["login"] == "anne.durand", by_anne
    college = Api(sch.srv)
    await college.login("anne.durand", password("anne.durand"))
    [by_lea] = await college.ok("GET", f"/structures/{S1}/reports")
    assert by_lea["reporter"]["login"] == "lea.martin", by_lea
    for action in ("remove_from_room", "close_room", "delete_messages"):
        status, err, _ = await college.call("POST", f"/reports/{by_lea['id']}/actions", {"action": action})
        assert status == 403 and err["error"]["code"] == "forbidden", (action, status, err)
    # Emma is still in the room, and her message still there.
    mark = lea.mark()
    emma.send_message(room, "toujours là", mtype="groupchat")
    await lea.wait_for(groupchat(room, "toujours là"), start=mark)
