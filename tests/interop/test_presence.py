"""Presence broadcast, probes, directed presence (RFC 6121 §4)."""

from __future__ import annotations

import asyncio

import pytest
from slixmpp.stanza import Presence

import raw
from clients import Client, befriend


async def _one_way(watcher: Client, target: Client) -> None:
    """``watcher`` gets subscribed to ``target``'s presence (watcher 'to', target 'from')."""
    mw, mt = watcher.mark(), target.mark()
    watcher.subscribe(target.bare)
    await target.wait_presence(frm=watcher.bare, ptype="subscribe", start=mt)
    target.send_presence(to=watcher.bare, ptype="subscribed")
    await watcher.wait_roster_push(target.bare, lambda i: i["subscription"] == "to", start=mw)
    await target.wait_roster_push(watcher.bare, lambda i: i["subscription"] == "from", start=mt)


async def test_initial_presence_broadcast_to_subscribers(server, make_user, clients):
    A, B, C, D = (make_user(p) for p in ("alice", "bob", "carol", "dave"))
    a1 = await clients.login(A, "first")
    b = await clients.login(B, "b")
    c = await clients.login(C, "c")
    d = await clients.login(D, "d")
    await befriend(a1, b)          # A's item for B: both
    await _one_way(c, a1)          # A's item for C: from
    await d.set_roster_item(A.jid, name="A (unsubscribed)")  # D knows A, no subscription

    mb, mc, md = b.mark(), c.mark(), d.mark()
    a2 = await clients.login(A, "second", presence=False)
    a2.send_presence(status="second is here")
    for watcher, m in ((b, mb), (c, mc)):
        p = await watcher.wait_presence(frm=a2.full, ptype="available", start=m)
        assert p["status"] == "second is here"
    await d.expect_none(lambda s: isinstance(s, Presence) and str(s["from"]) == a2.full, 0.8,
                        "presence from a user it is not subscribed to", start=md)
    # A's other resource also learns about the new one (RFC 6121 §4.2.2)
    await a1.wait_presence(frm=a2.full, ptype="available")


async def test_contact_logging_in_later_receives_presence(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    await befriend(a, b)
    await b.disconnect()
    a.send_presence(show="away", status="probe me")
    await asyncio.sleep(0.2)

    b2 = await clients.login(B, "b2")  # initial presence -> server probes A
    # the latest presence of A, not an older one
    p = await b2.wait_presence(frm=a.full, pred=lambda s: s["status"] == "probe me")
    assert p["show"] == "away"
    # and A learns that B is back
    await a.wait_presence(frm=b2.full, ptype="available")


@pytest.mark.parametrize("show", ["away", "dnd", "xa", "chat"])
async def test_show_and_status_reach_contact(server, make_user, clients, show):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    await befriend(a, b)
    mb = b.mark()
    text = f"status for {show}: Très occupé 📚"
    a.send_presence(show=show, status=text, priority=5)
    p = await b.wait_presence(frm=a.full, start=mb, pred=lambda s: s["status"] == text)
    assert p["show"] == show
    assert p.xml.get("type") is None
    assert p["priority"] == 5


async def test_unavailable_on_clean_disconnect(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    await befriend(a, b)
    full = a.full
    mb = b.mark()
    await a.disconnect()  # </stream:stream>, no explicit unavailable presence
    await b.wait_presence(frm=full, ptype="unavailable", start=mb)


async def test_unavailable_on_dropped_connection(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    await befriend(a, b)
    r = await asyncio.to_thread(raw.login_server, server, A, "dropped")
    mb = b.mark()
    await asyncio.to_thread(r.presence, "<status>raw here</status>")
    await b.wait_presence(frm=r.jid, ptype="available", start=mb)
    r.abort()  # TCP reset, no stream close
    await b.wait_presence(frm=r.jid, ptype="unavailable", start=mb)


async def test_explicit_unavailable_broadcast(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    await befriend(a, b)
    mb = b.mark()
    a.send_presence(ptype="unavailable", status="gone for lunch")
    p = await b.wait_presence(frm=a.full, ptype="unavailable", start=mb)
    assert p["status"] == "gone for lunch"


async def test_directed_presence_to_non_subscriber(server, make_user, clients):
    A, C = make_user("alice"), make_user("carol")
    a = await clients.login(A, "a")
    c = await clients.login(C, "c")
    mc = c.mark()
    a.send_presence(to=c.full, status="just for you")
    p = await c.wait_presence(frm=a.full, ptype="available", start=mc)
    assert str(p["from"]) == a.full
    assert p["status"] == "just for you"
