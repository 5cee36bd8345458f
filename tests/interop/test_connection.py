"""Connection set-up: STARTTLS, direct TLS, certificates, stream features,
binding, `causerie check`."""

from __future__ import annotations

import pytest

from certs import (cert_names, fingerprint, first_cert_der, make_self_signed, served_cert_direct,
                   served_cert_starttls)
from clients import Client
from raw import NS_BIND, NS_SASL, NS_TLS, RawClient, login_server, tostring


async def test_starttls_login(server, make_user, clients):
    alice = make_user("alice")
    c = await clients.login(alice, "laptop")
    assert c.xmpp.is_connected()
    assert c.peer_cert_der, "no TLS certificate seen: STARTTLS did not happen"
    assert c.full == f"{alice.jid}/laptop"
    # the session works: ping the server
    reply = await c.xmpp.plugin["xep_0199"].send_ping(server.domain, timeout=5)
    assert reply["type"] == "result"


async def test_direct_tls_login(server, make_user, clients):
    alice = make_user("alice")
    c = await clients.login(alice, "tablet", direct_tls=True)
    assert c.peer_cert_der, "no certificate seen on the direct TLS port"
    assert c.full == f"{alice.jid}/tablet"
    reply = await c.xmpp.plugin["xep_0199"].send_ping(server.domain, timeout=5)
    assert reply["type"] == "result"


def test_plaintext_features_offer_only_required_starttls(server):
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        feats = c.open_stream()
        # the response stream header
        assert c.stream_attrs.get("from") == server.domain, c.stream_attrs
        assert c.stream_attrs.get("version") == "1.0", c.stream_attrs
        assert c.stream_attrs.get("id"), "stream header without id"
        children = list(feats)
        assert len(children) == 1, f"features before TLS must be only <starttls/>: {tostring(feats)}"
        starttls = children[0]
        assert starttls.tag == f"{{{NS_TLS}}}starttls", tostring(feats)
        assert starttls.find(f"{{{NS_TLS}}}required") is not None, f"<required/> missing: {tostring(feats)}"
        assert feats.find(f"{{{NS_SASL}}}mechanisms") is None
        assert "PLAIN" not in c.raw_in.decode("utf-8", "replace")


def test_features_after_starttls_list_mechanisms(server):
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        feats = c.starttls()
        mechs = RawClient.mechanisms(feats)
        for m in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
            assert m in mechs, f"{m} not offered after STARTTLS: {mechs}"
        assert feats.find(f"{{{NS_TLS}}}starttls") is None, "STARTTLS offered again after TLS"
        assert feats.find(f"{{{NS_BIND}}}bind") is None, "bind offered before authentication"


def test_features_on_direct_tls_list_mechanisms(server):
    with RawClient(server.host, server.c2s_tls_port, server.domain) as c:
        c.connect(direct_tls=True)
        feats = c.open_stream()
        mechs = RawClient.mechanisms(feats)
        for m in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
            assert m in mechs, f"{m} not offered on direct TLS: {mechs}"
        assert feats.find(f"{{{NS_TLS}}}starttls") is None, "STARTTLS offered on a TLS stream"


def test_features_after_auth_offer_bind(server, make_user):
    alice = make_user("alice")
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.auth_plain(alice.user, alice.password)
        feats = c.features
        assert feats.find(f"{{{NS_BIND}}}bind") is not None, f"no bind after auth: {tostring(feats)}"
        assert feats.find(f"{{{NS_SASL}}}mechanisms") is None, "SASL offered again after auth"
        jid = c.bind("here")
        assert jid == f"{alice.jid}/here"
        assert c.ping_server().get("type") == "result"


def test_bind_without_resource_gets_generated_one(server, make_user):
    alice = make_user("alice")
    c1 = login_server(server, alice, resource=None)
    c2 = login_server(server, alice, resource=None)
    try:
        for c in (c1, c2):
            bare, _, res = c.jid.partition("/")
            assert bare == alice.jid and res, f"bad generated JID {c.jid}"
        assert c1.jid != c2.jid, "two sessions got the same generated resource"
    finally:
        c1.close()
        c2.close()


async def test_two_resources_bound_at_once(server, make_user, clients):
    alice = make_user("alice")
    r1 = await clients.login(alice, "one")
    r2 = await clients.login(alice, "two")
    assert r1.full != r2.full
    # both stay usable: each sends to the other's full JID
    r1.send_message(r2.full, "from one")
    r2.send_message(r1.full, "from two")
    m2 = await r2.wait_message(body="from one")
    m1 = await r1.wait_message(body="from two")
    assert str(m2["from"]) == r1.full
    assert str(m1["from"]) == r2.full
    assert r1.connected and r2.connected


def test_generated_certificate_is_served_and_kept(make_server):
    srv = make_server()
    cert_pem = srv.cert_dir / "cert.pem"
    key_pem = srv.cert_dir / "key.pem"
    assert cert_pem.is_file() and key_pem.is_file(), f"no generated cert in {srv.cert_dir}"
    on_disk = first_cert_der(cert_pem)
    assert server_domain_in(srv, on_disk)
    assert served_cert_starttls(srv) == on_disk, "STARTTLS serves another certificate than data_dir/tls/cert.pem"
    assert served_cert_direct(srv) == on_disk, "direct TLS serves another certificate than data_dir/tls/cert.pem"
    cert_bytes, key_bytes = cert_pem.read_bytes(), key_pem.read_bytes()

    srv.restart()
    assert cert_pem.read_bytes() == cert_bytes, "certificate regenerated on restart"
    assert key_pem.read_bytes() == key_bytes, "key regenerated on restart"
    assert served_cert_starttls(srv) == on_disk, "another certificate served after restart"
    assert served_cert_direct(srv) == on_disk


def server_domain_in(srv, der: bytes) -> bool:
    names = cert_names(der)
    assert srv.domain in names, f"generated cert names {names}, not {srv.domain}"
    return True


async def test_configured_certificate_is_served(make_server, make_user, tmp_path):
    cert, key, der = make_self_signed(tmp_path / "mycert", "localhost", "Causerie interop test CA-less cert")
    srv = make_server(tls={"cert": str(cert), "key": str(key)})
    assert served_cert_starttls(srv) == der, "STARTTLS does not serve the configured certificate"
    assert served_cert_direct(srv) == der, "direct TLS does not serve the configured certificate"
    # and what a real client sees
    acct = srv.add_user("carol", "carolpw")
    c = await Client.login(srv, acct, "x")
    try:
        assert c.peer_cert_der is not None
        assert fingerprint(c.peer_cert_der) == fingerprint(der)
    finally:
        await c.disconnect()
    d = await Client.login(srv, acct, "y", direct_tls=True)
    try:
        assert fingerprint(d.peer_cert_der) == fingerprint(der)
    finally:
        await d.disconnect()


def test_check_command(server, make_server):
    cp = server.check()
    assert cp.returncode == 0, f"`causerie check` failed on a valid setup:\n{cp.stdout}\n{cp.stderr}"
    bad = make_server(tls={"cert": "/nonexistent/cert.pem", "key": "/nonexistent/key.pem"}, start=False)
    cp = bad.check()
    assert cp.returncode != 0, "`causerie check` accepted a config whose certificate files do not exist"


async def test_starttls_client_sees_same_cert_as_file(server, make_user, clients):
    # the session server uses a generated certificate
    alice = make_user("alice")
    c = await clients.login(alice, "a")
    assert c.peer_cert_der == first_cert_der(server.cert_dir / "cert.pem")


@pytest.mark.parametrize("direct_tls", [False, True], ids=["starttls", "direct_tls"])
def test_raw_login_plain(server, make_user, direct_tls):
    alice = make_user("alice")
    c = login_server(server, alice, "rawres", direct_tls=direct_tls)
    try:
        assert c.jid == f"{alice.jid}/rawres"
        assert c.ping_server().get("type") == "result"
    finally:
        c.close()


def test_direct_tls_sessions_resume_with_one_ticket(server):
    """A client that kept the ticket of its last connection resumes the TLS session
    (no certificate exchange) and gets a working XMPP stream, again and again with
    each new ticket."""
    import socket
    import ssl

    from raw import make_client_ssl_context

    ctx = make_client_ssl_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    header = (f"<?xml version='1.0'?><stream:stream to='{server.domain}' version='1.0' "
              "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>").encode()

    def stream(session=None):
        raw = socket.create_connection((server.host, server.c2s_tls_port), timeout=10)
        tls = ctx.wrap_socket(raw, server_hostname=server.domain, session=session)
        tls.sendall(header)
        got = b""
        while b"</stream:features>" not in got:
            chunk = tls.recv(4096)
            assert chunk, f"stream closed early: {got!r}"
            got += chunk
        reused, kept = tls.session_reused, tls.session
        tls.close()
        return got, reused, kept

    features, reused, first = stream()
    assert b"SCRAM-SHA-256" in features
    assert not reused
    assert first is not None and first.has_ticket, "the server sent a resumption ticket"
    for _ in range(2):
        features, reused, kept = stream(first)
        assert reused, "the session was resumed from its ticket"
        assert b"SCRAM-SHA-256" in features, "the resumed stream works"
        first = kept
