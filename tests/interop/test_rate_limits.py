"""Per-account rate limits (issue 16, « Limites »; docs/safety.md): messages a minute,
distinct recipients a minute, contact requests an hour, room creations a day and
invitations to one room an hour, per profile (`[rates.pupils]`, `[rates.adults]`).
Beyond a limit, the sender gets an error (``resource-constraint``, type ``wait``) with
a French text (« tu » for a pupil, « vous » for an adult) and an English one, and the
recipient gets nothing: never a silent drop.  Each test runs its own server with small
limits."""

from __future__ import annotations

from slixmpp.stanza import Message, Presence

from clients import Clients
from directory_fixture import error_of
from gate_fixture import CONTACT_PAIR, S1, make_gate, mutual  # noqa: F401  (pytest fixture)
from test_muc import PLUGINS, create, invite, invited, join, new_room, send

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
QUIET = 0.6


def refusal(st) -> tuple[str, dict[str, str]]:
    """(condition, texts) of an error stanza of type wait."""
    assert st["type"] == "error", st
    err = st.xml.find("{jabber:client}error")
    assert err is not None and err.get("type") == "wait", f"not a wait error: {st}"
    cond, texts = error_of(st.xml)
    return cond, texts


def error_with_id(mid: str):
    return lambda st: st["type"] == "error" and st["id"] == mid


async def test_a_pupil_over_the_message_rate(make_gate):
    g = await make_gate(extra_toml="[rates.pupils]\nmessages_per_minute = 3\n")
    a, b = await g.users(*CONTACT_PAIR)
    await mutual(a, b)
    ma, mb = a.mark(), b.mark()
    sent = [a.send_message(b.bare, f"message {i}")["id"] for i in range(4)]
    for i in range(3):
        await b.wait_message(body=f"message {i}", start=mb)
    err = await a.wait_for(error_with_id(sent[3]), start=ma, what="the refusal of the 4th message")
    cond, texts = refusal(err)
    assert cond == "resource-constraint", err
    assert texts["fr"] == "Tu envoies trop de messages, réessaie dans une minute.", texts
    assert texts["en"] == "You are sending too many messages: try again in a minute.", texts
    await b.expect_none(lambda st: isinstance(st, Message) and st["body"] == "message 3", QUIET,
                        "the message beyond the limit")
    # No error for the first three.
    assert not a.matching(lambda st: st["type"] == "error" and st["id"] in sent[:3], ma)
    # A typing notification (no body) is not a message and still goes.
    mb = b.mark()
    send(a, f"<message to='{b.bare}' type='chat' id='typing'><composing xmlns='{NS_CHATSTATES}'/></message>")
    await b.wait_for(lambda st: isinstance(st, Message) and st["id"] == "typing", start=mb,
                     what="the typing notification")
    # The other pupil is not concerned.
    ma = a.mark()
    b.send_message(a.bare, "réponse")
    await a.wait_message(body="réponse", start=ma)


async def test_a_flood_is_slowed_down_and_every_message_answered(make_gate):
    """A pupil's client that floods (300 messages at once, 3 allowed a minute) is read
    more slowly by the server, but nothing is dropped: 3 messages arrive and each of the
    297 others is refused with its own error, in order; then a classmate's message still
    reaches him at once."""
    g = await make_gate(extra_toml="[rates.pupils]\nmessages_per_minute = 3\n")
    a, b = await g.users(*CONTACT_PAIR)
    await mutual(a, b)
    ma, mb = a.mark(), b.mark()
    ids = [f"flood-{i}" for i in range(300)]
    send(a, "".join(f"<message to='{b.bare}' type='chat' id='{i}'><body>{i}</body></message>" for i in ids))
    for i in ids[:3]:
        await b.wait_message(body=i, start=mb)
    await a.wait_for(error_with_id(ids[-1]), start=ma, timeout=30, what="the refusal of the last message")
    refused = [st["id"] for st in a.matching(lambda st: st["type"] == "error" and st["id"] in ids, ma)]
    assert refused == ids[3:], f"{len(refused)} refusals, not the 297 in order"
    assert not b.matching(lambda st: isinstance(st, Message) and st["body"] in ids[3:], mb)
    ma = a.mark()
    b.send_message(a.bare, "ça va ?")
    await a.wait_message(body="ça va ?", start=ma)


async def test_a_school_s_own_limit_replaces_the_profile_s(make_gate):
    """`[rates.structures."ID".pupils]`: the collège lets its pupils send 5 messages a
    minute where the platform allows 2; its adults keep the platform's."""
    g = await make_gate(extra_toml=(
        "[rates.pupils]\nmessages_per_minute = 2\n"
        f"[rates.structures.\"{S1}\".pupils]\nmessages_per_minute = 5\n"))
    a, b = await g.users(*CONTACT_PAIR)
    await mutual(a, b)
    ma, mb = a.mark(), b.mark()
    sent = [a.send_message(b.bare, f"message {i}")["id"] for i in range(6)]
    for i in range(5):
        await b.wait_message(body=f"message {i}", start=mb)
    err = await a.wait_for(error_with_id(sent[5]), start=ma, what="the refusal of the 6th message")
    cond, texts = refusal(err)
    assert cond == "resource-constraint", err
    assert texts["fr"] == "Tu envoies trop de messages, réessaie dans une minute.", texts
    assert not a.matching(lambda st: st["type"] == "error" and st["id"] in sent[:5], ma)


async def test_adults_recipients_contact_requests_rooms_and_invitations(make_server):
    srv = make_server(extra_toml=(
        "[rates.adults]\nrecipients_per_minute = 2\ncontact_requests_per_hour = 2\n"
        "rooms_per_day = 1\ninvitations_per_room_per_hour = 1\n"))
    accounts = {n: srv.add_user(n, f"pw-{n}") for n in ("alice", "bob", "carol", "dave")}
    clients = Clients(srv)
    try:
        a, b, c, d = [await clients.login(accounts[n], "r", plugins=PLUGINS)
                      for n in ("alice", "bob", "carol", "dave")]

        # Distinct recipients a minute: bob and carol, not dave; bob again is fine.
        ma, mb, mc, md = a.mark(), b.mark(), c.mark(), d.mark()
        a.send_message(b.bare, "pour bob")
        a.send_message(c.bare, "pour carol")
        over = a.send_message(d.bare, "pour dave")["id"]
        await b.wait_message(body="pour bob", start=mb)
        await c.wait_message(body="pour carol", start=mc)
        cond, texts = refusal(await a.wait_for(error_with_id(over), start=ma, what="refusal"))
        assert cond == "resource-constraint"
        assert texts["fr"] == "Vous écrivez à trop de personnes à la fois, réessayez dans une minute.", texts
        assert texts["en"] == "You are writing to too many people at once: try again in a minute.", texts
        await d.expect_none(lambda st: isinstance(st, Message) and st["body"], QUIET, "a message to dave")
        a.send_message(b.bare, "encore pour bob")
        await b.wait_message(body="encore pour bob", start=mb)

        # Contact requests an hour: two go, the third is refused.
        ma, md = a.mark(), d.mark()
        a.subscribe(b.bare)
        a.subscribe(c.bare)
        await b.wait_presence(frm=a.bare, ptype="subscribe", start=mb)
        await c.wait_presence(frm=a.bare, ptype="subscribe", start=mc)
        a.subscribe(d.bare)
        err = await a.wait_for(lambda st: isinstance(st, Presence) and st["type"] == "error"
                               and st["from"].bare == d.bare, start=ma, what="refused request")
        cond, texts = refusal(err)
        assert cond == "resource-constraint"
        assert texts["fr"] == "Vous avez envoyé trop de demandes de contact, réessayez dans 30 minutes.", texts
        assert texts["en"] == "You have sent too many contact requests: try again in 30 minutes.", texts
        await d.expect_none(lambda st: isinstance(st, Presence) and st["type"] == "subscribe", QUIET,
                            "the request beyond the limit")

        # Rooms a day: the first is made, the second refused.
        room = new_room(srv)
        await create(a, room)
        second = new_room(srv)
        ma = a.mark()
        send(a, f"<presence to='{second}/owner'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        err = await a.wait_for(lambda st: isinstance(st, Presence) and st["type"] == "error"
                               and st["from"].bare == second, start=ma, what="refused creation")
        cond, texts = refusal(err)
        assert cond == "resource-constraint"
        assert texts["fr"] == "Vous avez créé trop de conversations aujourd'hui, réessayez dans 24 heures.", texts
        assert texts["en"] == "You have created too many conversations today: try again in 24 hours.", texts

        # Invitations to one room an hour: bob is invited, carol's invitation refused.
        ma, mb, mc = a.mark(), b.mark(), c.mark()
        invite(a, room, b.bare)
        await invited(b, room, mb)
        invite(a, room, c.bare)
        err = await a.wait_for(lambda st: isinstance(st, Message) and st["type"] == "error"
                               and st["from"].bare == room, start=ma, what="refused invitation")
        cond, texts = refusal(err)
        assert cond == "resource-constraint"
        assert texts["fr"] == ("Vous avez envoyé trop d'invitations dans cette conversation, "
                               "réessayez dans une heure."), texts
        assert texts["en"] == "You have sent too many invitations to this conversation: try again in an hour.", texts
        await c.expect_none(lambda st: isinstance(st, Message) and st["from"].bare == room, QUIET,
                            "the invitation beyond the limit")
        # Bob, invited, joins and talks: the room works.
        await join(b, room, "bob")
    finally:
        await clients.close()


async def test_messages_in_rooms_count_with_the_others(make_server):
    """Posts in a conversation spend the same allowance as one-to-one messages; a post
    beyond it is refused by the room (the occupants get nothing), a typing notification
    is not a message."""
    srv = make_server(extra_toml="[rates.adults]\nmessages_per_minute = 3\n")
    A, B = srv.add_user("alice", "pw-a"), srv.add_user("bob", "pw-b")
    clients = Clients(srv)
    try:
        a = await clients.login(A, "r", plugins=PLUGINS)
        b = await clients.login(B, "r", plugins=PLUGINS)
        room = new_room(srv)
        await create(a, room)
        mb = b.mark()
        invite(a, room, b.bare)
        await invited(b, room, mb)
        await join(b, room, "bob")
        ma, mb = a.mark(), b.mark()
        a.send_message(b.bare, "en privé")
        await b.wait_message(body="en privé", start=mb)
        for i in range(3):
            send(a, f"<message to='{room}' type='groupchat' id='post{i}'><body>post {i}</body></message>")
        await b.wait_message(body="post 1", start=mb)
        err = await a.wait_for(lambda st: isinstance(st, Message) and st["type"] == "error"
                               and st["id"] == "post2", start=ma, what="the refused post")
        cond, texts = refusal(err)
        assert cond == "resource-constraint"
        assert texts["fr"] == "Vous envoyez trop de messages, réessayez dans une minute.", texts
        await b.expect_none(lambda st: isinstance(st, Message) and st["body"] == "post 2", QUIET,
                            "the post beyond the limit")
        mb = b.mark()
        send(a, f"<message to='{room}' type='groupchat' id='typing'>"
                f"<composing xmlns='{NS_CHATSTATES}'/></message>")
        await b.wait_for(lambda st: isinstance(st, Message) and st["from"].bare == room
                         and st.xml.find(f"{{{NS_CHATSTATES}}}composing") is not None,
                         start=mb, what="the typing notification in the room")
    finally:
        await clients.close()
