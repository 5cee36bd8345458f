"""The server speaks the deployment's language and the client's: error texts follow the
stream's xml:lang (the server's default, French, when it declares none) and that language
comes last, where clients such as Converse look; rooms' notices carry one body in the
room's language; affiliation lists and presences carry what clients parse."""

from __future__ import annotations

import raw
from clients import barrier
from test_muc import (NS_MUC_ADMIN, NS_MUC_USER, body, codes, configure, create, from_room_with,
                      invite_and_join, join, login as muc_login, new_room, NS_ROOMCONFIG)
from slixmpp.stanza import Message, Presence

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS_BLOCKING = "urn:xmpp:blocking"


class LangClient(raw.RawClient):
    """A raw client whose stream header declares ``lang`` (None: no xml:lang at all)."""

    def __init__(self, *a, lang: str | None, **kw):
        super().__init__(*a, **kw)
        self.lang = lang

    def stream_header(self, to: str | None = None) -> str:
        to = self.domain if to is None else to
        lang = f" xml:lang='{self.lang}'" if self.lang else ""
        return ("<?xml version='1.0'?>"
                f"<stream:stream xmlns='jabber:client' xmlns:stream='{raw.NS_STREAM}' "
                f"to='{to}' version='1.0'{lang}>")


def login(server, account, lang: str | None) -> LangClient:
    c = LangClient(server.host, server.c2s_port, server.domain, lang=lang)
    c.connect()
    c.open_stream()
    c.starttls()
    assert c.auth_plain(account.user, account.password)
    c.bind("r")
    return c


def texts(el) -> list[tuple[str, str]]:
    err = el.find(f"{{{raw.NS_CLIENT}}}error")
    return [(t.get(XML_LANG), t.text) for t in err.findall(f"{{{raw.NS_STANZA_ERR}}}text")]


async def test_error_texts_end_with_the_streams_language(server, make_user):
    A = make_user("lang")
    for lang, last in (("en", "en"), ("fr", "fr"), ("fr-FR", "fr"), (None, "fr"), ("de", "fr")):
        c = login(server, A, lang)
        try:
            reply = c.iq(f"<block xmlns='{NS_BLOCKING}'/>", "set")
            assert raw.stanza_error_condition(reply) == "bad-request", raw.tostring(reply)
            got = texts(reply)
            assert len(got) == 2, got
            assert got[-1][0] == last, (lang, got)
            assert {g[0] for g in got} == {"fr", "en"}
        finally:
            c.close()


async def test_the_server_declares_the_deployments_language(server, make_user):
    c = raw.RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    try:
        c.open_stream()
        assert b"xml:lang='fr'" in bytes(c.raw_in) or b'xml:lang="fr"' in bytes(c.raw_in)
    finally:
        c.close()


async def test_an_english_deployment(make_server):
    srv = make_server(language="en")
    A = srv.new_account("lang")
    c = login(srv, A, None)
    try:
        reply = c.iq(f"<block xmlns='{NS_BLOCKING}'/>", "set")
        assert texts(reply)[-1][0] == "en"
        # Rooms speak English there: one body.
        room = f"salle-en@conference.{srv.domain}"
        c.send(f"<presence to='{room}/Owner'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        locked = c.wait_for(lambda e: e.tag == raw.MESSAGE and e.find(f"{{{raw.NS_CLIENT}}}body") is not None,
                            what="locked notice")
        bodies = locked.findall(f"{{{raw.NS_CLIENT}}}body")
        assert [(b.get(XML_LANG), b.text) for b in bodies] == [
            ("en", "This room is locked from entry until its configuration is confirmed")]
    finally:
        c.close()


async def test_room_notices_have_one_body(server, make_user, clients):
    A = make_user("owner")
    a = await muc_login(clients, A)
    room = new_room(server)
    m = a.mark()
    await create(a, room, "Anna", title="Club")
    notices = a.matching(lambda s: isinstance(s, Message) and str(s["from"]) == room
                         and s.xml.find("{jabber:client}body") is not None, m)
    assert len(notices) >= 2, [str(n) for n in notices]  # locked, then unlocked
    for n in notices:
        bodies = n.xml.findall("{jabber:client}body")
        assert len(bodies) == 1, str(n)
        assert bodies[0].get(XML_LANG) == "fr"
    assert "déverrouillé" in body(notices[-1])


async def test_affiliation_lists_and_exit_presences_as_clients_parse_them(server, make_user, clients):
    A, B = make_user("owner"), make_user("bea")
    a = await muc_login(clients, A)
    b = await muc_login(clients, B)
    room = new_room(server)
    await create(a, room, "Anna", title="Club")
    await invite_and_join(a, room, b, "Bea")
    for affiliation in ("owner", "member"):
        reply = await a.query(room, f"<query xmlns='{NS_MUC_ADMIN}'><item affiliation='{affiliation}'/></query>")
        items = reply.xml.findall(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item")
        assert items, str(reply)
        for it in items:
            assert it.get("role") is None, f"role in an affiliation list: {reply}"
            assert set(it.keys()) <= {"affiliation", "jid", "nick"}, it.keys()
    # Bea's last connection leaves: her unavailable presence names her, never jid=''.
    m = a.mark()
    await b.disconnect()
    gone = await a.wait_for(lambda s: isinstance(s, Presence) and str(s["from"]) == f"{room}/Bea"
                            and s.xml.get("type") == "unavailable", start=m)
    item = gone.xml.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}item")
    assert item.get("jid") != "", str(gone)
    assert item.get("jid") in (None, B.jid) or item.get("jid").startswith(B.jid + "/")
