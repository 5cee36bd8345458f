"""Server services: disco, ping, vCard-temp, version, IQ routing and errors."""

from __future__ import annotations

import secrets

import pytest

from clients import stanza_error

NS_INFO = "http://jabber.org/protocol/disco#info"
NS_ITEMS = "http://jabber.org/protocol/disco#items"


def _identities(reply):
    q = reply.xml.find(f"{{{NS_INFO}}}query")
    assert q is not None, f"no disco#info query in {reply}"
    return [(i.get("category"), i.get("type")) for i in q.findall(f"{{{NS_INFO}}}identity")]


def _features(reply):
    q = reply.xml.find(f"{{{NS_INFO}}}query")
    assert q is not None, f"no disco#info query in {reply}"
    return {f.get("var") for f in q.findall(f"{{{NS_INFO}}}feature")}


async def test_disco_info_server(server, make_user, clients):
    a = await clients.login(make_user("alice"), "a")
    reply = await a.query(server.domain, f"<query xmlns='{NS_INFO}'/>")
    assert reply["type"] == "result", reply
    assert str(reply["from"]) == server.domain
    idents = _identities(reply)
    assert any(cat == "server" for cat, _ in idents), f"no identity of category server: {idents}"
    feats = _features(reply)
    for f in (NS_INFO, "urn:xmpp:ping", "vcard-temp", "jabber:iq:version", "jabber:iq:roster", "msgoffline"):
        assert f in feats, f"feature {f} missing from server disco#info: {sorted(feats)}"


async def test_disco_items_server(server, make_user, clients):
    a = await clients.login(make_user("alice"), "a")
    reply = await a.query(server.domain, f"<query xmlns='{NS_ITEMS}'/>")
    assert reply["type"] == "result", reply
    assert reply.xml.find(f"{{{NS_ITEMS}}}query") is not None


async def test_disco_info_account(server, make_user, clients):
    A = make_user("alice")
    a = await clients.login(A, "a")
    reply = await a.query(A.jid, f"<query xmlns='{NS_INFO}'/>")
    assert reply["type"] == "result", reply
    assert ("account", "registered") in _identities(reply), _identities(reply)


async def test_ping_server(server, make_user, clients):
    a = await clients.login(make_user("alice"), "a")
    reply = await a.query(server.domain, "<ping xmlns='urn:xmpp:ping'/>")
    assert reply["type"] == "result", reply
    assert str(reply["from"]) == server.domain
    # and through the slixmpp plugin
    reply = await a.xmpp.plugin["xep_0199"].send_ping(server.domain, timeout=5)
    assert reply["type"] == "result"


async def test_vcard_temp(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    fn = "Alice Liddell — Élève de 3ᵉB 🐇"
    reply = await a.query(None, f"<vCard xmlns='vcard-temp'><FN>{fn}</FN><NICKNAME>ali</NICKNAME></vCard>", "set")
    assert reply["type"] == "result", reply

    for client, to in ((a, None), (a, A.jid), (b, A.jid)):
        reply = await client.query(to, "<vCard xmlns='vcard-temp'/>")
        assert reply["type"] == "result", reply
        v = reply.xml.find("{vcard-temp}vCard")
        assert v is not None, reply
        assert v.findtext("{vcard-temp}FN") == fn, reply
        assert v.findtext("{vcard-temp}NICKNAME") == "ali", reply

    # through slixmpp's plugin too
    vc = await b.xmpp.plugin["xep_0054"].get_vcard(A.jid, local=False, cached=False, timeout=5)
    assert vc["vcard_temp"]["FN"] == fn

    # updating replaces it
    reply = await a.query(None, "<vCard xmlns='vcard-temp'><FN>Alice L.</FN></vCard>", "set")
    assert reply["type"] == "result", reply
    reply = await b.query(A.jid, "<vCard xmlns='vcard-temp'/>")
    assert reply.xml.find("{vcard-temp}vCard").findtext("{vcard-temp}FN") == "Alice L."


async def test_software_version(server, make_user, clients):
    a = await clients.login(make_user("alice"), "a")
    reply = await a.query(server.domain, "<query xmlns='jabber:iq:version'/>")
    assert reply["type"] == "result", reply
    q = reply.xml.find("{jabber:iq:version}query")
    assert q.findtext("{jabber:iq:version}name") == "Causerie", reply
    assert (q.findtext("{jabber:iq:version}version") or "").strip(), reply


@pytest.mark.parametrize("itype", ["get", "set"])
async def test_unknown_namespace_iq_to_server(server, make_user, clients, itype):
    a = await clients.login(make_user("alice"), "a")
    reply = await a.query(server.domain, "<query xmlns='urn:example:causerie:no-such-thing'/>", itype)
    assert reply["type"] == "error", reply
    assert stanza_error(reply) == "service-unavailable", reply


@pytest.mark.parametrize("payload", ["<vCard xmlns='vcard-temp'/>", "<ping xmlns='urn:xmpp:ping'/>",
                                     f"<query xmlns='{NS_INFO}'/>"], ids=["vcard", "ping", "disco"])
async def test_iq_to_nonexistent_user(server, make_user, clients, payload):
    a = await clients.login(make_user("alice"), "a")
    ghost = f"ghost{secrets.token_hex(4)}@{server.domain}"
    reply = await a.query(ghost, payload)
    assert reply["type"] == "error", f"IQ to a nonexistent account answered: {reply}"
    assert stanza_error(reply) in ("service-unavailable", "item-not-found"), reply


async def test_iq_routed_to_online_full_jid(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    b = await clients.login(B, "b")
    reply = await a.query(b.full, "<ping xmlns='urn:xmpp:ping'/>")
    assert reply["type"] == "result", reply
    assert str(reply["from"]) == b.full
    # the client's own answer passes through too (slixmpp answers version queries)
    reply = await a.query(b.full, "<query xmlns='jabber:iq:version'/>")
    assert reply["type"] == "result", reply
    assert reply.xml.find("{jabber:iq:version}query").findtext("{jabber:iq:version}name")


async def test_iq_to_offline_full_jid(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    a = await clients.login(A, "a")
    reply = await a.query(f"{B.jid}/nowhere", "<ping xmlns='urn:xmpp:ping'/>")
    assert reply["type"] == "error", reply
    assert stanza_error(reply) == "service-unavailable", reply
