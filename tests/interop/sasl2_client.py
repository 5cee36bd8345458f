"""A small XEP-0388 SASL2 client over :class:`raw.RawClient` (slixmpp does not speak
SASL2): SCRAM-SHA-256 and PLAIN, XEP-0386 Bind 2 and XEP-0484 FAST (HT-SHA-256-NONE)
written out by hand from the XEPs, so that the tests check the server against the
specifications, not against its own code. Its SCRAM also serves RFC 6120's SASL
(:func:`sasl_scram`), and XEP-0474's hash is computed here from the features (:func:`ssdp`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from raw import NS_SASL, RawClient, local, ns, tostring, xml_escape

NS_SASL2 = "urn:xmpp:sasl:2"
NS_BIND2 = "urn:xmpp:bind:0"
NS_FAST = "urn:xmpp:fast:0"
NS_SM = "urn:xmpp:sm:3"
HT = "HT-SHA-256-NONE"


def q(name: str, namespace: str = NS_SASL2) -> str:
    return f"{{{namespace}}}{name}"


@dataclass
class Outcome:
    """The end of one ``<authenticate/>``: the ``<success/>`` or ``<failure/>``."""
    el: ET.Element
    ok: bool
    # The decoded <additional-data/>, the authorization identifier, the <bound/>, the token.
    additional: bytes | None = None
    authzid: str | None = None
    bound: ET.Element | None = None
    token: str | None = None
    expiry: str | None = None
    condition: str | None = None
    text: str | None = None
    text_lang: str | None = None
    features: ET.Element | None = None
    scram_verified: bool | None = None
    # XEP-0198 inline: the <resumed/> or <failed/> inside <success/>.
    resumed: ET.Element | None = None
    sm_failed: ET.Element | None = None
    extra: dict = field(default_factory=dict)


def connect(server, lang: str = "en") -> tuple[RawClient, ET.Element]:
    """Connected, STARTTLS done; returns the client and its features (with
    ``<authentication/>``)."""
    c = RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    c.open_stream()
    c.send(f"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    el = c.recv()
    assert local(el.tag) == "proceed", tostring(el)
    c._wrap_tls()
    header = c.stream_header().replace("xml:lang='en'", f"xml:lang='{lang}'")
    feats = c.open_stream(header)
    return c, feats


def mechanisms(features: ET.Element) -> list[str]:
    a = features.find(q("authentication"))
    return [] if a is None else [m.text or "" for m in a.findall(q("mechanism"))]


def ht_proof(token: str, label: bytes) -> bytes:
    return hmac.new(token.encode(), label, hashlib.sha256).digest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def authenticate(c: RawClient, mechanism: str, initial: bytes, *, agent: str | None = None,
                 software: str = "Causerie tests", tag: str | None = None, bind: bool = False,
                 sm: bool = False, request_token: bool | str = False, count: int | None = None,
                 invalidate: bool = False, scram: "Scram | None" = None,
                 resume: "tuple[str, int] | None" = None) -> Outcome:
    inner = f"<initial-response>{_b64(initial)}</initial-response>"
    if agent is not None:
        inner += (f"<user-agent id='{xml_escape(agent)}'><software>{xml_escape(software)}</software>"
                  f"<device>pytest</device></user-agent>")
    if bind:
        t = f"<tag>{xml_escape(tag)}</tag>" if tag else ""
        e = f"<enable xmlns='{NS_SM}' resume='true'/>" if sm else ""
        inner += f"<bind xmlns='{NS_BIND2}'>{t}{e}</bind>"
    if resume is not None:
        inner += f"<resume xmlns='{NS_SM}' previd='{xml_escape(resume[0])}' h='{resume[1]}'/>"
    if request_token:
        # True: HT-SHA-256-NONE; a string names the mechanism (HT-SHA-256-EXPR).
        mech = request_token if isinstance(request_token, str) else HT
        inner += f"<request-token xmlns='{NS_FAST}' mechanism='{mech}'/>"
    if count is not None or invalidate:
        attrs = (f" count='{count}'" if count is not None else "") + (" invalidate='true'" if invalidate else "")
        inner += f"<fast xmlns='{NS_FAST}'{attrs}/>"
    c.send(f"<authenticate xmlns='{NS_SASL2}' mechanism='{mechanism}'>{inner}</authenticate>")
    while True:
        el = c.wait_for(lambda e: ns(e.tag) == NS_SASL2, what="SASL2 answer")
        if local(el.tag) == "challenge":
            assert scram is not None, f"unexpected challenge for {mechanism}"
            reply = scram.final(base64.b64decode(el.text or ""))
            c.send(f"<response xmlns='{NS_SASL2}'>{_b64(reply)}</response>")
            continue
        break
    if local(el.tag) == "failure":
        cond = next((local(x.tag) for x in el if ns(x.tag) == NS_SASL), None)
        text = el.find(q("text"))
        return Outcome(el, False, condition=cond, text=None if text is None else text.text,
                       text_lang=None if text is None else text.get("{http://www.w3.org/XML/1998/namespace}lang"))
    assert local(el.tag) == "success", tostring(el)
    add = el.find(q("additional-data"))
    additional = base64.b64decode(add.text or "") if add is not None else None
    tok = el.find(q("token", NS_FAST))
    out = Outcome(el, True, additional=additional, authzid=el.findtext(q("authorization-identifier")),
                  bound=el.find(q("bound", NS_BIND2)),
                  token=None if tok is None else tok.get("token"),
                  expiry=None if tok is None else tok.get("expiry"))
    out.resumed = el.find(f"{{{NS_SM}}}resumed")
    out.sm_failed = el.find(f"{{{NS_SM}}}failed")
    if scram is not None:
        out.scram_verified = additional == scram.server_final
    # No stream restart: the features come on the same stream, unless a session was
    # resumed (XEP-0198's SASL2 integration: no features then).
    out.features = None if out.resumed is not None else c.wait_for(
        lambda e: local(e.tag) == "features", what="features after <success/>")
    if out.bound is not None and out.authzid:
        c.jid = out.authzid
    return out


class Scram:
    """SCRAM-SHA-256 client side (RFC 5802 / 7677); with ``gs2`` and ``cb`` the GS2
    header and the channel-binding data of SCRAM-SHA-256-PLUS (``p=tls-exporter,,`` and
    the connection's exporter) or another flag (``y,,``)."""

    def __init__(self, user: str, password: str, gs2: bytes = b"n,,", cb: bytes = b""):
        self.user, self.password = user, password
        self.gs2, self.cb = gs2, cb
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.bare = f"n={user},r={self.nonce}"
        self.server_final: bytes | None = None

    def first(self) -> bytes:
        return self.gs2 + self.bare.encode()

    def final(self, server_first: bytes) -> bytes:
        self.server_first = server_first
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        assert attrs["r"].startswith(self.nonce)
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c={_b64(self.gs2 + self.cb)},r={attrs['r']}"
        auth_msg = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_final = b"v=" + base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256).digest())
        return f"{without_proof},p={_b64(proof)}".encode()


def scram_login(server, account, **kw) -> tuple[RawClient, Outcome]:
    c, _ = connect(server, kw.pop("lang", "en"))
    s = Scram(account.user, account.password)
    return c, authenticate(c, "SCRAM-SHA-256", s.first(), scram=s, **kw)


def token_login(server, account, token: str, agent: str, **kw) -> tuple[RawClient, Outcome]:
    c, _ = connect(server, kw.pop("lang", "en"))
    initial = account.user.encode() + b"\0" + ht_proof(token, b"Initiator")
    return c, authenticate(c, HT, initial, agent=agent, **kw)


def new_agent() -> str:
    return str(uuid.uuid4())


def sasl_scram(c: RawClient, mechanism: str, scram: Scram) -> tuple[ET.Element, bool]:
    """An RFC 6120 SASL SCRAM exchange: the last element, and whether the server's
    signature was the expected one."""
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    c.send(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>{b64(scram.first())}</auth>")
    el = c.wait_for(lambda e: e.tag.startswith(f"{{{NS_SASL}}}"), what="SASL answer")
    if local(el.tag) != "challenge":
        return el, False
    c.send(f"<response xmlns='{NS_SASL}'>{b64(scram.final(base64.b64decode(el.text or '')))}</response>")
    el = c.wait_for(lambda e: e.tag.startswith(f"{{{NS_SASL}}}"), what="SASL answer")
    return el, local(el.tag) == "success" and base64.b64decode(el.text or "") == scram.server_final


def ssdp(mechanisms: list[str], types: list[str] | None) -> str:
    """XEP-0474's hash (SHA-256 for SCRAM-SHA-256), computed here from the features."""
    s = "\x1e".join(sorted(mechanisms))
    if types is not None:
        s += "\x1f" + "\x1e".join(sorted(types))
    return base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()


def h_attribute(server_first: bytes) -> str | None:
    attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
    return attrs.get("h")
