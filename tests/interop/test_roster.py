"""Roster management and presence subscriptions (RFC 6121 §2, §3)."""

from __future__ import annotations

from slixmpp.stanza import Presence

from clients import Client, befriend, is_sub


async def test_new_account_has_empty_roster(server, make_user, clients):
    alice = make_user("alice")
    c = await clients.login(alice, "r", roster=False)
    assert await c.get_roster() == {}


async def test_roster_set_update_remove_pushed_to_all_resources(server, make_user, clients):
    alice, bob = make_user("alice"), make_user("bob")
    r1 = await clients.login(alice, "one")
    r2 = await clients.login(alice, "two")

    # add
    m1, m2 = r1.mark(), r2.mark()
    reply = await r1.set_roster_item(bob.jid, name="Bob", groups=["Friends", "School"])
    assert reply["type"] == "result", reply
    for r, m in ((r1, m1), (r2, m2)):
        item = await r.wait_roster_push(bob.jid, start=m)
        assert item["name"] == "Bob"
        assert item["groups"] == ["Friends", "School"]
        assert is_sub(item, "none"), item
    roster = await r2.get_roster()
    assert set(roster) == {bob.jid}
    assert roster[bob.jid]["name"] == "Bob" and roster[bob.jid]["groups"] == ["Friends", "School"]
    assert is_sub(roster[bob.jid], "none")

    # update (from the other resource)
    m1, m2 = r1.mark(), r2.mark()
    reply = await r2.set_roster_item(bob.jid, name="Bobby", groups=["Teachers"])
    assert reply["type"] == "result", reply
    for r, m in ((r1, m1), (r2, m2)):
        item = await r.wait_roster_push(bob.jid, lambda i: i["groups"] == ["Teachers"], start=m)
        assert item["name"] == "Bobby"
    roster = await r1.get_roster()
    assert roster[bob.jid]["groups"] == ["Teachers"] and roster[bob.jid]["name"] == "Bobby"

    # remove
    m1, m2 = r1.mark(), r2.mark()
    reply = await r1.remove_roster_item(bob.jid)
    assert reply["type"] == "result", reply
    for r, m in ((r1, m1), (r2, m2)):
        item = await r.wait_roster_push(bob.jid, lambda i: i["subscription"] == "remove", start=m)
        assert item["jid"] == bob.jid
    assert await r2.get_roster() == {}


async def test_roster_survives_reconnect(server, make_user, clients):
    alice, bob = make_user("alice"), make_user("bob")
    c = await clients.login(alice, "x")
    assert (await c.set_roster_item(bob.jid, name="B", groups=["G"]))["type"] == "result"
    await c.disconnect()
    c2 = await clients.login(alice, "y")
    roster = await c2.get_roster()
    assert roster[bob.jid]["name"] == "B" and roster[bob.jid]["groups"] == ["G"]


async def test_subscription_state_machine(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")

    # 1. A asks to see B's presence
    ma, mb = a.mark(), b.mark()
    a.subscribe(B.jid)
    p = await b.wait_presence(frm=A.jid, ptype="subscribe", start=mb)
    assert str(p["from"]) == A.jid, "subscription request must come from the bare JID"
    item = await a.wait_roster_push(B.jid, lambda i: i["ask"] == "subscribe", start=ma)
    assert is_sub(item, "none", "subscribe"), item
    assert is_sub((await a.get_roster())[B.jid], "none", "subscribe")

    # 2. B approves
    ma, mb = a.mark(), b.mark()
    b.send_presence(to=A.jid, ptype="subscribed")
    item = await a.wait_roster_push(B.jid, lambda i: i["subscription"] == "to", start=ma)
    assert item["ask"] is None, item
    p = await a.wait_presence(frm=B.jid, ptype="subscribed", start=ma)
    assert str(p["from"]) == B.jid
    # ... and A now receives B's current presence (RFC 6121 §3.1.5)
    await a.wait_presence(frm=b.full, ptype="available", start=ma)
    item = await b.wait_roster_push(A.jid, lambda i: i["subscription"] == "from", start=mb)
    assert is_sub(item, "from"), item
    assert is_sub((await a.get_roster())[B.jid], "to")
    assert is_sub((await b.get_roster())[A.jid], "from")

    # 3. B subscribes back, A approves -> both
    ma, mb = a.mark(), b.mark()
    b.subscribe(A.jid)
    await a.wait_presence(frm=B.jid, ptype="subscribe", start=ma)
    item = await b.wait_roster_push(A.jid, lambda i: i["ask"] == "subscribe", start=mb)
    assert is_sub(item, "from", "subscribe"), item
    a.send_presence(to=B.jid, ptype="subscribed")
    await a.wait_roster_push(B.jid, lambda i: is_sub(i, "both"), start=ma)
    await b.wait_roster_push(A.jid, lambda i: is_sub(i, "both"), start=mb)
    await b.wait_presence(frm=a.full, ptype="available", start=mb)
    assert is_sub((await a.get_roster())[B.jid], "both")
    assert is_sub((await b.get_roster())[A.jid], "both")

    # 4. A unsubscribes from B's presence: A 'from', B 'to'
    ma, mb = a.mark(), b.mark()
    a.send_presence(to=B.jid, ptype="unsubscribe")
    p = await b.wait_presence(frm=A.jid, ptype="unsubscribe", start=mb)
    assert str(p["from"]) == A.jid
    await a.wait_roster_push(B.jid, lambda i: is_sub(i, "from"), start=ma)
    await b.wait_roster_push(A.jid, lambda i: is_sub(i, "to"), start=mb)
    # B's presence changes no longer reach A; A's still reach B
    ma, mb = a.mark(), b.mark()
    b.send_presence(status="b-after-unsubscribe")
    a.send_presence(status="a-after-unsubscribe")
    await b.wait_presence(frm=a.full, start=mb, pred=lambda s: s["status"] == "a-after-unsubscribe")
    await a.expect_none(lambda s: isinstance(s, Presence) and s["status"] == "b-after-unsubscribe",
                        0.5, "presence from a contact A unsubscribed from", start=ma)

    # 5. A cancels B's subscription to A: both 'none'
    ma, mb = a.mark(), b.mark()
    a.send_presence(to=B.jid, ptype="unsubscribed")
    p = await b.wait_presence(frm=A.jid, ptype="unsubscribed", start=mb)
    assert str(p["from"]) == A.jid
    await a.wait_roster_push(B.jid, lambda i: is_sub(i, "none"), start=ma)
    await b.wait_roster_push(A.jid, lambda i: is_sub(i, "none"), start=mb)
    await b.wait_presence(frm=a.full, ptype="unavailable", start=mb)
    assert is_sub((await a.get_roster())[B.jid], "none")
    assert is_sub((await b.get_roster())[A.jid], "none")

    # and presence no longer flows either way
    ma, mb = a.mark(), b.mark()
    a.send_presence(status="after-unsubscribe-a")
    b.send_presence(status="after-unsubscribe-b")
    await a.expect_none(lambda s: isinstance(s, Presence) and s["status"] == "after-unsubscribe-b",
                        1.0, "presence from an unsubscribed contact", start=ma)
    assert not b.matching(lambda s: isinstance(s, Presence) and s["status"] == "after-unsubscribe-a", mb)


async def test_subscription_preapproval(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    assert "preapproval" in b.xmpp.features, "server does not advertise <sub xmlns='urn:xmpp:features:pre-approval'/>"

    # B pre-approves A before A asks (RFC 6121 §3.4)
    mb = b.mark()
    b.send_presence(to=A.jid, ptype="subscribed")
    preapproved_push = await b.wait_roster_push(A.jid, start=mb)
    assert is_sub(preapproved_push, "none"), preapproved_push
    preapproved_get = (await b.get_roster())[A.jid]

    # A asks: approved automatically, B is not asked
    ma, mb = a.mark(), b.mark()
    a.subscribe(B.jid)
    await a.wait_presence(frm=B.jid, ptype="subscribed", start=ma)
    await a.wait_roster_push(B.jid, lambda i: is_sub(i, "to"), start=ma)
    await b.wait_roster_push(A.jid, lambda i: is_sub(i, "from"), start=mb)
    await a.wait_presence(frm=b.full, ptype="available", start=ma)
    await b.expect_none(lambda s: isinstance(s, Presence) and s.xml.get("type") == "subscribe",
                        0.8, "a subscription request despite pre-approval", start=mb)
    assert (await b.get_roster())[A.jid]["approved"] in (None, "false")
    assert is_sub((await a.get_roster())[B.jid], "to")
    # checked last so that the flow above is exercised even if this fails
    assert preapproved_push["approved"] == "true", f"pre-approval push lacks approved='true': {preapproved_push}"
    assert preapproved_get["approved"] == "true", f"roster get lacks approved='true': {preapproved_get}"


async def test_subscription_request_to_offline_contact_is_delivered_later(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    b = await Client.login(server, B, "b")
    await b.disconnect()

    a = await clients.login(A, "a")
    ma = a.mark()
    a.subscribe(B.jid)
    await a.wait_roster_push(B.jid, lambda i: is_sub(i, "none", "subscribe"), start=ma)

    b = await clients.login(B, "b")  # roster get + initial presence
    p = await b.wait_presence(frm=A.jid, ptype="subscribe")
    assert str(p["from"]) == A.jid
    # and it can be approved now
    b.send_presence(to=A.jid, ptype="subscribed")
    await a.wait_roster_push(B.jid, lambda i: is_sub(i, "to"), start=ma)


async def test_removing_mutual_contact_cancels_both_directions(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    await befriend(a, b)

    ma, mb = a.mark(), b.mark()
    reply = await a.remove_roster_item(B.jid)
    assert reply["type"] == "result", reply
    await a.wait_roster_push(B.jid, lambda i: i["subscription"] == "remove", start=ma)
    p1 = await b.wait_presence(frm=A.jid, ptype="unsubscribe", start=mb)
    p2 = await b.wait_presence(frm=A.jid, ptype="unsubscribed", start=mb)
    assert str(p1["from"]) == A.jid and str(p2["from"]) == A.jid
    await b.wait_roster_push(A.jid, lambda i: is_sub(i, "none"), start=mb)
    await b.wait_presence(frm=a.full, ptype="unavailable", start=mb)
    assert B.jid not in await a.get_roster()
    assert is_sub((await b.get_roster())[A.jid], "none")
