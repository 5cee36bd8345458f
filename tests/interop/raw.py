"""A tiny, blocking, raw-socket XMPP client for tests that need exact control
over the bytes on the wire (bad input, limits, SASL timing ...).

Typical use::

    c = RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    feats = c.open_stream()          # stream header + <stream:features/>
    c.starttls()                     # STARTTLS + restart, returns new features
    c.auth_plain(user, password)     # True on <success/>, False on <failure/>
    c.bind("res")                    # returns the full JID
    c.send("<message .../>")
    st = c.wait_for(lambda e: e.tag == MSG and ...)

Incoming data is parsed with ElementTree's pull parser; every complete
top-level child of the stream is returned as an ``Element`` (tags are in
Clark notation, e.g. ``{jabber:client}message``).  A closed stream or socket
raises :class:`StreamClosed` (which carries the stream error condition, if one
arrived).  Every blocking call has a timeout.

Use :func:`login` for "connect + STARTTLS + PLAIN + bind" in one go.  The
client is synchronous; from async tests call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import socket
import ssl
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Callable

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAMS_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"

MESSAGE = f"{{{NS_CLIENT}}}message"
PRESENCE = f"{{{NS_CLIENT}}}presence"
IQ = f"{{{NS_CLIENT}}}iq"
FEATURES = f"{{{NS_STREAM}}}features"
STREAM_ERROR = f"{{{NS_STREAM}}}error"

DEFAULT_TIMEOUT = 10.0


class StreamClosed(Exception):
    """The server ended the stream or closed the socket.

    ``condition`` is the local name of the stream error condition received
    before closing (e.g. ``'not-well-formed'``), or None.
    ``stream_end`` is True when ``</stream:stream>`` was received.
    """

    def __init__(self, condition: str | None, stream_end: bool, detail: str = ""):
        self.condition = condition
        self.stream_end = stream_end
        super().__init__(f"stream closed (error={condition!r}, </stream:stream>={stream_end}) {detail}".strip())


class RawTimeout(AssertionError):
    pass


def make_client_ssl_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def local(tag: str) -> str:
    """Local name of a Clark-notation tag."""
    return tag.rsplit("}", 1)[-1]


def ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def stanza_error_condition(el: ET.Element) -> str | None:
    """Defined condition of a stanza error (``type='error'``) or None."""
    err = el.find(f"{{{NS_CLIENT}}}error")
    if err is None:
        return None
    for child in err:
        if ns(child.tag) == NS_STANZA_ERR and local(child.tag) != "text":
            return local(child.tag)
    return None


def stream_error_condition(el: ET.Element) -> str | None:
    for child in el:
        if ns(child.tag) == NS_STREAMS_ERR and local(child.tag) != "text":
            return local(child.tag)
    return None


def tostring(el: ET.Element) -> str:
    return ET.tostring(el, encoding="unicode")


def xml_escape(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


class RawClient:
    def __init__(self, host: str, port: int, domain: str, *, timeout: float = DEFAULT_TIMEOUT,
                 rcvbuf: int | None = None, source: str | None = None):
        self.host = host
        # The local address to connect from (a loopback alias such as 127.0.0.2).
        self.source = source
        self.port = port
        self.domain = domain
        self.timeout = timeout
        self.rcvbuf = rcvbuf
        self.sock: socket.socket | None = None
        self.tls = False
        self.peer_cert_der: bytes | None = None
        self.jid: str | None = None
        self.stream_attrs: dict = {}
        self.stream_end = False
        self.eof = False
        self.stream_error: str | None = None
        self.received: list[ET.Element] = []  # every complete top-level element, in order
        self.raw_in = bytearray()  # everything read since the last stream (re)start
        self._pending: list[ET.Element] = []
        self._parser: ET.XMLPullParser | None = None
        self._depth = 0
        self._root: ET.Element | None = None

    # ---------------------------------------------------------------- transport
    def connect(self, direct_tls: bool = False) -> "RawClient":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        s.settimeout(self.timeout)
        if self.source:
            s.bind((self.source, 0))
        s.connect((self.host, self.port))
        self.sock = s
        if direct_tls:
            self._wrap_tls()
        self._reset_parser()
        return self

    def _wrap_tls(self, ctx: ssl.SSLContext | None = None) -> None:
        assert self.sock is not None
        ctx = ctx or make_client_ssl_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.domain)
        self.sock.settimeout(self.timeout)
        self.tls = True
        self.peer_cert_der = self.sock.getpeercert(binary_form=True)

    def send(self, data: str | bytes) -> None:
        assert self.sock is not None, "not connected"
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def try_send(self, data: str | bytes) -> bool:
        """Send, returning False instead of raising if the peer is gone."""
        try:
            self.send(data)
            return True
        except (OSError, ssl.SSLError):
            return False

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def abort(self) -> None:
        """Close the TCP connection abruptly (RST, no </stream:stream>)."""
        if self.sock is not None:
            try:
                raw = self.sock
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ parsing
    def _reset_parser(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self._root = None
        self.raw_in = bytearray()

    def _read_some(self, deadline: float) -> bool:
        """Read available bytes into the parser. False on EOF."""
        assert self.sock is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ssl.SSLZeroReturnError:
            data = b""
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            data = b""
        except ssl.SSLError as e:  # e.g. "application data after close notify"
            if "timed out" in str(e):
                raise socket.timeout() from e
            data = b""
        if not data:
            self.eof = True
            return False
        self.raw_in += data
        assert self._parser is not None
        try:
            self._parser.feed(data)
            events = list(self._parser.read_events())
        except ET.ParseError as e:
            raise AssertionError(f"server sent XML we cannot parse: {e}: {bytes(self.raw_in)[-500:]!r}") from e
        for event, el in events:
            if event == "start":
                if self._depth == 0:
                    self._root = el
                    self.stream_attrs = dict(el.attrib)
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    self.stream_end = True
                elif self._depth == 1:
                    self.received.append(el)
                    self._pending.append(el)
                    if el.tag == STREAM_ERROR:
                        self.stream_error = stream_error_condition(el)
                    if self._root is not None:
                        self._root.remove(el)
        return True

    def recv(self, timeout: float | None = None) -> ET.Element:
        """Next top-level element from the server.

        Raises StreamClosed when the stream ended (a stream error element is
        returned first as a normal element if it arrived), RawTimeout when
        nothing arrived in time.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self._pending:
                return self._pending.pop(0)
            if self.stream_end or self.eof:
                raise StreamClosed(self.stream_error, self.stream_end)
            try:
                self._read_some(deadline)
            except socket.timeout:
                raise RawTimeout(f"nothing received from the server within {timeout or self.timeout}s "
                                 f"(last bytes: {bytes(self.raw_in)[-300:]!r})") from None

    def wait_for(self, pred: Callable[[ET.Element], bool], timeout: float | None = None,
                 what: str = "matching element") -> ET.Element:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RawTimeout(f"timed out waiting for {what}")
            try:
                el = self.recv(remaining)
            except RawTimeout:
                raise RawTimeout(f"timed out waiting for {what}") from None
            if pred(el):
                return el

    def expect_stream_error(self, timeout: float | None = None) -> str | None:
        """Read until the server closes the stream; returns the stream error
        condition received (or None).  Fails if the server keeps the stream
        open past ``timeout``.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RawTimeout(f"server did not close the stream within {timeout or self.timeout}s; "
                                 f"stream error so far: {self.stream_error!r}; received meanwhile: {got}")
            try:
                got.append(tostring(self.recv(remaining))[:300])
            except StreamClosed as e:
                return e.condition
            except RawTimeout:
                continue

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait for TCP EOF after the stream ended. True when the socket closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            try:
                if not self._read_some(deadline):
                    return True
            except socket.timeout:
                return False
            except AssertionError:
                # bytes after </stream:stream> are not our concern here
                continue
        return True

    # ------------------------------------------------------------------ stream
    def stream_header(self, to: str | None = None) -> str:
        to = self.domain if to is None else to
        return ("<?xml version='1.0'?>"
                f"<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAM}' "
                f"to='{to}' version='1.0' xml:lang='en'>")

    def open_stream(self, header: str | None = None, timeout: float | None = None) -> ET.Element:
        """Send a stream header, return the server's <stream:features/>."""
        self._reset_parser()
        self.send(header if header is not None else self.stream_header())
        return self.wait_for(lambda e: e.tag == FEATURES or e.tag == STREAM_ERROR, timeout, "stream features")

    @staticmethod
    def mechanisms(features: ET.Element) -> list[str]:
        mechs = features.find(f"{{{NS_SASL}}}mechanisms")
        if mechs is None:
            return []
        return [m.text or "" for m in mechs.findall(f"{{{NS_SASL}}}mechanism")]

    def starttls(self) -> ET.Element:
        self.send(f"<starttls xmlns='{NS_TLS}'/>")
        el = self.recv()
        if el.tag != f"{{{NS_TLS}}}proceed":
            raise AssertionError(f"expected <proceed/>, got {tostring(el)}")
        self._wrap_tls()
        return self.open_stream()

    def auth_plain(self, user: str, password: str, authzid: str = "") -> bool:
        """SASL PLAIN. True on success (stream restarted, features read),
        False on <failure/> (``self.last_sasl`` holds the element)."""
        payload = base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{payload}</auth>")
        el = self.wait_for(lambda e: ns(e.tag) == NS_SASL, what="SASL <success/> or <failure/>")
        self.last_sasl = el
        if local(el.tag) == "success":
            self.features = self.open_stream()
            return True
        if local(el.tag) == "failure":
            return False
        raise AssertionError(f"unexpected SASL element {tostring(el)}")

    def sasl_failure_condition(self) -> str | None:
        el = getattr(self, "last_sasl", None)
        if el is None or local(el.tag) != "failure":
            return None
        for child in el:
            if local(child.tag) != "text":
                return local(child.tag)
        return None

    def bind(self, resource: str | None = None) -> str:
        rid = self.new_id()
        res = f"<resource>{xml_escape(resource)}</resource>" if resource else ""
        self.send(f"<iq type='set' id='{rid}'><bind xmlns='{NS_BIND}'>{res}</bind></iq>")
        el = self.wait_for(lambda e: e.tag == IQ and e.get("id") == rid, what="bind result")
        if el.get("type") != "result":
            raise AssertionError(f"bind failed: {tostring(el)}")
        jid_el = el.find(f"{{{NS_BIND}}}bind/{{{NS_BIND}}}jid")
        assert jid_el is not None and jid_el.text, f"no <jid/> in bind result: {tostring(el)}"
        self.jid = jid_el.text
        return self.jid

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex[:12]

    def iq(self, body: str, type_: str = "get", to: str | None = None, timeout: float | None = None) -> ET.Element:
        """Send an IQ and return its result/error."""
        rid = self.new_id()
        to_attr = f" to='{xml_escape(to)}'" if to else ""
        self.send(f"<iq type='{type_}' id='{rid}'{to_attr}>{body}</iq>")
        return self.wait_for(lambda e: e.tag == IQ and e.get("id") == rid, timeout, f"IQ reply {rid}")

    def ping_server(self, timeout: float | None = None) -> ET.Element:
        return self.iq("<ping xmlns='urn:xmpp:ping'/>", "get", self.domain, timeout)

    def presence(self, extra: str = "") -> None:
        self.send(f"<presence>{extra}</presence>")

    def message(self, to: str, body: str, type_: str = "chat", id_: str | None = None) -> str:
        mid = id_ or self.new_id()
        self.send(f"<message to='{xml_escape(to)}' type='{type_}' id='{mid}'>"
                  f"<body>{xml_escape(body)}</body></message>")
        return mid


def login(host: str, port: int, domain: str, user: str, password: str, resource: str | None = "raw",
          *, direct_tls: bool = False, timeout: float = DEFAULT_TIMEOUT, rcvbuf: int | None = None,
          source: str | None = None) -> RawClient:
    """Connect (from ``source`` if given), (STARTTLS or direct TLS), SASL PLAIN, bind.
    Raises on failure."""
    c = RawClient(host, port, domain, timeout=timeout, rcvbuf=rcvbuf, source=source)
    c.connect(direct_tls=direct_tls)
    feats = c.open_stream()
    if not direct_tls:
        if feats.find(f"{{{NS_TLS}}}starttls") is None:
            raise AssertionError(f"no STARTTLS offered: {tostring(feats)}")
        feats = c.starttls()
    if "PLAIN" not in RawClient.mechanisms(feats):
        raise AssertionError(f"PLAIN not offered after TLS: {tostring(feats)}")
    if not c.auth_plain(user, password):
        raise AssertionError(f"PLAIN auth failed for {user}: {tostring(c.last_sasl)}")
    c.bind(resource)
    return c


def login_server(server, account, resource: str | None = "raw", **kw) -> RawClient:
    """:func:`login` against a harness server with an Account."""
    port = server.c2s_tls_port if kw.get("direct_tls") else server.c2s_port
    return login(server.host, port, server.domain, account.user, account.password, resource, **kw)
