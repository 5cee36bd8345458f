"""Roster pushes reach every resource that has a roster, and roster versioning (RFC 6121
§2.6) answers an up-to-date client with an empty result followed by pushes."""

from __future__ import annotations



import raw
from clients import barrier

NS_ROSTER = "jabber:iq:roster"
NS_ROSTERVER = "urn:xmpp:features:rosterver"


async def test_a_resource_that_kept_its_roster_gets_the_push(server, make_user, clients):
    """A web client reloaded (Converse restores its roster from its cache and does not ask
    again) still sees the change another resource makes."""
    A, B = make_user("lea"), make_user("hugo")
    pc = await clients.login(A, "pc")
    reloaded = await clients.login(A, "web", roster=False)  # presence, no roster get
    bot = await clients.login(A, "bot", roster=False, presence=False)
    m_web, m_bot = reloaded.mark(), bot.mark()
    assert (await pc.set_roster_item(B.jid, name="Hugo"))["type"] == "result"
    item = await reloaded.wait_roster_push(B.jid, lambda i: i["name"] == "Hugo", start=m_web)
    assert item["subscription"] == "none"
    await barrier(pc, bot)
    assert not bot.roster_pushes(m_bot), "no push to a resource with neither roster nor presence"


def set_and_push(setter: raw.RawClient, watcher: raw.RawClient, item: str):
    """``setter`` sets a roster item; returns the push ``watcher`` gets (when they are the
    same client, the push may come before the result: both are read)."""
    rid = setter.new_id()
    setter.send(f"<iq type='set' id='{rid}'><query xmlns='{NS_ROSTER}'>{item}</query></iq>")
    push = None
    got_result = setter is not watcher
    while push is None or not got_result:
        el = watcher.recv()
        if el.tag == raw.IQ and el.get("id") == rid:
            assert el.get("type") == "result", raw.tostring(el)
            got_result = True
        elif el.tag == raw.IQ and el.get("type") == "set" and el.find(f"{{{NS_ROSTER}}}query") is not None:
            push = el
            watcher.send(f"<iq type='result' id='{el.get('id')}'/>")
    if setter is not watcher:
        setter.wait_for(lambda e: e.tag == raw.IQ and e.get("id") == rid, what="roster set result")
    return push


def roster_get(c: raw.RawClient, ver: str | None):
    v = "" if ver is None else f" ver='{ver}'"
    reply = c.iq(f"<query xmlns='{NS_ROSTER}'{v}/>")
    assert reply.get("type") == "result", raw.tostring(reply)
    return reply.find(f"{{{NS_ROSTER}}}query")


async def test_roster_versioning(server, make_user):
    A, B, C = make_user("lea"), make_user("hugo"), make_user("zoe")
    c = raw.login_server(server, A, "v1")
    try:
        assert c.features.find(f"{{{NS_ROSTERVER}}}ver") is not None, raw.tostring(c.features)
        q = roster_get(c, "")
        assert q is not None and q.get("ver"), "an empty ver asks for the whole roster with its version"
        v0 = q.get("ver")
        # Up to date: an empty result.
        assert roster_get(c, v0) is None
        # A change: the push carries the new version, and the old one gets the whole roster.
        push = set_and_push(c, c, f"<item jid='{B.jid}' name='Hugo'/>")
        v1 = push.find(f"{{{NS_ROSTER}}}query").get("ver")
        assert v1 and v1 != v0
        q = roster_get(c, v0)
        assert q is not None and q.get("ver") == v1
        assert [i.get("jid") for i in q] == [B.jid]
        assert roster_get(c, v1) is None
        # Without ver: the whole roster, as before.
        q = roster_get(c, None)
        assert [i.get("jid") for i in q] == [B.jid]
    finally:
        c.close()
    # A reconnecting client with the current version: empty result, then pushes.
    c2 = raw.login_server(server, A, "v2")
    other = raw.login_server(server, A, "v3")
    try:
        assert roster_get(c2, v1) is None
        push = set_and_push(other, c2, f"<item jid='{C.jid}'/>")
        assert push.find(f"{{{NS_ROSTER}}}query/{{{NS_ROSTER}}}item").get("jid") == C.jid
        assert push.find(f"{{{NS_ROSTER}}}query").get("ver") not in (None, v1)
    finally:
        c2.close()
        other.close()



async def test_an_up_to_date_phone_still_gets_and_sends_presence(server, make_user, clients):
    """A phone that comes back with the version it kept gets an empty roster result; its
    initial presence still goes to its contacts (the server read the roster even though
    the client did not get it) and its contacts' presences come to it."""
    from clients import befriend

    A, B = make_user("lea"), make_user("hugo")
    a, b = await clients.login(A, "pc"), await clients.login(B, "pc")
    await befriend(a, b)
    first = raw.login_server(server, A, "phone")
    try:
        v = roster_get(first, "").get("ver")
    finally:
        first.close()
    phone = raw.login_server(server, A, "phone")
    try:
        assert roster_get(phone, v) is None, "up to date: an empty result"
        mb = b.mark()
        phone.presence("<status>de retour</status>")
        await b.wait_presence(frm=f"{A.jid}/phone", start=mb)
        got = phone.wait_for(
            lambda e: e.tag == raw.PRESENCE and (e.get("from") or "").startswith(f"{B.jid}/"),
            what="the contact's presence",
        )
        assert got.get("type") is None, raw.tostring(got)
    finally:
        phone.close()
