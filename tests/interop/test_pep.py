"""PEP (XEP-0163) on each account, XEP-0402 bookmarks, XEP-0292 vCard4 mapped onto the
directory's names, XEP-0049 private storage: what a user observes.

- bookmarks published on one device are listed by a fresh device, and by nobody else;
- a contact whose client says `+notify` (XEP-0115 capabilities, which the server asks
  the client for) receives the events, and the last item when it comes online;
- a pupil the school's rules keep apart (moved to another class) receives nothing and
  cannot retrieve;
- a vCard4 that changes a pupil's name is refused with not-allowed and a text, and the
  name stays the school's;
- private storage round-trips and is private;
- XEP-0402 `#compat`: the node and XEP-0048's list in private storage are one list, both
  ways (notifications for what changed only, extensions kept), within the node's limits;
  lists stored before the mirror move to the node.
"""

from __future__ import annotations

import asyncio

import pytest

from clients import DEFAULT_PLUGINS, befriend
from directory_fixture import C6A, error_of
from gate_fixture import make_gate, moved  # noqa: F401  (fixture)

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_OWNER = "http://jabber.org/protocol/pubsub#owner"
NS_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_ERRORS = "http://jabber.org/protocol/pubsub#errors"
NS_DATA = "jabber:x:data"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_BOOKMARKS = "urn:xmpp:bookmarks:1"
NS_TUNE = "http://jabber.org/protocol/tune"
NS_NICK = "http://jabber.org/protocol/nick"
NS_VCARD4 = "urn:ietf:params:xml:ns:vcard-4.0"
NODE_VCARD4 = "urn:xmpp:vcard4"
NS_PRIVATE = "jabber:iq:private"

# A client that says which PEP nodes it wants (XEP-0115 caps with +notify): tune, nick
# and vCard4 (slixmpp's plugins register these interests).
PEP_PLUGINS = DEFAULT_PLUGINS + ("xep_0115", "xep_0163", "xep_0060", "xep_0118", "xep_0172", "xep_0292")


def form(fields: dict[str, str], form_type: str) -> str:
    f = "".join(f"<field var='{k}'><value>{v}</value></field>" for k, v in fields.items())
    return (f"<x xmlns='{NS_DATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
            f"<value>{form_type}</value></field>{f}</x>")


BOOKMARK_OPTIONS = {
    "pubsub#persist_items": "true",
    "pubsub#max_items": "max",
    "pubsub#send_last_published_item": "never",
    "pubsub#access_model": "whitelist",
}


async def publish(c, node: str, item_id: str | None, payload: str, options: dict | None = None):
    idattr = f" id='{item_id}'" if item_id else ""
    opts = ""
    if options is not None:
        opts = (f"<publish-options>{form(options, 'http://jabber.org/protocol/pubsub#publish-options')}"
                f"</publish-options>")
    return await c.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{node}'>"
                               f"<item{idattr}>{payload}</item></publish>{opts}</pubsub>", "set")


async def items(c, owner: str | None, node: str, extra: str = "", attrs: str = ""):
    return await c.query(owner, f"<pubsub xmlns='{NS_PUBSUB}'><items node='{node}'{attrs}>{extra}</items></pubsub>")


def item_ids(reply) -> list[str]:
    its = reply.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}items")
    return [i.get("id") for i in its.findall(f"{{{NS_PUBSUB}}}item")] if its is not None else []


def condition(reply) -> str | None:
    assert reply["type"] == "error", f"expected an error, got {reply}"
    return error_of(reply.xml)[0]


def texts(reply) -> dict[str, str]:
    return error_of(reply.xml)[1]


def tune(title: str) -> str:
    return f"<tune xmlns='{NS_TUNE}'><title>{title}</title></tune>"


def is_event(owner_bare: str, node: str, what: str = "item", ident: str | None = None):
    def pred(st):
        if st.xml.tag != "{jabber:client}message" or st.xml.get("from") != owner_bare:
            return False
        its = st.xml.find(f"{{{NS_EVENT}}}event/{{{NS_EVENT}}}items")
        if what == "delete":
            d = st.xml.find(f"{{{NS_EVENT}}}event/{{{NS_EVENT}}}delete")
            return d is not None and d.get("node") == node
        if its is None or its.get("node") != node:
            return False
        found = its.findall(f"{{{NS_EVENT}}}{what}")
        return bool(found) and (ident is None or any(i.get("id") == ident for i in found))
    return pred


async def with_caps(c) -> None:
    """Sends the client's initial presence with its capabilities (+notify for tune, nick
    and vCard4) and waits until the server knows them: it asks the client (disco#info)
    the first time it sees the hash, and the client answers."""
    # slixmpp's vCard4 plugin registers its interest under the vCard namespace; Gajim and
    # XEP-0292 use the node's name.
    for node in (NS_TUNE, NS_NICK, NODE_VCARD4):
        c.xmpp.plugin["xep_0030"].add_feature(f"{node}+notify")
    await c.xmpp.plugin["xep_0115"].update_caps(broadcast=False)
    mark = c.mark()
    c.send_presence()
    await ping(c)
    asked = c.matching(lambda st: st.xml.tag == "{jabber:client}iq" and st.xml.get("type") == "get"
                       and st.xml.find(f"{{{NS_DISCO_INFO}}}query") is not None, mark)
    if asked:
        # slixmpp answers from its own task: give it the time to, then make sure the
        # server processed it (a session's stanzas are handled in order).
        await asyncio.sleep(0.3)
        await ping(c)


async def ping(c) -> None:
    reply = await c.query(c.xmpp.boundjid.domain, "<ping xmlns='urn:xmpp:ping'/>")
    assert reply["type"] == "result", reply


# ====================================================================== bookmarks


async def test_bookmarks_published_on_one_device_are_listed_by_a_fresh_device(server, make_user, clients):
    A, B = make_user("bm"), make_user("bmfriend")
    phone = await clients.login(A, "phone")
    friend = await clients.login(B, "pc")
    await befriend(phone, friend)
    # The account is a PEP service (what Gajim and Converse look for).
    info = await phone.query(phone.bare, f"<query xmlns='{NS_DISCO_INFO}'/>")
    q = info.xml.find(f"{{{NS_DISCO_INFO}}}query")
    ids = {(i.get("category"), i.get("type")) for i in q.findall(f"{{{NS_DISCO_INFO}}}identity")}
    feats = {f.get("var") for f in q.findall(f"{{{NS_DISCO_INFO}}}feature")}
    assert ("pubsub", "pep") in ids
    for f in ("publish", "publish-options", "auto-create", "retrieve-items", "item-ids",
              "retract-items", "delete-items", "persistent-items", "filtered-notifications",
              "access-presence", "config-node", "multi-items"):
        assert f"{NS_PUBSUB}#{f}" in feats, f
    server_info = await phone.query(server.domain, f"<query xmlns='{NS_DISCO_INFO}'/>")
    assert f"var=\"{NS_PRIVATE}\"" in str(server_info) or NS_PRIVATE in str(server_info)

    rooms = {"classe@conference.localhost": "Classe", "club@conference.localhost": "Club"}
    for jid, name in rooms.items():
        r = await publish(phone, NS_BOOKMARKS, jid,
                          f"<conference xmlns='{NS_BOOKMARKS}' name='{name}' autojoin='true'><nick>Anna</nick></conference>",
                          BOOKMARK_OPTIONS)
        assert r["type"] == "result", r
    # A fresh device lists the rooms.
    fresh = await clients.login(A, "laptop")
    got = await items(fresh, None, NS_BOOKMARKS)
    assert got["type"] == "result", got
    assert sorted(item_ids(got)) == sorted(rooms)
    names = {c.get("name") for c in got.xml.iter(f"{{{NS_BOOKMARKS}}}conference")}
    assert names == set(rooms.values())
    # By id, and max_items.
    one = await items(fresh, None, NS_BOOKMARKS, "<item id='club@conference.localhost'/>")
    assert item_ids(one) == ["club@conference.localhost"]
    assert len(item_ids(await items(fresh, None, NS_BOOKMARKS, attrs=" max_items='1'"))) == 1
    # The node is the owner's alone, even for a contact: nothing says it exists.
    other = await items(friend, phone.bare, NS_BOOKMARKS)
    assert condition(other) == "item-not-found"
    listed = await friend.query(phone.bare, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
    assert NS_BOOKMARKS not in str(listed)
    # Publish-options are preconditions on an existing node.
    clash = await publish(phone, NS_BOOKMARKS, "x@conference.localhost",
                          f"<conference xmlns='{NS_BOOKMARKS}'/>", {"pubsub#access_model": "presence"})
    assert condition(clash) == "conflict"
    assert clash.xml.find(f".//{{{NS_ERRORS}}}precondition-not-met") is not None
    assert texts(clash).get("fr") and texts(clash).get("en")
    # Its configuration reads back; retracting one removes it.
    conf = await phone.query(None, f"<pubsub xmlns='{NS_OWNER}'><configure node='{NS_BOOKMARKS}'/></pubsub>")
    values = {f.get("var"): f.findtext(f"{{{NS_DATA}}}value") for f in conf.xml.iter(f"{{{NS_DATA}}}field")}
    assert values["pubsub#access_model"] == "whitelist"
    assert values["pubsub#send_last_published_item"] == "never"
    r = await phone.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><retract node='{NS_BOOKMARKS}'>"
                                f"<item id='club@conference.localhost'/></retract></pubsub>", "set")
    assert r["type"] == "result", r
    assert item_ids(await items(fresh, None, NS_BOOKMARKS)) == ["classe@conference.localhost"]


async def test_open_access_and_malformed_publications_are_refused_with_a_text(server, make_user, clients):
    a = await clients.login(make_user("pepbad"), "r")
    r = await publish(a, NS_NICK, None, f"<nick xmlns='{NS_NICK}'>A</nick>", {"pubsub#access_model": "open"})
    assert condition(r) == "not-acceptable"
    assert "presence" in texts(r)["en"] and texts(r)["fr"]
    r = await a.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{NS_NICK}'><item/></publish></pubsub>", "set")
    assert condition(r) == "bad-request"
    assert r.xml.find(f".//{{{NS_ERRORS}}}payload-required") is not None
    r = await publish(a, NS_NICK, None, f"<nick xmlns='{NS_NICK}'>{'x' * 140000}</nick>")
    assert condition(r) == "not-acceptable"
    r = await a.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><subscribe node='{NS_NICK}' jid='{a.bare}'/></pubsub>", "set")
    assert condition(r) == "feature-not-implemented"
    r = await items(a, None, "urn:nothing:here")
    assert condition(r) == "item-not-found"


async def test_bookmarks_stay_private_whatever_the_client_asks(server, make_user, clients):
    """XEP-0223: a bookmark can carry a room's password; published without publish-options
    (older clients), the node is still its owner's alone; asked `presence`, it is refused."""
    A, B = make_user("marque"), make_user("curieux")
    a = await clients.login(A, "desk", presence=False, plugins=PEP_PLUGINS)
    b = await clients.login(B, "phone", presence=False, plugins=PEP_PLUGINS)
    for x in (a, b):
        await with_caps(x)
    await befriend(a, b)
    mb = b.mark()
    secret = (f"<conference xmlns='{NS_BOOKMARKS}' name='Secret' autojoin='true'>"
              "<nick>m</nick><password>hunter2</password></conference>")
    for node in (NS_BOOKMARKS, "storage:bookmarks"):
        payload = secret if node == NS_BOOKMARKS else (
            "<storage xmlns='storage:bookmarks'><conference jid='secret@conference.x' "
            "name='Secret'><password>hunter2</password></conference></storage>")
        r = await publish(a, node, "secret@conference.x" if node == NS_BOOKMARKS else "current", payload)
        assert r["type"] == "result", r
        # The owner reads it back; his contact cannot, and is told nothing.
        assert item_ids(await items(a, None, node))
        assert condition(await items(b, a.bare, node)) == "item-not-found"
    await ping(a)
    await ping(b)
    assert not b.matching(lambda m: "hunter2" in str(m), mb)
    # Asking for a node others may read is refused, with a text.
    r = await publish(a, "urn:xmpp:mds:displayed:0", "x", "<displayed xmlns='urn:xmpp:mds:displayed:0'/>",
                      {"pubsub#access_model": "presence"})
    assert condition(r) == "not-acceptable", r
    assert "whitelist" in texts(r)["en"] and texts(r)["fr"]


# ====================================================================== notifications


async def test_a_contact_with_notify_receives_events_and_the_last_item(server, make_user, clients):
    A, B, C = make_user("tuner"), make_user("listener"), make_user("stranger")
    a = await clients.login(A, "desk", presence=False, plugins=PEP_PLUGINS)
    b = await clients.login(B, "phone", presence=False, plugins=PEP_PLUGINS)
    c = await clients.login(C, "pc", presence=False, plugins=PEP_PLUGINS)
    for x in (a, b, c):
        await with_caps(x)
    await befriend(a, b)
    mb, mc, ma = b.mark(), c.mark(), a.mark()
    r = await publish(a, NS_TUNE, "t1", tune("Gymnopédie"))
    assert r["type"] == "result", r
    ev = await b.wait_for(is_event(a.bare, NS_TUNE, "item", "t1"), start=mb, what="the tune event")
    assert "Gymnopédie" in str(ev)
    assert ev.xml.get("type") == "headline"
    # The owner's own resource (with +notify) hears it too.
    await a.wait_for(is_event(a.bare, NS_TUNE, "item", "t1"), start=ma, what="own event")
    # Someone not subscribed to A's presence gets nothing and cannot read it.
    await ping(a)
    await ping(c)
    assert not c.matching(is_event(a.bare, NS_TUNE), mc)
    assert condition(await items(c, a.bare, NS_TUNE)) == "item-not-found"
    # The contact reads it.
    got = await items(b, a.bare, NS_TUNE)
    assert item_ids(got) == ["t1"]
    # A device of B that comes online later gets the last item.
    b2 = await clients.login(B, "tablet", presence=False, plugins=PEP_PLUGINS)
    m2 = b2.mark()
    await with_caps(b2)
    await b2.wait_for(is_event(a.bare, NS_TUNE, "item", "t1"), start=m2, what="last item on presence")
    # Retraction and deletion are told too.
    mb = b.mark()
    r = await a.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><retract node='{NS_TUNE}' notify='true'>"
                            f"<item id='t1'/></retract></pubsub>", "set")
    assert r["type"] == "result", r
    await b.wait_for(is_event(a.bare, NS_TUNE, "retract", "t1"), start=mb, what="retraction")
    r = await a.query(None, f"<pubsub xmlns='{NS_OWNER}'><delete node='{NS_TUNE}'/></pubsub>", "set")
    assert r["type"] == "result", r
    await b.wait_for(is_event(a.bare, NS_TUNE, "delete"), start=mb, what="deletion")
    assert condition(await items(a, None, NS_TUNE)) == "item-not-found"


async def test_a_pupil_the_rules_keep_apart_receives_nothing_and_cannot_retrieve(make_gate):
    # A tune (XEP-0118): a directory user's nickname (XEP-0172) is his school name only.
    g = await make_gate()
    noah = await g.login("noah.robert", presence=False, plugins=PEP_PLUGINS)
    jules = await g.login("jules.lambert", presence=False, plugins=PEP_PLUGINS)
    await with_caps(noah)
    await with_caps(jules)
    await befriend(noah, jules)
    mj = jules.mark()
    assert (await publish(noah, NS_TUNE, "n1", f"<tune xmlns='{NS_TUNE}'><title>Noé</title></tune>"))["type"] == "result"
    await jules.wait_for(is_event(noah.bare, NS_TUNE, "item", "n1"), start=mj, what="classmate's tune")
    # Jules moves to 6e A: the rules no longer let the two pupils reach each other.
    g.import_(moved(g.snapshot, "jules.lambert", C6A))
    await asyncio.sleep(0.5)
    mj = jules.mark()
    assert (await publish(noah, NS_TUNE, "n2", f"<tune xmlns='{NS_TUNE}'><title>Noé 2</title></tune>"))["type"] == "result"
    await ping(noah)
    await ping(jules)
    assert not jules.matching(is_event(noah.bare, NS_TUNE), mj), "a PEP event crossed the rules"
    assert "Noé 2" not in "".join(str(s) for s in jules.inbox[mj:])
    r = await items(jules, noah.bare, NS_TUNE)
    assert condition(r) == "forbidden"
    assert "Noé" not in str(r)
    # A new device of jules gets no last item of noah's either.
    j2 = await g.login("jules.lambert", presence=False, plugins=PEP_PLUGINS)
    m2 = j2.mark()
    await with_caps(j2)
    await ping(noah)
    await ping(j2)
    assert not j2.matching(is_event(noah.bare, NS_TUNE), m2)


# ====================================================================== vCard4


def vcard4(fn: str | None = None, surname: str | None = None, given: str | None = None, note: str | None = None) -> str:
    parts = []
    if fn is not None:
        parts.append(f"<fn><text>{fn}</text></fn>")
    if surname is not None or given is not None:
        parts.append(f"<n><surname>{surname or ''}</surname><given>{given or ''}</given></n>")
    if note is not None:
        parts.append(f"<note><text>{note}</text></note>")
    return f"<vcard xmlns='{NS_VCARD4}'>{''.join(parts)}</vcard>"


def vcard4_fn(reply) -> str | None:
    return reply.xml.findtext(f".//{{{NS_VCARD4}}}vcard/{{{NS_VCARD4}}}fn/{{{NS_VCARD4}}}text")


async def test_a_vcard4_name_change_is_refused_and_the_name_stays_the_schools(make_gate):
    g = await make_gate()
    lea = await g.login("lea.martin", presence=False, plugins=PEP_PLUGINS)
    hugo = await g.login("hugo.bernard", presence=False, plugins=PEP_PLUGINS)
    await with_caps(lea)
    await with_caps(hugo)
    # Nothing published yet: the school's name.
    got = await items(lea, None, NODE_VCARD4)
    assert got["type"] == "result", got
    assert vcard4_fn(got) == "MARTIN Léa"
    r = await publish(lea, NODE_VCARD4, "current", vcard4(fn="Lily Rose", note="salut"))
    assert condition(r) == "not-allowed"
    t = texts(r)
    assert "MARTIN Léa" in t["fr"] and "MARTIN Léa" in t["en"] and t["fr"] != t["en"]
    r = await publish(lea, NODE_VCARD4, "current", vcard4(surname="Dupont", given="Léa"))
    assert condition(r) == "not-allowed"
    assert vcard4_fn(await items(lea, None, NODE_VCARD4)) == "MARTIN Léa"
    # Other fields are hers; the name stays the school's (with or without it).
    await befriend(lea, hugo)
    mh = hugo.mark()
    r = await publish(lea, NODE_VCARD4, "current", vcard4(fn="MARTIN Léa", note="Aime le piano"))
    assert r["type"] == "result", r
    ev = await hugo.wait_for(is_event(lea.bare, NODE_VCARD4, "item", "current"), start=mh, what="vCard4 event")
    assert "Aime le piano" in str(ev)
    r = await publish(lea, NODE_VCARD4, "current", vcard4(note="Sans nom"))
    assert r["type"] == "result", r
    seen = await items(hugo, lea.bare, NODE_VCARD4)
    assert vcard4_fn(seen) == "MARTIN Léa"
    assert "Sans nom" in str(seen)


# ====================================================================== private storage


async def test_private_storage_round_trips_and_is_private(server, make_user, clients):
    A, B = make_user("priv"), make_user("privother")
    a = await clients.login(A, "r")
    b = await clients.login(B, "r")
    data = "<cats xmlns='urn:causerie:web:categories'><cat name='Famille'/><cat name='Devoirs'/></cats>"
    r = await a.query(None, f"<query xmlns='{NS_PRIVATE}'>{data}</query>", "set")
    assert r["type"] == "result", r
    a2 = await clients.login(A, "other-device")
    got = await a2.query(None, f"<query xmlns='{NS_PRIVATE}'><cats xmlns='urn:causerie:web:categories'/></query>")
    assert got["type"] == "result", got
    assert "Famille" in str(got) and "Devoirs" in str(got)
    # Nothing stored yet: the empty element back.
    empty = await a.query(None, f"<query xmlns='{NS_PRIVATE}'><other xmlns='urn:x'/></query>")
    assert empty["type"] == "result" and empty.xml.find(".//{urn:x}other") is not None
    # Another account's storage: forbidden; its own is empty.
    r = await b.query(a.bare, f"<query xmlns='{NS_PRIVATE}'><cats xmlns='urn:causerie:web:categories'/></query>")
    assert condition(r) == "forbidden"
    theirs = await b.query(None, f"<query xmlns='{NS_PRIVATE}'><cats xmlns='urn:causerie:web:categories'/></query>")
    assert "Famille" not in str(theirs)
    # Reserved namespaces and empty queries: not-acceptable, with a text.
    r = await a.query(None, f"<query xmlns='{NS_PRIVATE}'><vCard xmlns='vcard-temp'/></query>", "set")
    assert condition(r) == "not-acceptable" and texts(r).get("en")
    r = await a.query(None, f"<query xmlns='{NS_PRIVATE}'/>")
    assert condition(r) == "not-acceptable"


async def test_private_storage_is_bounded(make_server):
    from clients import Client
    srv = make_server(extra_toml="[pep]\nmax_private_bytes_per_user = 1000\n")
    acc = srv.new_account("bounded")
    c = await Client.login(srv, acc, "r")
    try:
        big = "<big xmlns='urn:b'>" + "x" * 1200 + "</big>"
        r = await c.query(None, f"<query xmlns='{NS_PRIVATE}'>{big}</query>", "set")
        assert condition(r) == "resource-constraint"
        assert "1000" in texts(r)["en"] and texts(r)["fr"]
        got = await c.query(None, f"<query xmlns='{NS_PRIVATE}'><big xmlns='urn:b'/></query>")
        assert "xxxx" not in str(got)
    finally:
        await c.disconnect()


# ============================================ bookmarks: XEP-0402 #compat with XEP-0048

NS_LEGACY = "storage:bookmarks"
COMPAT = "urn:xmpp:bookmarks:1#compat"


async def legacy_get(c):
    """The XEP-0048 list as Gajim 1.7 reads it: {jid: (name, autojoin, nick, password)},
    and the other children of <storage/>."""
    r = await c.query(None, f"<query xmlns='{NS_PRIVATE}'><storage xmlns='{NS_LEGACY}'/></query>")
    assert r["type"] == "result", r
    st = r.xml.find(f"{{{NS_PRIVATE}}}query/{{{NS_LEGACY}}}storage")
    confs = {}
    for conf in st.findall(f"{{{NS_LEGACY}}}conference"):
        confs[conf.get("jid")] = (conf.get("name"), conf.get("autojoin"),
                                  conf.findtext(f"{{{NS_LEGACY}}}nick"), conf.findtext(f"{{{NS_LEGACY}}}password"))
    others = [ch.tag for ch in st if ch.tag != f"{{{NS_LEGACY}}}conference"]
    return confs, others


async def legacy_set(c, inner: str):
    return await c.query(None, f"<query xmlns='{NS_PRIVATE}'><storage xmlns='{NS_LEGACY}'>{inner}</storage></query>", "set")


def legacy_conf(jid: str, name: str, autojoin: str = "true", nick: str | None = None) -> str:
    n = f"<nick>{nick}</nick>" if nick else ""
    return f"<conference jid='{jid}' name='{name}' autojoin='{autojoin}'>{n}</conference>"


async def native(c) -> dict[str, tuple]:
    """The XEP-0402 node as Converse reads it: {id: (name, autojoin, nick, extensions)}."""
    r = await items(c, None, NS_BOOKMARKS)
    if r["type"] == "error":
        assert condition(r) == "item-not-found", r
        return {}
    out = {}
    for it in r.xml.iter(f"{{{NS_PUBSUB}}}item"):
        conf = it.find(f"{{{NS_BOOKMARKS}}}conference")
        ext = conf.find(f"{{{NS_BOOKMARKS}}}extensions")
        out[it.get("id")] = (conf.get("name"), conf.get("autojoin") in ("true", "1"),
                             conf.findtext(f"{{{NS_BOOKMARKS}}}nick"),
                             None if ext is None else [e.tag for e in ext])
    return out


async def with_bookmark_notify(c) -> None:
    """A XEP-0402 client: its caps say urn:xmpp:bookmarks:1+notify (as Converse's)."""
    c.xmpp.plugin["xep_0030"].add_feature(f"{NS_BOOKMARKS}+notify")
    await c.xmpp.plugin["xep_0115"].update_caps(broadcast=False)
    mark = c.mark()
    c.send_presence()
    await ping(c)
    if c.matching(lambda st: st.xml.tag == "{jabber:client}iq" and st.xml.get("type") == "get"
                  and st.xml.find(f"{{{NS_DISCO_INFO}}}query") is not None, mark):
        await asyncio.sleep(0.3)
        await ping(c)


async def test_bookmarks_published_over_pep_are_read_from_private_storage_and_back(server, make_user, clients):
    A = make_user("compat")
    converse = await clients.login(A, "converse", plugins=PEP_PLUGINS)
    await with_bookmark_notify(converse)
    gajim = await clients.login(A, "gajim")
    # The account says both are one list (what Converse and Gajim read).
    info = await gajim.query(gajim.bare, f"<query xmlns='{NS_DISCO_INFO}'/>")
    assert COMPAT in {f.get("var") for f in info.xml.iter(f"{{{NS_DISCO_INFO}}}feature")}
    assert await legacy_get(gajim) == ({}, [])

    # PEP -> private storage.
    r = await publish(converse, NS_BOOKMARKS, "classe@conference.localhost",
                      f"<conference xmlns='{NS_BOOKMARKS}' name='La classe' autojoin='true'><nick>Anna</nick>"
                      f"<extensions><state xmlns='urn:example:client' minimized='true'/></extensions></conference>",
                      BOOKMARK_OPTIONS)
    assert r["type"] == "result", r
    r = await publish(converse, NS_BOOKMARKS, "club@conference.localhost",
                      f"<conference xmlns='{NS_BOOKMARKS}' name='Club'/>", BOOKMARK_OPTIONS)
    assert r["type"] == "result", r
    confs, _ = await legacy_get(gajim)
    assert confs == {"classe@conference.localhost": ("La classe", "true", "Anna", None),
                     "club@conference.localhost": ("Club", "false", None, None)}
    r = await converse.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><retract node='{NS_BOOKMARKS}' notify='true'>"
                                   f"<item id='club@conference.localhost'/></retract></pubsub>", "set")
    assert r["type"] == "result", r
    assert set((await legacy_get(gajim))[0]) == {"classe@conference.localhost"}

    # Private storage -> PEP: Gajim stores its whole list, with a URL bookmark; the
    # XEP-0402 client is told of what changed, and only of that.
    m = converse.mark()
    r = await legacy_set(gajim, legacy_conf("classe@conference.localhost", "La classe", "true", "Anna")
                         + legacy_conf("Sortie@Conference.localhost", "Sortie au musée", "1", "Anna M.")
                         + "<url name='ENT' url='https://ent.example'/>")
    assert r["type"] == "result", r
    await converse.wait_for(is_event(converse.bare, NS_BOOKMARKS, "item", "sortie@conference.localhost"), start=m)
    await converse.expect_none(is_event(converse.bare, NS_BOOKMARKS, "item", "classe@conference.localhost"),
                               0.5, "an event for an unchanged bookmark", m)
    assert await native(converse) == {
        # The client's extensions are kept: XEP-0048 has no place for them.
        "classe@conference.localhost": ("La classe", True, "Anna", ["{urn:example:client}state"]),
        "sortie@conference.localhost": ("Sortie au musée", True, "Anna M.", None),
    }
    # A fresh XEP-0048 device reads the same list, its URL bookmark included.
    gajim2 = await clients.login(A, "gajim-laptop")
    confs, others = await legacy_get(gajim2)
    assert set(confs) == {"classe@conference.localhost", "sortie@conference.localhost"}
    assert others == [f"{{{NS_LEGACY}}}url"]
    # Renaming one and dropping the other: one item event and one retraction.
    m = converse.mark()
    r = await legacy_set(gajim, legacy_conf("sortie@conference.localhost", "Sortie au Louvre", "false"))
    assert r["type"] == "result", r
    await converse.wait_for(is_event(converse.bare, NS_BOOKMARKS, "retract", "classe@conference.localhost"), start=m)
    await converse.wait_for(is_event(converse.bare, NS_BOOKMARKS, "item", "sortie@conference.localhost"), start=m)
    assert await native(converse) == {"sortie@conference.localhost": ("Sortie au Louvre", False, None, None)}
    assert (await legacy_get(gajim2))[1] == [], "the URL bookmark went with the list that left it out"
    # The list stays the account's own.
    B = make_user("compatother")
    other = await clients.login(B, "r")
    r = await other.query(A.jid, f"<query xmlns='{NS_PRIVATE}'><storage xmlns='{NS_LEGACY}'/></query>")
    assert condition(r) == "forbidden"
    assert condition(await items(other, A.jid, NS_BOOKMARKS)) == "item-not-found"
    assert await legacy_get(other) == ({}, [])


async def test_bookmarks_in_private_storage_keep_the_nodes_limits_and_refuse_bad_lists(make_server):
    from clients import Client
    srv = make_server(extra_toml="[pep]\nmax_items_per_node = 3\nmax_item_bytes = 400\n")
    acc = srv.new_account("compatlim")
    c = await Client.login(srv, acc, "r")
    try:
        three = "".join(legacy_conf(f"salle{i}@conference.{srv.domain}", f"Salle {i}") for i in range(3))
        r = await legacy_set(c, three)
        assert r["type"] == "result", r
        # A fourth is past the node's bound: refused with a text, nothing changed.
        r = await legacy_set(c, three + legacy_conf(f"salle3@conference.{srv.domain}", "Salle 3")
                             + "<url name='x' url='https://x.example'/>")
        assert condition(r) == "not-acceptable"
        assert "3" in texts(r)["en"] and texts(r)["fr"]
        confs, others = await legacy_get(c)
        assert len(confs) == 3 and others == []
        assert len(await native(c)) == 3
        # A bookmark past the item size, a room address that is not one, a bad autojoin,
        # the same room twice: refused, with a text, nothing changed.
        for inner, cond in (
            (legacy_conf(f"long@conference.{srv.domain}", "N" * 500), "not-acceptable"),
            (legacy_conf("a@b@c", "Bad"), "bad-request"),
            (legacy_conf(f"x@conference.{srv.domain}", "X", "peut-être"), "bad-request"),
            (legacy_conf(f"x@conference.{srv.domain}", "X") * 2, "bad-request"),
        ):
            r = await legacy_set(c, inner)
            assert condition(r) == cond, (inner, r)
            assert texts(r).get("fr") and texts(r).get("en"), r
        assert len((await legacy_get(c))[0]) == 3
    finally:
        await c.disconnect()


async def test_bookmarks_kept_in_private_storage_before_the_mirror_move_to_the_node(make_server):
    import sqlite3
    import time
    from clients import Client
    srv = make_server()
    acc = srv.new_account("compatold")
    srv.stop()
    # What a Gajim 1.7 user stored before: XEP-0048 conferences in private storage.
    old = (f"<storage xmlns='{NS_LEGACY}'>{legacy_conf('ancienne@conference.localhost', 'Ancienne', 'true', 'Léa')}"
           "<url name='ENT' url='https://ent.example'/></storage>")
    db = sqlite3.connect(srv.db_path)
    db.execute("INSERT INTO private_xml (account_id, name, namespace, xml, bytes, updated_ms) "
               "SELECT id, 'storage', ?, ?, ?, ? FROM accounts WHERE username = ?",
               (NS_LEGACY, old, len(old.encode()), int(time.time() * 1000), acc.user))
    db.commit()
    assert db.total_changes == 1
    db.close()
    srv.start()
    c = await Client.login(srv, acc, "converse")
    try:
        # A XEP-0402 client finds it; the XEP-0048 view is unchanged.
        assert await native(c) == {"ancienne@conference.localhost": ("Ancienne", True, "Léa", None)}
        confs, others = await legacy_get(c)
        assert confs == {"ancienne@conference.localhost": ("Ancienne", "true", "Léa", None)}
        assert others == [f"{{{NS_LEGACY}}}url"]
        # Retracted over PEP, it is gone from both (it does not come back from the old copy).
        r = await c.query(None, f"<pubsub xmlns='{NS_PUBSUB}'><retract node='{NS_BOOKMARKS}'>"
                                f"<item id='ancienne@conference.localhost'/></retract></pubsub>", "set")
        assert r["type"] == "result", r
        assert await native(c) == {}
        assert (await legacy_get(c))[0] == {}
    finally:
        await c.disconnect()
