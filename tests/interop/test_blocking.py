"""XEP-0191 blocking: what a user observes when he blocks someone, and what the blocked
one observes (nothing that tells him, but nothing gets through)."""

from __future__ import annotations

from slixmpp.stanza import Iq, Message, Presence

import raw
from clients import Client, barrier, befriend, stanza_error
from test_muc import create, from_room_with, invite, login as muc_login, new_room

NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


async def blocklist(c: Client) -> list[str]:
    reply = await c.query(None, f"<blocklist xmlns='{NS_BLOCKING}'/>")
    assert reply["type"] == "result", reply
    return sorted(i.get("jid") for i in reply.xml.findall(f"{{{NS_BLOCKING}}}blocklist/{{{NS_BLOCKING}}}item"))


async def block(c: Client, *jids: str, what: str = "block") -> Iq:
    items = "".join(f"<item jid='{j}'/>" for j in jids)
    return await c.query(None, f"<{what} xmlns='{NS_BLOCKING}'>{items}</{what}>", "set")


def pushes(c: Client, what: str, start: int = 0) -> list:
    return c.matching(lambda s: isinstance(s, Iq) and s["type"] == "set"
                      and s.xml.find(f"{{{NS_BLOCKING}}}{what}") is not None, start)


async def test_blocking_is_advertised(server, make_user, clients):
    a = await clients.login(make_user("disco"))
    reply = await a.query(server.domain, f"<query xmlns='{NS_DISCO_INFO}'/>")
    features = {f.get("var") for f in reply.xml.findall(f"{{{NS_DISCO_INFO}}}query/{{{NS_DISCO_INFO}}}feature")}
    assert NS_BLOCKING in features


async def test_a_blocked_contact_cannot_reach_the_blocker_until_unblocked(server, make_user, clients):
    A, B = make_user("lea"), make_user("hugo")
    a = await clients.login(A, "pc")
    a_phone = await clients.login(A, "phone")
    a_bot = await clients.login(A, "bot", roster=False, presence=False)
    b = await clients.login(B, "b")
    await befriend(a, b)
    assert await blocklist(a) == []
    assert await blocklist(a_phone) == []

    # Lea blocks Hugo: her resources that read the list are told, she sees him offline.
    m_pc, m_phone, m_bot = a.mark(), a_phone.mark(), a_bot.mark()
    assert (await block(a, B.jid))["type"] == "result"
    assert await blocklist(a) == [B.jid]
    push = (await a_phone.wait_for(lambda s: pushes(a_phone, "block", m_phone) != [], what="block push")) and \
        pushes(a_phone, "block", m_phone)[0]
    assert [i.get("jid") for i in push.xml.iter(f"{{{NS_BLOCKING}}}item")] == [B.jid]
    assert pushes(a, "block", m_pc), "the resource that blocked gets the push too"
    await a.wait_presence(frm=b.full, ptype="unavailable", start=m_pc)
    await a_phone.wait_presence(frm=b.full, ptype="unavailable", start=m_phone)
    await barrier(a, a_bot)
    assert not pushes(a_bot, "block", m_bot), "a resource that never asked for the list gets no push"

    # Hugo's message does not arrive; he gets service-unavailable (not told he is blocked).
    ma, mb = a.mark(), b.mark()
    b.send_message(A.jid, "tu es là ?", mid="blocked-1")
    err = await b.wait_for(lambda s: isinstance(s, Message) and s["id"] == "blocked-1"
                           and s["type"] == "error", start=mb)
    assert stanza_error(err) == "service-unavailable"
    assert err.xml.find(f".//{{{NS_BLOCKING_ERRORS}}}blocked") is None
    # His presence does not reach her either.
    b.send_presence(status="coucou")
    await barrier(b, a)
    await a.expect_none(lambda s: isinstance(s, (Message, Presence)) and s["from"].bare == B.jid,
                        0.3, "anything from the blocked contact", start=ma)

    # Lea writing to Hugo is refused: not-acceptable with <blocked/>.
    a.send_message(B.jid, "oups", mid="blocker-1")
    err = await a.wait_for(lambda s: isinstance(s, Message) and s["id"] == "blocker-1"
                           and s["type"] == "error", start=ma)
    assert stanza_error(err) == "not-acceptable"
    assert err.xml.find(f".//{{{NS_BLOCKING_ERRORS}}}blocked") is not None
    await barrier(a, b)
    await b.expect_none(lambda s: isinstance(s, Message) and s["body"] == "oups", 0.2, start=mb)

    # Unblocking restores it all: his presence comes back, messages go again.
    ma, m_phone = a.mark(), a_phone.mark()
    assert (await block(a, B.jid, what="unblock"))["type"] == "result"
    assert await blocklist(a) == []
    await a_phone.wait_for(lambda s: pushes(a_phone, "unblock", m_phone) != [], what="unblock push")
    await a.wait_presence(frm=b.full, ptype="available", start=ma, pred=lambda p: p["status"] == "coucou")
    b.send_message(A.jid, "et maintenant ?")
    await a.wait_message("et maintenant ?", frm=B.jid, start=ma)


async def test_messages_to_an_offline_blocker_are_refused_not_stored(server, make_user, clients):
    A, B = make_user("lea"), make_user("zoe")
    a = await clients.login(A, "pc")
    assert (await block(a, B.jid))["type"] == "result"
    await a.disconnect()
    b = await clients.login(B, "b")
    mb = b.mark()
    b.send_message(A.jid, "message en attente ?", mid="off-1")
    err = await b.wait_for(lambda s: isinstance(s, Message) and s["id"] == "off-1" and s["type"] == "error",
                           start=mb)
    assert stanza_error(err) == "service-unavailable"
    a2 = await clients.login(A, "pc2")
    await barrier(a2)
    await a2.expect_none(lambda s: isinstance(s, Message) and s["body"] == "message en attente ?", 0.3)
    # The list is stored with the account.
    assert await blocklist(a2) == [B.jid]


async def test_unblock_all_and_bad_requests(server, make_user, clients):
    A, B, C = make_user("lea"), make_user("max"), make_user("ines")
    a = await clients.login(A, "pc")
    assert (await block(a, B.jid, C.jid, f"{C.user}@{server.domain}/phone"))["type"] == "result"
    assert await blocklist(a) == sorted([B.jid, C.jid, f"{C.jid}/phone"])
    m = a.mark()
    assert (await a.query(None, f"<unblock xmlns='{NS_BLOCKING}'/>", "set"))["type"] == "result"
    assert await blocklist(a) == []
    push = pushes(a, "unblock", m)[0]
    assert list(push.xml.iter(f"{{{NS_BLOCKING}}}item")) == [], "unblock all is pushed as such"
    # A block without any JID, a malformed JID, a set of the list, oneself: errors with a text.
    for payload, itype, cond in [
        (f"<block xmlns='{NS_BLOCKING}'/>", "set", "bad-request"),
        (f"<block xmlns='{NS_BLOCKING}'><item jid='a@b@c'/></block>", "set", "bad-request"),
        (f"<blocklist xmlns='{NS_BLOCKING}'/>", "set", "bad-request"),
        (f"<block xmlns='{NS_BLOCKING}'><item jid='{A.jid}'/></block>", "set", "not-acceptable"),
    ]:
        reply = await a.query(None, payload, itype)
        assert stanza_error(reply) == cond, (payload, reply)
        assert reply["error"]["text"], f"no text: {reply}"


async def test_blocking_survives_a_restart(make_server):
    srv = make_server()
    A, B = srv.new_account("lea"), srv.new_account("tom")
    a = raw.login_server(srv, A, "pc")
    a.iq(f"<block xmlns='{NS_BLOCKING}'><item jid='{B.jid}'/></block>", "set")
    a.close()
    srv.stop()
    srv.start()
    b = raw.login_server(srv, B, "b")
    b.message(A.jid, "re", id_="after-restart")
    err = b.wait_for(lambda e: e.tag == raw.MESSAGE and e.get("id") == "after-restart")
    assert raw.stanza_error_condition(err) == "service-unavailable"
    b.close()


async def test_a_blocked_user_cannot_invite_the_blocker_to_a_room(server, make_user, clients):
    A, B = make_user("lea"), make_user("sam")
    a = await muc_login(clients, A)
    b = await muc_login(clients, B)
    assert (await block(a, B.jid))["type"] == "result"
    room = new_room(server)
    await create(b, room, "Sam", title="Club")
    ma, mb = a.mark(), b.mark()
    invite(b, room, A.jid)
    err = await b.wait_for(lambda s: isinstance(s, Message) and s["type"] == "error"
                           and s["from"].bare == room, start=mb, what="invitation refused")
    assert stanza_error(err) == "service-unavailable"
    # Nor directly (XEP-0249).
    b.xmpp.send_raw(f"<message to='{A.jid}' id='direct-1'><x xmlns='jabber:x:conference' jid='{room}'/></message>")
    err = await b.wait_for(lambda s: isinstance(s, Message) and s["id"] == "direct-1" and s["type"] == "error",
                           start=mb, what="direct invitation refused")
    assert stanza_error(err) == "service-unavailable"
    await barrier(b, a)
    await a.expect_none(from_room_with(room, "invite"), 0.2, "an invitation from a blocked user", start=ma)
    await a.expect_none(lambda s: isinstance(s, Message) and s.xml.find("{jabber:x:conference}x") is not None,
                        0.1, start=ma)


async def test_an_invitation_kept_offline_is_dropped_once_its_inviter_is_blocked(server, make_user, clients):
    """An invitation waiting while its invitee was away carries its inviter's words: it is
    decided again when handed over, and someone the invitee has blocked meanwhile does
    not reach him through it."""
    A, B = make_user("lea"), make_user("sam")
    b = await muc_login(clients, B)
    room = new_room(server)
    await create(b, room, "Sam", title="Club")
    mb = b.mark()
    invite(b, room, A.jid)  # A is offline: the invitation is kept for her
    await barrier(b)
    assert not b.matching(lambda s: isinstance(s, Message) and s["type"] == "error", mb)
    # A connects without presence (nothing kept is handed over yet), blocks B, then
    # becomes available.
    a = await clients.login(A, "late", presence=False)
    assert (await block(a, B.jid))["type"] == "result"
    ma = a.mark()
    a.send_presence()
    await barrier(a)
    await a.expect_none(from_room_with(room, "invite"), 0.5, "the kept invitation of a blocked inviter",
                        start=ma)
    # Unblocked, a new invitation reaches her.
    assert (await block(a, B.jid, what="unblock"))["type"] == "result"
    ma = a.mark()
    invite(b, room, A.jid)
    await a.wait_for(from_room_with(room, "invite"), start=ma, what="a new invitation")
