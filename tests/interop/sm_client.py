"""XEP-0198 stream management over :class:`raw.RawClient`: enable, count the
stanzas received (the client's ``h``), acknowledge, resume.

The counting is done from ``RawClient.received`` (every top-level element, in
order): the stanzas (message, presence, iq) received after ``<enabled/>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from raw import IQ, MESSAGE, PRESENCE, RawClient, RawTimeout, login_server

NS_SM = "urn:xmpp:sm:3"


def sm(name: str) -> str:
    return f"{{{NS_SM}}}{name}"


class SmClient:
    """A raw client with stream management enabled."""

    def __init__(self, raw: RawClient, sm_id: str | None, base: int):
        self.raw = raw
        self.id = sm_id
        self.base = base  # index in raw.received where counting starts

    @property
    def jid(self) -> str:
        return self.raw.jid

    def drain(self, timeout: float = 0.3) -> None:
        """Read whatever arrives within ``timeout``."""
        try:
            while True:
                self.raw.recv(timeout)
        except RawTimeout:
            pass

    def stanzas(self) -> list[ET.Element]:
        return [e for e in self.raw.received[self.base:] if e.tag in (MESSAGE, PRESENCE, IQ)]

    @property
    def h(self) -> int:
        return len(self.stanzas()) % 2**32

    def messages(self, body_prefix: str = "") -> list[ET.Element]:
        out = []
        for e in self.stanzas():
            if e.tag == MESSAGE:
                b = e.find("{jabber:client}body")
                if b is not None and (b.text or "").startswith(body_prefix):
                    out.append(e)
        return out

    def ack(self) -> None:
        self.raw.send(f"<a xmlns='{NS_SM}' h='{self.h}'/>")

    def request(self, timeout: float = 10) -> int:
        """``<r/>``: the server's ``h`` from its ``<a/>``."""
        self.raw.send(f"<r xmlns='{NS_SM}'/>")
        a = self.raw.wait_for(lambda e: e.tag == sm("a"), timeout, "<a/>")
        return int(a.get("h"))


def authed(server, account) -> RawClient:
    """Connected, STARTTLS, authenticated (not bound): ``c.features`` are the
    post-SASL features."""
    c = RawClient(server.host, server.c2s_port, server.domain)
    c.connect()
    c.open_stream()
    c.starttls()
    assert c.auth_plain(account.user, account.password)
    return c


def enable(c: RawClient, resume: bool = True, max_: int | None = None) -> SmClient:
    attrs = (" resume='true'" if resume else "") + (f" max='{max_}'" if max_ else "")
    c.send(f"<enable xmlns='{NS_SM}'{attrs}/>")
    en = c.wait_for(lambda e: e.tag in (sm("enabled"), sm("failed")), what="<enabled/>")
    assert en.tag == sm("enabled"), ET.tostring(en)
    if resume:
        assert en.get("resume") in ("true", "1") and en.get("id"), ET.tostring(en)
    return SmClient(c, en.get("id"), len(c.received))


def sm_login(server, account, resource: str, *, resume: bool = True, max_: int | None = None,
             presence: bool = False) -> SmClient:
    c = login_server(server, account, resource)
    s = enable(c, resume, max_)
    if presence:
        c.presence()
    return s


def resume(server, account, previd: str, h: int) -> tuple[RawClient, ET.Element]:
    """A new connection asking to resume; returns it and ``<resumed/>`` or ``<failed/>``."""
    c = authed(server, account)
    c.send(f"<resume xmlns='{NS_SM}' previd='{previd}' h='{h}'/>")
    el = c.wait_for(lambda e: e.tag in (sm("resumed"), sm("failed")), what="<resumed/> or <failed/>")
    return c, el
