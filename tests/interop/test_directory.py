"""The school directory and its communication rules, as users see them
(issue 3): directory import, service access at login, directory search,
contact requests, direct messages, presence, vCards, ENT groups, refused
requests, symmetric deletion, rules that follow the directory without a
restart, plain accounts and the `[policy]` options.

Each test gets its own server with the school of ``directory_fixture``
imported through the CLI (``causerie directory import``).
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import pytest
from slixmpp.stanza import Iq, Message, Presence

from clients import Client, Clients, LoginFailed, barrier, befriend, roster_items
from directory_fixture import (
    C6A,
    C6B,
    NS_DISCO_INFO,
    NS_DISCO_ITEMS,
    NS_SEARCH,
    S1,
    S2,
    access,
    account,
    assert_refusal,
    import_ok,
    import_snapshot,
    is_error_from,
    is_refused,
    roster_item_xml,
    sasl_plain,
    school,
    search_basic,
    search_form,
    user_entry,
    vcard,
    vcard_fn,
)

NS_CARBONS = "urn:xmpp:carbons:2"
QUIET = 0.6  # seconds to wait for something that must not arrive


class School:
    """A running server with the school imported, and clients bound to it."""

    def __init__(self, srv):
        self.srv = srv
        self.clients = Clients(srv)

    def jid(self, login: str) -> str:
        return f"{login}@{self.srv.domain}"

    async def login(self, login: str, resource: str = "r", **kw):
        return await self.clients.login(account(login, self.srv.domain), resource, **kw)

    async def login_account(self, acct, resource: str = "r", **kw):
        return await self.clients.login(acct, resource, **kw)


@pytest.fixture
async def make_school(make_server):
    made: list[School] = []

    def make(*, extra_toml: str = "", snapshot: dict | None = None) -> School:
        srv = make_server(auth={"failure_delay_ms": 50}, extra_toml=extra_toml)
        import_ok(srv, snapshot if snapshot is not None else school())
        s = School(srv)
        made.append(s)
        return s

    yield make
    for s in made:
        await s.clients.close()


@pytest.fixture
def sch(make_school) -> School:
    return make_school()


def no_error(st) -> bool:
    return st.xml.get("type") != "error"


# =========================================================== directory import

async def test_import_users_log_in_with_vcard_full_name(sch):
    lea = await sch.login("lea.martin")
    assert lea.bare == sch.jid("lea.martin")
    hugo = await sch.login("hugo.bernard")

    own = await vcard(lea, lea.bare)
    assert own["type"] == "result", own
    assert vcard_fn(own) == "MARTIN Léa"

    # allowed pair: a classmate's card
    other = await vcard(lea, hugo.bare)
    assert other["type"] == "result", other
    assert vcard_fn(other) == "BERNARD Hugo"
    # forbidden pair: a pupil of another class
    refused = await vcard(lea, sch.jid("ines.petit"))
    assert_refusal(refused, "forbidden")
    assert vcard_fn(refused) is None

    # a card that changes her name is refused, with a text saying why (not silently changed)
    card = ("<vCard xmlns='vcard-temp'><FN>Lélé du 93</FN><NICKNAME>lele</NICKNAME>"
            "<N><FAMILY>X</FAMILY><GIVEN>Y</GIVEN></N></vCard>")
    refused_card = await lea.query(None, card, "set")
    texts = assert_refusal(refused_card, "not-allowed", rules=False)
    assert "annuaire" in texts["fr"], texts
    # the rest of the card is hers: with the directory's names (or none), it is kept
    card = ("<vCard xmlns='vcard-temp'><FN>MARTIN Léa</FN><NICKNAME>lele</NICKNAME>"
            "<N><FAMILY>MARTIN</FAMILY><GIVEN>Léa</GIVEN></N></vCard>")
    kept = await lea.query(None, card, "set")
    assert kept["type"] == "result", kept
    assert (await lea.query(None, "<vCard xmlns='vcard-temp'><NICKNAME>lele</NICKNAME></vCard>",
                            "set"))["type"] == "result"
    seen = await vcard(hugo, lea.bare)
    assert seen["type"] == "result", seen
    assert vcard_fn(seen) == "MARTIN Léa", seen
    assert seen.xml.findtext("{vcard-temp}vCard/{vcard-temp}NICKNAME") == "lele", seen

    # a wrong password is still a wrong password
    bad = await sasl_plain(sch.srv, "lea.martin", "not-the-password")
    assert not bad.ok and bad.condition == "not-authorized", bad


def _broken(kind: str) -> tuple[str, list[str]]:
    """A snapshot that would move lea.martin to 6e B, drop hugo.bernard and
    add new.eleve, broken by ``kind``; and what the error must name."""
    d = school()
    user_entry(d, "lea.martin")["classes"] = [C6B]
    d["users"] = [u for u in d["users"] if u["login"] != "hugo.bernard"]
    d["users"].append({"login": "new.eleve", "last_name": "Nouveau", "first_name": "Élève",
                       "profile": "student", "structures": [S1], "classes": [C6A],
                       "password": "Secret-new.eleve-42"})
    if kind == "bad-json":
        text = json.dumps(d, ensure_ascii=False, indent=2)
        # a trailing comma after the last user
        i = text.rindex("}\n  ],\n  \"groups\"")
        text = text[:i + 1] + "," + text[i + 1:]
        return text, ["line ", "column "]
    if kind == "unknown-profile":
        idx = next(i for i, u in enumerate(d["users"]) if u["login"] == "noah.robert")
        d["users"][idx]["profile"] = "pupil"
        return json.dumps(d, ensure_ascii=False, indent=2), [f"users[{idx}]", "noah.robert", "profile", "pupil"]
    if kind == "class-of-unknown-structure":
        idx = next(i for i, c in enumerate(d["classes"]) if c["id"] == C6B)
        d["classes"][idx]["structure"] = "9999999Z"
        return json.dumps(d, ensure_ascii=False, indent=2), [f"classes[{idx}]", C6B, "structure", "9999999Z"]
    if kind == "unknown-child":
        idx = next(i for i, u in enumerate(d["users"]) if u["login"] == "paul.martin")
        d["users"][idx]["children"] = ["lea.martin", "ghost.kid"]
        return json.dumps(d, ensure_ascii=False, indent=2), [f"users[{idx}]", "paul.martin", "children[1]", "ghost.kid"]
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["bad-json", "unknown-profile", "class-of-unknown-structure", "unknown-child"])
async def test_broken_import_is_refused_whole(sch, kind):
    text, names = _broken(kind)
    cp = import_snapshot(sch.srv, text)
    out = cp.stdout + cp.stderr
    assert cp.returncode != 0, f"a broken file was accepted: {out}"
    for n in names:
        assert n in out, f"the error does not name {n!r}: {out!r}"

    # nothing changed: hugo still logs in, new.eleve does not exist,
    # lea is still in 6e A (reaches hugo, not ines)
    lea = await sch.login("lea.martin")
    await sch.login("hugo.bernard")
    ghost = await sasl_plain(sch.srv, "new.eleve", "Secret-new.eleve-42")
    assert not ghost.ok, f"a user of a refused import can log in: {ghost}"
    ok = await vcard(lea, sch.jid("hugo.bernard"))
    assert ok["type"] == "result" and vcard_fn(ok) == "BERNARD Hugo", ok
    assert_refusal(await vcard(lea, sch.jid("ines.petit")), "forbidden")


async def test_reimport_is_idempotent(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)

    cp = import_ok(sch.srv, school())
    assert "0 created, 0 updated, 0 deactivated" in cp.stdout, cp.stdout

    # the same passwords, the same rules, the same contacts
    await sch.login("lea.martin", "again")
    roster = await lea.get_roster()
    assert roster[hugo.bare]["subscription"] == "both", roster
    m = hugo.mark()
    lea.send_message(hugo.bare, "toujours là")
    await hugo.wait_message("toujours là", frm=lea.bare, start=m)
    assert_refusal(await vcard(lea, sch.jid("ines.petit")), "forbidden")


async def test_user_missing_from_new_snapshot_is_deactivated(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)

    d = school()
    d["users"] = [u for u in d["users"] if u["login"] != "hugo.bernard"]
    cp = import_ok(sch.srv, d)
    assert "1 deactivated" in cp.stdout, cp.stdout

    out = await sasl_plain(sch.srv, "hugo.bernard")
    assert not out.ok, f"a deactivated user logged in: {out}"
    # the others still do
    assert (await sasl_plain(sch.srv, "tom.girard")).ok

    # he cannot be reached, even by a former mutual contact
    mh = hugo.mark()
    ml = lea.mark()
    lea.send_message(hugo.bare, "tu es là ?")
    err = await lea.wait_for(lambda st: is_error_from(st, "message", hugo.bare), start=ml,
                             what="message error from the deactivated user")
    assert_refusal(err, "forbidden", rules=False)
    assert_refusal(await vcard(lea, hugo.bare), "forbidden", rules=False)
    await hugo.expect_none(lambda st: isinstance(st, Message) and st["body"] == "tu es là ?",
                           QUIET, "a message sent to a deactivated user", start=mh)

    # allowed pair still fine
    tom = await sch.login("tom.girard")
    assert vcard_fn(await vcard(lea, tom.bare)) == "GIRARD Tom"

    # back in the next snapshot: active again
    import_ok(sch.srv, school())
    back = await sasl_plain(sch.srv, "hugo.bernard")
    assert back.ok, f"a user back in the directory cannot log in: {back}"
    assert vcard_fn(await vcard(lea, hugo.bare)) == "BERNARD Hugo"


# ============================================================== service access

def _assert_fr_and_en(out, fr_words: list[str], en_words: list[str]) -> None:
    assert not out.ok
    assert out.texts, f"the SASL failure has no text: {out}"
    text = out.text
    for w in fr_words:
        assert w in text, f"French explanation missing ({w!r}): {text!r}"
    for w in en_words:
        assert w in text, f"English explanation missing ({w!r}): {text!r}"


async def test_access_disabled_structure_refuses_login(sch):
    access(sch.srv, S2, False)
    assert "off" in sch.srv.cli("access", "show", S2).stdout

    emma = await sasl_plain(sch.srv, "emma.roux")
    assert not emma.ok, f"login allowed in a structure whose chat is off: {emma}"
    assert emma.condition is not None, emma
    assert "fr" in emma.texts, f"no xml:lang='fr' text in the SASL failure: {emma}"
    _assert_fr_and_en(emma, ["Le chat", "activé", "établissement"], ["Chat", "not enabled", "school"])
    marc = await sasl_plain(sch.srv, "marc.leroy")
    assert not marc.ok, marc
    # what a real client sees
    with pytest.raises(LoginFailed) as ei:
        await Client.login(sch.srv, account("emma.roux"), "r")
    assert ei.value.reason == "auth", ei.value

    # another structure is untouched
    assert (await sasl_plain(sch.srv, "lea.martin")).ok
    await sch.login("lea.martin")


async def test_access_per_profile_then_reenabled(sch):
    access(sch.srv, S2, True, ["teacher"])
    emma = await sasl_plain(sch.srv, "emma.roux")
    assert not emma.ok, f"a pupil logged in where only teachers may: {emma}"
    _assert_fr_and_en(emma, ["profil", "Élève"], ["profile", "school"])
    await sch.login("marc.leroy")

    access(sch.srv, S2, True)
    assert (await sasl_plain(sch.srv, "emma.roux")).ok
    await sch.login("emma.roux")


async def test_access_settings_survive_reimport(sch):
    access(sch.srv, S2, False)
    access(sch.srv, S1, True, ["teacher", "relative"])
    import_ok(sch.srv, school())
    show2 = sch.srv.cli("access", "show", S2).stdout
    show1 = sch.srv.cli("access", "show", S1).stdout
    assert "off" in show2, show2
    assert "on" in show1 and "teacher" in show1 and "student" not in show1, show1

    assert not (await sasl_plain(sch.srv, "emma.roux")).ok
    assert not (await sasl_plain(sch.srv, "lea.martin")).ok
    assert (await sasl_plain(sch.srv, "anne.durand")).ok
    assert (await sasl_plain(sch.srv, "paul.martin")).ok


# ==================================================================== search

async def test_search_service_is_discoverable(sch):
    lea = await sch.login("lea.martin")
    items = await lea.query(sch.srv.domain, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
    assert items["type"] == "result", items
    jids = [i.get("jid") for i in items.xml.find(f"{{{NS_DISCO_ITEMS}}}query")]
    assert f"search.{sch.srv.domain}" in jids, jids
    info = await lea.query(f"search.{sch.srv.domain}", f"<query xmlns='{NS_DISCO_INFO}'/>")
    assert info["type"] == "result", info
    features = [f.get("var") for f in info.xml.find(f"{{{NS_DISCO_INFO}}}query")
                if f.tag.endswith("feature")]
    assert NS_SEARCH in features, features
    # the search form offers the basic fields and a data form with `search`
    form = await lea.query(f"search.{sch.srv.domain}", f"<query xmlns='{NS_SEARCH}'/>")
    assert form["type"] == "result", form
    q = form.xml.find(f"{{{NS_SEARCH}}}query")
    for f in ("first", "last", "nick"):
        assert q.find(f"{{{NS_SEARCH}}}{f}") is not None, f"no <{f}/> in the search form: {form}"
    fields = [f.get("var") for f in q.iter("{jabber:x:data}field")]
    assert "search" in fields, fields


async def test_search_basic_fields_only_reachable_people(sch):
    lea = await sch.login("lea.martin")
    hits = await search_basic(lea, last="Bernard")
    assert set(hits) == {sch.jid("hugo.bernard")}, hits
    assert hits[sch.jid("hugo.bernard")]["nick"] == "BERNARD Hugo"
    assert hits[sch.jid("hugo.bernard")]["first"] == "Hugo"
    assert await search_basic(lea, last="Petit") == {}, "a 6e A pupil finds a 6e B pupil"
    assert await search_basic(lea, first="Noah") == {}

    anne = await sch.login("anne.durand")
    assert set(await search_basic(anne, last="Petit")) == {sch.jid("ines.petit")}
    assert set(await search_basic(anne, last="bernard")) == {sch.jid("hugo.bernard")}
    # case and accents do not matter
    assert set(await search_basic(anne, first="INES")) == {sch.jid("ines.petit")}


async def test_search_form_only_reachable_people(sch):
    lea = await sch.login("lea.martin")
    hits = await search_form(lea, "bernard")
    assert set(hits) == {sch.jid("hugo.bernard")}, hits
    row = hits[sch.jid("hugo.bernard")]
    assert row["name"] == "BERNARD Hugo", row
    assert row["profile"] in ("Élève", "student"), row
    assert "6e A" in row["classes"], row
    assert await search_form(lea, "petit") == {}, "a 6e A pupil finds a 6e B pupil"
    everyone = await search_form(lea, "")
    assert sch.jid("ines.petit") not in everyone and sch.jid("noah.robert") not in everyone, everyone
    assert sch.jid("lea.martin") not in everyone, "the searcher finds himself"
    assert {sch.jid("hugo.bernard"), sch.jid("tom.girard")} <= set(everyone), everyone

    anne = await sch.login("anne.durand")
    hits = await search_form(anne, "petit")
    assert set(hits) == {sch.jid("ines.petit")}, hits
    assert hits[sch.jid("ines.petit")]["name"] == "PETIT Inès"
    assert "6e B" in hits[sch.jid("ines.petit")]["classes"]
    hits = await search_form(anne, "Léa Martin")
    assert set(hits) == {sch.jid("lea.martin")}, hits
    assert "6e A" in hits[sch.jid("lea.martin")]["classes"]


# ========================================================== contact requests

async def test_contact_request_same_class_reaches_other_side(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    reply = await lea.set_roster_item(hugo.bare, name="Hugo")
    assert reply["type"] == "result", reply
    m = hugo.mark()
    lea.subscribe(hugo.bare)
    await hugo.wait_presence(frm=lea.bare, ptype="subscribe", start=m)


async def test_contact_request_other_class_refused(sch):
    lea = await sch.login("lea.martin")
    ines = await sch.login("ines.petit")
    mi = ines.mark()

    # roster set of a forbidden contact
    reply = await lea.set_roster_item(ines.bare, name="Inès")
    assert_refusal(reply, "forbidden")
    assert ines.bare not in await lea.get_roster()

    # a raw subscription request
    ml = lea.mark()
    lea.subscribe(ines.bare)
    err = await lea.wait_for(lambda st: is_error_from(st, "presence", ines.bare), start=ml,
                             what="presence error for a forbidden contact request")
    assert_refusal(err, "forbidden")

    await ines.expect_none(lambda st: st["from"].bare == lea.bare, QUIET,
                           "anything from a pupil of another class", start=mi)
    # not kept for later either
    ines2 = await sch.login("ines.petit", "later")
    await ines2.expect_none(lambda st: isinstance(st, Presence) and st["from"].bare == lea.bare,
                            QUIET, "a stored forbidden contact request")
    assert lea.bare not in await ines2.get_roster()
    assert ines.bare not in await lea.get_roster()


# ============================================================ direct messages

async def test_message_between_mutual_contacts_delivered(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    ml, mh = lea.mark(), hugo.mark()
    lea.send_message(hugo.bare, "salut Hugo")
    await hugo.wait_message("salut Hugo", frm=lea.bare, start=mh)
    hugo.send_message(lea.bare, "salut Léa")
    await lea.wait_message("salut Léa", frm=hugo.bare, start=ml)
    assert not lea.matching(lambda st: isinstance(st, Message) and st["type"] == "error", ml)


async def test_message_to_classmate_not_contact_is_policy_violation(sch):
    lea = await sch.login("lea.martin")
    tom = await sch.login("tom.girard")
    mt = tom.mark()

    ml = lea.mark()
    lea.send_message(tom.bare, "pas encore amis")
    err = await lea.wait_for(lambda st: is_error_from(st, "message", tom.bare), start=ml,
                             what="message error for a non-contact")
    assert_refusal(err, "policy-violation", rules=False)

    # a request that is only accepted one way is not enough either
    lea.subscribe(tom.bare)
    await tom.wait_presence(frm=lea.bare, ptype="subscribe", start=mt)
    tom.send_presence(to=lea.bare, ptype="subscribed")
    await lea.wait_roster_push(tom.bare, lambda i: i["subscription"] == "to", start=ml)
    ml = lea.mark()
    lea.send_message(tom.bare, "à sens unique")
    err = await lea.wait_for(lambda st: is_error_from(st, "message", tom.bare), start=ml,
                             what="message error for a one-way contact")
    assert_refusal(err, "policy-violation", rules=False)
    mt2 = tom.mark()
    tom.send_message(lea.bare, "dans l'autre sens")
    await tom.wait_for(lambda st: is_error_from(st, "message", lea.bare), start=mt2,
                       what="message error for a one-way contact")

    await tom.expect_none(lambda st: isinstance(st, Message) and st["body"] in ("pas encore amis", "à sens unique"),
                          QUIET, "a message from a non-contact", start=mt)
    assert not lea.matching(lambda st: isinstance(st, Message) and st["body"] == "dans l'autre sens")

    # once the other way is accepted too, the very next message goes through
    mt, ml = tom.mark(), lea.mark()
    tom.subscribe(lea.bare)
    await lea.wait_presence(frm=tom.bare, ptype="subscribe", start=ml)
    lea.send_presence(to=tom.bare, ptype="subscribed")
    await tom.wait_roster_push(lea.bare, lambda i: i["subscription"] == "both", start=mt)
    lea.send_message(tom.bare, "enfin amis")
    await tom.wait_message("enfin amis", frm=lea.bare, start=mt)


async def test_message_to_other_class_forbidden(sch):
    lea = await sch.login("lea.martin")
    ines = await sch.login("ines.petit")
    mi, ml = ines.mark(), lea.mark()
    lea.send_message(ines.bare, "coucou")
    err = await lea.wait_for(lambda st: is_error_from(st, "message", ines.bare), start=ml,
                             what="message error for a pupil of another class")
    assert_refusal(err, "forbidden")
    # to a full JID too
    ml = lea.mark()
    lea.send_message(ines.full, "coucou ressource")
    err = await lea.wait_for(lambda st: is_error_from(st, "message", ines.bare), start=ml,
                             what="message error for a full JID of another class")
    assert_refusal(err, "forbidden")
    # any other request on her behalf (here a ping to her resource)
    reply = await lea.query(ines.full, "<ping xmlns='urn:xmpp:ping'/>")
    assert_refusal(reply, "forbidden")
    await ines.expect_none(lambda st: st["from"].bare == lea.bare,
                           QUIET, "a stanza from a pupil of another class", start=mi)


async def test_carbons_only_for_delivered_messages(sch):
    """The sender's other devices (XEP-0280) see a message once when it is
    delivered, and not at all when the rules refuse it."""
    phone = await sch.login("lea.martin", "phone")
    laptop = await sch.login("lea.martin", "laptop")
    iq = laptop.xmpp.make_iq_set()
    iq.xml.append(ET.Element(f"{{{NS_CARBONS}}}enable"))
    assert (await laptop.iq(iq))["type"] == "result"
    hugo = await sch.login("hugo.bernard")
    tom = await sch.login("tom.girard")
    ines = await sch.login("ines.petit")
    await befriend(phone, hugo)

    def sent_copy(body):
        def p(st):
            el = st.xml.find(f"{{{NS_CARBONS}}}sent/{{urn:xmpp:forward:0}}forwarded/{{jabber:client}}message")
            return el is not None and el.findtext("{jabber:client}body") == body
        return p

    ml, mh = laptop.mark(), hugo.mark()
    phone.send_message(hugo.bare, "à un contact")
    await hugo.wait_message("à un contact", frm=phone.bare, start=mh)
    await laptop.wait_for(sent_copy("à un contact"), start=ml, what="sent carbon")
    mp = phone.mark()
    phone.send_message(tom.bare, "à un non-contact")
    await phone.wait_for(lambda st: is_error_from(st, "message", tom.bare), start=mp)
    phone.send_message(ines.bare, "à une autre classe")
    await phone.wait_for(lambda st: is_error_from(st, "message", ines.bare), start=mp)
    await asyncio.sleep(QUIET)
    problems = []
    copies = laptop.matching(sent_copy("à un contact"), ml)
    if len(copies) != 1:
        problems.append(f"{len(copies)} sent carbons of one delivered message")
    if laptop.matching(sent_copy("à un non-contact"), ml):
        problems.append("a sent carbon of a message refused as not-a-contact (policy-violation)")
    if laptop.matching(sent_copy("à une autre classe"), ml):
        problems.append("a sent carbon of a message refused by the rules (forbidden)")
    assert not problems, "; ".join(problems) + f"\nlaptop received: {laptop.summary()}"


# =================================================================== presence

async def test_directed_presence_follows_rules(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    ines = await sch.login("ines.petit")
    mh, mi, ml = hugo.mark(), ines.mark(), lea.mark()

    # allowed: a classmate (no subscription needed for directed presence)
    lea.send_presence(to=hugo.full, status="dans le couloir")
    p = await hugo.wait_presence(frm=lea.bare, ptype="available", start=mh)
    assert p["status"] == "dans le couloir"

    # forbidden: another class
    lea.send_presence(to=ines.full, status="hors règles")
    err = await lea.wait_for(lambda st: is_error_from(st, "presence", ines.bare), start=ml,
                             what="presence error for a directed presence to another class")
    assert_refusal(err, "forbidden")
    await ines.expect_none(lambda st: isinstance(st, Presence) and st["from"].bare == lea.bare,
                           QUIET, "a directed presence from another class", start=mi)


async def test_probe_follows_rules(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    ines = await sch.login("ines.petit")
    await befriend(lea, hugo)

    ml = lea.mark()
    lea.send_presence(to=hugo.bare, ptype="probe")
    await lea.wait_presence(frm=hugo.bare, ptype="available", start=ml)

    ml = lea.mark()
    lea.send_presence(to=ines.bare, ptype="probe")
    err = await lea.wait_for(lambda st: is_error_from(st, "presence", ines.bare), start=ml,
                             what="presence error for a probe of another class")
    assert_refusal(err, "forbidden")
    await lea.expect_none(lambda st: isinstance(st, Presence) and st["from"].bare == ines.bare
                          and st.xml.get("type") in (None, "unavailable"),
                          QUIET, "the presence of a pupil of another class", start=ml)


def vcard_profile(reply) -> tuple[str | None, str | None]:
    """What a card says of its owner's profile: vCard's ROLE, and Causerie's element."""
    return (reply.xml.findtext("{vcard-temp}vCard/{vcard-temp}ROLE"),
            reply.xml.findtext("{vcard-temp}vCard/{urn:causerie:directory:0}profile"))


async def test_vcard_says_the_directory_profile(sch):
    """A directory user's card says his profile (the web client's « tu » or « vous »):
    ROLE with the directory's label, and its machine name in urn:causerie:directory:0;
    both the directory's whatever a card set says."""
    lea = await sch.login("lea.martin")
    anne = await sch.login("anne.durand")
    paul = await sch.login("paul.martin")
    for client, profile in ((lea, ("Élève", "student")), (anne, ("Enseignant", "teacher")),
                            (paul, ("Parent", "relative"))):
        own = await vcard(client, client.bare)
        assert own["type"] == "result", own
        assert vcard_profile(own) == profile, own
    # Another's card (as far as the rules let one read it) says it too.
    seen = await vcard(anne, lea.bare)
    assert vcard_profile(seen) == ("Élève", "student"), seen
    assert vcard_profile(await vcard(lea, anne.bare)) == ("Enseignant", "teacher")

    # Nobody claims a profile: a card set that says another is kept without it.
    card = ("<vCard xmlns='vcard-temp'><NICKNAME>lele</NICKNAME><ROLE>Enseignant</ROLE>"
            "<profile xmlns='urn:causerie:directory:0'>teacher</profile></vCard>")
    assert (await lea.query(None, card, "set"))["type"] == "result"
    for reader in (lea, anne):
        card = await vcard(reader, lea.bare)
        assert vcard_profile(card) == ("Élève", "student"), card
        assert card.xml.findtext("{vcard-temp}vCard/{vcard-temp}NICKNAME") == "lele", card
        assert len(card.xml.findall("{vcard-temp}vCard/{vcard-temp}ROLE")) == 1, card


async def test_plain_account_card_has_no_profile(server, make_user, clients):
    """An account outside the directory: no profile on its card (the client says « vous »)."""
    acct = make_user("plain")
    c = await clients.login(acct, "r")
    own = await vcard(c, c.bare)
    assert own["type"] == "result", own
    assert vcard_profile(own) == (None, None), own


async def test_vcard_lookup_follows_rules(sch):
    lea = await sch.login("lea.martin")
    ok = await vcard(lea, sch.jid("tom.girard"))
    assert ok["type"] == "result", ok
    assert vcard_fn(ok) == "GIRARD Tom"
    refused = await vcard(lea, sch.jid("noah.robert"))
    assert_refusal(refused, "forbidden")
    assert vcard_fn(refused) is None
    # a teacher may look anyone of the structure up
    anne = await sch.login("anne.durand")
    assert vcard_fn(await vcard(anne, sch.jid("noah.robert"))) == "ROBERT Noah"
    # a parent: his own child, not her classmates
    paul = await sch.login("paul.martin")
    assert vcard_fn(await vcard(paul, sch.jid("lea.martin"))) == "MARTIN Léa"
    assert_refusal(await vcard(paul, sch.jid("hugo.bernard")), "forbidden")


# ================================================================== ENT groups

async def test_ent_group_joins_pupils_of_different_classes(sch):
    zoe = await sch.login("zoe.faure")
    jules = await sch.login("jules.lambert")
    ines = await sch.login("ines.petit")

    assert vcard_fn(await vcard(zoe, jules.bare)) == "LAMBERT Jules"
    assert set(await search_form(zoe, "lambert")) == {jules.bare}
    await befriend(zoe, jules)
    mj = jules.mark()
    zoe.send_message(jules.bare, "répétition mardi")
    await jules.wait_message("répétition mardi", frm=zoe.bare, start=mj)

    # forbidden pair: the same classes, outside the group
    mz, mi = zoe.mark(), ines.mark()
    zoe.subscribe(ines.bare)
    err = await zoe.wait_for(lambda st: is_error_from(st, "presence", ines.bare), start=mz,
                             what="presence error for a pupil of another class outside the group")
    assert_refusal(err, "forbidden")
    await ines.expect_none(lambda st: st["from"].bare == zoe.bare, QUIET, "a forbidden request", start=mi)


# ============================================================ refused requests

async def test_refused_request_marked_persisted_and_cleared(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    ml, mh = lea.mark(), hugo.mark()
    lea.subscribe(hugo.bare)
    await hugo.wait_presence(frm=lea.bare, ptype="subscribe", start=mh)
    hugo.send_presence(to=lea.bare, ptype="unsubscribed")

    push = await lea.wait_for(lambda st: isinstance(st, Iq) and st["type"] == "set"
                              and is_refused(roster_item_xml(st.xml, hugo.bare)), start=ml,
                              what="roster push marking the request refused")
    item = next(i for i in roster_items(push.xml) if i["jid"] == hugo.bare)
    assert item["subscription"] == "none" and item["ask"] is None, item
    await lea.wait_presence(frm=hugo.bare, ptype="unsubscribed", start=ml)

    # persisted, visible in a roster get after reconnecting
    await lea.disconnect()
    lea = await sch.login("lea.martin", "retour")
    reply = await lea.iq(_roster_get(lea))
    assert is_refused(roster_item_xml(reply.xml, hugo.bare)), f"refusal not kept: {reply}"

    # A refusal is final for the pair: her new request does not reach him, and her side
    # stays « refusée », also after she removes him and adds him again.
    ml, mh = lea.mark(), hugo.mark()
    lea.subscribe(hugo.bare)
    await barrier(lea, hugo)
    assert not hugo.matching(lambda st: isinstance(st, Presence) and st["from"].bare == lea.bare, mh), \
        f"a request after a refusal reached him: {hugo.summary()}"
    reply = await lea.iq(_roster_get(lea))
    item = roster_item_xml(reply.xml, hugo.bare)
    assert is_refused(item) and item.get("ask") is None, f"refusal not kept: {reply}"
    assert (await lea.remove_roster_item(hugo.bare))["type"] == "result"
    ml = lea.mark()
    lea.subscribe(hugo.bare)
    await lea.wait_roster_push(hugo.bare, lambda i: True, start=ml)
    await barrier(lea, hugo)
    assert not hugo.matching(lambda st: isinstance(st, Presence) and st["from"].bare == lea.bare, mh), \
        f"a request after a refusal reached him: {hugo.summary()}"
    reply = await lea.iq(_roster_get(lea))
    assert is_refused(roster_item_xml(reply.xml, hugo.bare)), f"refusal lost by a re-add: {reply}"

    # Until he asks her himself: then her request reaches him again, and hers is no longer
    # marked refused.
    ml, mh = lea.mark(), hugo.mark()
    hugo.subscribe(lea.bare)
    await lea.wait_presence(frm=hugo.bare, ptype="subscribe", start=ml)
    lea.subscribe(hugo.bare)
    await hugo.wait_presence(frm=lea.bare, ptype="subscribe", start=mh)
    reply = await lea.iq(_roster_get(lea))
    assert not is_refused(roster_item_xml(reply.xml, hugo.bare)), f"refusal not cleared: {reply}"


def _roster_get(client):
    iq = client.xmpp.Iq()
    iq["type"] = "get"
    iq.enable("roster")
    return iq


# ======================================================== symmetric deletion

async def test_deleting_contact_removes_both_sides(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    # they chat first, so that the server knows them as contacts of each other in memory
    ml = lea.mark()
    hugo.send_message(lea.bare, "avant")
    await lea.wait_message("avant", frm=hugo.bare, start=ml)

    ml, mh = lea.mark(), hugo.mark()
    reply = await lea.remove_roster_item(hugo.bare)
    assert reply["type"] == "result", reply
    await lea.wait_roster_push(hugo.bare, lambda i: i["subscription"] == "remove", start=ml)
    await hugo.wait_roster_push(lea.bare, lambda i: i["subscription"] == "remove", start=mh)
    assert hugo.bare not in await lea.get_roster()
    assert lea.bare not in await hugo.get_roster()

    # no longer contacts: messages are refused both ways
    ml, mh = lea.mark(), hugo.mark()
    hugo.send_message(lea.bare, "encore là ?")
    err = await hugo.wait_for(lambda st: is_error_from(st, "message", lea.bare), start=mh,
                              what="message error after deletion")
    assert_refusal(err, "policy-violation", rules=False)
    assert not lea.matching(lambda st: isinstance(st, Message) and st["body"] == "encore là ?", ml)


# =============================================== rules follow the directory

async def test_moved_pupil_follows_new_class_without_restart(sch):
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    tom = await sch.login("tom.girard")
    ines = await sch.login("ines.petit")
    await befriend(lea, hugo)
    pid = sch.srv.pid

    ml = lea.mark()
    lea.send_message(ines.bare, "avant")
    assert_refusal(await lea.wait_for(lambda st: is_error_from(st, "message", ines.bare), start=ml), "forbidden")

    d = school()
    user_entry(d, "lea.martin")["classes"] = [C6B]
    ml0, mh0 = lea.mark(), hugo.mark()
    import_ok(sch.srv, d)
    assert sch.srv.pid == pid and sch.srv.is_running()

    # The rules no longer let them reach each other either way: their contact ends on
    # both sides (the new school year), pushed to their clients, and gone from the rosters.
    await lea.wait_roster_push(hugo.bare, lambda i: i["subscription"] == "remove", start=ml0)
    await hugo.wait_roster_push(lea.bare, lambda i: i["subscription"] == "remove", start=mh0)
    assert hugo.bare not in await lea.get_roster()
    assert lea.bare not in await hugo.get_roster()

    # old class: refused from the next stanza on, even a former mutual contact
    ml, mh, mt, mi = lea.mark(), hugo.mark(), tom.mark(), ines.mark()
    lea.send_message(hugo.bare, "après")
    assert_refusal(await lea.wait_for(lambda st: is_error_from(st, "message", hugo.bare), start=ml,
                                      what="message error to the old class"), "forbidden")
    hugo.send_message(lea.bare, "et toi ?")
    assert_refusal(await hugo.wait_for(lambda st: is_error_from(st, "message", lea.bare), start=mh,
                                       what="message error from the old class"), "forbidden")
    lea.subscribe(tom.bare)
    assert_refusal(await lea.wait_for(lambda st: is_error_from(st, "presence", tom.bare), start=ml,
                                      what="presence error for a request to the old class"), "forbidden")

    # new class: allowed
    lea.subscribe(ines.bare)
    await ines.wait_presence(frm=lea.bare, ptype="subscribe", start=mi)
    # his former contact's presence no longer reaches him either
    hugo.send_presence(status="en cours de maths")
    await hugo.expect_none(lambda st: isinstance(st, Message) and st["from"].bare == lea.bare and no_error(st),
                           QUIET, "a message from a pupil who left the class", start=mh)
    assert not lea.matching(lambda st: isinstance(st, Presence) and st["from"].bare == hugo.bare
                            and st["status"] == "en cours de maths", ml), \
        "presence broadcast to a former classmate the rules no longer allow"
    assert not tom.matching(lambda st: st["from"].bare == lea.bare, mt)
    assert not lea.matching(lambda st: isinstance(st, Message) and st["body"] == "et toi ?", ml)

    ines.send_presence(to=lea.bare, ptype="subscribed")
    await lea.wait_roster_push(ines.bare, lambda i: i["subscription"] == "to", start=ml)
    ines.subscribe(lea.bare)
    await lea.wait_presence(frm=ines.bare, ptype="subscribe", start=ml)
    lea.send_presence(to=ines.bare, ptype="subscribed")
    await ines.wait_roster_push(lea.bare, lambda i: i["subscription"] == "both", start=mi)
    lea.send_message(ines.bare, "nouvelle classe")
    await ines.wait_message("nouvelle classe", frm=lea.bare, start=mi)
    assert set(await search_form(lea, "petit")) == {ines.bare}
    assert await search_form(lea, "bernard") == {}


# ============================================= plain accounts and [policy]

async def test_plain_accounts_kept_apart_from_directory(sch):
    p1 = sch.srv.add_user("plain.un", "pw-plain-un")
    p2 = sch.srv.add_user("plain.deux", "pw-plain-deux")
    a = await sch.login_account(p1)
    b = await sch.login_account(p2)
    lea = await sch.login("lea.martin")

    # unrestricted among themselves: no contact needed
    mb = b.mark()
    a.send_message(b.bare, "entre comptes simples")
    await b.wait_message("entre comptes simples", frm=a.bare, start=mb)
    a.subscribe(b.bare)
    await b.wait_presence(frm=a.bare, ptype="subscribe", start=mb)

    # cannot reach directory users, nor be reached by them
    ma, ml = a.mark(), lea.mark()
    a.send_message(lea.bare, "bonjour")
    assert_refusal(await a.wait_for(lambda st: is_error_from(st, "message", lea.bare), start=ma,
                                    what="message error to a directory user"), "forbidden")
    a.subscribe(lea.bare)
    assert_refusal(await a.wait_for(lambda st: is_error_from(st, "presence", lea.bare), start=ma,
                                    what="presence error to a directory user"), "forbidden")
    assert_refusal(await a.set_roster_item(lea.bare), "forbidden")
    assert_refusal(await vcard(a, lea.bare), "forbidden")
    lea.send_message(a.bare, "qui es-tu ?")
    assert_refusal(await lea.wait_for(lambda st: is_error_from(st, "message", a.bare), start=ml,
                                      what="message error to a plain account"), "forbidden")
    await lea.expect_none(lambda st: st["from"].bare == a.bare and no_error(st), QUIET,
                          "a stanza from a plain account", start=ml)
    assert not a.matching(lambda st: isinstance(st, Message) and st["body"] == "qui es-tu ?")
    # nor find them
    assert await search_form(a, "martin") == {}


async def test_plain_accounts_reach_directory_when_configured(make_school):
    sch = make_school(extra_toml="[policy]\nplain_accounts_reach_directory = true")
    p1 = sch.srv.add_user("plain.un", "pw-plain-un")
    a = await sch.login_account(p1)
    lea = await sch.login("lea.martin")
    ml, ma = lea.mark(), a.mark()
    a.send_message(lea.bare, "bonjour Léa")
    await lea.wait_message("bonjour Léa", frm=a.bare, start=ml)
    a.subscribe(lea.bare)
    await lea.wait_presence(frm=a.bare, ptype="subscribe", start=ml)
    lea.send_message(a.bare, "bonjour")
    await a.wait_message("bonjour", frm=lea.bare, start=ma)
    # the rules between directory users still hold
    ines = sch.jid("ines.petit")
    lea.send_message(ines, "hors règles")
    assert_refusal(await lea.wait_for(lambda st: is_error_from(st, "message", ines), start=ml), "forbidden")


async def test_open_mode_turns_rules_off(make_school):
    sch = make_school(extra_toml='[policy]\nmode = "open"')
    lea = await sch.login("lea.martin")
    ines = await sch.login("ines.petit")
    assert vcard_fn(await vcard(lea, ines.bare)) == "PETIT Inès"
    # search returns whoever may be reached, here a pupil of another class
    assert set(await search_form(lea, "petit")) == {ines.bare}, "open mode: search still applies the rules"
    assert set(await search_basic(lea, last="Roux")) == {sch.jid("emma.roux")}
    mi = ines.mark()
    lea.subscribe(ines.bare)
    await ines.wait_presence(frm=lea.bare, ptype="subscribe", start=mi)
    await befriend(lea, ines)
    lea.send_message(ines.bare, "sans règles")
    await ines.wait_message("sans règles", frm=lea.bare, start=mi)
    # other structures too
    emma = await sch.login("emma.roux")
    me = emma.mark()
    lea.subscribe(emma.bare)
    await emma.wait_presence(frm=lea.bare, ptype="subscribe", start=me)


def test_an_import_that_would_deactivate_most_of_the_school_needs_force(make_server):
    """A misspelt key, another school's file or a feed missing its pupils' file reads as
    a school without those users: the import stops before deactivating more than half of
    them (and 20), nothing changed, unless --force says it is meant."""
    import sqlite3
    from pathlib import Path

    from directory_fixture import C6A, S1, _user, school
    srv = make_server()
    snap = school()
    for i in range(60):
        snap["users"].append(_user(f"eleve{i}", "Nombreux", f"Eleve {i}", "student", [S1], [C6A]))
    import_ok(srv, snap)

    def active() -> int:
        db = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM directory_users WHERE active = 1").fetchone()[0]
        finally:
            db.close()

    assert active() == len(snap["users"])
    for wrong in ({"user": snap["users"]}, {"structures": snap["structures"], "users": []}):
        cp = import_snapshot(srv, wrong)
        assert cp.returncode != 0, cp.stdout
        assert "would deactivate" in cp.stderr and "--force" in cp.stderr, cp.stderr
        assert active() == len(snap["users"]), "nothing may change"
    # A wanted reset goes with --force.
    path = Path(srv.root) / "empty.json"
    path.write_text("{}", encoding="utf-8")
    cp = srv.cli("directory", "import", str(path), "--force", check=False)
    assert cp.returncode == 0, cp.stderr
    assert active() == 0


async def test_a_long_school_name_is_a_room_nickname_too(make_school):
    """A directory user's nickname in a room is his school name, whatever its length (the
    rooms' 64-character limit is for chosen nicknames): a long compound name does not keep
    him out of rooms."""
    from test_muc import create, invite_and_join, new_room
    snap = school()
    for u in snap["users"]:
        if u["login"] == "hugo.bernard":
            u["last_name"] = "De La Rochefoucauld-Montmorency-Laval-Bourbon-Orléans"
            u["first_name"] = "Hugo-Charles-Emmanuel"
    sch = make_school(snapshot=snap)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    room = new_room(sch.srv)
    await create(lea, room, None)
    await invite_and_join(lea, room, hugo, None)
