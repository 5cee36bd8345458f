"""The one gate (issue 12) in rooms: rows 16-19 of "who can send what to
whom" and vector 6.

* Row 16: an invitation is accepted only if the inviter may reach the
  invitee and either the invitee may reach every current member, or the room
  is supervised (its owner is a teacher or personnel who may reach the
  invitee). The refused inviter gets forbidden (French and English texts);
  the invitee gets nothing and is not a member.
* Row 17, vector 6: a decline is told only to the member who invited the
  decliner, never to the address the decliner names; its reason is dropped
  when the decliner may no longer reach the inviter.
* Row 18: a member the directory puts outside the room's policy loses his
  membership at once (notice « NOM Prénom n'a plus accès à cette
  conversation », his occupant leaves, no re-entry, his messages refused).
* Row 19: a newcomer reads history and archive only from his invitation on.

The school is gate_fixture's; rooms are made as in test_muc.py (joined,
configured, then members are invited). Directory users' nicknames are their
« NOM Prénom ». Negative checks use gate_fixture's barrier, never a sleep.
"""

from __future__ import annotations

import secrets
import time

import pytest
from slixmpp.stanza import Message, Presence

from directory_fixture import S1, S2
from gate_fixture import (
    Problems,
    barrier,
    esc,
    gate_school,
    kind_of,
    leaks,
    make_gate,  # noqa: F401  (pytest fixture)
    moved,
    refusal_problem,
    secret,
    send,
    text_leaks,
    without_user,
    xml_of,
)

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_ROOMCONFIG = NS_MUC + "#roomconfig"
NS_DATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"
NS_MAM = "urn:xmpp:mam:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_CONFERENCE = "jabber:x:conference"
NS_CLIENT = "jabber:client"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

INVITE_KINDS = ["mediated", "direct"]


# ------------------------------------------------------------------ helpers

def new_room(g, prefix: str = "salle") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@conference.{g.domain}"


def muc_x(st):
    return st.xml.find(f"{{{NS_MUC_USER}}}x")


def codes(st) -> set[int]:
    x = muc_x(st)
    return set() if x is None else {int(s.get("code")) for s in x.findall(f"{{{NS_MUC_USER}}}status")}


def bodies(st) -> list[str]:
    return [b.text or "" for b in st.xml.findall(f"{{{NS_CLIENT}}}body")]


def condition(st) -> str | None:
    from directory_fixture import error_of
    return error_of(st.xml)[0]


def self_presence(room: str):
    return lambda st: (isinstance(st, Presence) and st["from"].bare == room
                       and (st.xml.get("type") == "error" or 110 in codes(st)))


def is_delayed(st) -> bool:
    return st.xml.find(f"{{{NS_DELAY}}}delay") is not None


def groupchat(room: str, text: str | None = None, live: bool = True):
    def pred(st):
        if not (isinstance(st, Message) and st["type"] == "groupchat" and st["from"].bare == room
                and st["from"].resource):
            return False
        if text is not None and text not in bodies(st):
            return False
        return not live or not is_delayed(st)
    return pred


def from_room_with(room: str, child: str):
    return lambda st: (isinstance(st, Message) and str(st["from"]) == room
                       and st.xml.get("type") != "error"
                       and st.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}{child}") is not None)


def error_from(kind: str, bare: str):
    return lambda st: (kind_of(st) == kind and st.xml.get("type") == "error" and st["from"].bare == bare)


def mentions_room(room: str):
    return lambda st: room in xml_of(st)


async def join(c, room: str, expect: str | None = None):
    """Joins ``room`` (the directory gives the nickname); the self-presence,
    or the presence error whose condition must be ``expect``."""
    m = c.mark()
    send(c, f"<presence to='{room}/x'><x xmlns='{NS_MUC}'><history maxstanzas='50'/></x></presence>")
    st = await c.wait_for(self_presence(room), start=m, what=f"self-presence from {room}")
    if expect is None:
        assert st.xml.get("type") != "error", f"{c.full} could not join {room}: {xml_of(st)}"
        await c.wait_for(lambda s: isinstance(s, Message) and s["from"].bare == room
                         and s.xml.find(f"{{{NS_CLIENT}}}subject") is not None, start=m, what="subject")
    else:
        assert condition(st) == expect, f"expected <{expect}/> for {c.full}, got {xml_of(st)}"
    return st


async def create(c, room: str, title: str = "Conversation") -> None:
    m = c.mark()
    pres = await join(c, room)
    assert 201 in codes(pres), f"not a new room: {xml_of(pres)}"
    reply = await c.query(room, f"<query xmlns='{NS_MUC_OWNER}'><x xmlns='{NS_DATA}' type='submit'>"
                                f"<field var='FORM_TYPE'><value>{NS_ROOMCONFIG}</value></field>"
                                f"<field var='muc#roomconfig_roomname'><value>{esc(title)}</value></field>"
                                f"</x></query>", "set")
    assert reply["type"] == "result", reply
    await c.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                     and any("déverrouillé" in b for b in bodies(s)), start=m, what="unlocked notice")


def invite(c, room: str, to: str, kind: str = "mediated", why: str | None = None) -> None:
    if kind == "mediated":
        r = f"<reason>{esc(why)}</reason>" if why else ""
        send(c, f"<message to='{room}'><x xmlns='{NS_MUC_USER}'><invite to='{esc(to)}'>{r}</invite></x></message>")
    else:
        r = f" reason='{esc(why)}'" if why else ""
        send(c, f"<message to='{esc(to)}'><x xmlns='{NS_CONFERENCE}' jid='{room}'{r}/></message>")


def invitation(room: str, kind: str):
    if kind == "mediated":
        return from_room_with(room, "invite")
    return lambda st: (isinstance(st, Message) and st.xml.get("type") != "error"
                       and (x := st.xml.find(f"{{{NS_CONFERENCE}}}x")) is not None and x.get("jid") == room)


def invite_error(room: str, kind: str, invitee_bare: str):
    return error_from("message", room if kind == "mediated" else invitee_bare)


async def invite_ok(inviter, room: str, invitee, kind: str = "mediated") -> None:
    m = invitee.mark()
    invite(inviter, room, invitee.bare, kind)
    await invitee.wait_for(invitation(room, kind), start=m, what=f"invitation to {room}")


async def invite_refused(p: Problems, lab: str, inviter, room: str, invitee, kind: str) -> None:
    """The inviter gets forbidden (French and English texts); the invitee
    gets nothing (not the inviter's JID, resource, status or reason, not the
    room) and is not a member."""
    why = secret("invite-reason")
    mi, mv = inviter.mark(), invitee.mark()
    invite(inviter, room, invitee.bare, kind, why)
    await barrier(inviter, invitee)
    errs = inviter.matching(invite_error(room, kind, invitee.bare), mi)
    if not errs:
        p.add(lab, f"the inviter got no error; the invitee received: {invitee.summary(5)}")
    else:
        p.add(lab, refusal_problem(errs[0], "forbidden", rules=False))
    p.add(lab, leaks(invitee, mv, [inviter], [why]))
    p.add(lab, [f"{invitee.full} received {xml_of(st)[:300]}" for st in invitee.matching(mentions_room(room), mv)])
    m = invitee.mark()
    send(invitee, f"<presence to='{room}/x'><x xmlns='{NS_MUC}'/></presence>")
    st = await invitee.wait_for(self_presence(room), start=m, what=f"answer to a join of {room}")
    if condition(st) != "registration-required":
        p.add(lab, f"the refused invitee is a member: his join got {xml_of(st)[:300]}")


async def next_millisecond(c) -> None:
    """Pings until a few milliseconds went by, so that the server's
    millisecond stamps order what came before and after (not a wait for
    something that must not arrive)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.005:
        await barrier(c, c)


def say(c, room: str, text: str) -> None:
    send(c, f"<message to='{room}' type='groupchat'><body>{esc(text)}</body></message>")


# ============================================ row 16 (invitations)

@pytest.mark.parametrize("order", ["lea_first", "jules_first"])
@pytest.mark.parametrize("kind", INVITE_KINDS)
async def test_row16_invitation_needs_every_member_reachable(make_gate, kind, order):
    """Row 16: zoe.faure (6e A, Chorale) makes a room. lea.martin (6e A) and
    jules.lambert (6e B, Chorale) are both within zoe's reach, not within
    each other's: whichever zoe invites first is accepted, the second is
    refused (forbidden to zoe, nothing to him, not a member)."""
    g = await make_gate()
    zoe, lea, jules = await g.users("zoe.faure", "lea.martin", "jules.lambert")
    room = new_room(g)
    await create(zoe, room, "Chorale et 6e A")
    first, second = (lea, jules) if order == "lea_first" else (jules, lea)
    await invite_ok(zoe, room, first, kind)
    await join(first, room)
    p = Problems()
    await invite_refused(p, f"zoe invites {second.bare} ({kind}) into a room with {first.bare}",
                         zoe, room, second, kind)
    p.check()


def _school_with_correspondents() -> dict:
    """The school, and an ENT group joining tom.girard (6e A, collège) and
    emma.roux (2de A, lycée), whom anne.durand (teacher of the collège only)
    cannot reach."""
    d = gate_school()
    d["groups"].append({"id": "correspondance", "name": "Correspondance", "structure": S2,
                        "members": ["tom.girard", "emma.roux"]})
    return d


@pytest.mark.parametrize("kind", INVITE_KINDS)
async def test_row16_supervised_room_spans_classes(make_gate, kind):
    """Row 16: anne.durand (teacher of the collège) makes a room: lea.martin
    (6e A) and ines.petit (6e B) are both accepted and talk there; members
    invite within the supervisor's reach (lea invites hugo and tom), but not
    beyond it: tom may reach emma.roux (lycée) through a group, anne may not,
    so tom's invitation of emma is refused."""
    g = await make_gate(snapshot=_school_with_correspondents())
    anne, lea, ines, hugo, tom, emma = await g.users(
        "anne.durand", "lea.martin", "ines.petit", "hugo.bernard", "tom.girard", "emma.roux")
    room = new_room(g, "sortie")
    await create(anne, room, "Sortie des 6e")
    await invite_ok(anne, room, lea, kind)
    await invite_ok(anne, room, ines, kind)
    await join(lea, room)
    await join(ines, room)
    for s, r in ((ines, lea), (lea, ines)):
        text = secret("hello")
        m = r.mark()
        say(s, room, text)
        await r.wait_for(groupchat(room, text), start=m, what="a message of the supervised room")
    await invite_ok(lea, room, hugo, kind)
    await invite_ok(lea, room, tom, kind)
    p = Problems()
    await invite_refused(p, f"tom invites emma ({kind}), beyond the supervisor's reach", tom, room, emma, kind)
    p.check()


# ============================================ row 17, vector 6 (declines)

@pytest.mark.parametrize("where", ["bare", "full"])
@pytest.mark.parametrize("named", ["forbidden_member", "reachable_member", "the_inviter"])
async def test_row17_v6_decline_goes_to_the_inviter_only(make_gate, named, where):
    """Row 17, vector 6: in anne.durand's (supervised) room, ines.petit (6e B)
    was invited by anne, as were lea.martin (6e A) and noah.robert (6e B).
    ines declines, naming someone in to='…' with a reason: anne (who invited
    her) is told, with the reason; lea (whom ines may not reach) and noah are
    told nothing, whoever ines names."""
    g = await make_gate()
    anne, lea, noah, ines = await g.users("anne.durand", "lea.martin", "noah.robert", "ines.petit")
    room = new_room(g, "club")
    await create(anne, room, "Club")
    for c in (lea, noah, ines):
        await invite_ok(anne, room, c)
    target = {"forbidden_member": lea, "reachable_member": noah, "the_inviter": anne}[named]
    to = target.bare if where == "bare" else target.full
    why = secret("decline-reason")
    marks = {id(c): c.mark() for c in (anne, lea, noah)}
    send(ines, f"<message to='{room}'><x xmlns='{NS_MUC_USER}'><decline to='{esc(to)}'>"
               f"<reason>{esc(why)}</reason></decline></x></message>")
    await barrier(ines, [anne, lea, noah])
    p = Problems()
    told = anne.matching(from_room_with(room, "decline"), marks[id(anne)])
    if not told:
        p.add("the inviter", f"anne was not told of the decline: {anne.summary(8)}")
    elif why not in xml_of(told[0]):
        p.add("the inviter", f"anne was told without the reason: {xml_of(told[0])}")
    for other in (lea, noah):
        lab = f"decline naming {to}: {other.bare}"
        p.add(lab, leaks(other, marks[id(other)], [ines], [why]))
        p.add(lab, [f"{other.full} received a decline: {xml_of(st)[:300]}"
                    for st in other.matching(from_room_with(room, "decline"), marks[id(other)])])
    p.check()


@pytest.mark.parametrize("who_moves", ["decliner", "inviter"])
async def test_row17_v6_decline_reason_dropped_out_of_reach(make_gate, who_moves):
    """Row 17, vector 6: in anne.durand's room, lea.martin invited her
    classmate hugo.bernard. Then one of them moves to 6e B (both stay in the
    room, which anne supervises); hugo declines with a reason: lea is told,
    but without the reason text."""
    g = await make_gate()
    anne, lea, hugo = await g.users("anne.durand", "lea.martin", "hugo.bernard")
    room = new_room(g, "club")
    await create(anne, room, "Club")
    await invite_ok(anne, room, lea)
    await invite_ok(lea, room, hugo)
    g.import_(moved(g.snapshot, "hugo.bernard" if who_moves == "decliner" else "lea.martin"))
    await barrier([lea, hugo], [lea, hugo])
    why = secret("decline-reason")
    ml = lea.mark()
    send(hugo, f"<message to='{room}'><x xmlns='{NS_MUC_USER}'><decline>"
               f"<reason>{esc(why)}</reason></decline></x></message>")
    await barrier(hugo, lea)
    p = Problems()
    told = lea.matching(from_room_with(room, "decline"), ml)
    if not told:
        p.add("the inviter", f"lea was not told of the decline: {lea.summary(8)}")
    p.add("the inviter", text_leaks(lea, ml, [why]))
    p.check()


# ============================================ row 18 (out of the policy)

def _notice(room: str, name: str):
    def pred(st):
        if not (isinstance(st, Message) and str(st["from"]) == room and st.xml.get("type") != "error"):
            return False
        return any(f"{name} n'a plus accès à cette conversation" in b.replace("’", "'") for b in bodies(st))
    return pred


@pytest.mark.parametrize("change", ["class_move", "deactivation", "access_off"])
async def test_row18_member_outside_the_policy_leaves(make_gate, change):
    """Row 18: a change of the directory (lea.martin moved to 6e B in zoe's
    pupils' room; lea absent from a new import; chat access of the
    collège's pupils turned off, in anne's room) ends lea's membership at
    once: the occupants get a groupchat notice « MARTIN Léa n'a plus accès à
    cette conversation » and her departure, her messages are refused and
    she cannot come back."""
    g = await make_gate()
    owner_login = "anne.durand" if change == "access_off" else "zoe.faure"
    owner, lea, hugo = await g.users(owner_login, "lea.martin", "hugo.bernard")
    room = new_room(g)
    await create(owner, room, "Projet")
    for c in (lea, hugo):
        await invite_ok(owner, room, c)
        await join(c, room)
    text = secret("before")
    m = hugo.mark()
    say(lea, room, text)
    await hugo.wait_for(groupchat(room, text), start=m, what="lea's message while a member")

    watchers = [owner] if change == "access_off" else [owner, hugo]
    marks = {id(c): c.mark() for c in watchers}
    if change == "class_move":
        g.import_(moved(g.snapshot, "lea.martin"))
    elif change == "deactivation":
        g.import_(without_user(g.snapshot, "lea.martin"))
    else:
        g.srv.cli("access", "set", S1, "--enabled", "true", "--profiles", "teacher,personnel,relative")

    p = Problems()
    gone_pred = (lambda st: isinstance(st, Presence) and str(st["from"]) == f"{room}/MARTIN Léa"
                 and st.xml.get("type") == "unavailable")
    try:
        # The change reaches the server through its own path (the CLI wrote the
        # store): the one wait with a timeout; the other watchers are looked at
        # after a barrier.
        await watchers[0].wait_for(_notice(room, "MARTIN Léa"), start=marks[id(watchers[0])],
                                   what="« MARTIN Léa n'a plus accès à cette conversation »")
        await barrier(watchers, watchers)
    except AssertionError:
        p.add(watchers[0].bare, "no notice within 8 s of the change")
    for w in watchers:
        notes = w.matching(_notice(room, "MARTIN Léa"), marks[id(w)])
        if not notes:
            p.add(w.bare, "no notice « MARTIN Léa n'a plus accès à cette conversation »")
        elif notes[0]["type"] != "groupchat":
            p.add(w.bare, f"the notice is not a groupchat message: {xml_of(notes[0])}")
        if notes and not w.matching(gone_pred, marks[id(w)]):
            p.add(w.bare, "lea's occupant did not leave (no unavailable presence from the room)")

    # (A server may also close the session of a deactivated user: then there
    # is nothing left to send from.)
    if lea.connected and not lea.disconnected.is_set():
        after = secret("after")
        ml = lea.mark()
        say(lea, room, after)
        await barrier(lea, watchers)
        if not lea.matching(error_from("message", room), ml):
            p.add("lea's message", "no error came back for a message of a former member")
        for w in watchers:
            p.add("lea's message", text_leaks(w, marks[id(w)], [after]))
        # She leaves (if the server has not made her leave), then tries to come back.
        send(lea, f"<presence to='{room}/MARTIN Léa' type='unavailable'/>")
        await barrier(lea, lea)
        ml = lea.mark()
        send(lea, f"<presence to='{room}/x'><x xmlns='{NS_MUC}'/></presence>")
        st = await lea.wait_for(self_presence(room), start=ml, what="answer to lea's join")
        if condition(st) != "registration-required":
            p.add("lea's join", f"a former member came back: expected <registration-required/>, got "
                                f"<{condition(st)}/> in {xml_of(st)[:300]}")
    p.check()


# ============================================ row 19 (history from the invitation)

@pytest.mark.parametrize("kind", INVITE_KINDS)
@pytest.mark.parametrize("read", ["history", "archive"])
async def test_row19_newcomer_reads_from_his_invitation_on(make_gate, read, kind):
    """Row 19: zoe.faure and hugo.bernard talk in zoe's room, then zoe
    invites lea.martin and hugo writes again: lea reads (in the history sent
    at her join, or in the room's archive, urn:xmpp:mam:2) what was written
    after her invitation, never what was written before."""
    g = await make_gate()
    zoe, hugo, lea = await g.users("zoe.faure", "hugo.bernard", "lea.martin")
    room = new_room(g)
    await create(zoe, room, "Avant, après")
    await invite_ok(zoe, room, hugo)
    await join(hugo, room)
    before = [secret(f"before-{n}") for n in range(3)]
    m = zoe.mark()
    for n, text in enumerate(before):
        say(zoe if n % 2 == 0 else hugo, room, text)
    await zoe.wait_for(groupchat(room, before[-1]), start=m, what="the last message before the invitation")
    await barrier([zoe, hugo], [zoe, hugo])
    await next_millisecond(zoe)
    await invite_ok(zoe, room, lea, kind)
    await barrier(zoe, [zoe, hugo])
    await next_millisecond(zoe)
    after = secret("after")
    m = zoe.mark()
    say(hugo, room, after)
    await zoe.wait_for(groupchat(room, after), start=m, what="the message after the invitation")

    p = Problems()
    ml = lea.mark()
    await join(lea, room)
    if read == "history":
        history = [st for st in lea.inbox[ml:] if groupchat(room, live=False)(st) and is_delayed(st)]
        got = [b for st in history for b in bodies(st)]
        if after not in got:
            p.add("history", f"the message written after the invitation is missing: {got}")
        p.add("history", text_leaks(lea, ml, before))
    else:
        ml = lea.mark()
        reply = await lea.query(room, f"<query xmlns='{NS_MAM}' queryid='q1'/>", "set")
        if reply["type"] != "result":
            p.add("archive", f"the archive query failed: {xml_of(reply)[:300]}")
        results = [st for st in lea.inbox[ml:] if st.xml.find(f"{{{NS_MAM}}}result") is not None]
        got = [xml_of(st) for st in results]
        if not any(after in x for x in got):
            p.add("archive", f"the message written after the invitation is missing: {len(got)} results")
        p.add("archive", text_leaks(lea, ml, before))
    p.check()

