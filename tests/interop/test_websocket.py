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


# ------------------------------------------------------------ HTTPS (port 5443)

def _tls_no_verify():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    return ctx


def _https_cert_der(server) -> bytes:
    import socket
    with socket.create_connection((server.host, server.https_port), timeout=5) as raw:
        with _tls_no_verify().wrap_socket(raw, server_hostname=server.domain) as tls:
            assert tls.selected_alpn_protocol() in (None, "http/1.1")
            return tls.getpeercert(binary_form=True)


async def test_https_serves_the_same_certificate_and_the_client(make_server, tmp_path):
    from certs import make_self_signed, served_cert_direct
    cert, key, der = make_self_signed(tmp_path / "web", "localhost", "Causerie HTTPS test cert")
    srv = make_server(tls={"cert": str(cert), "key": str(key)})
    # The configured certificate, on HTTPS as on XMPP's direct TLS.
    assert _https_cert_der(srv) == der
    assert served_cert_direct(srv) == der
    base = f"https://{srv.host}:{srv.https_port}"
    ctx = _tls_no_verify()
    with urllib.request.urlopen(f"{base}/healthz", timeout=5, context=ctx) as r:
        assert r.read() == b"ok\n"
    with urllib.request.urlopen(f"{base}/", timeout=5, context=ctx) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        assert b"<html" in r.read().lower()
    # host-meta reached over HTTPS advertises the secure WebSocket.
    with urllib.request.urlopen(f"{base}/.well-known/host-meta.json", timeout=5, context=ctx) as r:
        links = json.load(r)["links"]
    assert {"rel": "urn:xmpp:alt-connections:websocket",
            "href": f"wss://{srv.host}:{srv.https_port}/xmpp-websocket"} in links
    # Plain HTTP on the HTTPS port is refused, and the server goes on serving.
    import socket
    with socket.create_connection((srv.host, srv.https_port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        s.settimeout(5)
        try:
            answer = s.recv(100)
        except (ConnectionResetError, TimeoutError):
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 200"), answer
    with urllib.request.urlopen(f"{base}/healthz", timeout=5, context=ctx) as r:
        assert r.read() == b"ok\n"


async def test_secure_websocket_client_chats_with_tcp_client(server, make_user, clients):
    alice, bob = make_user("alice"), make_user("bob")
    b = await clients.login(bob, "tcp")
    url = f"wss://{server.host}:{server.https_port}/xmpp-websocket"
    async with websockets.connect(url, subprotocols=["xmpp"], ssl=_tls_no_verify()) as ws:
        c = WsClient(ws)
        jid = await c.login(server.domain, alice.user, alice.password, "wss")
        await ws.send("<presence xmlns='jabber:client'/>")
        await ws.send(f"<message xmlns='jabber:client' to='{bob.jid}' type='chat'><body>par wss</body></message>")
        msg = await b.wait_message(body="par wss")
        assert str(msg["from"]) == jid
