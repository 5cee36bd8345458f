"""MUC self-ping (XEP-0410) with the service's optimisation, as a client observes it:
the room answers a ping to one's own occupant JID itself (nothing reaches the
occupant's other clients): a result while that session is in the room with that
nickname, `not-acceptable` (with `by` = the room) once it is not: never joined, left,
removed by the owner, or after a restart of the server; so the client knows to join
again. Pings to another occupant stay refused, as every IQ between occupants.

slixmpp's own XEP-0410 plugin reads the answers (its PingStatus), and its periodic
self-ping reports the removal.
"""

from __future__ import annotations

import asyncio

from slixmpp.plugins.xep_0410 import PingStatus

from clients import Clients
from directory_fixture import error_of
from test_muc import NS_DISCO_INFO, PLUGINS as MUC_PLUGINS, admin, create, disco_info, invite_and_join, join, new_room, send

PLUGINS = MUC_PLUGINS + ("xep_0410",)
PING = "<ping xmlns='urn:xmpp:ping'/>"
SELF_PING_OPT = "http://jabber.org/protocol/muc#self-ping-optimization"


async def login(clients, acct, resource: str = "r"):
    return await clients.login(acct, resource, plugins=PLUGINS)


async def self_ping(c, occupant: str) -> PingStatus:
    return await c.xmpp.plugin["xep_0410"].send_self_ping(occupant, timeout=8)


async def ping(c, occupant: str):
    """The raw answer: (type, condition, error's `by`, from)."""
    reply = await c.query(occupant, PING)
    err = reply.xml.find("{jabber:client}error")
    cond = error_of(reply.xml)[0] if reply["type"] == "error" else None
    return reply["type"], cond, None if err is None else err.get("by"), str(reply["from"])


def is_ping_request(st) -> bool:
    return (st.xml.tag == "{jabber:client}iq" and st.xml.get("type") == "get"
            and st.xml.find("{urn:xmpp:ping}ping") is not None)


async def test_the_room_answers_a_self_ping_while_joined_and_not_acceptable_after(server, make_user, clients):
    A, B, C = make_user("owner"), make_user("bea"), make_user("carl")
    a, b, c = await login(clients, A), await login(clients, B), await login(clients, C)
    room = new_room(server)
    await create(a, room, "Anna", title="Ping")
    await invite_and_join(a, room, b, "Bea")
    me = f"{room}/Bea"
    # The room advertises the optimisation to its occupants.
    info = await disco_info(b, room)
    assert SELF_PING_OPT in {f.get("var") for f in info.xml.iter(f"{{{NS_DISCO_INFO}}}feature")}
    # Joined: an empty result from the occupant JID, by the room itself.
    b2 = await login(clients, B, "phone")  # another device, not in the room
    mb2 = b2.mark()
    assert await ping(b, me) == ("result", None, None, me)
    assert await self_ping(b, me) == PingStatus.JOINED
    # Nothing was relayed to the account's other device.
    await b2.expect_none(is_ping_request, 0.5, "a relayed ping", mb2)
    # That other device is not in the room: not-acceptable, said by the room.
    assert await ping(b2, me) == ("error", "not-acceptable", room, me)
    assert await self_ping(b2, me) == PingStatus.DISCONNECTED
    # Once it joins too (one occupant, two devices), it gets a result as well.
    await join(b2, room, "Bea")
    assert await self_ping(b2, me) == PingStatus.JOINED
    # An outsider learns nothing: the same not-acceptable for a room that exists and
    # one that does not.
    assert await ping(c, me) == ("error", "not-acceptable", room, me)
    nowhere = new_room(server, "nulle")
    assert (await ping(c, f"{nowhere}/Bea"))[:3] == ("error", "not-acceptable", nowhere)
    # Another occupant's JID: still refused as any IQ between occupants (not relayed),
    # and a nickname nobody has is item-not-found; both say the pinger is still in.
    ma = a.mark()
    assert (await ping(b, f"{room}/Anna"))[:3] == ("error", "service-unavailable", room)
    await a.expect_none(is_ping_request, 0.5, "a ping relayed between occupants", ma)
    assert (await ping(b, f"{room}/Personne"))[:3] == ("error", "item-not-found", room)
    assert await self_ping(b, f"{room}/Anna") == PingStatus.JOINED
    # The device that leaves is out; the other is still in.
    send(b2, f"<presence to='{me}' type='unavailable'/>")
    await b2.wait_for(lambda st: st.xml.tag == "{jabber:client}presence" and st.xml.get("type") == "unavailable"
                      and str(st["from"]) == me)
    assert await ping(b2, me) == ("error", "not-acceptable", room, me)
    assert await self_ping(b, me) == PingStatus.JOINED


async def test_a_removed_occupants_periodic_self_ping_tells_his_client_to_rejoin(server, make_user, clients):
    A, B = make_user("owner"), make_user("bea")
    a, b = await login(clients, A), await login(clients, B)
    room = new_room(server)
    await create(a, room, "Anna", title="Ping")
    await invite_and_join(a, room, b, "Bea")
    me = f"{room}/Bea"
    changes: asyncio.Queue = asyncio.Queue()
    b.xmpp.add_event_handler("muc_ping_changed", lambda ev: changes.put_nowait(ev["result"]))
    # The client's own periodic self-ping (slixmpp's plugin), every half second of silence.
    b.xmpp.plugin["xep_0410"].enable_self_ping(me, interval=0.5, timeout=8)
    try:
        assert await asyncio.wait_for(changes.get(), 10) == PingStatus.JOINED
        # The owner removes her: the next self-ping says she is out.
        reply = await admin(a, room, "<item nick='Bea' role='none'/>")
        assert reply["type"] == "result", reply
        assert await asyncio.wait_for(changes.get(), 10) == PingStatus.DISCONNECTED
    finally:
        b.xmpp.plugin["xep_0410"].disable_self_ping(me)
    assert await ping(b, me) == ("error", "not-acceptable", room, me)


async def test_after_a_restart_a_self_ping_says_not_acceptable_until_the_client_joins_again(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    A = srv.add_user("anna", "pw-anna-1")
    B = srv.add_user("bea", "pw-bea-1")
    room = new_room(srv, "club")
    me = f"{room}/Bea"
    cs = Clients(srv)
    try:
        a = await login(cs, A)
        b = await login(cs, B)
        await create(a, room, "Anna", title="Club")
        await invite_and_join(a, room, b, "Bea")
        assert await self_ping(b, me) == PingStatus.JOINED
    finally:
        await cs.close()
    srv.restart()
    cs = Clients(srv)
    try:
        # The same device signs in again (a phone whose connection came back): the room
        # no longer has it, and says so.
        b = await login(cs, B)
        assert await ping(b, me) == ("error", "not-acceptable", room, me)
        assert await self_ping(b, me) == PingStatus.DISCONNECTED
        await join(b, room, "Bea")
        assert await self_ping(b, me) == PingStatus.JOINED
    finally:
        await cs.close()
