"""XMPP over WebSocket (RFC 7395) on the HTTP listener, feeding the same
pipeline as TCP: a WebSocket client and a slixmpp TCP client chat; host-meta
(XEP-0156) advertises the endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
import xml.etree.ElementTree as ET

import pytest
import websockets

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
STREAM = "http://etherx.jabber.org/streams"


class WsClient:
    def __init__(self, ws):
        self.ws = ws

    async def recv(self, timeout=8.0) -> ET.Element:
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(text, str), "RFC 7395: text frames only"
        return ET.fromstring(text)  # each message is a complete document on its own

    async def open(self, domain):
        await self.ws.send(f"<open xmlns='{FRAMING}' to='{domain}' version='1.0'/>")
        opened = await self.recv()
        assert opened.tag == f"{{{FRAMING}}}open", opened.tag
        assert opened.get("from") == domain and opened.get("version") == "1.0" and opened.get("id")
        features = await self.recv()
        assert features.tag == f"{{{STREAM}}}features", features.tag
        return features

    async def login(self, domain, user, password, resource):
        features = await self.open(domain)
        mechs = [m.text for m in features.iter(f"{{{SASL}}}mechanism")]
        assert "SCRAM-SHA-256" in mechs and "PLAIN" in mechs, mechs
        payload = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        await self.ws.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{payload}</auth>")
        success = await self.recv()
        assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
        features = await self.open(domain)
        assert features.find(f"{{{BIND}}}bind") is not None
        await self.ws.send(f"<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='{BIND}'>"
                           f"<resource>{resource}</resource></bind></iq>")
        result = await self.recv()
        assert result.get("type") == "result", ET.tostring(result)
        return result.find(f"{{{BIND}}}bind/{{{BIND}}}jid").text


def ws_url(server):
    return f"ws://{server.host}:{server.http_port}/xmpp-websocket"


async def test_websocket_client_chats_with_tcp_client(server, make_user, clients):
    alice, bob = make_user("alice"), make_user("bob")
    b = await clients.login(bob, "tcp")
    async with websockets.connect(ws_url(server), subprotocols=["xmpp"]) as ws:
        assert ws.subprotocol == "xmpp"
        c = WsClient(ws)
        jid = await c.login(server.domain, alice.user, alice.password, "web")
        assert jid == f"{alice.jid}/web"
        await ws.send("<presence xmlns='jabber:client'/>")

        # TCP -> WebSocket
        b.xmpp.send_message(mto=jid, mbody="Bonjour le navigateur 😀", mtype="chat")
        while True:
            el = await c.recv()
            if el.tag == "{jabber:client}message":
                break
        assert el.find("{jabber:client}body").text == "Bonjour le navigateur 😀"
        assert el.get("from") == b.full

        # WebSocket -> TCP, with a forged 'from' that the server overwrites.
        await ws.send(f"<message xmlns='jabber:client' to='{bob.jid}' from='evil@localhost/x' type='chat'>"
                      "<body>&lt;b&gt;salut&lt;/b&gt;</body></message>")
        msg = await b.wait_message(body="<b>salut</b>")
        assert str(msg["from"]) == jid

        # Closing: the server answers <close/>.
        await ws.send(f"<close xmlns='{FRAMING}'/>")
        while True:
            el = await c.recv()
            if el.tag == f"{{{FRAMING}}}close":
                break


async def test_websocket_bad_input_gets_a_framed_stream_error(server, make_user, clients):
    alice = make_user("alice")
    async with websockets.connect(ws_url(server), subprotocols=["xmpp"]) as ws:
        c = WsClient(ws)
        await c.login(server.domain, alice.user, alice.password, "web")
        await ws.send("<message xmlns='jabber:client'><body>oops</bdy></message>")
        err = await c.recv()
        assert err.tag == f"{{{STREAM}}}error", ET.tostring(err)
        assert err.find("{urn:ietf:params:xml:ns:xmpp-streams}not-well-formed") is not None
        close = await c.recv()
        assert close.tag == f"{{{FRAMING}}}close"
    # The server keeps serving others.
    b = await clients.login(make_user("bob"), "tcp")
    assert b.connected


async def test_websocket_wrong_password_and_subprotocol(server, make_user):
    alice = make_user("alice")
    async with websockets.connect(ws_url(server), subprotocols=["xmpp"]) as ws:
        c = WsClient(ws)
        await c.open(server.domain)
        payload = base64.b64encode(f"\0{alice.user}\0wrong".encode()).decode()
        await ws.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{payload}</auth>")
        failure = await c.recv()
        assert failure.tag == f"{{{SASL}}}failure"
        assert failure.find(f"{{{SASL}}}not-authorized") is not None
    with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
        async with websockets.connect(ws_url(server)):
            pass
    assert exc.value.response.status_code == 400


def test_host_meta_advertises_the_websocket(server):
    base = f"http://{server.host}:{server.http_port}"
    with urllib.request.urlopen(f"{base}/.well-known/host-meta.json", timeout=5) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        links = json.load(r)["links"]
    assert {"rel": "urn:xmpp:alt-connections:websocket",
            "href": f"ws://{server.host}:{server.http_port}/xmpp-websocket"} in links
    with urllib.request.urlopen(f"{base}/.well-known/host-meta", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("application/xrd+xml")
        xrd = ET.fromstring(r.read())
    link = xrd.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link.get("rel") == "urn:xmpp:alt-connections:websocket"
