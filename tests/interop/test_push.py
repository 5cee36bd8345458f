"""XEP-0357 push notifications through a XEP-0114 external component (issue 14).

The push app server is played by slixmpp's ``ComponentXMPP`` (a XEP-0114
implementation nobody here wrote), connected to the server's component port with
the configured secret: it records the pubsub publishes it receives and answers
them (a result, or an error when a test says so). A phone (a slixmpp client of a
directory pupil) enables push toward it and goes away; a classmate who may chat
with him (mutual contacts) writes; the app server receives one notification for
that phone's node, with the phone's publish-options, without the message's body
or sender (the default: pupils are minors).

slixmpp 1.17 has no XEP-0357 plugin: the phone sends ``<enable/>`` and
``<disable/>`` as raw IQs, as any client does.

Also: disabling stops the notifications; enabling toward anything but a
configured component is refused (``not-allowed``, French and English); a wrong
component secret is refused (``not-authorized``) and so is an unknown component
domain (``host-unknown``); a component may not write to a pupil, nor a pupil to
the component (``service-unavailable``); an app server that answers a
notification with an error, or does not answer in time, has that registration
disabled; messages close together are coalesced into one notification; a new
connection of the component replaces the old one (``conflict``).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import re
import socket
import time
from xml.etree import ElementTree as ET

import pytest
import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from clients import barrier
from directory_fixture import error_of
from gate_fixture import CONTACT_PAIR, make_gate, mutual  # noqa: F401  (fixture)

PUSH = "push.localhost"
SECRET = "push-secret-for-the-tests-0123"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_DATA = "jabber:x:data"
NS_COMPONENT = "jabber:component:accept"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
SUMMARY = "urn:xmpp:push:summary"

PUSH_TOML = f"""
[[components]]
domain = "{PUSH}"
secret = "{SECRET}"

[push]
min_interval_secs = 0
answer_timeout_secs = 3
"""

PHONE, FRIEND = CONTACT_PAIR  # noah.robert, jules.lambert: mutual contacts
NODE = "noah-phone-node"
OPTIONS = (
    f"<x xmlns='{NS_DATA}' type='submit'>"
    f"<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
    f"<field var='secret'><value>device-token-42</value></field></x>"
)


class AppServer:
    """The push app server: slixmpp's ComponentXMPP on the component port."""

    def __init__(self, srv, *, domain: str = PUSH, secret: str = SECRET):
        x = slixmpp.ComponentXMPP(domain, secret, srv.host, srv.component_port)
        x.whitespace_keepalive = False
        self.x = x
        # "result", the condition of the error to answer publishes with, or None: no answer.
        self.answer = "result"
        self.publishes: list[ET.Element] = []
        self.messages: list[ET.Element] = []
        self.started = asyncio.get_running_loop().create_future()
        x.register_handler(Callback(
            "push-publish",
            MatchXPath(f"{{{x.default_ns}}}iq/{{{NS_PUBSUB}}}pubsub"),
            self._on_publish))
        x.register_handler(Callback(
            "push-messages", MatchXPath(f"{{{x.default_ns}}}message"),
            lambda m: self.messages.append(copy.deepcopy(m.xml))))
        x.add_event_handler("session_start", self._on_start)

    def _on_start(self, _event) -> None:
        if not self.started.done():
            self.started.set_result(True)

    def _on_publish(self, iq) -> None:
        self.publishes.append(ET.fromstring(str(iq)))
        if iq["type"] != "set" or self.answer is None:
            return
        reply = iq.reply()
        if self.answer != "result":
            reply["type"] = "error"
            reply["error"]["condition"] = self.answer
            reply["error"]["type"] = "cancel"
        reply.send()

    async def connect(self) -> "AppServer":
        self.x.connect()
        await asyncio.wait_for(self.started, 10)
        return self

    async def wait_publishes(self, count: int, timeout: float = 8.0) -> list[ET.Element]:
        deadline = time.monotonic() + timeout
        while len(self.publishes) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.publishes)} publishes received, {count} expected")
            await asyncio.sleep(0.05)
        return self.publishes

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.x.disconnect(), 3)
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass


def publish_of(iq: ET.Element) -> dict:
    """The parts of a notification IQ a test looks at."""
    pubsub = iq.find(f"{{{NS_PUBSUB}}}pubsub")
    publish = pubsub.find(f"{{{NS_PUBSUB}}}publish")
    form = publish.find(f"{{{NS_PUBSUB}}}item/{{{NS_PUSH}}}notification/{{{NS_DATA}}}x")
    fields = {f.get("var"): [v.text for v in f.findall(f"{{{NS_DATA}}}value")]
              for f in form.findall(f"{{{NS_DATA}}}field")}
    options = pubsub.find(f"{{{NS_PUBSUB}}}publish-options/{{{NS_DATA}}}x")
    opt_fields = {} if options is None else {
        f.get("var"): [v.text for v in f.findall(f"{{{NS_DATA}}}value")]
        for f in options.findall(f"{{{NS_DATA}}}field")}
    return {"from": iq.get("from"), "to": iq.get("to"), "type": iq.get("type"),
            "node": publish.get("node"), "fields": fields, "options": opt_fields,
            "xml": ET.tostring(iq, encoding="unicode")}


async def enable(c, jid: str = PUSH, node: str = NODE, options: str = OPTIONS):
    return await c.query(None, f"<enable xmlns='{NS_PUSH}' jid='{jid}' node='{node}'>{options}</enable>",
                         itype="set")


async def disable(c, jid: str = PUSH, node: str | None = NODE):
    n = f" node='{node}'" if node else ""
    return await c.query(None, f"<disable xmlns='{NS_PUSH}' jid='{jid}'{n}/>", itype="set")


async def school_with_push(make_gate, toml: str = PUSH_TOML):
    """A server with the push component configured, the phone's owner and his friend
    mutual contacts, and the app server connected."""
    g = await make_gate(extra_toml=toml)
    phone, friend = await g.users(PHONE, FRIEND)
    await mutual(phone, friend)
    app = await AppServer(g.srv).connect()
    return g, phone, friend, app


async def phone_goes_away(g, phone, friend):
    """The phone enables push, then its app is closed (the session ends)."""
    reply = await enable(phone)
    assert reply["type"] == "result", reply
    await phone.disconnect()
    # The friend sees him leave: the server handled the end of his session.
    await friend.wait_presence(frm=phone.bare, ptype="unavailable")


def raw_component(srv, domain: str, secret: str) -> tuple[str | None, str]:
    """A XEP-0114 handshake by hand: (stream error condition or None, all bytes read)."""
    s = socket.create_connection((srv.host, srv.component_port), timeout=5)
    try:
        s.sendall((f"<?xml version='1.0'?><stream:stream xmlns='{NS_COMPONENT}' "
                   f"xmlns:stream='http://etherx.jabber.org/streams' to='{domain}'>").encode())
        data = b""
        sid = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            text = data.decode("utf-8", "replace")
            if sid is None:
                m = re.search(r"<stream:stream[^>]*\bid=['\"]([^'\"]+)['\"]", text)
                if m and "stream:error" not in text:
                    sid = m.group(1)
                    digest = hashlib.sha1((sid + secret).encode()).hexdigest()
                    s.sendall(f"<handshake>{digest}</handshake>".encode())
            if "</stream:stream>" in text or "<handshake/>" in text or "<handshake xmlns" in text:
                break
    finally:
        s.close()
    text = data.decode("utf-8", "replace")
    m = re.search(r"<stream:error>\s*<([a-z-]+)", text)
    return (m.group(1) if m else None), text


# ---------------------------------------------------------------------------------------


async def test_an_offline_message_is_notified_without_body_or_sender(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    try:
        info = await friend.query(phone.bare, f"<query xmlns='{NS_DISCO_INFO}'/>")
        assert info["type"] == "result", info
        assert NS_PUSH in [f.get("var") for f in info.xml.iter(f"{{{NS_DISCO_INFO}}}feature")], \
            "urn:xmpp:push:0 on the account's disco#info"
        await phone_goes_away(g, phone, friend)
        friend.send_message(phone.bare, "un secret de cour de récré")
        (iq,) = await app.wait_publishes(1)
        p = publish_of(iq)
        assert p["type"] == "set"
        assert p["from"] == phone.bare, p
        assert p["to"] == PUSH
        assert p["node"] == NODE
        assert p["fields"]["FORM_TYPE"] == [SUMMARY]
        assert p["fields"]["message-count"] == ["1"]
        assert "last-message-body" not in p["fields"], p["xml"]
        assert "last-message-sender" not in p["fields"], p["xml"]
        assert "secret de cour" not in p["xml"] and FRIEND not in p["xml"], p["xml"]
        assert p["options"]["secret"] == ["device-token-42"], "the publish-options go back"
        # One message, one notification.
        await barrier(friend)
        await asyncio.sleep(1)
        assert len(app.publishes) == 1, [publish_of(i)["xml"] for i in app.publishes]
        # The message itself is kept for the phone's next login.
        again = await g.login(PHONE)
        await again.wait_message(body="un secret de cour de récré", frm=friend.bare)
    finally:
        await app.close()


async def test_disable_stops_the_notifications(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    try:
        assert (await enable(phone))["type"] == "result"
        reply = await disable(phone)
        assert reply["type"] == "result", reply
        await phone.disconnect()
        await friend.wait_presence(frm=phone.bare, ptype="unavailable")
        friend.send_message(phone.bare, "tu es là ?")
        await barrier(friend)
        await asyncio.sleep(2)
        assert app.publishes == [], [publish_of(i)["xml"] for i in app.publishes]
    finally:
        await app.close()


async def test_enable_toward_anything_but_the_push_component_is_refused(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    try:
        for jid in (friend.bare, "push.example.org", "localhost", "conference.localhost"):
            reply = await enable(phone, jid=jid)
            assert reply["type"] == "error", (jid, reply)
            cond, texts = error_of(reply.xml)
            assert cond == "not-allowed", (jid, reply)
            assert texts.get("fr") and texts.get("en") and texts["fr"] != texts["en"], texts
        # Nothing was registered: no notification for anyone.
        await phone.disconnect()
        await friend.wait_presence(frm=phone.bare, ptype="unavailable")
        friend.send_message(phone.bare, "coucou")
        await barrier(friend)
        await asyncio.sleep(1.5)
        assert app.publishes == []
    finally:
        await app.close()


async def test_a_wrong_secret_or_an_unknown_component_is_refused(make_gate):
    g = await make_gate(extra_toml=PUSH_TOML)
    cond, text = await asyncio.to_thread(raw_component, g.srv, PUSH, "not-the-secret-at-all")
    assert cond == "not-authorized", text
    cond, text = await asyncio.to_thread(raw_component, g.srv, "other.localhost", SECRET)
    assert cond == "host-unknown", text
    # The right secret by hand: accepted.
    cond, text = await asyncio.to_thread(raw_component, g.srv, PUSH, SECRET)
    assert cond is None and "<handshake" in text, text
    # And slixmpp's component with a wrong secret never starts its session.
    bad = AppServer(g.srv, secret="still-not-the-secret")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(bad.connect()), 4)
    await bad.close()


async def test_a_component_and_a_pupil_cannot_write_to_each_other(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    try:
        # The component asks the server itself: answered (its own discovery).
        iq = app.x.Iq()
        iq["type"] = "get"
        iq["to"] = g.domain
        iq["from"] = PUSH
        iq.xml.append(ET.fromstring(f"<query xmlns='{NS_DISCO_INFO}'/>"))
        info = await iq.send(timeout=5)
        assert info["type"] == "result", info
        assert info.xml.find(f"{{{NS_DISCO_INFO}}}query") is not None, info
        # The component writes to a pupil: refused, nothing reaches him.
        m0 = phone.mark()
        app.x.send_message(mto=phone.full, mbody="publicité", mfrom=PUSH)
        app.x.send_message(mto=phone.bare, mbody="publicité", mfrom=PUSH)
        deadline = time.monotonic() + 5
        while len([m for m in app.messages if m.get("type") == "error"]) < 2:
            assert time.monotonic() < deadline, [ET.tostring(m) for m in app.messages]
            await asyncio.sleep(0.05)
        for m in app.messages:
            err = m.find(f"{{{NS_COMPONENT}}}error")
            assert err is not None and err.find(f"{{{NS_STANZAS}}}service-unavailable") is not None, \
                ET.tostring(m)
        await barrier(phone)
        assert not phone.matching(lambda st: "publicité" in str(st), start=m0)
        # The pupil writes to the component: refused, nothing reaches it.
        before = len(app.messages)
        phone.send_message(PUSH, "bonjour le service")
        st = await phone.wait_for(lambda s: s.name == "message" and s["type"] == "error"
                                  and s["from"].bare == PUSH)
        cond, texts = error_of(st.xml)
        assert cond == "service-unavailable", st
        assert texts.get("fr") and texts.get("en"), texts
        reply = await phone.query(PUSH, f"<query xmlns='{NS_DISCO_INFO}'/>")
        assert reply["type"] == "error" and error_of(reply.xml)[0] == "service-unavailable", reply
        # A component may not send from another domain: its stream is closed.
        await asyncio.sleep(0.5)
        assert len(app.messages) == before, [ET.tostring(m) for m in app.messages[before:]]
    finally:
        await app.close()


async def test_a_stanza_from_outside_its_domain_closes_the_component_stream(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    closed = asyncio.get_running_loop().create_future()
    app.x.add_event_handler("stream_error", lambda e: closed.done() or closed.set_result(e))
    app.x.send_message(mto=phone.bare, mbody="usurpation", mfrom=friend.bare)
    err = await asyncio.wait_for(closed, 8)
    assert err["condition"] == "invalid-from", err
    await barrier(phone)
    assert not phone.matching(lambda st: "usurpation" in str(st))
    await app.close()


async def test_an_app_server_error_disables_the_registration(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    try:
        app.answer = "item-not-found"
        await phone_goes_away(g, phone, friend)
        friend.send_message(phone.bare, "premier")
        await app.wait_publishes(1)
        # The error disabled the registration: the next message wakes nobody.
        app.answer = "result"
        await asyncio.sleep(0.5)
        friend.send_message(phone.bare, "second")
        await barrier(friend)
        await asyncio.sleep(2)
        assert len(app.publishes) == 1, [publish_of(i)["xml"] for i in app.publishes]
    finally:
        await app.close()


async def test_an_app_server_that_does_not_answer_has_the_registration_disabled(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    try:
        app.answer = None
        await phone_goes_away(g, phone, friend)
        friend.send_message(phone.bare, "premier")
        await app.wait_publishes(1)
        await asyncio.sleep(3.5)  # answer_timeout_secs = 3
        app.answer = "result"
        friend.send_message(phone.bare, "second")
        await barrier(friend)
        await asyncio.sleep(2)
        assert len(app.publishes) == 1, [publish_of(i)["xml"] for i in app.publishes]
    finally:
        await app.close()


async def test_messages_close_together_are_coalesced(make_gate):
    toml = PUSH_TOML.replace("min_interval_secs = 0", "min_interval_secs = 3")
    g, phone, friend, app = await school_with_push(make_gate, toml)
    try:
        await phone_goes_away(g, phone, friend)
        for i in range(5):
            friend.send_message(phone.bare, f"message {i}")
        await barrier(friend)
        await app.wait_publishes(1)
        await asyncio.sleep(1)
        assert len(app.publishes) == 1, "the next ones wait for the interval"
        (first, second) = await app.wait_publishes(2, timeout=8)
        assert publish_of(second)["fields"]["message-count"] == ["5"], publish_of(second)["xml"]
        await asyncio.sleep(4)
        assert len(app.publishes) == 2, "five messages, two notifications"
    finally:
        await app.close()


async def test_a_new_connection_of_the_component_replaces_the_old_one(make_gate):
    g, phone, friend, app = await school_with_push(make_gate)
    ended = asyncio.get_running_loop().create_future()
    app.x.add_event_handler("stream_error", lambda e: ended.done() or ended.set_result(e))
    newer = await AppServer(g.srv).connect()
    try:
        err = await asyncio.wait_for(ended, 8)
        assert err["condition"] == "conflict", err
        # The newer connection gets the notifications.
        await phone_goes_away(g, phone, friend)
        friend.send_message(phone.bare, "pour le nouveau")
        await newer.wait_publishes(1)
        assert app.publishes == []
    finally:
        await newer.close()
        await app.close()
