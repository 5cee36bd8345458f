"""Helpers for the gate tests (issue 12: "who can send what to whom").

The school is directory_fixture's, plus a guest (``jean.conteur``, profile
guest, structure S1, in no group: he reaches nobody), and a plain account
(``plain.compte``, `causerie user add`, outside the directory). Each test gets its own
server with that school imported. Importing costs ~2 s in a debug build
(SCRAM keys for every user), so the first test of a session runs the import
once (``causerie directory import``, on a server of its own) and every test
then starts its own server on a copy of that data directory. Set
``GATE_FRESH_IMPORT=1`` to import on every test's server instead.

Negative checks never sleep: :func:`barrier` makes the senders, then the
recipients, ping the server. The server routes one session's stanzas in
order and each session's outbound queue is FIFO, so once the senders' pings
are answered their stanzas were routed (and any error reply to them is in
their inbox), and once the recipients' pings are answered, anything queued
for them before is in their inbox. :func:`leaks` then scans what a recipient
received since a mark for the sender's bare JID, the sender's resource names
and the sender's texts.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import secrets
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

import harness
from clients import DEFAULT_PLUGINS, Client, Clients
from directory_fixture import (
    C6B,
    NS_CLIENT,
    NS_STANZAS,
    S1,
    account,
    error_of,
    import_ok,
    password,
    school,
    user_entry,
)

GUEST = "jean.conteur"
# A plain account (`causerie user add`), outside the directory.
PLAIN = "plain.compte"
NS_POLICY = "urn:causerie:policy:0"
NS_GATE = "urn:causerie:test:gate"
NS_PING = "urn:xmpp:ping"
NS_ROSTER = "jabber:iq:roster"
NS_CAUSERIE_ROSTER = "urn:causerie:roster:0"

# Pairs the rules keep apart (not reach), A first.
FORBIDDEN_PAIRS = [
    ("lea.martin", "ines.petit"),     # pupils of two classes
    ("paul.martin", "hugo.bernard"),  # a parent and an unrelated pupil
    (GUEST, "lea.martin"),            # a guest and a pupil
    ("lea.martin", "emma.roux"),      # pupils of two schools
    (PLAIN, "hugo.bernard"),          # a plain account and a directory user
]
# Classmates with no relation at all (reach, not contacts).
REACH_PAIR = ("tom.girard", "zoe.faure")
# Classmates the tests make mutual contacts (chat).
CONTACT_PAIR = ("noah.robert", "jules.lambert")
# Another pair of classmates, for relations other than mutual contacts.
OTHER_REACH_PAIR = ("hugo.bernard", "tom.girard")

PAIR_USERS = sorted({u for p in FORBIDDEN_PAIRS for u in p})

DIRECTIONS = ["a_to_b", "b_to_a"]
ADDRESSES = ["bare", "full"]


def gate_school() -> dict:
    """directory_fixture's school plus the guest."""
    d = school()
    d["users"].append({"login": GUEST, "last_name": "Conteur", "first_name": "Jean",
                       "profile": "guest", "structures": [S1], "classes": [],
                       "password": password(GUEST)})
    return d


def without_passwords(snapshot: dict) -> dict:
    """The snapshot as an SSO ENT sends it: users keep their stored keys, and
    the import does not spend seconds re-deriving them."""
    d = copy.deepcopy(snapshot)
    for u in d["users"]:
        u.pop("password", None)
    return d


def moved(snapshot: dict, login: str, class_id: str = C6B) -> dict:
    d = without_passwords(snapshot)
    user_entry(d, login)["classes"] = [class_id]
    return d


def without_user(snapshot: dict, login: str) -> dict:
    d = without_passwords(snapshot)
    d["users"] = [u for u in d["users"] if u["login"] != login]
    for g in d.get("groups", []):
        g["members"] = [m for m in g["members"] if m != login]
    for u in d["users"]:
        if "children" in u:
            u["children"] = [c for c in u["children"] if c != login]
    return d


def oriented(pair: tuple[str, str], direction: str) -> tuple[str, str]:
    return pair if direction == "a_to_b" else (pair[1], pair[0])


# ------------------------------------------------------------------ servers

_templates: dict[str, Path] = {}


def _populate(srv, snapshot: dict) -> None:
    import_ok(srv, snapshot)
    srv.add_user(PLAIN, password(PLAIN))


def _data_template(tmp_root: Path, snapshot: dict) -> Path:
    key = json.dumps(snapshot, sort_keys=True, ensure_ascii=False)
    if key not in _templates:
        srv = harness.SERVER_CLASS(tmp_root / f"gate-template-{len(_templates)}",
                                   auth={"failure_delay_ms": 50})
        srv.start()
        try:
            _populate(srv, snapshot)
        finally:
            srv.stop()
        _templates[key] = srv.data_dir
    return _templates[key]


class Gate:
    """A running server with the school imported, and its clients."""

    def __init__(self, srv, snapshot: dict):
        self.srv = srv
        self.snapshot = snapshot
        self.clients = Clients(srv)
        self.c: dict[str, Client] = {}

    @property
    def domain(self) -> str:
        return self.srv.domain

    def jid(self, login: str) -> str:
        return f"{login}@{self.srv.domain}"

    async def login(self, login: str, resource: str | None = None, *, presence: bool = True,
                    roster: bool = True, plugins=DEFAULT_PLUGINS) -> Client:
        """A session of ``login`` with a distinctive resource name and, with
        ``presence``, an initial presence whose status is a secret text
        (``c.gate_status``, looked for by :func:`leaks`). It never answers
        IQs of the test namespace by itself (a test decides what is answered)."""
        res = resource or f"{login.split('.')[0]}-{secrets.token_hex(3)}"
        c = await self.clients.login(account(login, self.domain), res, presence=False,
                                     roster=roster, plugins=plugins)
        swallow_gate_iqs(c)
        c.gate_status = None
        if presence:
            c.gate_status = secret(f"status-{login.split('.')[0]}")
            c.send_presence(status=c.gate_status)
        # The initial presence (and what it triggers) is processed before the
        # test goes on: later marks see none of it.
        await ping(c)
        return c

    async def users(self, *logins: str, **kw) -> list[Client]:
        """One session each (concurrently); remembered in ``self.c``."""
        assert len(set(logins)) == len(logins), f"a login twice: {logins}"
        cs = await asyncio.gather(*(self.login(lg, **kw) for lg in logins))
        for lg, c in zip(logins, cs):
            self.c.setdefault(lg, c)
        return list(cs)

    def import_(self, snapshot: dict):
        return import_ok(self.srv, snapshot)

    async def close(self) -> None:
        # Dropping the connections is enough: the server stops right after.
        await asyncio.gather(*(c.abort() for c in self.clients.all), return_exceptions=True)
        self.clients.all.clear()


@pytest.fixture
async def make_gate(make_server, tmp_path_factory):
    made: list[Gate] = []

    async def make(*, snapshot: dict | None = None, extra_toml: str = "") -> Gate:
        snap = snapshot if snapshot is not None else gate_school()
        srv = make_server(auth={"failure_delay_ms": 50}, extra_toml=extra_toml, start=False)
        if os.environ.get("GATE_FRESH_IMPORT"):
            srv.start()
            _populate(srv, snap)
        else:
            template = _data_template(tmp_path_factory.getbasetemp(), snap)
            shutil.copytree(template, srv.data_dir, dirs_exist_ok=True)
            srv.start()
        g = Gate(srv, snap)
        made.append(g)
        return g

    yield make
    for g in made:
        await g.close()


# ------------------------------------------------------------ IQ handling

def swallow_gate_iqs(c: Client) -> None:
    """IQ requests of NS_GATE are recorded but never answered by slixmpp."""
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath
    c.xmpp.register_handler(Callback(
        "gate-swallow", MatchXPath(f"{{{NS_CLIENT}}}iq/{{{NS_GATE}}}query"), lambda iq: None))


# ------------------------------------------------------------ sending

def send(c: Client, xml: str) -> None:
    c.xmpp.send_raw(xml)


def esc(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def new_id(tag: str = "g") -> str:
    return f"{tag}-{secrets.token_hex(5)}"


def secret(tag: str) -> str:
    """A text that must never reach a forbidden recipient."""
    return f"SECRET-{tag}-{secrets.token_hex(4)}"


def addr(c: Client, kind: str) -> str:
    return c.bare if kind == "bare" else c.full


def error_child(text: str, condition: str = "undefined-condition") -> str:
    return (f"<error type='cancel'><{condition} xmlns='{NS_STANZAS}'/>"
            f"<text xmlns='{NS_STANZAS}' xml:lang='en'>{esc(text)}</text></error>")


def message_xml(to: str, mtype: str | None, body: str, mid: str, extra: str = "") -> str:
    t = f" type='{mtype}'" if mtype else ""
    return f"<message to='{esc(to)}' id='{mid}'{t}><body>{esc(body)}</body>{extra}</message>"


def presence_xml(to: str, ptype: str | None, mid: str, status: str | None = None, extra: str = "") -> str:
    t = f" type='{ptype}'" if ptype else ""
    s = f"<status>{esc(status)}</status>" if status is not None else ""
    return f"<presence to='{esc(to)}' id='{mid}'{t}>{s}{extra}</presence>"


def iq_xml(to: str, itype: str, mid: str, text: str | None = None) -> str:
    payload = (f"<query xmlns='{NS_GATE}'><secret>{esc(text)}</secret></query>"
               if text is not None else "")
    return f"<iq to='{esc(to)}' id='{mid}' type='{itype}'>{payload}</iq>"


async def ping(c: Client) -> None:
    reply = await c.query(c.xmpp.boundjid.domain, f"<ping xmlns='{NS_PING}'/>")
    assert reply["type"] == "result", f"{c.full}: the server did not answer a ping: {reply}"


async def barrier(senders, recipients) -> None:
    """After it returns, every stanza the ``senders`` sent before was routed
    (with any error reply back to them received), and everything queued for
    the ``recipients`` before was received. Either may be one client or a list."""
    senders = senders if isinstance(senders, (list, tuple)) else [senders]
    recipients = recipients if isinstance(recipients, (list, tuple)) else [recipients]
    for s in senders:
        await ping(s)
    for r in recipients:
        await ping(r)


# ------------------------------------------------------------ looking

def xml_of(st) -> str:
    x = st.xml if hasattr(st, "xml") else st
    return ET.tostring(x, encoding="unicode")


def kind_of(st) -> str:
    return st.xml.tag.rsplit("}", 1)[-1]


def by_id(c: Client, start: int, mid: str) -> list:
    return [st for st in c.inbox[start:] if st.xml.get("id") == mid]


def errors_by_id(c: Client, start: int, mid: str) -> list:
    return [st for st in by_id(c, start, mid) if st.xml.get("type") == "error"]


def resources_of(senders) -> list[str]:
    return [s.xmpp.boundjid.resource for s in senders if s.xmpp.boundjid.resource]


def is_roster_result(st) -> bool:
    """The answer to one's own roster get (it lists one's own contacts)."""
    return (st.xml.tag == f"{{{NS_CLIENT}}}iq" and st.xml.get("type") == "result"
            and st.xml.find(f"{{{NS_ROSTER}}}query") is not None)


def leaks(recipient: Client, start: int, senders, texts=()) -> list[str]:
    """Stanzas ``recipient`` received since ``start`` that carry the senders'
    bare JID, one of their resource names or status texts, or one of
    ``texts`` (the answer to the recipient's own roster get excepted)."""
    senders = senders if isinstance(senders, (list, tuple)) else [senders]
    statuses = {getattr(s, "gate_status", None) for s in senders} - {None}
    needles = sorted({s.bare for s in senders} | set(resources_of(senders)) | statuses | set(texts))
    out = []
    for st in recipient.inbox[start:]:
        if is_roster_result(st):
            continue
        x = xml_of(st)
        found = [n for n in needles if n and n in x]
        if found:
            out.append(f"{recipient.full} received {found}: {x[:400]}")
    return out


def name_leaks(recipient: Client, start: int, senders) -> list[str]:
    """Stanzas that carry one of the senders' resource names."""
    senders = senders if isinstance(senders, (list, tuple)) else [senders]
    return text_leaks(recipient, start, resources_of(senders))


def text_leaks(recipient: Client, start: int, texts) -> list[str]:
    out = []
    for st in recipient.inbox[start:]:
        x = xml_of(st)
        found = [t for t in texts if t in x]
        if found:
            out.append(f"{recipient.full} received {found}: {x[:400]}")
    return out


def refusal_problem(st, condition: str, *, rules: bool = True, texts: bool = True,
                    not_a_contact: bool = False) -> str | None:
    """None when ``st`` is an error with ``condition`` and (with ``texts``)
    distinct French and English texts (with ``rules``, texts about the
    school's rules; with ``not_a_contact``, Causerie's <not-a-contact/>)."""
    if st is None:
        return f"no <{condition}/> error came back"
    x = st.xml
    if x.get("type") != "error":
        return f"expected an error, got {xml_of(st)[:300]}"
    cond, found = error_of(x)
    if cond != condition:
        return f"expected <{condition}/>, got <{cond}/> in {xml_of(st)[:300]}"
    if texts:
        fr, en = found.get("fr", "").strip(), found.get("en", "").strip()
        if not fr or not en:
            return f"the error lacks a French or an English text: {found}"
        if fr == en:
            return f"the French and English texts are the same: {found}"
        if rules and ("règles" not in fr.lower() or "rules" not in en.lower()):
            return f"the texts do not speak of the school's rules: {found}"
    if not_a_contact and x.find(f"{{{NS_CLIENT}}}error/{{{NS_POLICY}}}not-a-contact") is None:
        return f"no <not-a-contact xmlns='{NS_POLICY}'/> in {xml_of(st)[:300]}"
    return None


class Problems(list):
    """Findings of one test across its cases; the test fails with all of them."""

    def add(self, label: str, problem) -> None:
        if not problem:
            return
        if isinstance(problem, (list, tuple)):
            for p in problem:
                self.append(f"[{label}] {p}")
        else:
            self.append(f"[{label}] {problem}")

    def check(self) -> None:
        assert not self, f"{len(self)} problem(s):\n" + "\n".join(self)


def roster_item(reply_xml, jid: str):
    q = reply_xml.find(f"{{{NS_ROSTER}}}query")
    if q is None:
        return None
    for it in q.findall(f"{{{NS_ROSTER}}}item"):
        if it.get("jid") == jid:
            return it
    return None


async def roster_get(c: Client):
    reply = await c.query(None, f"<query xmlns='{NS_ROSTER}'/>")
    assert reply["type"] == "result", reply
    return reply.xml


async def mutual(a: Client, b: Client) -> None:
    """Makes ``a`` and ``b`` mutual contacts (both) through the subscription flow."""
    from clients import befriend
    await befriend(a, b)

