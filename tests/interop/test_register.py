"""« tu » or « vous » (issue 15): the server's texts speak to a pupil with « tu » and to an
adult (parent, teacher, staff, an account outside the directory) with « vous », as the web
client does, by the profile the directory gives him. The same refusal reaches a pupil and an
adult in their registers, with the same English beside it; the stream's xml:lang still says
which language comes last (slixmpp declares English).

Each test gets its own server with the school of ``directory_fixture`` imported."""

from __future__ import annotations

import pytest
from slixmpp.stanza import Message

import raw
from clients import Clients
from directory_fixture import account, assert_refusal, error_of, import_ok, school, vcard
from test_language import login as raw_login, texts as raw_texts
from test_muc import create, invite, invited, login as muc_login, new_room

NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"

RULES_TU = "Les règles de ton établissement ne permettent pas de communiquer avec cette personne."
RULES_VOUS = "Les règles de votre établissement ne permettent pas de communiquer avec cette personne."
RULES_EN = "Your school's communication rules do not allow you to contact this person."
BLOCKED_TU = "Tu as bloqué cette personne : débloque-la pour lui écrire."
BLOCKED_VOUS = "Vous avez bloqué cette personne : débloquez-la pour lui écrire."
BLOCKED_EN = "You blocked this person: unblock them to write to them."


@pytest.fixture
async def sch(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    import_ok(srv, school())
    clients = Clients(srv)
    yield srv, clients
    await clients.close()


def jid(srv, login: str) -> str:
    return f"{login}@{srv.domain}"


def error_texts(st) -> list[tuple[str, str]]:
    """The (xml:lang, text) of an error, in their order."""
    err = st.xml.find("{jabber:client}error")
    return [(t.get("{http://www.w3.org/XML/1998/namespace}lang"), t.text)
            for t in err.findall("{urn:ietf:params:xml:ns:xmpp-stanzas}text")]


def one_french_then_english(st) -> dict[str, str]:
    """The reader gets one French text (his register's) and the English last (slixmpp's
    stream says xml:lang='en'); no other form leaks."""
    got = error_texts(st)
    assert [lang for lang, _ in got] == ["fr", "en"], got
    return dict(got)


async def test_a_rules_refusal_in_each_register(sch):
    srv, clients = sch
    # Léa (pupil, 6e A), Paul (her father), Anne (teacher at the collège): each asks for
    # the card of someone the rules keep from them.
    for login, stranger, fr in (("lea.martin", "ines.petit", RULES_TU),
                                ("paul.martin", "ines.petit", RULES_VOUS),
                                ("anne.durand", "emma.roux", RULES_VOUS)):
        c = await clients.login(account(login, srv.domain), "r")
        refused = await vcard(c, jid(srv, stranger))
        assert_refusal(refused, "forbidden")
        assert one_french_then_english(refused) == {"fr": fr, "en": RULES_EN}, login
        # The same refusal of a message.
        m = c.mark()
        c.send_message(jid(srv, stranger), "bonjour", mid=f"rules-{login}")
        err = await c.wait_for(lambda s: isinstance(s, Message) and s["id"] == f"rules-{login}"
                               and s["type"] == "error", start=m)
        assert one_french_then_english(err) == {"fr": fr, "en": RULES_EN}, login


async def block(c, who: str):
    reply = await c.query(None, f"<block xmlns='{NS_BLOCKING}'><item jid='{who}'/></block>", "set")
    assert reply["type"] == "result", reply


async def test_a_blocked_contact_refusal_in_each_register(sch):
    srv, clients = sch
    # Each blocks someone the rules let him reach, then writes to him anyway.
    for login, blocked, fr in (("lea.martin", "hugo.bernard", BLOCKED_TU),
                               ("paul.martin", "lea.martin", BLOCKED_VOUS),
                               ("anne.durand", "hugo.bernard", BLOCKED_VOUS)):
        c = await clients.login(account(login, srv.domain), "r")
        await block(c, jid(srv, blocked))
        m = c.mark()
        c.send_message(jid(srv, blocked), "oups", mid=f"blocked-{login}")
        err = await c.wait_for(lambda s: isinstance(s, Message) and s["id"] == f"blocked-{login}"
                               and s["type"] == "error", start=m)
        assert err.xml.find(f".//{{{NS_BLOCKING_ERRORS}}}blocked") is not None, err
        assert one_french_then_english(err) == {"fr": fr, "en": BLOCKED_EN}, login


async def test_an_account_outside_the_directory_is_vous(sch):
    srv, clients = sch
    plain = srv.new_account("plain")
    lea = await clients.login(account("lea.martin", srv.domain), "r")
    c = await clients.login(plain, "r")
    for client, fr in ((c, "Vous ne pouvez pas vous bloquer vous-même."),
                       (lea, "Tu ne peux pas te bloquer toi-même.")):
        reply = await client.query(None, f"<block xmlns='{NS_BLOCKING}'><item jid='{client.bare}'/></block>",
                                   "set")
        cond, texts = error_of(reply.xml)
        assert cond == "not-acceptable", reply
        assert texts == {"fr": fr, "en": "You cannot block yourself."}, texts


async def test_french_streams_read_their_register_last(sch):
    srv, _ = sch
    # A stream in French: the French text comes last, in the reader's register only.
    for login, fr in (("lea.martin", BLOCKED_TU), ("paul.martin", BLOCKED_VOUS)):
        c = raw_login(srv, account(login, srv.domain), "fr")
        try:
            other = jid(srv, "hugo.bernard" if login == "lea.martin" else "lea.martin")
            assert c.iq(f"<block xmlns='{NS_BLOCKING}'><item jid='{other}'/></block>", "set").get("type") == "result"
            c.send(f"<message to='{other}' type='chat' id='b1'><body>oups</body></message>")
            err = c.wait_for(lambda e: e.tag == raw.MESSAGE and e.get("id") == "b1", what="error")
            assert raw_texts(err) == [("en", BLOCKED_EN), ("fr", fr)], raw_texts(err)
        finally:
            c.close()


async def test_an_invitation_speaks_to_the_invitee_in_his_register(sch):
    srv, clients = sch
    anne = await muc_login(clients, account("anne.durand", srv.domain))
    lea = await muc_login(clients, account("lea.martin", srv.domain))
    paul = await muc_login(clients, account("paul.martin", srv.domain))
    room = new_room(srv)
    await create(anne, room, "Anne", title="Sortie au musée")
    for invitee, fr in ((lea, " t'invite dans la conversation « Sortie au musée »."),
                        (paul, " vous invite dans la conversation « Sortie au musée ».")):
        m = invitee.mark()
        invite(anne, room, invitee.bare)
        inv = await invited(invitee, room, m)
        bodies = [(b.get("{http://www.w3.org/XML/1998/namespace}lang"), b.text)
                  for b in inv.xml.findall("{jabber:client}body")]
        assert len(bodies) == 1 and bodies[0][0] == "fr", bodies
        assert bodies[0][1] == "DURAND Anne" + fr, bodies
