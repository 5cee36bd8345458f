"""XEP-0198 stream management: acknowledgements both ways, resumption after a
cut connection, failed resumptions, and what happens to unacknowledged stanzas
when the resumption window closes (another resource, or offline storage)."""

from __future__ import annotations

import asyncio
import secrets
import time

from clients import Client, befriend
from raw import MESSAGE, RawTimeout, login_server
from slixmpp.stanza import Presence

from sm_client import NS_SM, SmClient, authed, enable, resume, sm, sm_login


def _bodies(msgs) -> list[str]:
    return [m.find("{jabber:client}body").text for m in msgs]


def _wait_messages(c, prefix: str, n: int, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while len(c.messages(prefix)) < n and time.monotonic() < deadline:
        c.drain(0.2)
    return c.messages(prefix)


def test_feature_enable_and_acknowledgements_both_ways(server, make_user):
    A, B = make_user("smA"), make_user("smB")
    pre = authed(server, A)
    assert pre.features.find(sm("sm")) is not None, "urn:xmpp:sm:3 offered with bind"
    # <enable/> before binding is refused.
    pre.send(f"<enable xmlns='{NS_SM}'/>")
    failed = pre.wait_for(lambda e: e.tag == sm("failed"))
    assert failed.find("{urn:ietf:params:xml:ns:xmpp-stanzas}unexpected-request") is not None
    pre.bind("phone")
    a = enable(pre, resume=False)
    assert a.request() == 0
    # A second <enable/> is refused, the stream goes on.
    a.raw.send(f"<enable xmlns='{NS_SM}'/>")
    a.raw.wait_for(lambda e: e.tag == sm("failed"))
    b = login_server(server, B, "pc")
    tag = secrets.token_hex(3)
    for i in range(3):
        a.raw.message(b.jid, f"{tag} a->b {i}")
    assert a.request() == 3, "three stanzas handled"
    # The server asks for acknowledgements after a few stanzas.
    for i in range(6):
        b.message(a.jid, f"{tag} b->a {i}")
    a.raw.wait_for(lambda e: e.tag == sm("r"), what="the server's <r/>")
    assert len(_wait_messages(a, f"{tag} b->a", 6)) == 6
    a.ack()
    # Acknowledging more than was sent is a stream error.
    a.raw.send(f"<a xmlns='{NS_SM}' h='{a.h + 50}'/>")
    assert a.raw.expect_stream_error() == "undefined-condition"
    b.close()


def test_resume_after_the_connection_is_cut(server, make_user):
    A, B = make_user("smA"), make_user("smB")
    a = sm_login(server, A, "phone")
    b = login_server(server, B, "pc")
    tag = secrets.token_hex(3)
    b.message(a.jid, f"{tag} 1", id_=f"{tag}-1")
    assert len(_wait_messages(a, tag, 1)) == 1
    a.ack()  # the client counted the first one
    b.message(a.jid, f"{tag} 2", id_=f"{tag}-2")
    assert len(_wait_messages(a, tag, 2)) == 2  # received, not acknowledged
    a.raw.send(f"<message to='{b.jid}' type='chat' id='{tag}-x'><body>{tag} from a</body></message>")
    h_client = 1
    a.raw.abort()
    time.sleep(0.3)
    # Sent while the session is detached.
    b.message(a.jid, f"{tag} 3", id_=f"{tag}-3")
    b.message(A.jid, f"{tag} 4", id_=f"{tag}-4")  # bare JID: the detached session is still available?
    c, el = resume(server, A, a.id, h_client)
    assert el.tag == sm("resumed"), el
    assert el.get("previd") == a.id
    assert int(el.get("h")) == 1, "the message a sent before the cut was handled"
    r = SmClient(c, a.id, len(c.received))
    got = _wait_messages(r, tag, 3)
    r.drain(0.5)
    ids = [m.get("id") for m in r.messages(tag)]
    assert ids[:2] == [f"{tag}-2", f"{tag}-3"], ids
    assert ids.count(f"{tag}-1") == 0, "what the client acknowledged is not sent again"
    assert len(ids) == len(set(ids)), f"exactly once: {ids}"
    # The resumed stream works both ways.
    c.message(b.jid, f"{tag} after")
    b.wait_for(lambda e: e.tag == MESSAGE and (e.findtext("{jabber:client}body") or "") == f"{tag} after")
    assert r.request() == 2, "the count goes on across the resumption"
    b.close()
    c.close()


def test_failed_resumptions(server, make_user):
    A, B = make_user("smA"), make_user("smB")
    a = sm_login(server, A, "phone")
    # Unknown id.
    c, el = resume(server, A, "0" * 32, 0)
    assert el.tag == sm("failed")
    assert el.find("{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found") is not None
    # The client may bind after a failed resumption.
    c.bind("other")
    c.close()
    # Another account's id: never another's session.
    c, el = resume(server, B, a.id, 0)
    assert el.tag == sm("failed")
    assert el.find("{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found") is not None
    c.close()
    # a's session is untouched.
    assert a.request() == 0
    # After a clean end the id is gone.
    a.raw.send("</stream:stream>")
    a.raw.wait_closed(5)
    time.sleep(0.3)
    c, el = resume(server, A, a.id, 0)
    assert el.tag == sm("failed")
    c.close()


def test_window_expiry_sends_unacknowledged_messages_offline(server, make_user):
    A, B = make_user("smA"), make_user("smB")
    a = sm_login(server, A, "phone", max_=1, presence=True)
    b = login_server(server, B, "pc")
    tag = secrets.token_hex(3)
    b.message(a.jid, f"{tag} 1", id_=f"{tag}-1")
    b.message(a.jid, f"{tag} 2", id_=f"{tag}-2")
    assert len(_wait_messages(a, tag, 2)) == 2
    a.raw.abort()  # nothing acknowledged
    time.sleep(0.3)
    b.message(a.jid, f"{tag} 3", id_=f"{tag}-3")
    time.sleep(2.0)  # the 1 s window closes
    c, el = resume(server, A, a.id, 0)
    assert el.tag == sm("failed"), "expired"
    c.close()
    n = login_server(server, A, "new")
    n.presence()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        try:
            n.recv(0.3)
        except RawTimeout:
            if len([e for e in n.received if e.tag == MESSAGE]) >= 3:
                break
    msgs = [e for e in n.received if e.tag == MESSAGE and (e.findtext("{jabber:client}body") or "").startswith(tag)]
    ids = sorted(m.get("id") for m in msgs)
    assert ids == [f"{tag}-1", f"{tag}-2", f"{tag}-3"], ids
    for m in msgs:
        assert m.find("{urn:xmpp:delay}delay") is not None
    # Exactly once: not again at the next login.
    n.close()
    time.sleep(0.3)
    n2 = login_server(server, A, "again")
    n2.presence()
    time.sleep(1.0)
    try:
        while True:
            n2.recv(0.2)
    except RawTimeout:
        pass
    again = [e for e in n2.received if e.tag == MESSAGE and (e.findtext("{jabber:client}body") or "").startswith(tag)]
    assert again == [], "offline messages were delivered once"
    b.close()
    n2.close()


def test_window_expiry_sends_unacknowledged_messages_to_another_resource(server, make_user):
    A, B = make_user("smA"), make_user("smB")
    other = login_server(server, A, "desk")
    other.presence()
    a = sm_login(server, A, "phone", max_=1, presence=True)
    b = login_server(server, B, "pc")
    tag = secrets.token_hex(3)
    b.message(a.jid, f"{tag} 1", id_=f"{tag}-1")
    assert len(_wait_messages(a, tag, 1)) == 1
    a.raw.abort()
    m = other.wait_for(lambda e: e.tag == MESSAGE and e.get("id") == f"{tag}-1", 8, "the re-routed message")
    assert m.findtext("{jabber:client}body") == f"{tag} 1"
    b.close()
    other.close()


def test_a_new_bind_of_the_same_resource_replaces_a_detached_session(server, make_user):
    A, B = make_user("smA"), make_user("smB")
    a = sm_login(server, A, "phone", presence=True)
    b = login_server(server, B, "pc")
    tag = secrets.token_hex(3)
    b.message(a.jid, f"{tag} 1", id_=f"{tag}-1")
    assert len(_wait_messages(a, tag, 1)) == 1
    a.raw.abort()
    time.sleep(0.3)
    n = login_server(server, A, "phone")
    n.presence()
    m = n.wait_for(lambda e: e.tag == MESSAGE and e.get("id") == f"{tag}-1", 8, "the unacknowledged message")
    assert m.findtext("{jabber:client}body") == f"{tag} 1"
    c, el = resume(server, A, a.id, 0)
    assert el.tag == sm("failed")
    c.close()
    b.close()
    n.close()


async def test_a_detached_session_stays_available_until_the_window_closes(server, make_user, clients):
    A, B = make_user("smA"), make_user("smB")
    a0 = await clients.login(A, "setup")
    b = await clients.login(B, "pc")
    await befriend(a0, b)
    await a0.disconnect()
    a = await asyncio.to_thread(sm_login, server, A, "phone", max_=3, presence=True)
    full = a.jid
    await b.wait_presence(frm=full)
    mark = b.mark()
    await asyncio.to_thread(a.raw.abort)

    def unavailable(st):
        return isinstance(st, Presence) and str(st["from"]) == full and st["type"] == "unavailable"

    await b.expect_none(unavailable, 1.5, "an unavailable presence during the resumption window", start=mark)
    await b.wait_presence(frm=full, ptype="unavailable", timeout=8, start=mark)
