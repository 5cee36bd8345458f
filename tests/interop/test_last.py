"""XEP-0012 last activity: the server's uptime, a contact's last logout (only for who sees
his presence), a full JID's answer from the resource itself."""

from __future__ import annotations

import asyncio

from clients import DEFAULT_PLUGINS, befriend, stanza_error

NS_LAST = "jabber:iq:last"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


def seconds(reply) -> int:
    q = reply.xml.find(f"{{{NS_LAST}}}query")
    assert q is not None, reply
    return int(q.get("seconds"))


async def test_uptime_and_a_contacts_last_logout(server, make_user, clients):
    A, B, C = make_user("lea"), make_user("hugo"), make_user("eve")
    a = await clients.login(A, "pc")
    b = await clients.login(B, "b")
    c = await clients.login(C, "c")
    disco = await a.query(server.domain, f"<query xmlns='{NS_DISCO_INFO}'/>")
    assert NS_LAST in {f.get("var") for f in disco.xml.iter(f"{{{NS_DISCO_INFO}}}feature")}

    up = await a.query(server.domain, f"<query xmlns='{NS_LAST}'/>")
    assert up["type"] == "result" and seconds(up) >= 0

    await befriend(a, b)
    # Online: 0 seconds.
    online = await a.query(B.jid, f"<query xmlns='{NS_LAST}'/>")
    assert online["type"] == "result" and seconds(online) == 0, online
    # After his logout: the seconds since, and his last status.
    b.send_presence(status="À demain")
    await a.wait_presence(frm=b.full, pred=lambda p: p["status"] == "À demain")
    await b.disconnect()
    await a.wait_presence(frm=b.full, ptype="unavailable")
    await asyncio.sleep(1.2)
    last = await a.query(B.jid, f"<query xmlns='{NS_LAST}'/>")
    assert last["type"] == "result", last
    assert 1 <= seconds(last) <= 30
    assert last.xml.find(f"{{{NS_LAST}}}query").text == "À demain"
    # Someone who does not see his presence gets forbidden, with a text.
    nope = await c.query(B.jid, f"<query xmlns='{NS_LAST}'/>")
    assert stanza_error(nope) == "forbidden"
    assert nope["error"]["text"]
    # One's own is always readable.
    own = await a.query(A.jid, f"<query xmlns='{NS_LAST}'/>")
    assert own["type"] == "result" and seconds(own) == 0


async def test_a_full_jid_answers_for_itself(server, make_user, clients):
    A, B = make_user("lea"), make_user("hugo")
    a = await clients.login(A, "pc", plugins=DEFAULT_PLUGINS + ("xep_0012",))
    b = await clients.login(B, "b", plugins=DEFAULT_PLUGINS + ("xep_0012",))
    await befriend(a, b)
    reply = await a.query(b.full, f"<query xmlns='{NS_LAST}'/>")
    # Forwarded to the resource, whose client answers itself (slixmpp's plugin, without
    # an idle time set, answers service-unavailable): the answer comes from the full JID.
    assert str(reply["from"]) == b.full, reply
    b.xmpp.plugin["xep_0012"].set_last_activity(seconds=42, status="en cours")
    reply = await a.query(b.full, f"<query xmlns='{NS_LAST}'/>")
    assert str(reply["from"]) == b.full, reply
    if reply["type"] == "result":
        assert seconds(reply) >= 42
