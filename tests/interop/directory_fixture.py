"""A small school directory for the interop tests of the communication rules,
and helpers to import it and to look at refusals the way a client sees them.

The school (``school()`` returns a fresh, editable copy of the snapshot):

* Collège Jean Moulin (``S1``) with classes 6e A and 6e B;
  Lycée Victor Hugo (``S2``) with class 2de A.
* 6e A pupils: lea.martin (MARTIN Léa), hugo.bernard, tom.girard, zoe.faure;
  6e B pupils: ines.petit, noah.robert, jules.lambert;
  anne.durand teaches 6e A (teachers reach the whole structure);
  paul.martin is Léa's parent.
* 2de A: emma.roux (pupil), marc.leroy (teacher), both of S2 only.
* ENT group « Chorale »: zoe.faure (6e A) and jules.lambert (6e B).

Every user has the password ``password(login)``.

``import_snapshot(srv, snapshot)`` runs ``causerie directory import`` on a
harness server (the file is written next to the server's config) and returns
the CompletedProcess, whatever its exit code.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import subprocess
from pathlib import Path

import raw
from harness import Account

S1 = "0750001A"
S2 = "0750002B"
C6A = "0750001A-6A"
C6B = "0750001A-6B"
C2A = "0750002B-2A"

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_CLIENT = "jabber:client"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_CAUSERIE_ROSTER = "urn:causerie:roster:0"
NS_ROSTER = "jabber:iq:roster"
NS_SEARCH = "jabber:iq:search"
NS_DATA = "jabber:x:data"
NS_VCARD = "vcard-temp"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def password(login: str) -> str:
    return f"Secret-{login}-42"


def _user(login, last, first, profile, structures, classes=(), **extra):
    u = {"login": login, "last_name": last, "first_name": first, "profile": profile,
         "structures": list(structures), "classes": list(classes), "password": password(login)}
    u.update(extra)
    return u


_SCHOOL = {
    "structures": [
        {"id": S1, "name": "Collège Jean Moulin"},
        {"id": S2, "name": "Lycée Victor Hugo"},
    ],
    "classes": [
        {"id": C6A, "structure": S1, "name": "6e A"},
        {"id": C6B, "structure": S1, "name": "6e B"},
        {"id": C2A, "structure": S2, "name": "2de A"},
    ],
    "users": [
        _user("lea.martin", "Martin", "Léa", "student", [S1], [C6A]),
        _user("hugo.bernard", "Bernard", "Hugo", "student", [S1], [C6A]),
        _user("tom.girard", "Girard", "Tom", "student", [S1], [C6A]),
        _user("zoe.faure", "Faure", "Zoé", "student", [S1], [C6A]),
        _user("ines.petit", "Petit", "Inès", "student", [S1], [C6B]),
        _user("noah.robert", "Robert", "Noah", "student", [S1], [C6B]),
        _user("jules.lambert", "Lambert", "Jules", "student", [S1], [C6B]),
        _user("anne.durand", "Durand", "Anne", "teacher", [S1], [C6A]),
        _user("paul.martin", "Martin", "Paul", "relative", [S1], children=["lea.martin"]),
        _user("emma.roux", "Roux", "Emma", "student", [S2], [C2A]),
        _user("marc.leroy", "Leroy", "Marc", "teacher", [S2], [C2A]),
    ],
    "groups": [
        {"id": "chorale", "name": "Chorale", "structure": S1,
         "members": ["zoe.faure", "jules.lambert"]},
    ],
}


def school() -> dict:
    """A fresh deep copy of the school snapshot."""
    return copy.deepcopy(_SCHOOL)


def user_entry(snapshot: dict, login: str) -> dict:
    return next(u for u in snapshot["users"] if u["login"] == login)


def account(login: str, domain: str = "localhost") -> Account:
    return Account(login, password(login), domain)


_seq = itertools.count()


def import_snapshot(srv, snapshot: dict | str, name: str | None = None) -> subprocess.CompletedProcess:
    """``causerie directory import FILE`` with ``snapshot`` (a dict, or raw
    text for broken files); never raises on a non-zero exit."""
    text = snapshot if isinstance(snapshot, str) else json.dumps(snapshot, ensure_ascii=False, indent=2)
    path = Path(srv.root) / (name or f"directory-{next(_seq)}.json")
    path.write_text(text, encoding="utf-8")
    return srv.cli("directory", "import", str(path), check=False)


def import_ok(srv, snapshot: dict) -> subprocess.CompletedProcess:
    cp = import_snapshot(srv, snapshot)
    assert cp.returncode == 0, f"import failed ({cp.returncode}):\nstdout: {cp.stdout}\nstderr: {cp.stderr}"
    return cp


def access(srv, structure: str, enabled: bool, profiles: list[str] | None = None) -> subprocess.CompletedProcess:
    args = ["access", "set", structure, "--enabled", "true" if enabled else "false"]
    if profiles is not None:
        args += ["--profiles", ",".join(profiles)]
    return srv.cli(*args)


# ---------------------------------------------------------------- stanza errors

def error_of(xml) -> tuple[str | None, dict[str, str]]:
    """(defined condition, {xml:lang: text}) of a stanza's <error/>."""
    err = xml.find(f"{{{NS_CLIENT}}}error")
    if err is None:
        return None, {}
    cond = None
    texts = {}
    for child in err:
        tag = child.tag
        if not tag.startswith(f"{{{NS_STANZAS}}}"):
            continue
        local = tag.split("}", 1)[1]
        if local == "text":
            texts[child.get(XML_LANG) or ""] = child.text or ""
        elif cond is None:
            cond = local
    return cond, texts


def assert_refusal(st, condition: str = "forbidden", *, rules: bool = True) -> dict[str, str]:
    """``st`` is an error stanza with ``condition`` and a text in French and
    in English; with ``rules``, the texts say it is the school's rules."""
    xml = st.xml if hasattr(st, "xml") else st
    assert xml.get("type") == "error", f"expected an error, got {_str(xml)}"
    cond, texts = error_of(xml)
    assert cond == condition, f"expected <{condition}/>, got <{cond}/> in {_str(xml)}"
    assert texts.get("fr", "").strip(), f"no French error text (xml:lang='fr') in {_str(xml)}"
    assert texts.get("en", "").strip(), f"no English error text (xml:lang='en') in {_str(xml)}"
    assert texts["fr"] != texts["en"], f"the French and English texts are the same: {texts}"
    if rules:
        assert "règles" in texts["fr"].lower(), f"French text does not speak of the school's rules: {texts['fr']!r}"
        assert "rules" in texts["en"].lower(), f"English text does not speak of the school's rules: {texts['en']!r}"
    return texts


def _str(xml) -> str:
    from xml.etree import ElementTree as ET
    try:
        return ET.tostring(xml, encoding="unicode")
    except Exception:  # pragma: no cover
        return str(xml)


def is_error_from(st, kind: str, bare: str) -> bool:
    """``st`` is a ``kind`` ('message', 'presence', 'iq') error coming from ``bare``."""
    tag = st.xml.tag.split("}", 1)[-1]
    return tag == kind and st.xml.get("type") == "error" and st["from"].bare == bare


def roster_item_xml(iq_xml, jid: str):
    q = iq_xml.find(f"{{{NS_ROSTER}}}query")
    if q is None:
        return None
    for it in q.findall(f"{{{NS_ROSTER}}}item"):
        if it.get("jid") == jid:
            return it
    return None


def is_refused(item_xml) -> bool:
    return item_xml is not None and item_xml.find(f"{{{NS_CAUSERIE_ROSTER}}}refused") is not None


# ------------------------------------------------------------------------ SASL

class SaslOutcome:
    def __init__(self, ok: bool, condition: str | None, texts: dict[str, str], xml: str):
        self.ok = ok
        self.condition = condition
        self.texts = texts
        self.xml = xml

    @property
    def text(self) -> str:
        return " ".join(self.texts.values())

    def __repr__(self) -> str:
        return f"SaslOutcome(ok={self.ok}, condition={self.condition!r}, xml={self.xml})"


def _sasl_plain(srv, user: str, pw: str) -> SaslOutcome:
    with raw.RawClient(srv.host, srv.c2s_port, srv.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        ok = c.auth_plain(user, pw)
        el = c.last_sasl
        texts = {t.get(XML_LANG) or "": t.text or "" for t in el.findall(f"{{{NS_SASL}}}text")}
        return SaslOutcome(ok, None if ok else c.sasl_failure_condition(), texts, raw.tostring(el))


async def sasl_plain(srv, login: str, pw: str | None = None) -> SaslOutcome:
    """SASL PLAIN over STARTTLS with a raw client: what the server answers."""
    return await asyncio.to_thread(_sasl_plain, srv, login, pw if pw is not None else password(login))


# ---------------------------------------------------------------------- search

async def search_basic(client, **fields) -> dict[str, dict]:
    """XEP-0055 basic search; {jid: {first, last, nick}}."""
    body = "".join(f"<{k}>{raw.xml_escape(v)}</{k}>" for k, v in fields.items())
    reply = await client.query(f"search.{client.xmpp.boundjid.domain}",
                               f"<query xmlns='{NS_SEARCH}'>{body}</query>", "set")
    assert reply["type"] == "result", f"search failed: {reply}"
    q = reply.xml.find(f"{{{NS_SEARCH}}}query")
    out = {}
    for it in q.findall(f"{{{NS_SEARCH}}}item"):
        out[it.get("jid")] = {k: (it.findtext(f"{{{NS_SEARCH}}}{k}") or "") for k in ("first", "last", "nick")}
    return out


async def search_form(client, text: str) -> dict[str, dict]:
    """XEP-0055 extended search with the free-text field ``search``;
    {jid: {var: value}} from the result form's items."""
    payload = (f"<query xmlns='{NS_SEARCH}'><x xmlns='{NS_DATA}' type='submit'>"
               f"<field var='FORM_TYPE' type='hidden'><value>{NS_SEARCH}</value></field>"
               f"<field var='search'><value>{raw.xml_escape(text)}</value></field>"
               f"</x></query>")
    reply = await client.query(f"search.{client.xmpp.boundjid.domain}", payload, "set")
    assert reply["type"] == "result", f"search failed: {reply}"
    x = reply.xml.find(f"{{{NS_SEARCH}}}query/{{{NS_DATA}}}x")
    assert x is not None, f"no data form in the search result: {reply}"
    assert x.get("type") == "result", f"result form type is {x.get('type')!r}: {reply}"
    out = {}
    for it in x.findall(f"{{{NS_DATA}}}item"):
        row = {}
        for f in it.findall(f"{{{NS_DATA}}}field"):
            row[f.get("var")] = " ".join(v.text or "" for v in f.findall(f"{{{NS_DATA}}}value"))
        out[row.get("jid")] = row
    return out


async def vcard(client, jid: str):
    """vCard get of ``jid``: the reply IQ (result or error)."""
    return await client.query(jid, f"<vCard xmlns='{NS_VCARD}'/>")


def vcard_fn(reply) -> str | None:
    return reply.xml.findtext(f"{{{NS_VCARD}}}vCard/{{{NS_VCARD}}}FN")
