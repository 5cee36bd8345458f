"""Message routing (RFC 6121 §5, §8), offline storage (XEP-0160/0203)."""

from __future__ import annotations

import asyncio
import datetime
import secrets

from slixmpp.stanza import Message

from clients import Client, stanza_error

NS_DELAY = "urn:xmpp:delay"


def _is_body(body):
    return lambda s: isinstance(s, Message) and s["body"] == body


async def test_message_to_bare_jid(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b1 = await clients.login(B, "one")
    b2 = await clients.login(B, "two")
    body = "to the bare JID " + secrets.token_hex(3)
    a.send_message(B.jid, body)
    # RFC 6121 §8.5.2.1.1: delivered to at least one available resource
    # (one with the highest priority, or all non-negative ones)
    deadline = asyncio.get_running_loop().time() + 8
    while not (b1.matching(_is_body(body)) or b2.matching(_is_body(body))):
        assert asyncio.get_running_loop().time() < deadline, \
            f"no resource got a message sent to the bare JID: {b1.summary()} {b2.summary()}"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # let duplicates, if any, arrive
    got = b1.matching(_is_body(body)) + b2.matching(_is_body(body))
    assert got, "no resource got the message"
    for c in (b1, b2):
        assert len(c.matching(_is_body(body))) <= 1, f"{c.full} got the message twice"
    for m in got:
        assert str(m["from"]) == a.full
        assert m["type"] == "chat"


async def test_message_to_full_jid_only_reaches_that_resource(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b1 = await clients.login(B, "one")
    b2 = await clients.login(B, "two")
    body = "only for two " + secrets.token_hex(3)
    a.send_message(b2.full, body)
    m = await b2.wait_message(body=body)
    assert str(m["from"]) == a.full
    assert str(m["to"]) == b2.full
    await b1.expect_none(_is_body(body), 0.8, "a message addressed to another resource")


async def test_message_to_offline_user_is_delivered_at_login_with_delay(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    b = await Client.login(server, B, "b")
    await b.disconnect()
    a = await clients.login(A, "a")
    bodies = [f"offline #{i} {secrets.token_hex(2)}" for i in range(3)]
    before = datetime.datetime.now(datetime.timezone.utc)
    for body in bodies:
        a.send_message(B.jid, body)
    # make sure the server has processed them before B comes back
    await a.xmpp.plugin["xep_0199"].send_ping(server.domain, timeout=5)
    after = datetime.datetime.now(datetime.timezone.utc)

    b = await clients.login(B, "b")  # roster + initial presence -> offline messages flushed
    got = await b.wait_all(lambda s: isinstance(s, Message) and s["body"] in bodies, 3, what="offline messages")
    assert [m["body"] for m in got] == bodies, "offline messages out of order"
    for m in got:
        assert m["from"].bare == A.jid
        delay = m.xml.find(f"{{{NS_DELAY}}}delay")
        assert delay is not None, f"no XEP-0203 <delay/> on an offline message: {m}"
        assert delay.get("from") == server.domain, f"delay from={delay.get('from')!r}"
        stamp = delay.get("stamp")
        assert stamp and stamp.endswith("Z"), f"delay stamp {stamp!r} is not UTC"
        when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        slack = datetime.timedelta(seconds=2)
        assert before - slack <= when <= after + slack, f"stamp {stamp} not between {before} and {after}"
    # delivered once: not again on the next login
    await b.disconnect()
    b2 = await clients.login(B, "b2")
    await b2.expect_none(lambda s: isinstance(s, Message) and s["body"] in bodies, 0.8,
                         "offline messages delivered twice")


async def test_message_to_nonexistent_user_returns_error(server, make_user, clients):
    A = make_user("alice")
    a = await clients.login(A, "a")
    ghost = f"ghost{secrets.token_hex(4)}@{server.domain}"
    a.send_message(ghost, "anyone there?", mid="ghost-msg-1")
    err = await a.wait_for(lambda s: isinstance(s, Message) and s["id"] == "ghost-msg-1" and s["type"] == "error",
                           what="error reply")
    assert stanza_error(err) in ("service-unavailable", "item-not-found"), err
    assert err["from"].bare == ghost


async def test_message_to_remote_domain_returns_remote_server_not_found(server, make_user, clients):
    A = make_user("alice")
    a = await clients.login(A, "a")
    a.send_message("x@example.org", "hello remote", mid="remote-msg-1")
    err = await a.wait_for(lambda s: isinstance(s, Message) and s["id"] == "remote-msg-1" and s["type"] == "error",
                           what="error reply")
    assert stanza_error(err) == "remote-server-not-found", err


async def test_unicode_body_intact(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    body = ("Élève: «ça marche» ✓ — 日本語のテキスト — emoji 🎉👩🏽‍🏫🇫🇷 — "
            "math ∑∞ — <tags> & 'quotes' \"double\" — RTL עברית — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")
    a.send_message(b.full, body)
    m = await b.wait_message(frm=a.full)
    assert m["body"] == body


async def test_message_between_resources_of_same_account(server, make_user, clients):
    A = make_user("alice")
    a1 = await clients.login(A, "one")
    a2 = await clients.login(A, "two")
    a1.send_message(a2.full, "note to self")
    m = await a2.wait_message(body="note to self")
    assert str(m["from"]) == a1.full
