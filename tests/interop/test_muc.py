"""Multi-user conversations (issue 4: XEP-0045 rooms on conference.DOMAIN, the
seed's « Chatter » S11-S14), as each occupant observes them: creation (locked,
status 201, then configured and named), members-only rooms and invitations
(mediated, direct, offline, declined, refused by the school's rules), occupants
with roles, affiliations, show and timestamps, removal by the owner only,
groupchat fan-out with stanza-ids, history on join and MAM paging, persistence
across a restart, destruction when the last member leaves, discovery,
nicknames, XEP-0045 errors, bad input and configurable limits, and a class of 30
where every message reaches every occupant exactly once.

Clients are slixmpp with its xep_0045 plugin (joins, invitations, declines,
removal) plus raw stanzas where exact control is needed.
"""

from __future__ import annotations

import asyncio
import datetime
import secrets

import pytest
from slixmpp.exceptions import IqError
from slixmpp.stanza import Iq, Message, Presence

from clients import DEFAULT_PLUGINS, Client, Clients, barrier
from directory_fixture import account, assert_refusal, error_of, import_ok, school
from raw import xml_escape

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_MUC_UNIQUE = NS_MUC + "#unique"
NS_ROOMCONFIG = NS_MUC + "#roomconfig"
NS_ROOMINFO = NS_MUC + "#roominfo"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FORWARD = "urn:xmpp:forward:0"
NS_CONFERENCE = "jabber:x:conference"
NS_CLIENT = "jabber:client"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

PLUGINS = DEFAULT_PLUGINS + ("xep_0045",)
QUIET = 0.6  # seconds to wait for something that must not arrive


# ------------------------------------------------------------------ helpers

def service(srv) -> str:
    return f"conference.{srv.domain}"


def new_room(srv, prefix: str = "salle") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@{service(srv)}"


async def login(clients: Clients, acct, resource: str = "r", **kw) -> Client:
    return await clients.login(acct, resource, plugins=PLUGINS, **kw)


def send(c: Client, xml: str) -> None:
    c.xmpp.send_raw(xml)


def muc_x(st):
    return st.xml.find(f"{{{NS_MUC_USER}}}x")


def codes(st) -> set[int]:
    x = muc_x(st)
    return set() if x is None else {int(s.get("code")) for s in x.findall(f"{{{NS_MUC_USER}}}status")}


def item(st) -> dict:
    x = muc_x(st)
    it = None if x is None else x.find(f"{{{NS_MUC_USER}}}item")
    return {} if it is None else dict(it.attrib)


def actor(st) -> dict:
    x = muc_x(st)
    a = None if x is None else x.find(f"{{{NS_MUC_USER}}}item/{{{NS_MUC_USER}}}actor")
    return {} if a is None else dict(a.attrib)


def reason(st) -> str | None:
    x = muc_x(st)
    return None if x is None else x.findtext(f"{{{NS_MUC_USER}}}item/{{{NS_MUC_USER}}}reason")


def delay_of(st) -> datetime.datetime | None:
    d = st.xml.find(f"{{{NS_DELAY}}}delay")
    if d is None:
        return None
    return datetime.datetime.fromisoformat(d.get("stamp").replace("Z", "+00:00"))


def is_recent(st, seconds: float = 30) -> bool:
    when = delay_of(st)
    now = datetime.datetime.now(datetime.timezone.utc)
    return when is not None and abs((now - when).total_seconds()) < seconds


def stanza_id(st, room: str) -> str | None:
    for sid in st.xml.findall(f"{{{NS_SID}}}stanza-id"):
        if sid.get("by") == room:
            return sid.get("id")
    return None


def body(st, lang: str | None = None) -> str | None:
    for b in st.xml.findall(f"{{{NS_CLIENT}}}body"):
        if lang is None or b.get(XML_LANG) == lang:
            return b.text or ""
    return None


def condition(st) -> str | None:
    return error_of(st.xml)[0]


def presence_from(jid: str, ptype: str | None = None):
    """Presence from exactly ``jid`` (room/nick) of ``ptype`` ('available' for none)."""
    def pred(st):
        if not isinstance(st, Presence) or str(st["from"]) != jid:
            return False
        return ptype is None or (st.xml.get("type") or "available") == ptype
    return pred


def self_presence(room: str):
    return lambda st: (isinstance(st, Presence) and st["from"].bare == room
                       and (st.xml.get("type") == "error" or 110 in codes(st)))


def groupchat(room: str, text: str | None = None, live: bool = True):
    """A groupchat message with a body from an occupant of ``room`` (``live``: not
    history)."""
    def pred(st):
        if not (isinstance(st, Message) and st["type"] == "groupchat" and st["from"].bare == room
                and st["from"].resource):
            return False
        if body(st) is None or (text is not None and body(st) != text):
            return False
        return not live or delay_of(st) is None
    return pred


def from_room_with(room: str, child: str):
    """A (non-error) message from the room's bare JID carrying muc#user ``child``."""
    return lambda st: (isinstance(st, Message) and str(st["from"]) == room
                       and st.xml.get("type") != "error"
                       and st.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}{child}") is not None)


def error_from(kind: str, bare: str):
    return lambda st: (st.xml.tag == f"{{{NS_CLIENT}}}{kind}" and st.xml.get("type") == "error"
                       and st["from"].bare == bare)


def join_stanza(room: str, nick: str | None, extra: str = "", presence_extra: str = "") -> str:
    to = f"{room}/{nick}" if nick is not None else room
    return (f"<presence to='{xml_escape(to)}'>{presence_extra}"
            f"<x xmlns='{NS_MUC}'>{extra}</x></presence>")


async def join(c: Client, room: str, nick: str | None, extra: str = "", presence_extra: str = "",
               expect: str | None = None):
    """Sends a join presence; returns the self-presence (or the presence error).
    ``expect``: the error condition expected (None: a successful join)."""
    m = c.mark()
    send(c, join_stanza(room, nick, extra, presence_extra))
    st = await c.wait_for(self_presence(room), start=m, what=f"self-presence from {room}")
    if expect is None:
        assert st.xml.get("type") != "error", f"join of {room} failed: {st}"
        # the join ends with the subject
        await c.wait_for(lambda s: isinstance(s, Message) and s["from"].bare == room
                         and s.xml.find(f"{{{NS_CLIENT}}}subject") is not None
                         and body(s) is None, start=m, what="subject")
    else:
        assert condition(st) == expect, f"expected <{expect}/>, got {st}"
    return st


def form_fields(fields: dict[str, str]) -> str:
    return "".join(f"<field var='{xml_escape(k)}'><value>{xml_escape(v)}</value></field>"
                   for k, v in fields.items())


async def configure(c: Client, room: str, fields: dict[str, str] | None = None, raw: str = "") -> Iq:
    payload = (f"<query xmlns='{NS_MUC_OWNER}'><x xmlns='{NS_DATA}' type='submit'>"
               f"{form_fields(fields or {})}{raw}</x></query>")
    return await c.query(room, payload, "set")


async def create(c: Client, room: str, nick: str | None = "owner", title: str | None = "Conversation"):
    """Makes and configures a room; returns the creator's self-presence."""
    m = c.mark()
    pres = await join(c, room, nick)
    assert 201 in codes(pres), f"not a new room: {pres}"
    if title is not None:
        reply = await configure(c, room, {"FORM_TYPE": NS_ROOMCONFIG, "muc#roomconfig_roomname": title})
        assert reply["type"] == "result", reply
        await c.wait_for(lambda s: isinstance(s, Message) and "déverrouillé" in (body(s, "fr") or ""),
                         start=m, what="unlocked notice")
    return pres


def invite(c: Client, room: str, to: str, why: str | None = None) -> None:
    r = f"<reason>{xml_escape(why)}</reason>" if why else ""
    send(c, f"<message to='{room}'><x xmlns='{NS_MUC_USER}'><invite to='{to}'>{r}</invite></x></message>")


async def invited(c: Client, room: str, start: int = 0):
    return await c.wait_for(from_room_with(room, "invite"), start=start, what=f"invitation to {room}")


async def invite_and_join(owner: Client, room: str, guest: Client, nick: str | None):
    m = guest.mark()
    invite(owner, room, guest.bare)
    await invited(guest, room, m)
    return await join(guest, room, nick)


async def disco_info(c: Client, jid: str, node: str | None = None) -> Iq:
    n = f" node='{node}'" if node else ""
    return await c.query(jid, f"<query xmlns='{NS_DISCO_INFO}'{n}/>")


def roominfo(reply) -> dict[str, str]:
    x = reply.xml.find(f"{{{NS_DISCO_INFO}}}query/{{{NS_DATA}}}x")
    return {f.get("var"): f.findtext(f"{{{NS_DATA}}}value") or "" for f in x.findall(f"{{{NS_DATA}}}field")}


def identity_name(reply) -> str | None:
    ident = reply.xml.find(f"{{{NS_DISCO_INFO}}}query/{{{NS_DISCO_INFO}}}identity")
    return None if ident is None else ident.get("name")


async def rooms_listed(c: Client, srv) -> dict[str, str]:
    reply = await c.query(service(srv), f"<query xmlns='{NS_DISCO_ITEMS}'/>")
    assert reply["type"] == "result", reply
    return {i.get("jid"): i.get("name") for i in reply.xml.findall(f"{{{NS_DISCO_ITEMS}}}query/{{{NS_DISCO_ITEMS}}}item")}


async def admin(c: Client, room: str, items: str) -> Iq:
    return await c.query(room, f"<query xmlns='{NS_MUC_ADMIN}'>{items}</query>", "set")


# ======================================================= creating and naming

async def test_creation_is_locked_until_configured_then_named(server, make_user, clients):
    A, B = make_user("owner"), make_user("guest")
    a, b = await login(clients, A), await login(clients, B)
    room = new_room(server)
    m = a.mark()
    pres = await join(a, room, "Alice")
    assert {110, 201, 100} <= codes(pres), pres
    assert item(pres)["affiliation"] == "owner" and item(pres)["role"] == "moderator", pres
    assert item(pres)["jid"] == a.full
    assert is_recent(pres), "the join carries its time"
    # the seed's event line
    locked = await a.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                              and body(s, "fr") is not None, start=m)
    assert body(locked, "fr") == ("Le salon de discussion est verrouillé, entrée impossible "
                                  "jusqu'à ce que la configuration soit déverrouillée")
    # One body, in the room's language (two made Converse's notification code fail).
    assert len(locked.xml.findall(f"{{{NS_CLIENT}}}body")) == 1, locked
    # Locked: even an invited member cannot enter yet.
    invite(a, room, B.jid)
    await invited(b, room)
    await join(b, room, "Bob", expect="item-not-found")
    # The configuration form (XEP-0004), as slixmpp reads it.
    form = await a.xmpp.plugin["xep_0045"].get_room_config(room)
    assert "muc#roomconfig_roomname" in form.get_fields()
    assert form.get_fields()["muc#roomconfig_membersonly"]["value"] is True
    m = a.mark()
    reply = await configure(a, room, {"FORM_TYPE": NS_ROOMCONFIG,
                                      "muc#roomconfig_roomname": "Sortie au musée 🎨",
                                      "muc#roomconfig_roomdesc": "On prépare jeudi",
                                      "muc#roomconfig_membersonly": "1"})
    assert reply["type"] == "result", reply
    unlocked = await a.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                                and body(s, "fr") is not None, start=m)
    assert body(unlocked, "fr") == "Le salon de discussion est maintenant déverrouillé"
    assert len(unlocked.xml.findall(f"{{{NS_CLIENT}}}body")) == 1, unlocked
    # Now the member enters and everyone sees the conversation's name.
    await join(b, room, "Bob")
    for c in (a, b):
        info = await disco_info(c, room)
        assert info["type"] == "result", info
        assert identity_name(info) == "Sortie au musée 🎨"
        fields = roominfo(info)
        assert fields["FORM_TYPE"] == NS_ROOMINFO
        assert fields["muc#roomconfig_roomname"] == "Sortie au musée 🎨"
        assert fields["muc#roominfo_description"] == "On prépare jeudi"
        assert fields["muc#roominfo_occupants"] == "2"
        features = {f.get("var") for f in info.xml.findall(f"{{{NS_DISCO_INFO}}}query/{{{NS_DISCO_INFO}}}feature")}
        assert {NS_MUC, "muc_membersonly", "muc_persistent", NS_MAM, NS_SID} <= features
    # A later change of configuration is announced with status 104.
    m = b.mark()
    reply = await configure(a, room, {"muc#roomconfig_roomname": "Sortie au Louvre"})
    assert reply["type"] == "result", reply
    note = await b.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room and 104 in codes(s), start=m)
    assert note["type"] == "groupchat"
    assert identity_name(await disco_info(b, room)) == "Sortie au Louvre"


async def test_generated_room_name_instant_room_and_cancel(server, make_user, clients):
    A = make_user("web")
    a = await login(clients, A)
    # The web client lets the service pick the room's JID (XEP-0307).
    u1 = await a.query(service(server), f"<unique xmlns='{NS_MUC_UNIQUE}'/>")
    u2 = await a.query(service(server), f"<unique xmlns='{NS_MUC_UNIQUE}'/>")
    n1 = u1.xml.findtext(f"{{{NS_MUC_UNIQUE}}}unique")
    n2 = u2.xml.findtext(f"{{{NS_MUC_UNIQUE}}}unique")
    assert n1 and n2 and n1 != n2
    room = f"{n1}@{service(server)}"
    await create(a, room, "Moi", title=None)
    # An instant room: an empty submission unlocks it.
    assert (await configure(a, room))["type"] == "result"
    assert (await disco_info(a, room))["type"] == "result"
    # Cancelling the first configuration removes the new room (XEP-0045 §10.1.3).
    other = f"{n2}@{service(server)}"
    await create(a, other, "Moi", title=None)
    reply = await a.query(other, f"<query xmlns='{NS_MUC_OWNER}'><x xmlns='{NS_DATA}' type='cancel'/></query>", "set")
    assert reply["type"] == "result", reply
    await a.wait_for(lambda s: isinstance(s, Presence) and s["from"].bare == other
                     and s.xml.get("type") == "unavailable")
    assert condition(await disco_info(a, other)) == "item-not-found"
    assert other not in await rooms_listed(a, server)
    assert room in await rooms_listed(a, server)


# ================================================ invitations and membership

async def test_invitations_make_members_and_declines_are_relayed(server, make_user, clients):
    A, B, C, D, E = (make_user(p) for p in ("owner", "bea", "carl", "dina", "eve"))
    a, b, c, d, e = [await login(clients, X) for X in (A, B, C, D, E)]
    room = new_room(server)
    await create(a, room, "Anna", title="Club lecture")
    # Not a member: registration-required.
    await join(c, room, "Carl", expect="registration-required")
    # A mediated invitation (slixmpp's plugin) makes B a member; B accepts by joining.
    mb = b.mark()
    a.xmpp.plugin["xep_0045"].invite(room, B.jid, reason="Viens !")
    inv = await invited(b, room, mb)
    x = inv.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}invite")
    assert x.get("from") == A.jid and x.findtext(f"{{{NS_MUC_USER}}}reason") == "Viens !"
    assert "Club lecture" in body(inv, "fr")
    await join(b, room, "Bea")
    # Any participant may invite, not only the creator.
    md = d.mark()
    invite(b, room, D.jid)
    await invited(d, room, md)
    await join(d, room, "Dina")
    # A direct invitation (XEP-0249) is accepted too and makes E a member.
    me = e.mark()
    send(b, f"<message to='{E.jid}'><x xmlns='{NS_CONFERENCE}' jid='{room}' reason='Rejoins-nous'/></message>")
    direct = await e.wait_for(lambda s: isinstance(s, Message)
                              and s.xml.find(f"{{{NS_CONFERENCE}}}x") is not None, start=me)
    assert direct["from"].bare == B.jid
    assert direct.xml.find(f"{{{NS_CONFERENCE}}}x").get("jid") == room
    await join(e, room, "Eve")
    # C is invited, then declines: the inviter is told, and C is no member any more.
    mc, ma = c.mark(), a.mark()
    invite(a, room, C.jid)
    await invited(c, room, mc)
    c.xmpp.plugin["xep_0045"].decline(room, A.jid, reason="Pas le temps")
    dec = await a.wait_for(from_room_with(room, "decline"), start=ma)
    x = dec.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}decline")
    assert x.get("from") == C.jid
    assert x.findtext(f"{{{NS_MUC_USER}}}reason") == "Pas le temps"
    assert "refusé" in body(dec, "fr")
    await join(c, room, "Carl", expect="registration-required")
    # Occupants saw the affiliation changes (member, then none) of C.
    notes = b.matching(lambda s: isinstance(s, Message) and str(s["from"]) == room
                       and item(s).get("jid") == C.jid)
    assert [item(s)["affiliation"] for s in notes][-2:] == ["member", "none"]
    # The member list (any member may read it).
    reply = await b.query(room, f"<query xmlns='{NS_MUC_ADMIN}'><item affiliation='member'/></query>")
    members = {i.get("jid") for i in reply.xml.findall(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item")}
    assert members == {B.jid, D.jid, E.jid}


async def test_invitation_to_an_offline_user_is_delivered_at_login(server, make_user, clients):
    A, B = make_user("owner"), make_user("later")
    a = await login(clients, A)
    room = new_room(server)
    await create(a, room, "Anna", title="Devoirs")
    b = await Client.login(server, B, "first", plugins=PLUGINS)
    await b.disconnect()
    invite(a, room, B.jid, "à ton retour")
    await asyncio.sleep(0.3)
    b = await login(clients, B, "back")
    inv = await invited(b, room)
    assert delay_of(inv) is not None, "kept offline, with its delay stamp"
    assert inv.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}invite").get("from") == A.jid
    ma = a.mark()
    await join(b, room, "Bruno")
    seen = await a.wait_for(presence_from(f"{room}/Bruno"), start=ma)
    assert item(seen)["affiliation"] == "member"


async def test_a_direct_invitation_kept_offline_reaches_a_classmate_at_login(make_server):
    """A direct invitation (XEP-0249) to a classmate who is offline (and not a contact: the
    rooms' policy, not the contacts rule, decides invitations) is kept and delivered at his
    next login, as the XEP-0249 element only (the inviter's body does not go with it)."""
    srv = make_server(auth={"failure_delay_ms": 50})
    import_ok(srv, school())
    cs = Clients(srv)
    try:
        lea = await cs.login(account("lea.martin"), "r", plugins=PLUGINS)
        room = new_room(srv, "devoirs")
        await create(lea, room, None)
        ml = lea.mark()
        send(lea, f"<message to='hugo.bernard@localhost' id='di1'><body>viens !</body>"
                  f"<x xmlns='{NS_CONFERENCE}' jid='{room}' reason='les devoirs'/></message>")
        await barrier(lea)
        assert not lea.matching(error_from("message", "hugo.bernard@localhost"), ml), lea.summary()
        hugo = await cs.login(account("hugo.bernard"), "r", plugins=PLUGINS)
        inv = await hugo.wait_for(lambda st: isinstance(st, Message)
                                  and st.xml.find(f"{{{NS_CONFERENCE}}}x") is not None,
                                  what="the direct invitation kept offline")
        assert inv.xml.find(f"{{{NS_CONFERENCE}}}x").get("jid") == room
        assert inv["body"] == "", f"the inviter's body came along: {inv}"
        await join(hugo, room, None)
    finally:
        await cs.close()


async def test_invitations_follow_the_school_rules_and_nicknames_come_from_the_directory(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    import_ok(srv, school())
    cs = Clients(srv)
    try:
        lea = await cs.login(account("lea.martin"), "r", plugins=PLUGINS)
        hugo = await cs.login(account("hugo.bernard"), "r", plugins=PLUGINS)
        ines = await cs.login(account("ines.petit"), "r", plugins=PLUGINS)
        anne = await cs.login(account("anne.durand"), "r", plugins=PLUGINS)
        room = new_room(srv, "sortie")
        # The directory's « NOM Prénom », whatever nickname the client asked for (status 210).
        pres = await join(lea, room, "lolo")
        assert str(pres["from"]) == f"{room}/MARTIN Léa" and 210 in codes(pres), pres
        assert (await configure(lea, room, {"muc#roomconfig_roomname": "Sortie"}))["type"] == "result"
        # A pupil of another class is out of Léa's reach: a refusal that says why.
        mi = ines.mark()
        ml = lea.mark()
        invite(lea, room, "ines.petit@localhost")
        err = await lea.wait_for(error_from("message", room), start=ml)
        assert_refusal(err, "forbidden")
        await ines.expect_none(from_room_with(room, "invite"), QUIET, "an invitation the rules refuse", start=mi)
        await join(ines, room, None, expect="registration-required")
        # The same through a direct invitation.
        ml = lea.mark()
        send(lea, f"<message to='ines.petit@localhost'><x xmlns='{NS_CONFERENCE}' jid='{room}'/></message>")
        assert_refusal(await lea.wait_for(error_from("message", "ines.petit@localhost"), start=ml), "forbidden")
        # A classmate is fine; without a nickname he gets his directory name.
        mh = hugo.mark()
        invite(lea, room, "hugo.bernard@localhost")
        await invited(hugo, room, mh)
        info = await disco_info(hugo, room, "x-roomuser-item")
        assert identity_name(info) == "BERNARD Hugo", info
        pres = await join(hugo, room, None)
        assert str(pres["from"]) == f"{room}/BERNARD Hugo" and 210 in codes(pres)
        # Hugo may not invite Inès either (the rules hold for every inviter).
        mh = hugo.mark()
        invite(hugo, room, "ines.petit@localhost")
        assert_refusal(await hugo.wait_for(error_from("message", room), start=mh), "forbidden")
        # The teacher reaches the whole school, but Léa's room is a pupils' room: Inès
        # may not reach Léa and Hugo, so not even the teacher brings her in.
        ma = anne.mark()
        invite(lea, room, "anne.durand@localhost")
        await invited(anne, room, ma)
        await join(anne, room, "Madame")
        mi, ma = ines.mark(), anne.mark()
        invite(anne, room, "ines.petit@localhost")
        texts = assert_refusal(await anne.wait_for(error_from("message", room), start=ma), "forbidden")
        assert "PETIT Inès" in texts["fr"] and "PETIT Inès" in texts["en"], texts
        await barrier(anne, ines)
        assert not ines.matching(from_room_with(room, "invite"), mi), ines.summary()
        # A room the teacher makes is supervised: she brings pupils of both classes
        # together there, and they talk.
        classe = new_room(srv, "atelier")
        await join(anne, classe, None)
        assert (await configure(anne, classe, {"muc#roomconfig_roomname": "Atelier"}))["type"] == "result"
        ml, mi = lea.mark(), ines.mark()
        invite(anne, classe, "lea.martin@localhost")
        invite(anne, classe, "ines.petit@localhost")
        await invited(lea, classe, ml)
        await invited(ines, classe, mi)
        await join(lea, classe, None)
        await join(ines, classe, None)
        ml = lea.mark()
        send(ines, f"<message to='{classe}' type='groupchat'><body>Bonjour la 6e A</body></message>")
        got = await lea.wait_for(groupchat(classe, "Bonjour la 6e A"), start=ml)
        assert str(got["from"]) == f"{classe}/PETIT Inès"
        # There, Léa may invite only whom the teacher reaches (hers is not a pupils' room).
        me = lea.mark()
        invite(lea, classe, "emma.roux@localhost")
        assert_refusal(await lea.wait_for(error_from("message", classe), start=me), "forbidden")
    finally:
        await cs.close()


# ============================================================== occupants

async def test_occupants_roles_show_and_times_of_joins_and_departures(server, make_user, clients):
    A, B, C = make_user("owner"), make_user("bea"), make_user("carl")
    a, b, c = await login(clients, A), await login(clients, B), await login(clients, C)
    room = new_room(server)
    await create(a, room, "Anna")
    m = b.mark()
    invite(a, room, B.jid)
    await invited(b, room, m)
    ma = a.mark()
    await join(b, room, "Bea", presence_extra="<show>away</show><status>en cours</status>")
    # The owner sees the newcomer with role, affiliation, JID, show and the time he came in.
    seen = await a.wait_for(presence_from(f"{room}/Bea", "available"), start=ma)
    assert item(seen) == {"affiliation": "member", "role": "participant", "jid": b.full}
    assert seen["show"] == "away" and seen["status"] == "en cours"
    assert is_recent(seen)
    # The third sees both, each with role, affiliation and show (slixmpp's join).
    m = c.mark()
    invite(b, room, C.jid)
    await invited(c, room, m)
    pres, subject, occupants, history = await asyncio.wait_for(
        c.xmpp.plugin["xep_0045"].join_muc_wait(room, "Carl", maxstanzas=0), 10)
    assert 110 in pres["muc"]["status_codes"]
    got = {p["muc"]["nick"]: (p["muc"]["role"], p["muc"]["affiliation"], p["show"])
           for p in occupants if p["muc"]["nick"] != "Carl"}
    assert got == {"Anna": ("moderator", "owner", ""), "Bea": ("participant", "member", "away")}
    assert sorted(c.xmpp.plugin["xep_0045"].get_roster(room)) == ["Anna", "Bea", "Carl"]
    for p in occupants:
        assert p.xml.find(f"{{{NS_DELAY}}}delay") is not None, "each occupant's time of arrival"
    # A show change reaches everyone.
    ma, mc = a.mark(), c.mark()
    send(b, f"<presence to='{room}/Bea'><show>dnd</show></presence>")
    for x, mk in ((a, ma), (c, mc)):
        p = await x.wait_for(presence_from(f"{room}/Bea", "available"), start=mk)
        assert p["show"] == "dnd"
    # A departure reaches everyone, with its time; the leaver gets his own (110).
    ma, mb, mc = a.mark(), b.mark(), c.mark()
    c.xmpp.plugin["xep_0045"].leave_muc(room, "Carl")
    for x, mk in ((a, ma), (b, mb)):
        p = await x.wait_for(presence_from(f"{room}/Carl", "unavailable"), start=mk)
        assert is_recent(p)
        assert item(p)["role"] == "none" and item(p)["affiliation"] == "member", "still a member"
    own = await c.wait_for(presence_from(f"{room}/Carl", "unavailable"), start=mc)
    assert 110 in codes(own)
    # A dropped connection leaves the room too.
    ma = a.mark()
    await b.abort()
    p = await a.wait_for(presence_from(f"{room}/Bea", "unavailable"), start=ma)
    assert is_recent(p)
    # Carl is still a member: he comes back without a new invitation.
    await join(c, room, "Carl")


async def test_nicknames_are_unique_and_sessions_share_one_occupant(server, make_user, clients):
    A, B = make_user("owner"), make_user("bea")
    a, b1 = await login(clients, A), await login(clients, B, "phone")
    room = new_room(server)
    await create(a, room, "Anna")
    m = b1.mark()
    invite(a, room, B.jid)
    await invited(b1, room, m)
    # A taken nickname (also with another case): conflict.
    await join(b1, room, "anna", expect="conflict")
    # Without a nickname, a plain account gets its localpart.
    pres = await join(b1, room, None)
    assert str(pres["from"]) == f"{room}/{B.user}" and 210 in codes(pres)
    # A second session of the same account is the same occupant: nobody sees a second join.
    ma = a.mark()
    b2 = await login(clients, B, "laptop")
    pres = await join(b2, room, "autre")
    assert str(pres["from"]) == f"{room}/{B.user}", "one nickname per account"
    await a.expect_none(presence_from(f"{room}/autre"), QUIET, "a second occupant", start=ma)
    assert not a.matching(presence_from(f"{room}/{B.user}", "available"), ma)
    # Both sessions receive the room's messages; the first leaving is not a departure.
    ma, m1, m2 = a.mark(), b1.mark(), b2.mark()
    send(a, f"<message to='{room}' type='groupchat'><body>pour tous</body></message>")
    await b1.wait_for(groupchat(room, "pour tous"), start=m1)
    await b2.wait_for(groupchat(room, "pour tous"), start=m2)
    send(b1, f"<presence to='{room}/{B.user}' type='unavailable'/>")
    await b1.wait_for(presence_from(f"{room}/{B.user}", "unavailable"), start=m1)
    await a.expect_none(presence_from(f"{room}/{B.user}", "unavailable"), QUIET, "a departure", start=ma)
    # Nickname change is refused, clearly.
    mb = b2.mark()
    send(b2, f"<presence to='{room}/nouveau'/>")
    err = await b2.wait_for(error_from("presence", room), start=mb)
    assert condition(err) == "not-acceptable"


# ============================================================ removing

async def test_only_the_owner_removes_and_the_membership_ends(server, make_user, clients):
    A, B, C = make_user("owner"), make_user("bea"), make_user("carl")
    a, b, c = await login(clients, A), await login(clients, B), await login(clients, C)
    room = new_room(server)
    await create(a, room, "Anna", title="Projet sciences")
    await invite_and_join(a, room, b, "Bea")
    await invite_and_join(a, room, c, "Carl")
    # Someone else's attempt fails with not-allowed, and Carl stays.
    mc = c.mark()
    with pytest.raises(IqError) as e:
        await b.xmpp.plugin["xep_0045"].set_role(room, "Carl", "none", reason="ouste")
    assert e.value.iq["error"]["condition"] == "not-allowed"
    reply = await admin(b, room, f"<item jid='{C.jid}' affiliation='none'/>")
    assert condition(reply) == "not-allowed"
    await c.expect_none(presence_from(f"{room}/Carl", "unavailable"), QUIET, "a removal", start=mc)
    # The owner removes Bea: role none, status 307, with the actor and the reason.
    ma, mb, mc = a.mark(), b.mark(), c.mark()
    await a.xmpp.plugin["xep_0045"].set_role(room, "Bea", "none", reason="Hors sujet")
    for x, mk in ((a, ma), (c, mc)):
        p = await x.wait_for(presence_from(f"{room}/Bea", "unavailable"), start=mk)
        assert 307 in codes(p) and 110 not in codes(p)
        assert actor(p) == {"nick": "Anna", "jid": A.jid} and reason(p) == "Hors sujet"
        assert item(p)["affiliation"] == "none", "the membership ends"
        assert is_recent(p)
    own = await b.wait_for(presence_from(f"{room}/Bea", "unavailable"), start=mb)
    assert {110, 307} <= codes(own) and actor(own)["nick"] == "Anna"
    # « [NOM Prénom] vous a retiré de la conversation [Nom de la conversation]. »
    notice = await b.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                              and body(s, "fr") is not None, start=mb)
    assert body(notice, "fr") == "Anna vous a retiré de la conversation Projet sciences."
    # He cannot come back unless invited again.
    await join(b, room, "Bea", expect="registration-required")
    mb = b.mark()
    invite(a, room, B.jid)
    await invited(b, room, mb)
    await join(b, room, "Bea")
    # The owner cannot be removed, and a nickname nobody has is item-not-found.
    reply = await admin(a, room, "<item nick='Anna' role='none'/>")
    assert condition(reply) == "not-allowed"
    reply = await admin(a, room, "<item nick='Personne' role='none'/>")
    assert condition(reply) == "item-not-found"


async def test_removing_an_absent_member_and_leaving_for_good(server, make_user, clients):
    A, B, C = make_user("owner"), make_user("bea"), make_user("carl")
    a, c = await login(clients, A), await login(clients, C)
    b = await Client.login(server, B, "r", plugins=PLUGINS)
    room = new_room(server)
    await create(a, room, "Anna", title="Chorale")
    await invite_and_join(a, room, b, "Bea")
    await b.disconnect()
    await invite_and_join(a, room, c, "Carl")
    # The owner ends the absent Bea's membership (affiliation none): she is told at login.
    mc = c.mark()
    assert (await admin(a, room, f"<item jid='{B.jid}' affiliation='none'><reason>fin</reason></item>"))["type"] == "result"
    note = await c.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                            and item(s).get("jid") == B.jid, start=mc)
    assert item(note)["affiliation"] == "none"
    b = await login(clients, B)
    notice = await b.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == room
                              and body(s, "fr") is not None)
    assert body(notice, "fr") == "Anna vous a retiré de la conversation Chorale."
    assert delay_of(notice) is not None
    await join(b, room, "Bea", expect="registration-required")
    # A member may leave for good (affiliation none on himself): status 321.
    ma, mc = a.mark(), c.mark()
    assert (await admin(c, room, f"<item jid='{C.jid}' affiliation='none'/>"))["type"] == "result"
    own = await c.wait_for(presence_from(f"{room}/Carl", "unavailable"), start=mc)
    assert {110, 321} <= codes(own) and not actor(own)
    p = await a.wait_for(presence_from(f"{room}/Carl", "unavailable"), start=ma)
    assert 321 in codes(p)
    assert room not in await rooms_listed(c, server)
    assert room in await rooms_listed(a, server)


# ============================================================ messages

async def test_messages_fan_out_with_stanza_ids_history_and_archive(server, make_user, clients):
    A, B, C = make_user("owner"), make_user("bea"), make_user("carl")
    a, b, c = await login(clients, A), await login(clients, B), await login(clients, C)
    room = new_room(server)
    await create(a, room, "Anna")
    await invite_and_join(a, room, b, "Bea")
    # Fan-out to every occupant, the sender included, with one stanza-id by the room.
    ma, mb = a.mark(), b.mark()
    send(b, f"<message to='{room}' type='groupchat' id='m-1'><body>Salut 😀 &lt;b&gt;</body></message>")
    got = [await x.wait_for(groupchat(room, "Salut 😀 <b>"), start=mk) for x, mk in ((a, ma), (b, mb))]
    ids = {stanza_id(g, room) for g in got}
    assert len(ids) == 1 and None not in ids, "one stanza-id, the same for all"
    for g in got:
        assert str(g["from"]) == f"{room}/Bea" and g["id"] == "m-1"
    # A message is not for people outside the room.
    await c.expect_none(groupchat(room), 0.2, "a message of a room one is not in")
    # Write 60 more; the subject too.
    for n in range(60):
        send(a, f"<message to='{room}' type='groupchat'><body>n°{n}</body></message>")
    ma = a.mark()
    a.xmpp.plugin["xep_0045"].set_subject(room, "Révisions")
    await a.wait_for(lambda s: isinstance(s, Message) and str(s["from"]) == f"{room}/Anna"
                     and s["subject"] == "Révisions", start=ma)
    # A member who comes back gets the last 50 (the default) with delay stamps, then
    # the subject.
    mb = b.mark()
    send(b, f"<presence to='{room}/Bea' type='unavailable'/>")
    await b.wait_for(presence_from(f"{room}/Bea", "unavailable"), start=mb)
    mb = b.mark()
    await join(b, room, "Bea")
    history = b.matching(groupchat(room, live=False), mb)
    assert [body(h) for h in history] == [f"n°{n}" for n in range(10, 60)]
    assert all(delay_of(h) is not None and h.xml.find(f"{{{NS_DELAY}}}delay").get("from") == room
               for h in history)
    assert all(stanza_id(h, room) for h in history)
    subject = b.matching(lambda s: isinstance(s, Message) and s["subject"] == "Révisions", mb)
    assert subject and str(subject[-1]["from"]) == f"{room}/Anna"
    # A newcomer reads the room from his invitation on: nothing said before it.
    mc = c.mark()
    invite(a, room, C.jid)
    await invited(c, room, mc)
    send(a, f"<message to='{room}' type='groupchat'><body>Bienvenue Carl</body></message>")
    await a.wait_for(groupchat(room, "Bienvenue Carl"), start=ma)
    mc = c.mark()
    await join(c, room, "Carl")
    history = c.matching(groupchat(room, live=False), mc)
    assert [body(h) for h in history] == ["Bienvenue Carl"], [body(h) for h in history]
    subject = c.matching(lambda s: isinstance(s, Message) and s["subject"] == "Révisions", mc)
    assert subject, "the subject ends the join"
    reply = await c.query(room, f"<query xmlns='{NS_MAM}'/>", "set")
    fin = reply.xml.find(f"{{{NS_MAM}}}fin")
    assert fin.find(f"{{{NS_RSM}}}set").findtext(f"{{{NS_RSM}}}count") == "1", reply
    # MAM: page back through the whole history, 25 at a time (Bea was there from the start).
    seen: list[str] = []
    before = ""
    for _ in range(5):
        mb = b.mark()
        reply = await b.query(room, f"<query xmlns='{NS_MAM}' queryid='q'><set xmlns='{NS_RSM}'>"
                                    f"<max>25</max><before>{before}</before></set></query>", "set")
        assert reply["type"] == "result", reply
        results = b.matching(lambda s: isinstance(s, Message)
                             and s.xml.find(f"{{{NS_MAM}}}result") is not None, mb)
        page = []
        for r in results:
            res = r.xml.find(f"{{{NS_MAM}}}result")
            assert res.get("queryid") == "q"
            fwd = res.find(f"{{{NS_FORWARD}}}forwarded")
            assert fwd.find(f"{{{NS_DELAY}}}delay") is not None
            inner = fwd.find(f"{{{NS_CLIENT}}}message")
            assert inner.get("type") == "groupchat"
            page.append((res.get("id"), inner.findtext(f"{{{NS_CLIENT}}}body")))
        seen = [p[1] for p in page] + seen
        fin = reply.xml.find(f"{{{NS_MAM}}}fin")
        rsm = fin.find(f"{{{NS_RSM}}}set")
        assert rsm.findtext(f"{{{NS_RSM}}}count") == "62"
        if page:
            assert rsm.findtext(f"{{{NS_RSM}}}first") == page[0][0]
        if fin.get("complete") == "true":
            break
        before = rsm.findtext(f"{{{NS_RSM}}}first")
    assert seen == ["Salut 😀 <b>"] + [f"n°{n}" for n in range(60)] + ["Bienvenue Carl"], seen
    # Forward paging with after, and an unknown id.
    reply = await b.query(room, f"<query xmlns='{NS_MAM}'><set xmlns='{NS_RSM}'><max>1</max>"
                                f"<after>{ids.pop()}</after></set></query>", "set")
    assert reply.xml.find(f"{{{NS_MAM}}}fin/{{{NS_RSM}}}set").findtext(f"{{{NS_RSM}}}first") is not None
    reply = await b.query(room, f"<query xmlns='{NS_MAM}'><set xmlns='{NS_RSM}'><after>nope</after></set></query>", "set")
    assert condition(reply) == "item-not-found"
    # Outsiders cannot read the archive, nor write.
    o = await login(clients, make_user("outsider"))
    reply = await o.query(room, f"<query xmlns='{NS_MAM}'/>", "set")
    assert condition(reply) == "forbidden"
    mo = o.mark()
    send(o, f"<message to='{room}' type='groupchat'><body>intrus</body></message>")
    assert condition(await o.wait_for(error_from("message", room), start=mo)) == "not-acceptable"
    # Private messages through the room are refused (they would bypass the rules).
    mb = b.mark()
    send(b, f"<message to='{room}/Carl' type='chat'><body>psst</body></message>")
    assert condition(await b.wait_for(error_from("message", room), start=mb)) == "not-acceptable"
    await c.expect_none(lambda s: isinstance(s, Message) and body(s) == "psst", 0.3)


async def test_a_class_of_30_every_message_reaches_every_occupant_once(server, make_user, clients):
    accounts = [make_user(f"el{n}") for n in range(30)]
    cs = await asyncio.gather(*(login(clients, X, presence=True, roster=False) for X in accounts))
    owner = cs[0]
    room = new_room(server, "classe")
    await create(owner, room, "prof", title="6e A")
    for X, c in zip(accounts[1:], cs[1:]):
        invite(owner, room, X.jid)
    await asyncio.gather(*(invited(c, room) for c in cs[1:]))
    joined = await asyncio.gather(*(asyncio.wait_for(
        c.xmpp.plugin["xep_0045"].join_muc_wait(room, f"élève {n}", maxstanzas=0), 15)
        for n, c in enumerate(cs[1:], 1)))
    assert all(110 in j[0]["muc"]["status_codes"] for j in joined)
    marks = [c.mark() for c in cs]
    for n, c in enumerate(cs):
        send(c, f"<message to='{room}' type='groupchat' id='c{n}'><body>message {n}</body></message>")
    expected = {f"message {n}" for n in range(30)}
    ids: dict[str, set] = {}
    for c, mk in zip(cs, marks):
        got = await c.wait_all(groupchat(room), 30, timeout=15, what="the class's messages")
        got = c.matching(groupchat(room), mk)
        bodies = [body(g) for g in got]
        assert sorted(bodies) == sorted(expected), f"{c.full}: {len(bodies)} messages"
        for g in got:
            ids.setdefault(body(g), set()).add(stanza_id(g, room))
    assert all(len(v) == 1 and None not in v for v in ids.values()), "one stanza-id per message"
    await asyncio.sleep(0.3)
    for c, mk in zip(cs, marks):
        assert len(c.matching(groupchat(room), mk)) == 30, f"{c.full} got a message twice"
    # Every occupant saw the 30 of the class.
    assert all(len(c.xmpp.plugin["xep_0045"].get_roster(room)) == 30 for c in cs[1:])


# ============================================== persistence and destruction

async def test_rooms_survive_a_restart(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    A = srv.add_user("anna", "pw-anna-1")
    B = srv.add_user("bea", "pw-bea-1")
    C = srv.add_user("carl", "pw-carl-1")
    cs = Clients(srv)
    room = new_room(srv, "club")
    try:
        a = await cs.login(A, "r", plugins=PLUGINS)
        b = await cs.login(B, "r", plugins=PLUGINS)
        await create(a, room, "Anna", title="Club lecture")
        assert (await configure(a, room, {"muc#roomconfig_roomdesc": "Le jeudi"}))["type"] == "result"
        await invite_and_join(a, room, b, "Bea")
        a.xmpp.plugin["xep_0045"].set_subject(room, "Les Misérables")
        for n in range(3):
            send(b, f"<message to='{room}' type='groupchat'><body>avant {n}</body></message>")
        await a.wait_for(groupchat(room, "avant 2"))
    finally:
        await cs.close()
    srv.restart()
    cs = Clients(srv)
    try:
        b = await cs.login(B, "r", plugins=PLUGINS)
        assert (await rooms_listed(b, srv)) == {room: "Club lecture"}
        info = roominfo(await disco_info(b, room))
        assert info["muc#roomconfig_roomname"] == "Club lecture"
        assert info["muc#roominfo_description"] == "Le jeudi"
        assert info["muc#roominfo_subject"] == "Les Misérables"
        mb = b.mark()
        await join(b, room, "Bea")
        assert [body(h) for h in b.matching(groupchat(room, live=False), mb)] == ["avant 0", "avant 1", "avant 2"]
        assert b.matching(lambda s: isinstance(s, Message) and s["subject"] == "Les Misérables", mb)
        # Non-members are still out, and the owner is still the owner.
        c = await cs.login(C, "r", plugins=PLUGINS)
        await join(c, room, "Carl", expect="registration-required")
        a = await cs.login(A, "r", plugins=PLUGINS)
        pres = await join(a, room, "Anna")
        assert item(pres)["affiliation"] == "owner" and 201 not in codes(pres)
        reply = await c.query(room, f"<query xmlns='{NS_MAM}'/>", "set")
        assert condition(reply) == "forbidden"
    finally:
        await cs.close()


async def test_the_room_is_destroyed_when_its_last_member_leaves(server, make_user, clients):
    A, B = make_user("owner"), make_user("bea")
    a, b = await login(clients, A), await login(clients, B)
    room = new_room(server)
    await create(a, room, "Anna", title="Éphémère")
    await invite_and_join(a, room, b, "Bea")
    send(b, f"<message to='{room}' type='groupchat'><body>souvenir</body></message>")
    await a.wait_for(groupchat(room, "souvenir"))
    # The owner does not leave while others are members (XEP-0045 §10.7): conflict.
    r = await admin(a, room, f"<item jid='{A.jid}' affiliation='none'/>")
    assert condition(r) == "conflict", r
    assert (await disco_info(b, room))["type"] == "result", "nothing changed"
    assert (await admin(b, room, f"<item jid='{B.jid}' affiliation='none'/>"))["type"] == "result"
    assert (await disco_info(a, room))["type"] == "result", "the owner is still a member"
    ma = a.mark()
    assert (await admin(a, room, f"<item jid='{A.jid}' affiliation='none'/>"))["type"] == "result"
    await a.wait_for(presence_from(f"{room}/Anna", "unavailable"), start=ma)
    for c in (a, b):
        assert condition(await disco_info(c, room)) == "item-not-found"
        assert room not in await rooms_listed(c, server)
    # Its name is free again: a new room, without the old one's messages.
    mb = b.mark()
    pres = await join(b, room, "Bea")
    assert 201 in codes(pres) and item(pres)["affiliation"] == "owner"
    assert not b.matching(groupchat(room, live=False), mb)
    assert (await configure(b, room))["type"] == "result"
    reply = await b.query(room, f"<query xmlns='{NS_MAM}'/>", "set")
    assert reply.xml.find(f"{{{NS_MAM}}}fin/{{{NS_RSM}}}set").findtext(f"{{{NS_RSM}}}count") == "0"
    # The owner may also destroy the room at once; occupants are told.
    mb = b.mark()
    await b.xmpp.plugin["xep_0045"].destroy(room, reason="Fini")
    gone = await b.wait_for(presence_from(f"{room}/Bea", "unavailable"), start=mb)
    assert muc_x(gone).findtext(f"{{{NS_MUC_USER}}}destroy/{{{NS_MUC_USER}}}reason") == "Fini"


# ===================================================== discovery and errors

async def test_discovery_and_errors(server, make_user, clients):
    A, B, C = make_user("owner"), make_user("bea"), make_user("carl")
    a, b, c = await login(clients, A), await login(clients, B), await login(clients, C)
    # The server lists the service; the service says what it is.
    items = await a.query(server.domain, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
    assert service(server) in {i.get("jid") for i in items.xml.iter(f"{{{NS_DISCO_ITEMS}}}item")}
    info = await disco_info(a, service(server))
    ident = info.xml.find(f"{{{NS_DISCO_INFO}}}query/{{{NS_DISCO_INFO}}}identity")
    assert (ident.get("category"), ident.get("type")) == ("conference", "text")
    r1, r2 = new_room(server), new_room(server)
    await create(a, r1, "Anna", title="Un")
    await create(a, r2, "Anna", title="Deux")
    await invite_and_join(a, r1, b, "Bea")
    # Rooms one is a member of are listable, with their names; others are hidden.
    assert {r1: "Un", r2: "Deux"}.items() <= (await rooms_listed(a, server)).items()
    assert (await rooms_listed(b, server)) == {r1: "Un"}
    assert (await rooms_listed(c, server)) == {}
    # Non-members see nothing of a room; unknown rooms are item-not-found.
    assert condition(await disco_info(c, r1)) == "item-not-found"
    unknown = new_room(server, "nulle")
    assert condition(await disco_info(a, unknown)) == "item-not-found"
    mc = c.mark()
    send(c, f"<message to='{unknown}' type='groupchat'><body>allô</body></message>")
    assert condition(await c.wait_for(error_from("message", unknown), start=mc)) == "item-not-found"
    # What one's role does not permit: configuring (forbidden), removing (not-allowed).
    reply = await b.query(r1, f"<query xmlns='{NS_MUC_OWNER}'/>")
    assert condition(reply) == "forbidden"
    reply = await b.query(r1, f"<query xmlns='{NS_MUC_OWNER}'><destroy/></query>", "set")
    assert condition(reply) == "forbidden"
    reply = await admin(b, r1, f"<item jid='{C.jid}' affiliation='member'/>")
    assert condition(reply) == "not-allowed"
    # An invitation by a non-member is forbidden.
    mc = c.mark()
    invite(c, r1, B.jid)
    assert condition(await c.wait_for(error_from("message", r1), start=mc)) == "forbidden"
    # Self-ping (XEP-0410) tells a client whether it is still in.
    assert (await b.query(f"{r1}/Bea", "<ping xmlns='urn:xmpp:ping'/>"))["type"] == "result"
    assert condition(await c.query(f"{r1}/Bea", "<ping xmlns='urn:xmpp:ping'/>")) == "not-acceptable"


# ================================================================ bad input

async def test_bad_input_gets_clear_errors_and_leaves_the_room_alone(server, make_user, clients):
    A, B = make_user("owner"), make_user("bea")
    a, b = await login(clients, A), await login(clients, B)
    room = new_room(server)
    await create(a, room, "Anna", title="Sérieux")
    await invite_and_join(a, room, b, "Bea")
    mb = b.mark()
    # Huge subject.
    ma = a.mark()
    send(a, f"<message to='{room}' type='groupchat'><subject>{'x' * 501}</subject></message>")
    err = await a.wait_for(error_from("message", room), start=ma)
    cond, texts = error_of(err.xml)
    assert cond == "not-acceptable" and "500" in texts["en"] and texts["fr"]
    # Huge or tricky names, unknown and malformed fields, fixed options.
    for fields, raw_, expected, word in (
        ({"muc#roomconfig_roomname": "N" * 101}, "", "not-acceptable", "100"),
        ({"muc#roomconfig_roomname": "abc\u202edef"}, "", "not-acceptable", "direction"),
        ({"muc#roomconfig_roomdesc": "d" * 1001}, "", "not-acceptable", "1000"),
        ({"muc#roomconfig_colour": "rouge"}, "", "bad-request", "muc#roomconfig_colour"),
        ({"muc#roomconfig_membersonly": "peut-être"}, "", "bad-request", "muc#roomconfig_membersonly"),
        ({"muc#roomconfig_membersonly": "0"}, "", "not-acceptable", "muc#roomconfig_membersonly"),
        ({}, "<field><value>sans nom</value></field>", "bad-request", "name"),
        ({"FORM_TYPE": "urn:autre"}, "", "bad-request", "FORM_TYPE"),
    ):
        reply = await configure(a, room, fields, raw_)
        cond, texts = error_of(reply.xml)
        assert cond == expected, (fields, raw_, reply)
        assert word in texts["en"], texts
    reply = await a.query(room, f"<query xmlns='{NS_MUC_OWNER}'><x xmlns='{NS_DATA}' type='form'/></query>", "set")
    assert condition(reply) == "bad-request"
    # Nicknames made of control or bidirectional characters.
    C = make_user("carl")
    c = await login(clients, C)
    mc = c.mark()
    invite(a, room, C.jid)
    await invited(c, room, mc)
    for nick in ("\u202eeuqinom", "a\u2067b", "\u200f", "\u0085x"):
        mc = c.mark()
        send(c, join_stanza(room, nick))
        err = await c.wait_for(lambda s: isinstance(s, Presence) and s.xml.get("type") == "error", start=mc)
        assert condition(err) in ("not-acceptable", "jid-malformed"), err
        assert error_of(err.xml)[1].get("en")
    # Nothing of all this reached the room: same name, no subject, no new occupant.
    await b.expect_none(lambda s: isinstance(s, Presence) and s["from"].bare == room
                        and str(s["from"]) != f"{room}/Bea", QUIET, "a presence", start=mb)
    await b.expect_none(lambda s: isinstance(s, Message) and s["from"].bare == room
                        and (body(s) is not None or s.xml.find(f"{{{NS_CLIENT}}}subject") is not None),
                        0.1, "a message", start=mb)
    info = roominfo(await disco_info(b, room))
    assert info["muc#roomconfig_roomname"] == "Sérieux" and info["muc#roominfo_subject"] == ""
    assert info["muc#roominfo_occupants"] == "2"


async def test_limits_on_invitations_rooms_and_occupants(make_server):
    srv = make_server(auth={"failure_delay_ms": 50}, extra_toml=(
        "[muc]\nmax_invitations_per_minute = 4\nmax_rooms_per_user = 3\n"
        "max_occupants_per_room = 3\nhistory_len = 2\n"))
    A = srv.add_user("anna", "pw-anna-1")
    others = [srv.add_user(f"u{n}", f"pw-u{n}-1") for n in range(5)]
    cs = Clients(srv)
    try:
        a = await cs.login(A, "r", plugins=PLUGINS)
        u = [await cs.login(X, "r", plugins=PLUGINS) for X in others]
        room = new_room(srv)
        await create(a, room, "Anna", title="Petit groupe")
        # Five invitations: members are capped at 3 (the owner and two), so the third and
        # fourth are refused; the fifth in a minute is one too many.
        ma = a.mark()
        for X in others:
            invite(a, room, X.jid)
        await a.wait_all(error_from("message", room), 3, what="three refusals")
        await asyncio.sleep(0.3)
        errs = a.matching(error_from("message", room), ma)
        assert [condition(e) for e in errs] == ["not-allowed", "not-allowed", "resource-constraint"], errs
        assert "3" in error_of(errs[0].xml)[1]["en"]
        assert "4" in error_of(errs[2].xml)[1]["en"]
        await u[0].wait_for(from_room_with(room, "invite"))
        await u[1].wait_for(from_room_with(room, "invite"))
        for x in u[2:]:
            await x.expect_none(from_room_with(room, "invite"), 0.1, "an invitation past the limits")
        members = await a.query(room, f"<query xmlns='{NS_MUC_ADMIN}'><item affiliation='member'/></query>")
        assert len(members.xml.findall(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item")) == 2
        # History length is configurable.
        await join(u[0], room, "Un")
        for n in range(4):
            send(a, f"<message to='{room}' type='groupchat'><body>h{n}</body></message>")
        await u[0].wait_for(groupchat(room, "h3"))
        mu = u[1].mark()
        await join(u[1], room, "Deux")
        assert [body(h) for h in u[1].matching(groupchat(room, live=False), mu)] == ["h2", "h3"]
        # Rooms per user: Anna already owns one and may make 2 more; a flood of 300 joins
        # to new rooms gets one clear error each.
        ma = a.mark()
        for n in range(300):
            send(a, join_stanza(new_room(srv, "flood"), "Anna"))

        def answer(s):
            return (isinstance(s, Presence) and s["from"].bare.startswith("flood-")
                    and (s.xml.get("type") == "error" or 201 in codes(s)))
        answers = await a.wait_all(answer, 300, timeout=30, what="answers to the joins")
        answers = a.matching(answer, ma)
        refused = [s for s in answers if s.xml.get("type") == "error"]
        assert len(answers) - len(refused) == 2
        assert {condition(s) for s in refused} == {"not-allowed"} and len(refused) == 298
        assert "3" in error_of(refused[0].xml)[1]["en"]
        # The room itself is untouched by all this.
        info = roominfo(await disco_info(u[0], room))
        assert info["muc#roomconfig_roomname"] == "Petit groupe"
        assert info["muc#roominfo_occupants"] == "3"
    finally:
        await cs.close()
