"""Hostile or broken input on raw sockets: the server answers with the right
stream/stanza error, closes what must be closed, and keeps serving others."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from slixmpp.stanza import Message

import raw
from raw import IQ, MESSAGE, RawClient, stanza_error_condition


def _assert_stream_error(c: RawClient, allowed: tuple[str, ...], timeout: float = 10) -> str:
    cond = c.expect_stream_error(timeout)
    assert cond in allowed, (f"expected stream error in {allowed}, got {cond!r}; "
                             f"last bytes: {bytes(c.raw_in)[-400:]!r}")
    assert c.stream_end, "stream error not followed by </stream:stream>"
    assert c.wait_closed(5), "server did not close the TCP connection after the stream error"
    return cond


def _opened(server) -> RawClient:
    c = RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    c.open_stream()
    return c


def _login(server, account, resource="raw") -> RawClient:
    return raw.login_server(server, account, resource)


# ---------------------------------------------------------------- malformed XML
@pytest.mark.parametrize("payload", [
    "<message><body>oops</bdy></message>",
    "<message to='a@localhost'><body>unclosed attribute</body></message id='>",
    "<<<<>>>>",
    "<message><body>x</body></message></not-open>",
], ids=["mismatched-tag", "bad-attribute", "garbage", "stray-end-tag"])
def test_malformed_xml_before_auth(server, payload):
    with _opened(server) as c:
        c.try_send(payload)
        _assert_stream_error(c, ("not-well-formed",))


def test_malformed_xml_after_bind(server, make_user):
    with _login(server, make_user("alice")) as c:
        c.send("<message to='nobody@localhost'><body>broken</bdy></message>")
        _assert_stream_error(c, ("not-well-formed",))


def test_invalid_utf8_is_not_well_formed(server, make_user):
    with _login(server, make_user("alice")) as c:
        c.send(b"<message to='nobody@localhost'><body>\xff\xfe\xc3\x28</body></message>")
        _assert_stream_error(c, ("not-well-formed", "unsupported-encoding"))


# --------------------------------------------------------- restricted XML (DTD)
BILLION_LAUGHS = (
    "<!DOCTYPE stream:stream ["
    "<!ENTITY lol 'EXPANDED-LOL'>"
    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"
    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"
    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"
    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"
    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"
    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>"
    "<!ENTITY xxe SYSTEM 'file:///etc/passwd'>"
    "]>"
)


def test_doctype_with_entities_is_refused(server):
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        header = ("<?xml version='1.0'?>" + BILLION_LAUGHS +
                  f"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                  f"to='{server.domain}' version='1.0'>")
        c.try_send(header)
        c.try_send("<message to='x@localhost'><body>&lol9;&xxe;</body></message>")
        _assert_stream_error(c, ("restricted-xml", "not-well-formed"))
        data = bytes(c.raw_in)
        assert b"EXPANDED-LOL" not in data and b"root:" not in data, "an entity was expanded"


def test_doctype_mid_stream_is_refused(server):
    with _opened(server) as c:
        c.try_send("<!DOCTYPE foo [<!ENTITY e 'EXPANDED-E'>]><message><body>&e;</body></message>")
        _assert_stream_error(c, ("restricted-xml", "not-well-formed"))
        assert b"EXPANDED-E" not in bytes(c.raw_in)


async def test_undeclared_entity_after_bind_is_refused(server, make_user, clients):
    A, B = make_user("alice"), make_user("bob")
    b = await clients.login(B, "b")
    c = await asyncio.to_thread(_login, server, A)
    try:
        mb = b.mark()
        await asyncio.to_thread(c.send, f"<message to='{b.full}' type='chat'><body>&xxe;&lol;</body></message>")
        cond = await asyncio.to_thread(c.expect_stream_error, 10)
        assert cond in ("restricted-xml", "not-well-formed"), cond
        await b.expect_none(lambda s: isinstance(s, Message) and s.xml.get("type") != "error", 0.5,
                            "a message with an undeclared entity", start=mb)
    finally:
        c.close()


@pytest.mark.parametrize("payload", [
    "<c xmlns='http://www.w3.org/2000/xmlns/'/>",
    "<xml:c/>",
], ids=["xmlns-namespace", "xml-namespace"])
async def test_an_element_in_a_reserved_namespace_is_refused(server, make_user, clients, payload):
    """Namespaces in XML §3: no element is in the `xmlns:` or `xml:` namespace. Such a
    message would be written to its recipient as XML no parser takes back (and read back
    from the archive, it made the writer panic): the sender's stream is closed with
    not-well-formed, the recipient gets nothing and keeps his session."""
    A, B = make_user("alice"), make_user("bob")
    b = await clients.login(B, "b")
    c = await asyncio.to_thread(_login, server, A)
    try:
        mb = b.mark()
        await asyncio.to_thread(
            c.send, f"<message to='{b.full}' type='chat'><body>reserved</body><a xmlns=''/>{payload}</message>")
        cond = await asyncio.to_thread(c.expect_stream_error, 10)
        assert cond == "not-well-formed", cond
        await b.expect_none(lambda s: isinstance(s, Message) and s["body"] == "reserved", 0.5,
                            "a message with an element in a reserved namespace", start=mb)
    finally:
        c.close()
    # Bob is still served.
    a = await clients.login(A, "a2")
    a.send_message(b.full, "after")
    await b.wait_message(body="after", frm=a.full)


@pytest.mark.parametrize("when", ["before_auth", "after_bind"])
def test_processing_instruction_is_refused(server, make_user, when):
    c = _opened(server) if when == "before_auth" else _login(server, make_user("alice"))
    with c:
        c.try_send("<?evil-pi some data?><message to='x@localhost'><body>pi</body></message>")
        _assert_stream_error(c, ("restricted-xml", "not-well-formed"))


# ------------------------------------------------------------------ deep nesting
async def test_deep_nesting_closes_only_the_offender(server, make_user, clients):
    A, B, C = make_user("alice"), make_user("bob"), make_user("carol")
    b = await clients.login(B, "b")
    c = await clients.login(C, "c")
    bad = await asyncio.to_thread(_login, server, A)
    try:
        depth = 1000
        bomb = (f"<message to='{b.full}' type='chat'><body>deep</body>" + "<a>" * depth +
                "</a>" * depth + "</message>")
        await asyncio.to_thread(bad.try_send, bomb)
        cond = await asyncio.to_thread(bad.expect_stream_error, 10)
        assert cond in ("policy-violation", "not-well-formed"), cond
        assert await asyncio.to_thread(bad.wait_closed, 5), "offender's connection not closed"
    finally:
        bad.close()
    # the others keep working
    c.send_message(b.full, "still alive?")
    await b.wait_message(body="still alive?", frm=c.full)
    b.send_message(c.full, "yes")
    await c.wait_message(body="yes", frm=b.full)
    assert not b.matching(lambda s: isinstance(s, Message) and s["body"] == "deep")


# ------------------------------------------------------------------- bad JIDs
BAD_JIDS = [
    "@localhost",                       # empty localpart
    "user@",                            # empty domain
    "user@localhost/",                  # empty resource
    "a@b@localhost",                    # two @
    "bad user@localhost",               # space in localpart
    "x" * 1100 + "@localhost",          # localpart > 1023 bytes
    "user@localhost/" + "r" * 1100,     # resourcepart > 1023 bytes
]


def test_invalid_to_jids_get_jid_malformed(server, make_user):
    with _login(server, make_user("alice")) as c:
        for i, bad in enumerate(BAD_JIDS):
            mid = f"badjid-{i}"
            c.send(f"<message to='{raw.xml_escape(bad)}' type='chat' id='{mid}'><body>hi</body></message>")
            err = c.wait_for(lambda e, mid=mid: e.tag == MESSAGE and e.get("id") == mid, what=f"error for to={bad[:40]!r}")
            assert err.get("type") == "error", raw.tostring(err)
            assert stanza_error_condition(err) == "jid-malformed", f"to={bad[:40]!r}: {raw.tostring(err)}"
        # an IQ too
        reply = c.iq("<ping xmlns='urn:xmpp:ping'/>", "get", "@localhost")
        assert reply.get("type") == "error" and stanza_error_condition(reply) == "jid-malformed", raw.tostring(reply)
        # the connection is still up
        assert c.ping_server().get("type") == "result"


# ------------------------------------------------------------------ forged from
async def test_forged_from_is_replaced(server, make_user, clients):
    A, B, V = make_user("alice"), make_user("bob"), make_user("victim")
    b = await clients.login(B, "b")
    c = await asyncio.to_thread(_login, server, A, "forger")
    try:
        await asyncio.to_thread(
            c.send, f"<message from='{V.jid}/phone' to='{b.full}' type='chat' id='forged1'><body>I am victim</body></message>")
        m = await b.wait_message(body="I am victim")
        assert str(m["from"]) == c.jid, f"forged from not replaced: {m['from']}"
        await asyncio.to_thread(
            c.send, f"<presence from='{V.jid}/phone' to='{b.full}'><status>forged presence</status></presence>")
        p = await b.wait_presence(pred=lambda s: s["status"] == "forged presence")
        assert str(p["from"]) == c.jid
        await asyncio.to_thread(
            c.send, f"<iq from='{V.jid}' to='{b.full}' type='get' id='forged-iq'><ping xmlns='urn:xmpp:ping'/></iq>")
        reply = await asyncio.to_thread(c.wait_for, lambda e: e.tag == IQ and e.get("id") == "forged-iq")
        assert reply.get("type") == "result", raw.tostring(reply)
        assert reply.get("to") in (c.jid, None), raw.tostring(reply)
    finally:
        c.close()


# ------------------------------------------------------------- order of stream
@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "after_starttls"])
def test_stanza_before_auth_is_not_authorized(server, tls):
    with _opened(server) as c:
        if tls:
            c.starttls()
        c.try_send(f"<message to='someone@{server.domain}' type='chat'><body>hi</body></message>")
        _assert_stream_error(c, ("not-authorized",))


def test_stanza_after_auth_before_bind_is_not_authorized(server, make_user):
    A = make_user("alice")
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.auth_plain(A.user, A.password)
        c.try_send(f"<message to='someone@{server.domain}' type='chat'><body>hi</body></message>")
        _assert_stream_error(c, ("not-authorized",))


def test_wrong_stream_namespace(server):
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.try_send(f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                   f"xmlns:stream='urn:example:wrong' to='{server.domain}' version='1.0'>")
        cond = c.expect_stream_error(10)
        assert cond in ("invalid-namespace", "not-well-formed", "bad-format"), cond


def test_unknown_host_in_stream_header(server):
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.try_send(c.stream_header(to=f"other-{secrets.token_hex(3)}.example"))
        _assert_stream_error(c, ("host-unknown",))
