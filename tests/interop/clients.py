"""slixmpp, wrapped for tests.

``Client`` records every stanza it receives (a copy, in arrival order) so a
test can wait for "a stanza matching this predicate" with a timeout, or
assert that none arrives during a short window.  slixmpp's own automatic
behaviour that would hide server behaviour is switched off: subscription
requests are not auto-approved, nothing is sent at session start unless asked.

    a = await Client.login(server, alice, resource="phone")   # STARTTLS
    await a.send_message(bob.jid, "hi")
    msg = await b.wait_message(body="hi")

Certificate verification is disabled (the server's cert is self-signed); the
DER of the certificate the server presented is kept in ``peer_cert_der``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any, Callable

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq, Message, Presence

log = logging.getLogger("interop.clients")

DEFAULT_TIMEOUT = 8.0
CONNECT_TIMEOUT = 15.0

NS_ROSTER = "jabber:iq:roster"
NS_DELAY = "urn:xmpp:delay"

DEFAULT_PLUGINS = ("xep_0030", "xep_0054", "xep_0092", "xep_0199", "xep_0203")


class LoginFailed(AssertionError):
    """Connection or authentication did not lead to a bound session.

    ``reason`` is one of 'auth' (SASL <failure/>), 'disconnected',
    'connection_failed', 'stream_error', 'timeout'; ``condition`` the SASL
    failure / stream error condition when known.
    """

    def __init__(self, reason: str, condition: str | None = None, detail: str = ""):
        self.reason = reason
        self.condition = condition
        super().__init__(f"login failed: {reason} ({condition}) {detail}".strip())


def insecure_ssl_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Client:
    """One slixmpp ClientXMPP session plus an inbox of received stanzas."""

    def __init__(self, jid: str, password: str, host: str, port: int, *, direct_tls: bool = False,
                 mech: str | None = None, plugins=DEFAULT_PLUGINS):
        self.host = host
        self.port = port
        self.direct_tls = direct_tls
        x = slixmpp.ClientXMPP(jid, password, sasl_mech=mech)
        x.ssl_context = insecure_ssl_context()
        x.enable_direct_tls = direct_tls
        x.enable_starttls = not direct_tls
        x.enable_plaintext = False
        x.auto_authorize = None  # never answer subscription requests by ourselves
        x.auto_subscribe = False
        x.whitespace_keepalive = False
        for p in plugins:
            x.register_plugin(p)
        self.xmpp = x
        self.inbox: list[Any] = []
        self._cond = asyncio.Condition()
        self.peer_cert_der: bytes | None = None
        self.events: list[tuple[str, Any]] = []
        self.stream_errors: list[str] = []
        self.failed_auth_conditions: list[str] = []
        self.disconnected = asyncio.Event()
        x.add_filter("in", self._record)
        x.add_event_handler("ssl_cert", self._on_cert)
        x.add_event_handler("stream_error", self._on_stream_error)
        x.add_event_handler("failed_auth", self._on_failed_auth)
        x.add_event_handler("disconnected", lambda e: self.disconnected.set())

    # ------------------------------------------------------------------ events
    def _record(self, stanza):
        try:
            copy = stanza.__copy__()
        except Exception:  # pragma: no cover
            copy = stanza
        copy._t = time.monotonic()
        self.inbox.append(copy)
        asyncio.ensure_future(self._notify())
        return stanza

    async def _notify(self):
        async with self._cond:
            self._cond.notify_all()

    def _on_cert(self, pem: str):
        self.peer_cert_der = ssl.PEM_cert_to_DER_cert(pem)

    def _on_stream_error(self, err):
        self.stream_errors.append(err["condition"])

    def _on_failed_auth(self, failure):
        self.failed_auth_conditions.append(failure["condition"])

    # ------------------------------------------------------------------- login
    @property
    def jid(self) -> slixmpp.JID:
        """The bound full JID."""
        return self.xmpp.boundjid

    @property
    def full(self) -> str:
        return self.xmpp.boundjid.full

    @property
    def bare(self) -> str:
        return self.xmpp.boundjid.bare

    @property
    def mechanism(self) -> str | None:
        mech = self.xmpp.plugin["feature_mechanisms"].mech
        return mech.name if mech is not None else None

    async def connect(self, *, roster: bool = True, presence: bool = True,
                      timeout: float = CONNECT_TIMEOUT) -> "Client":
        """Connect, authenticate, bind; then optionally fetch the roster and
        send initial presence (as a normal IM client does).  Raises
        LoginFailed when no session is established."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future = loop.create_future()

        def done(kind, cond=None, detail=""):
            if not outcome.done():
                outcome.set_result((kind, cond, detail))

        handlers = {
            "session_start": lambda e: done("ok"),
            "failed_auth": lambda f: done("auth", f["condition"]),
            "failed_all_auth": lambda e: done("auth", self.failed_auth_conditions[-1] if self.failed_auth_conditions else None),
            "no_auth": lambda e: done("auth", "no-mechanism"),
            "stream_error": lambda e: done("stream_error", e["condition"]),
            "disconnected": lambda e: done("disconnected", None, str(e)),
            "connection_failed": lambda e: done("connection_failed", None, str(e)),
        }
        for name, h in handlers.items():
            self.xmpp.add_event_handler(name, h)
        try:
            self.xmpp.connect(self.host, self.port)
            try:
                kind, cond, detail = await asyncio.wait_for(outcome, timeout)
            except asyncio.TimeoutError:
                kind, cond, detail = "timeout", None, f"no session within {timeout}s"
        finally:
            for name, h in handlers.items():
                self.xmpp.del_event_handler(name, h)
        if kind != "ok":
            await self.abort()
            raise LoginFailed(kind, cond, detail)
        if roster:
            await self.get_roster()
        if presence:
            self.xmpp.send_presence()
        return self

    @classmethod
    async def login(cls, server, account, resource: str | None = None, *, direct_tls: bool = False,
                    mech: str | None = None, roster: bool = True, presence: bool = True,
                    password: str | None = None, **kw) -> "Client":
        jid = account.jid + (f"/{resource}" if resource else "")
        port = server.c2s_tls_port if direct_tls else server.c2s_port
        c = cls(jid, password if password is not None else account.password, server.host, port,
                direct_tls=direct_tls, mech=mech, **kw)
        return await c.connect(roster=roster, presence=presence)

    async def disconnect(self, timeout: float = 3.0) -> None:
        x = self.xmpp
        if x.transport is not None:
            try:
                await asyncio.wait_for(x.disconnect(wait=1.0), timeout)
            except (asyncio.TimeoutError, Exception):
                x.abort()
        x.cancel_connection_attempt()
        await self._stop_tasks()

    async def abort(self) -> None:
        """Drop the TCP connection without closing the stream."""
        self.xmpp.cancel_connection_attempt()
        self.xmpp.abort()
        await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        # slixmpp keeps a filter task per stream; stop it so the loop can close.
        task = getattr(self.xmpp, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
        await asyncio.sleep(0)

    @property
    def connected(self) -> bool:
        return self.xmpp.transport is not None

    # ------------------------------------------------------------------- inbox
    async def wait_for(self, pred: Callable[[Any], bool], timeout: float = DEFAULT_TIMEOUT,
                       what: str = "matching stanza", start: int = 0) -> Any:
        """First stanza in the inbox (from index ``start``) matching ``pred``;
        waits up to ``timeout`` seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        async with self._cond:
            while True:
                for st in self.inbox[start:]:
                    try:
                        if pred(st):
                            return st
                    except (KeyError, AttributeError, ValueError):
                        continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.full or self.xmpp.requested_jid}: timed out after {timeout}s waiting for {what}; "
                        f"received: {self.summary()}")
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except asyncio.TimeoutError:
                    pass

    async def wait_all(self, pred: Callable[[Any], bool], count: int, timeout: float = DEFAULT_TIMEOUT,
                       what: str = "matching stanzas") -> list:
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(pred)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.full}: got {len(found)}/{count} {what} in {timeout}s; "
                                     f"received: {self.summary()}")
            await asyncio.sleep(0.05)

    def matching(self, pred: Callable[[Any], bool], start: int = 0) -> list:
        out = []
        for st in self.inbox[start:]:
            try:
                if pred(st):
                    out.append(st)
            except (KeyError, AttributeError, ValueError):
                continue
        return out

    async def expect_none(self, pred: Callable[[Any], bool], duration: float = 1.0,
                          what: str = "unexpected stanza", start: int = 0) -> None:
        await asyncio.sleep(duration)
        found = self.matching(pred, start)
        assert not found, f"{self.full}: received {what}: {[str(s) for s in found]}"

    def mark(self) -> int:
        """Index into the inbox; pass as ``start`` to only look at later stanzas."""
        return len(self.inbox)

    def summary(self, limit: int = 60) -> str:
        items = [str(s)[:300] for s in self.inbox[-limit:]]
        return "\n  " + "\n  ".join(items) if items else "(nothing)"

    # ------------------------------------------------------------ conveniences
    async def wait_message(self, body: str | None = None, frm: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                           start: int = 0, mtype: str | None = None) -> Message:
        def pred(st):
            if not isinstance(st, Message):
                return False
            if body is not None and st["body"] != body:
                return False
            if frm is not None and str(st["from"]) != frm and st["from"].bare != frm:
                return False
            if mtype is not None and st["type"] != mtype:
                return False
            return True
        return await self.wait_for(pred, timeout, f"message body={body!r} from={frm!r}", start)

    async def wait_presence(self, frm: str | None = None, ptype: str | None = None,
                            timeout: float = DEFAULT_TIMEOUT, start: int = 0,
                            pred: Callable[[Any], bool] | None = None) -> Presence:
        """Presence from ``frm`` (full JID, or bare JID matching any resource) of
        ``ptype`` ('available' for no type attribute)."""
        def p(st):
            if not isinstance(st, Presence):
                return False
            if frm is not None and str(st["from"]) != frm and st["from"].bare != frm:
                return False
            if ptype is not None:
                t = st.xml.get("type") or "available"
                if t != ptype:
                    return False
            return pred(st) if pred else True
        return await self.wait_for(p, timeout, f"presence type={ptype!r} from={frm!r}", start)

    def roster_pushes(self, start: int = 0) -> list[Iq]:
        return self.matching(lambda st: isinstance(st, Iq) and st["type"] == "set"
                             and st.xml.find(f"{{{NS_ROSTER}}}query") is not None, start)

    async def wait_roster_push(self, jid: str, pred: Callable[[dict], bool] | None = None,
                               timeout: float = DEFAULT_TIMEOUT, start: int = 0) -> dict:
        """Wait for a roster push about ``jid`` (optionally satisfying ``pred``
        on the item dict); returns the item dict (see :func:`roster_item`)."""
        def p(st):
            if not (isinstance(st, Iq) and st["type"] == "set"):
                return False
            for item in roster_items(st.xml):
                if item["jid"] == jid and (pred is None or pred(item)):
                    return True
            return False
        st = await self.wait_for(p, timeout, f"roster push for {jid}", start)
        # A roster push must come from the user's bare JID or have no 'from'.
        frm = st.xml.get("from")
        assert frm in (None, self.bare), f"roster push from {frm!r}, expected none or {self.bare}"
        return next(i for i in roster_items(st.xml) if i["jid"] == jid and (pred is None or pred(i)))

    async def iq(self, iq: Iq, timeout: float = DEFAULT_TIMEOUT) -> Iq:
        """Send an IQ and return the reply; an error reply is returned, not raised."""
        try:
            return await iq.send(timeout=timeout)
        except IqError as e:
            return e.iq
        except IqTimeout as e:
            raise AssertionError(f"no reply to IQ {iq} within {timeout}s") from e

    async def query(self, to: str | None, payload: str, itype: str = "get",
                    timeout: float = DEFAULT_TIMEOUT) -> Iq:
        """Send an IQ carrying the XML ``payload`` (a string) to ``to`` (None:
        the account itself) and return the reply (result or error)."""
        from xml.etree import ElementTree as ET
        iq = self.xmpp.Iq()
        iq["type"] = itype
        if to:
            iq["to"] = to
        iq.xml.append(ET.fromstring(payload))
        return await self.iq(iq, timeout)

    async def get_roster(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, dict]:
        """Roster get; returns {jid: item dict}."""
        iq = self.xmpp.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        reply = await self.iq(iq, timeout)
        assert reply["type"] == "result", f"roster get failed: {reply}"
        return {i["jid"]: i for i in roster_items(reply.xml)}

    async def set_roster_item(self, jid: str, name: str | None = None, groups=(),
                              subscription: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Iq:
        from xml.etree import ElementTree as ET
        iq = self.xmpp.Iq()
        iq["type"] = "set"
        q = ET.SubElement(iq.xml, f"{{{NS_ROSTER}}}query")
        item = ET.SubElement(q, f"{{{NS_ROSTER}}}item", {"jid": jid})
        if name is not None:
            item.set("name", name)
        if subscription is not None:
            item.set("subscription", subscription)
        for g in groups:
            ET.SubElement(item, f"{{{NS_ROSTER}}}group").text = g
        return await self.iq(iq, timeout)

    async def remove_roster_item(self, jid: str) -> Iq:
        return await self.set_roster_item(jid, subscription="remove")

    def send_presence(self, to: str | None = None, ptype: str | None = None, show: str | None = None,
                      status: str | None = None, priority: int | None = None) -> None:
        p = self.xmpp.Presence()
        if to:
            p["to"] = to
        if ptype:
            p["type"] = ptype
        if show:
            p["show"] = show
        if status is not None:
            p["status"] = status
        if priority is not None:
            p["priority"] = priority
        p.send()

    def subscribe(self, to: str) -> None:
        self.send_presence(to=to, ptype="subscribe")

    def send_message(self, to: str, body: str, mtype: str = "chat", mid: str | None = None) -> Message:
        m = self.xmpp.make_message(mto=to, mbody=body, mtype=mtype)
        if mid:
            m["id"] = mid
        m.send()
        return m


def roster_items(xml) -> list[dict]:
    """Items of a jabber:iq:roster query as dicts: jid, name, subscription
    (default 'none'), ask, approved, groups (sorted list)."""
    q = xml.find(f"{{{NS_ROSTER}}}query")
    if q is None:
        return []
    out = []
    for it in q.findall(f"{{{NS_ROSTER}}}item"):
        out.append({
            "jid": it.get("jid"),
            "name": it.get("name"),
            "subscription": it.get("subscription", "none"),
            "ask": it.get("ask"),
            "approved": it.get("approved"),
            "groups": sorted((g.text or "") for g in it.findall(f"{{{NS_ROSTER}}}group")),
        })
    return out


def stanza_error(st) -> str | None:
    """Defined condition of a stanza's <error/>, or None."""
    if st.xml.get("type") != "error":
        return None
    return st["error"]["condition"]


class Clients:
    """Tracks clients created in a test so they are all disconnected at the end."""

    def __init__(self, server):
        self.server = server
        self.all: list[Client] = []

    async def login(self, account, resource: str | None = None, **kw) -> Client:
        c = await Client.login(self.server, account, resource, **kw)
        self.all.append(c)
        return c

    def track(self, c: Client) -> Client:
        self.all.append(c)
        return c

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.all), return_exceptions=True)
        self.all.clear()


# --------------------------------------------------------------------------
# Multi-client flows used by several test modules


def is_sub(item: dict, subscription: str, ask: str | None = None) -> bool:
    return item["subscription"] == subscription and item["ask"] == ask


async def befriend(a: Client, b: Client) -> None:
    """Establish a mutual ('both') subscription between two online clients,
    approving each request by hand, and wait until both rosters say 'both'."""
    ma, mb = a.mark(), b.mark()
    a.subscribe(b.bare)
    await b.wait_presence(frm=a.bare, ptype="subscribe", start=mb)
    b.send_presence(to=a.bare, ptype="subscribed")
    await a.wait_roster_push(b.bare, lambda i: i["subscription"] == "to", start=ma)
    b.subscribe(a.bare)
    await a.wait_presence(frm=b.bare, ptype="subscribe", start=ma)
    a.send_presence(to=b.bare, ptype="subscribed")
    await a.wait_roster_push(b.bare, lambda i: i["subscription"] == "both", start=ma)
    await b.wait_roster_push(a.bare, lambda i: i["subscription"] == "both", start=mb)


async def barrier(*clients: Client) -> None:
    """Waits, without a fixed delay, until what the first clients sent before the call has
    reached the last ones: each client in turn pings the server and waits for the answer.
    The server routes one session's stanzas in order and each session's outbound queue is
    first in, first out, so once the sender's ping is answered its earlier stanzas were
    routed (anything for the others queued), and once a recipient's ping is answered it has
    received what was queued for it before. Use it before asserting that something did
    NOT arrive: ``await barrier(sender, recipient)``."""
    for c in clients:
        reply = await c.query(c.xmpp.boundjid.domain, "<ping xmlns='urn:xmpp:ping'/>")
        assert reply["type"] == "result", f"{c.full}: ping to the server failed: {reply}"
