"""Quiet hours (« Heures calmes ») and the kill switch (« Coupure »), as users see them
(issue 16, docs/safety.md).

Quiet hours: a structure's window is set through the CLI to end a few seconds from now
(UTC, to the second); a message to a pupil in it is held — not delivered, its sender told
in French (tu) and English — then delivered when it ends, with its id and stanza-id. A
pupil who logs in during it gets what waits only when it ends.

Kill switch: each mode refuses what it must with the school's text, within a second of
the change, on a running server (the CLI on the same data directory, and another node's
change through the shared database, which the server finds by itself).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time

from slixmpp import Message

from clients import Client, LoginFailed, barrier, befriend
from directory_fixture import S1, S2, account, error_of, sasl_plain
from test_directory import make_school  # noqa: F401  (pytest fixture)

NS_QUIET = "urn:causerie:quiet:0"
NS_POLICY = "urn:causerie:policy:0"
NS_SID = "urn:xmpp:sid:0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

CONFIG = """
[quiet_hours]
default = false
tick_ms = 100
"""

SCHOOL_TEXT = "Incident en cours : reprise lundi."


def hms(t: dt.datetime) -> str:
    return t.strftime("%H:%M:%S")


def set_window(srv, structure: str, profiles: str, seconds: float) -> float:
    """Quiet hours for `profiles` of `structure` from an hour ago until `seconds` from
    now (UTC, to the second); returns the end as a Unix time."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    end = now + dt.timedelta(seconds=seconds)
    start = now - dt.timedelta(hours=1)
    out = srv.cli("quiet", "set", structure, "--time-zone", "UTC",
                  "--window", f"{profiles}@{hms(start)}-{hms(end)}").stdout
    assert "its own" in out and "UTC" in out, out
    return end.timestamp()


def quiet_of(st) -> dict | None:
    q = st.xml.find(f"{{{NS_QUIET}}}quiet")
    return None if q is None else dict(q.attrib)


def bodies(st) -> dict[str, str]:
    """{"fr": …, "en": …}: a notice has both, the stream's language without xml:lang."""
    out = {}
    for b in st.xml.findall("{jabber:client}body"):
        out[b.get(XML_LANG, "")] = b.text or ""
    main = out.pop("", "")
    for lang in ("fr", "en"):
        if lang not in out:
            out[lang] = main
    return out


def is_quiet(state: str, jid: str | None = None):
    def pred(st):
        q = quiet_of(st)
        return (st.xml.tag == "{jabber:client}message" and q is not None
                and q.get("state") == state and (jid is None or q.get("jid") == jid))
    return pred


def chat_from(frm: str, body: str):
    def pred(st):
        return (isinstance(st, Message) and st["type"] == "chat"
                and st["from"].bare == frm and st["body"] == body)
    return pred


async def test_a_message_to_a_pupil_in_quiet_hours_is_held_then_delivered(make_school):
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)

    mark_lea = lea.mark()
    end = set_window(sch.srv, S1, "student", 6)
    # Léa's own client is told: « Ne pas déranger » with the reason and the end.
    on = await lea.wait_for(is_quiet("on"), timeout=3, start=mark_lea)
    assert on["type"] == "headline" and on["from"] == sch.srv.domain, on
    assert quiet_of(on)["until-local"] == hms(dt.datetime.fromtimestamp(end, dt.timezone.utc)), on
    b = bodies(on)
    assert "Heures calmes" in b["fr"] and "te seront remis" in b["fr"], b
    assert "Quiet hours" in b["en"], b

    mark_hugo = hugo.mark()
    m1 = hugo.send_message(lea.bare, "Tu as fini l'exercice ?", mid="held-1")
    # The sender is told, clearly, in his register (a pupil: tu) and in English.
    told = await hugo.wait_for(is_quiet("held", lea.bare), timeout=3, start=mark_hugo)
    b = bodies(told)
    assert "Léa" in b["fr"] and "heures calmes" in b["fr"] and "ton message" in b["fr"], b
    assert "quiet hours" in b["en"] and "your message" in b["en"], b
    hugo.send_message(lea.bare, "Et le 3 ?", mid="held-2")
    await barrier(hugo, lea)
    assert not lea.matching(chat_from(hugo.bare, "Tu as fini l'exercice ?"), mark_lea), \
        "a message was delivered during quiet hours"
    # Told once per window, not at every message.
    assert len(hugo.matching(is_quiet("held", lea.bare), mark_hugo)) == 1
    assert not hugo.matching(lambda st: st["type"] == "error", mark_hugo), hugo.summary()
    assert m1["id"] == "held-1"

    # When the window ends, both arrive, in order, with their ids and stanza-ids.
    first = await lea.wait_for(chat_from(hugo.bare, "Tu as fini l'exercice ?"), timeout=10,
                               start=mark_lea)
    assert time.time() >= end - 0.05, "delivered before the end of the window"
    second = await lea.wait_for(chat_from(hugo.bare, "Et le 3 ?"), timeout=3, start=mark_lea)
    assert first["id"] == "held-1" and second["id"] == "held-2"
    assert first.xml.find(f"{{{NS_SID}}}stanza-id") is not None
    assert lea.inbox.index(first) < lea.inbox.index(second)
    await lea.wait_for(is_quiet("off"), timeout=3, start=mark_lea)

    # After the window, messages go at once.
    hugo.send_message(lea.bare, "Bonne nuit")
    await lea.wait_for(chat_from(hugo.bare, "Bonne nuit"), timeout=3)


async def test_a_pupil_who_logs_in_during_quiet_hours_gets_his_messages_when_they_end(make_school):
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    anne = await sch.login("anne.durand")  # her teacher: an adult, no quiet hours
    await befriend(lea, anne)
    await lea.disconnect()

    end = set_window(sch.srv, S1, "student", 7)
    mark = anne.mark()
    anne.send_message(lea.bare, "Pensez au contrôle de demain.", mid="t-1")
    told = await anne.wait_for(is_quiet("held", lea.bare), timeout=3, start=mark)
    assert "votre message" in bodies(told)["fr"], bodies(told)  # an adult: vous

    lea = await sch.login("lea.martin", "phone")
    await lea.wait_for(is_quiet("on"), timeout=3)
    await barrier(anne, lea)
    assert not lea.matching(chat_from(anne.bare, "Pensez au contrôle de demain.")), \
        "an offline message was delivered at a login during quiet hours"
    got = await lea.wait_for(chat_from(anne.bare, "Pensez au contrôle de demain."), timeout=12)
    assert time.time() >= end - 0.05
    assert got["id"] == "t-1"
    # The teacher, an adult, is not in quiet hours: Léa's message to her goes at once.
    lea.send_message(anne.bare, "Merci madame")
    await anne.wait_for(chat_from(lea.bare, "Merci madame"), timeout=3)


async def test_quiet_hours_are_per_profile_and_shown_by_the_cli(make_school):
    sch = make_school(extra_toml=CONFIG)
    out = sch.srv.cli("quiet", "show", S1).stdout
    assert "no quiet hours (the default)" in out, out
    bad = sch.srv.cli("quiet", "set", S1, "--time-zone", "Mars/Olympus",
                      "--window", "student@21:00-07:00", check=False)
    assert bad.returncode != 0 and "time zone" in bad.stderr, bad.stderr
    # Parents only: a pupil is not held.
    set_window(sch.srv, S1, "relative", 30)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    hugo.send_message(lea.bare, "Salut")
    await lea.wait_for(chat_from(hugo.bare, "Salut"), timeout=3)
    out = sch.srv.cli("quiet", "reset", S1).stdout
    assert "the default" in out, out


# ------------------------------------------------------------------ kill switch

def error_texts(st) -> tuple[str | None, dict[str, str]]:
    return error_of(st.xml)


def assert_kill_switch_refusal(st, *, fr: str, en: str) -> None:
    assert st["type"] == "error", st
    cond, texts = error_texts(st)
    assert cond == "forbidden", st
    assert st.xml.find(f"{{jabber:client}}error/{{{NS_POLICY}}}shutdown") is not None, st
    fr_text = texts.get("fr") or texts.get("fr-x-tu") or texts.get("fr-x-vous") or ""
    assert fr in fr_text and SCHOOL_TEXT in fr_text, texts
    assert en in texts.get("en", "") and SCHOOL_TEXT in texts["en"], texts


async def refused_within(sender: Client, to: str, seconds: float, since: float) -> Message:
    """Sends a message every 50 ms until one is refused; fails past `seconds` after
    `since` (time.monotonic())."""
    n = 0
    while True:
        n += 1
        mark = sender.mark()
        m = sender.send_message(to, f"essai {n}", mid=f"try-{n}")
        try:
            return await sender.wait_for(
                lambda st: st["type"] == "error" and st["id"] == m["id"], timeout=0.05, start=mark)
        except AssertionError:
            pass
        assert time.monotonic() - since < seconds, \
            f"still not refused {time.monotonic() - since:.2f}s after the change"


async def test_read_only_refuses_within_a_second_with_the_school_text(make_school):
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)

    t0 = time.monotonic()
    proc = asyncio.create_task(asyncio.to_thread(
        sch.srv.cli, "shutdown", "set", S1, "read_only", "--message", SCHOOL_TEXT))
    err = await refused_within(lea, hugo.bare, 1.0, t0)
    out = (await proc).stdout
    assert "read_only" in out and SCHOOL_TEXT in out, out
    assert_kill_switch_refusal(err, fr="tu peux lire, pas écrire", en="read, not write")
    # Still logged in, and the sessions were told the new mode.
    notice = await hugo.wait_for(
        lambda st: st.xml.find(f"{{{NS_POLICY}}}shutdown") is not None, timeout=3)
    assert notice.xml.find(f"{{{NS_POLICY}}}shutdown").get("mode") == "read_only"
    assert SCHOOL_TEXT in bodies(notice)["fr"], bodies(notice)
    # They can still log in (and are told at login).
    tom = await sch.login("tom.girard")
    await tom.wait_for(lambda st: st.xml.find(f"{{{NS_POLICY}}}shutdown") is not None, timeout=3)
    # Another structure is untouched.
    emma = await sch.login("emma.roux")
    marc = await sch.login("marc.leroy")
    await befriend(emma, marc)
    emma.send_message(marc.bare, "Bonjour")
    await marc.wait_for(chat_from(emma.bare, "Bonjour"), timeout=3)

    sch.srv.cli("shutdown", "set", S1, "normal")
    mark = hugo.mark()
    lea.send_message(hugo.bare, "De nouveau")
    await hugo.wait_for(chat_from(lea.bare, "De nouveau"), timeout=3, start=mark)


async def test_read_only_stops_every_message_that_says_something(make_school):
    """Under read_only nothing of the structure's users is written to others: not a body,
    nor a subject, a reaction or XHTML alone, nor a room's new name or a removal's
    reason. Chat states still go."""
    from test_muc import admin, configure, create, invite_and_join, new_room
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    room = new_room(sch.srv)
    await create(lea, room, None)
    await invite_and_join(lea, room, hugo, None)
    sch.srv.cli("shutdown", "set", S1, "read_only", "--message", SCHOOL_TEXT)
    await hugo.wait_for(lambda st: st.xml.find(f"{{{NS_POLICY}}}shutdown") is not None, timeout=3)
    payloads = {
        "subject": "<subject>Rendez-vous derrière le gymnase</subject>",
        "reaction": "<reactions xmlns='urn:xmpp:reactions:0' id='x'><reaction>👍</reaction></reactions>",
        "xhtml": "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
                 "<body xmlns='http://www.w3.org/1999/xhtml'><p>coucou</p></body></html>",
    }
    for name, payload in payloads.items():
        for to, mtype in ((hugo.bare, "chat"), (room, "groupchat")):
            mid, ml, mh = f"ro-{name}-{mtype}", lea.mark(), hugo.mark()
            lea.xmpp.send_raw(f"<message to='{to}' type='{mtype}' id='{mid}'>{payload}</message>")
            err = await lea.wait_for(lambda st: st["type"] == "error" and st["id"] == mid,
                                     start=ml, timeout=3, what=f"the refusal of {mid}")
            assert_kill_switch_refusal(err, fr="tu peux lire, pas écrire", en="read, not write")
            await barrier(hugo)
            assert not hugo.matching(lambda st: st["id"] == mid, mh), mid
    # The owner cannot rename the room, nor give a reason with a removal.
    r = await configure(lea, room, {"muc#roomconfig_roomname": "Nouveau nom"})
    assert r["type"] == "error", r
    assert_kill_switch_refusal(r, fr="tu peux lire, pas écrire", en="read, not write")
    r = await admin(lea, room, f"<item jid='{hugo.bare}' affiliation='none'><reason>Au revoir</reason></item>")
    assert r["type"] == "error", r
    # A chat state is no writing.
    mh = hugo.mark()
    lea.xmpp.send_raw(f"<message to='{hugo.bare}' type='chat' id='cs'>"
                      "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
    await hugo.wait_for(lambda st: st["id"] == "cs", start=mh, timeout=3, what="the chat state")


async def test_another_nodes_change_is_found_by_the_running_server(make_school, tmp_path):
    """A change written into the shared database by another node (here a command with its
    own data directory: no signal reaches this server) is applied by the poller."""
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    other = tmp_path / "other-node"
    other.mkdir()
    text = sch.srv.config_path.read_text()
    text = re.sub(r'^data_dir = .*$', f'data_dir = "{other}"', text, count=1, flags=re.M)
    if "[storage]" not in text:
        text += f'\n[storage]\nurl = "sqlite://{sch.srv.db_path}?mode=rwc"\n'
    cfg = other / "causerie.toml"
    cfg.write_text(text)
    from harness import BINARY
    import subprocess
    subprocess.run([str(BINARY), "--config", str(cfg), "shutdown", "set", S1, "read_only",
                    "--message", SCHOOL_TEXT], check=True, capture_output=True, timeout=30)
    t0 = time.monotonic()
    err = await refused_within(lea, hugo.bare, 1.0, t0)
    assert_kill_switch_refusal(err, fr="tu peux lire, pas écrire", en="read, not write")


async def test_staff_to_families(make_school):
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    anne = await sch.login("anne.durand")
    paul = await sch.login("paul.martin")  # Léa's parent
    await befriend(lea, anne)
    await befriend(paul, anne)
    sch.srv.cli("shutdown", "set", S1, "staff_to_families", "--message", SCHOOL_TEXT)

    # The teacher writes to a pupil and to a parent.
    anne.send_message(lea.bare, "Le cours de demain est maintenu.")
    await lea.wait_for(chat_from(anne.bare, "Le cours de demain est maintenu."), timeout=3)
    anne.send_message(paul.bare, "Réunion lundi.")
    await paul.wait_for(chat_from(anne.bare, "Réunion lundi."), timeout=3)
    # The pupil and the parent cannot write.
    mark = lea.mark()
    lea.send_message(anne.bare, "D'accord")
    err = await lea.wait_for(lambda st: st["type"] == "error", timeout=3, start=mark)
    assert_kill_switch_refusal(err, fr="seuls les enseignants et le personnel",
                               en="only teachers and staff")
    mark = paul.mark()
    paul.send_message(anne.bare, "Merci")
    err = await paul.wait_for(lambda st: st["type"] == "error", timeout=3, start=mark)
    _, texts = error_texts(err)
    assert "Votre établissement" in (texts.get("fr") or texts.get("fr-x-vous") or ""), texts


async def test_off_ends_sessions_and_refuses_logins_with_the_school_text(make_school):
    sch = make_school(extra_toml=CONFIG)
    lea = await sch.login("lea.martin")
    emma = await sch.login("emma.roux")  # the lycée: not concerned
    t0 = time.monotonic()
    sch.srv.cli("shutdown", "set", S1, "off", "--message", SCHOOL_TEXT)
    await asyncio.wait_for(lea.disconnected.wait(), 1.0)
    assert time.monotonic() - t0 < 1.5
    assert "policy-violation" in lea.stream_errors, lea.stream_errors
    assert emma.connected

    out = await sasl_plain(sch.srv, "lea.martin")
    assert not out.ok, out
    assert SCHOOL_TEXT in out.text and "coupée" in out.text and "turned off" in out.text, out.texts
    try:
        await Client.login(sch.srv, account("anne.durand", sch.srv.domain), "r")
        raise AssertionError("a teacher logged in while the chat is off")
    except LoginFailed as e:
        assert e.reason == "auth", e
    assert (await sasl_plain(sch.srv, "emma.roux")).ok

    sch.srv.cli("shutdown", "set", S1, "normal")
    await sch.login("lea.martin", "again")


async def test_kill_switch_is_set_through_the_admin_api_and_audited(make_school):
    from directory_fixture import password
    from test_admin import Api, school_with_admin
    sch = make_school(extra_toml=CONFIG, snapshot=school_with_admin())
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    t0 = time.monotonic()
    answer = await api.ok("PUT", f"/structures/{S1}/shutdown",
                          {"mode": "read_only", "message": SCHOOL_TEXT})
    assert answer["shutdown"] == {"mode": "read_only", "message": SCHOOL_TEXT}, answer
    await refused_within(lea, hugo.bare, 1.0, t0)
    status, _, _ = await api.call("PUT", f"/structures/{S2}/shutdown", {"mode": "off"})
    assert status in (403, 404), status
    answer = await api.ok("PUT", f"/structures/{S1}/quiet-hours", {
        "time_zone": "Europe/Paris",
        "windows": [{"profiles": ["student"], "start": "20:30", "end": "07:15"}]})
    assert answer["quiet_hours"]["windows"][0]["start"] == "20:30", answer
    assert answer["quiet_hours_own"] is True
    status, _, _ = await api.call("PUT", f"/structures/{S1}/quiet-hours",
                                  {"time_zone": "Nowhere/City", "windows": []})
    assert status == 400, status
    rows = await api.ok("GET", "/audit")
    rows = rows["entries"] if isinstance(rows, dict) else rows
    actions = [r["action"] for r in rows]
    assert "structure.shutdown" in actions and "structure.quiet_hours" in actions, actions
