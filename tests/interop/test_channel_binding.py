"""SCRAM's -PLUS mechanisms and FAST's bound tokens with tls-exporter and
tls-server-end-point channel binding (RFC 5802 §6, RFC 9266, RFC 5929, XEP-0440,
XEP-0484): a client that binds its login to its TLS connection cannot be relayed by
someone in the middle who holds another TLS connection to the server, one whose -PLUS
offer was stripped (flag `y`) is refused on every door, and SCRAM's first answer
carries XEP-0474's hash of what was offered.

Python's ssl module has no TLS exporter, so the client computes RFC 9266's value
itself from the TLS 1.3 exporter secret that OpenSSL writes to a key log file
(RFC 8446 §7.5): an implementation independent of the server's (rustls).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET

from raw import NS_SASL, RawClient, local, make_client_ssl_context, tostring
from sasl2_client import Scram, authenticate, h_attribute, ht_proof, mechanisms, new_agent, sasl_scram, ssdp

NS_SASL_CB = "urn:xmpp:sasl-cb:0"


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """RFC 8446 §7.1 with SHA-256 (the server's TLS 1.3 suites all use it)."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def tls_exporter(exporter_secret: bytes) -> bytes:
    """RFC 9266: the TLS exporter with label EXPORTER-Channel-Binding, an empty
    context, 32 bytes (RFC 8446 §7.5)."""
    empty = hashlib.sha256(b"").digest()
    derived = hkdf_expand_label(exporter_secret, b"EXPORTER-Channel-Binding", empty, 32)
    return hkdf_expand_label(derived, b"exporter", empty, 32)


def connect_bound(server, tmp_path, name: str = "keys") -> tuple[RawClient, ET.Element, bytes]:
    """STARTTLS with a key log; the features on TLS and the connection's exporter."""
    c = RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    c.open_stream()
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert local(c.recv().tag) == "proceed"
    log = tmp_path / f"{name}.log"
    ctx = make_client_ssl_context()
    ctx.keylog_filename = str(log)
    c._wrap_tls(ctx)
    assert c.sock.version() == "TLSv1.3"
    # The derivation below is SHA-256's: the server offers no SHA-384 suite (tls.rs).
    assert c.sock.cipher()[0] != "TLS_AES_256_GCM_SHA384"
    feats = c.open_stream()
    secrets = [line.split() for line in log.read_text().splitlines() if line.startswith("EXPORTER_SECRET ")]
    assert len(secrets) == 1, log.read_text()
    return c, feats, tls_exporter(bytes.fromhex(secrets[0][2]))


def failure_condition(el: ET.Element) -> str | None:
    assert local(el.tag) == "failure", tostring(el)
    return next((local(x.tag) for x in el if local(x.tag) != "text"), None)


def test_a_tls_1_3_stream_offers_plus_mechanisms_bound_with_tls_exporter(server, tmp_path):
    c, feats, _ = connect_bound(server, tmp_path)
    with c:
        offered = RawClient.mechanisms(feats)
        assert "SCRAM-SHA-256-PLUS" in offered and "SCRAM-SHA-1-PLUS" in offered, offered
        assert "SCRAM-SHA-256" in offered, "clients that cannot bind still log in"
        cb = feats.find(f"{{{NS_SASL_CB}}}sasl-channel-binding")
        assert cb is not None, tostring(feats)
        # tls-exporter first (it binds this connection), then tls-server-end-point
        # (the certificate only), which XEP-0440 asks every server to offer.
        assert [t.get("type") for t in cb] == ["tls-exporter", "tls-server-end-point"]
        # SASL2 offers the same mechanisms.
        assert "SCRAM-SHA-256-PLUS" in mechanisms(feats)


def logs_in_bound(c: RawClient, user, kind: str, cb: bytes) -> None:
    """SCRAM-SHA-256-PLUS bound with `kind` and its data `cb` succeeds, the server's
    signature covers the binding, and the stream binds a resource of the user's."""
    s = Scram(user.user, user.password, gs2=f"p={kind},,".encode(), cb=cb)
    el, verified = sasl_scram(c, "SCRAM-SHA-256-PLUS", s)
    assert local(el.tag) == "success", tostring(el)
    assert verified, "the server's signature covers the bound channel"
    c.open_stream()
    assert c.bind("bound").startswith(f"{user.user}@")


def test_a_login_bound_to_its_own_connection_succeeds(server, make_user, tmp_path):
    user = make_user()
    c, _, exporter = connect_bound(server, tmp_path)
    with c:
        logs_in_bound(c, user, "tls-exporter", exporter)


def test_a_login_bound_to_another_connection_is_refused(server, make_user, tmp_path):
    """What a relay in the middle would send: the proof of a client whose TLS ends at the
    relay, bound to that other connection."""
    user = make_user()
    other, _, other_exporter = connect_bound(server, tmp_path, "other")
    other.close()
    c, _, exporter = connect_bound(server, tmp_path)
    with c:
        assert other_exporter != exporter
        s = Scram(user.user, user.password, gs2=b"p=tls-exporter,,", cb=other_exporter)
        el, _ = sasl_scram(c, "SCRAM-SHA-256-PLUS", s)
        assert failure_condition(el) == "not-authorized"


def test_a_client_that_did_not_see_the_plus_mechanisms_is_refused(server, make_user, tmp_path):
    """RFC 5802 §6: the flag 'y' says the client can bind but believes the server
    cannot; the server offered binding, so someone removed it on the way."""
    user = make_user()
    c, _, _ = connect_bound(server, tmp_path)
    with c:
        el, _ = sasl_scram(c, "SCRAM-SHA-256", Scram(user.user, user.password, gs2=b"y,,"))
        assert failure_condition(el) == "not-authorized"
        # 'n' (no binding) still logs in on the same stream.
        el, verified = sasl_scram(c, "SCRAM-SHA-256", Scram(user.user, user.password))
        assert local(el.tag) == "success" and verified, tostring(el)


def test_a_plus_mechanism_needs_the_offered_binding_type(server, make_user, tmp_path):
    user = make_user()
    c, _, exporter = connect_bound(server, tmp_path)
    with c:
        # tls-unique is not defined on TLS 1.3 (RFC 9266 §1): not offered.
        s = Scram(user.user, user.password, gs2=b"p=tls-unique,,", cb=exporter)
        el, _ = sasl_scram(c, "SCRAM-SHA-256-PLUS", s)
        assert failure_condition(el) == "malformed-request"
        s = Scram(user.user, user.password, gs2=b"n,,")
        el, _ = sasl_scram(c, "SCRAM-SHA-256-PLUS", s)
        assert failure_condition(el) == "malformed-request"


def test_a_login_bound_to_the_server_certificate_succeeds(server, make_user, tmp_path):
    """tls-server-end-point (RFC 5929 §4.1): the hash of the certificate the client
    received, with its signature's hash (the test server's is ECDSA with SHA-256).
    The exporter's bytes under that type's name do not pass."""
    user = make_user()
    c, _, exporter = connect_bound(server, tmp_path)
    with c:
        cert = hashlib.sha256(c.sock.getpeercert(binary_form=True)).digest()
        wrong = Scram(user.user, user.password, gs2=b"p=tls-server-end-point,,", cb=exporter)
        el, _ = sasl_scram(c, "SCRAM-SHA-256-PLUS", wrong)
        assert failure_condition(el) == "not-authorized"
        logs_in_bound(c, user, "tls-server-end-point", cert)


def test_scram_carries_the_downgrade_hash_of_what_was_offered(server, make_user, tmp_path):
    """XEP-0474: the server's first SCRAM message has `h`, the hash of the mechanisms of
    the profile in use (RFC 6120's list, or SASL2's) and of XEP-0440's types, as this
    client saw them; the login then succeeds (the proof covers it), over SASL and SASL2."""
    user = make_user()
    c, feats, _ = connect_bound(server, tmp_path)
    with c:
        types = [t.get("type") for t in feats.find(f"{{{NS_SASL_CB}}}sasl-channel-binding")]
        s = Scram(user.user, user.password)
        el, verified = sasl_scram(c, "SCRAM-SHA-256", s)
        assert local(el.tag) == "success" and verified, tostring(el)
        assert h_attribute(s.server_first) == ssdp(RawClient.mechanisms(feats), types)
    c, feats, _ = connect_bound(server, tmp_path, "sasl2")
    with c:
        s = Scram(user.user, user.password)
        out = authenticate(c, "SCRAM-SHA-256", s.first(), scram=s)
        assert out.ok and out.scram_verified, tostring(out.el)
        assert h_attribute(s.server_first) == ssdp(mechanisms(feats), types)


def test_sasl2_logs_in_with_a_bound_scram(server, make_user, tmp_path):
    user = make_user()
    c, _, exporter = connect_bound(server, tmp_path)
    with c:
        s = Scram(user.user, user.password, gs2=b"p=tls-exporter,,", cb=exporter)
        out = authenticate(c, "SCRAM-SHA-256-PLUS", s.first(), scram=s, bind=True)
        assert out.ok, tostring(out.el)
        assert out.scram_verified
        assert out.bound is not None


def test_fast_tokens_bind_to_their_mechanism_and_channel(server, make_user, tmp_path):
    """XEP-0484 FAST with channel binding: on TLS the server offers HT-SHA-256-EXPR and
    -ENDP before -NONE. A token asked for -EXPR logs in bound to the new connection's
    exporter, and the server's answer covers that channel; the same token is refused
    with -NONE (a token logs in with the mechanism it was issued for only) and when
    bound to another connection (what a relay would send)."""
    user = make_user()
    agent = new_agent()
    c, feats, _ = connect_bound(server, tmp_path, "first")
    with c:
        fast = feats.find("{urn:xmpp:sasl:2}authentication/{urn:xmpp:sasl:2}inline/{urn:xmpp:fast:0}fast")
        assert fast is not None
        assert [m.text for m in fast] == ["HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"]
        s = Scram(user.user, user.password)
        out = authenticate(c, "SCRAM-SHA-256", s.first(), scram=s, agent=agent,
                           request_token="HT-SHA-256-EXPR")
        assert out.ok and out.token, tostring(out.el)
    token = out.token

    def initial(cb: bytes) -> bytes:
        return user.user.encode() + b"\0" + ht_proof(token, b"Initiator" + cb)

    c, _, exporter = connect_bound(server, tmp_path, "second")
    with c:
        out = authenticate(c, "HT-SHA-256-NONE", initial(b""), agent=agent)
        assert not out.ok and out.condition == "not-authorized", tostring(out.el)
    c, _, mine = connect_bound(server, tmp_path, "third")
    with c:
        assert mine != exporter
        out = authenticate(c, "HT-SHA-256-EXPR", initial(exporter), agent=agent)
        assert not out.ok and out.condition == "not-authorized", tostring(out.el)
    c, _, mine = connect_bound(server, tmp_path, "fourth")
    with c:
        out = authenticate(c, "HT-SHA-256-EXPR", initial(mine), agent=agent, bind=True)
        assert out.ok, tostring(out.el)
        assert out.additional == ht_proof(token, b"Responder" + mine)
        assert out.bound is not None


def test_tls_1_2_binds_too_and_refuses_a_stripped_login(server, make_user, tmp_path):
    """A relay that strips -PLUS from a client's features could log in through a door
    without binding: TLS 1.2 is not such a door (the server requires the extended master
    secret there and binds with its exporter), so it offers -PLUS and refuses `y`."""
    import ssl
    user = make_user()
    c = RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    c.open_stream()
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert local(c.recv().tag) == "proceed"
    ctx = make_client_ssl_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c._wrap_tls(ctx)
    with c:
        assert c.sock.version() == "TLSv1.2"
        feats = c.open_stream()
        assert "SCRAM-SHA-256-PLUS" in RawClient.mechanisms(feats)
        el, _ = sasl_scram(c, "SCRAM-SHA-256", Scram(user.user, user.password, gs2=b"y,,"))
        assert failure_condition(el) == "not-authorized"
        el, verified = sasl_scram(c, "SCRAM-SHA-256", Scram(user.user, user.password))
        assert local(el.tag) == "success" and verified, tostring(el)


async def test_websocket_refuses_a_stripped_login(server, make_user):
    """WebSocket streams offer no -PLUS (TLS ends before the server, or in its HTTP
    listener), so they are the other door a relay could use: `y` is refused there too;
    browsers' clients send `n`."""
    import websockets
    from test_websocket import SASL, WsClient, ws_url
    user = make_user()
    async with websockets.connect(ws_url(server), subprotocols=["xmpp"]) as ws:
        c = WsClient(ws)
        features = await c.open(server.domain)
        mechs = [m.text for m in features.iter(f"{{{SASL}}}mechanism")]
        assert "SCRAM-SHA-256-PLUS" not in mechs, mechs
        s = Scram(user.user, user.password, gs2=b"y,,")
        first = base64.b64encode(s.first()).decode()
        await ws.send(f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256'>{first}</auth>")
        el = await c.recv()
        assert local(el.tag) == "failure" and el.find(f"{{{SASL}}}not-authorized") is not None, \
            ET.tostring(el)
