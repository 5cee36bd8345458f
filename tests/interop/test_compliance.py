"""docs/compliance.md against what the server really advertises.

The table's « Advertised » column names, for each specification, the service
discovery features (XEP-0030) and stream features it shows, each prefixed by
where a client finds it:

- ``server:`` the server's disco#info (``DOMAIN``);
- ``account:`` an account's disco#info on its own bare JID (PEP, MAM, …);
- ``conference:`` the rooms' service (``conference.DOMAIN``);
- ``room:`` a room's disco#info (asked by its owner);
- ``upload:`` the file sharing service's disco#info (``upload.DOMAIN``);
- ``stream:`` a stream feature after authentication (``{namespace}name``).

This test asks each of them on a running server and checks both ways:

1. a row whose status is ``supported`` or ``partial`` has every feature it
   names advertised; a row ``no`` or ``in progress`` has none of them
   advertised (the table never says more, nor less, than the server);
2. every feature the server advertises in those places is named by a row
   (nothing advertised that the table does not account for).
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

import raw
from test_muc import create, login, new_room, service

REPO = Path(__file__).resolve().parents[2]
COMPLIANCE = REPO / "docs" / "compliance.md"
NS_INFO = "http://jabber.org/protocol/disco#info"
SCOPES = ("server", "account", "conference", "room", "upload", "stream", "sasl")


def table(path: Path = COMPLIANCE) -> list[dict]:
    """The rows of the compliance table: spec, status word and advertised features."""
    rows = []
    header: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None if not line.strip() else header
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if not re.fullmatch(r"(XEP-\d{4}|RFC \d+)", cells[0]):
            continue
        row = dict(zip(header, cells))
        advertised: list[tuple[str, str]] = []
        for part in row.get("Advertised", "").split(";"):
            part = part.strip().strip("`")
            if part in ("", "—", "-"):
                continue
            scope, _, feature = part.partition(":")
            feature = feature.strip().strip("`")
            assert scope in SCOPES and feature, f"{row['Spec']}: bad Advertised entry {part!r}"
            advertised.append((scope, feature))
        status = row["Status"].split(":", 1)[0].strip().lower()
        assert status in ("supported", "partial", "in progress", "no"), f"{row['Spec']}: status {status!r}"
        rows.append({"spec": row["Spec"], "status": status, "advertised": advertised})
    return rows


def disco_features(reply) -> set[str]:
    q = reply.xml.find(f"{{{NS_INFO}}}query")
    assert reply["type"] == "result" and q is not None, f"no disco#info answer: {reply}"
    return {f.get("var") for f in q.findall(f"{{{NS_INFO}}}feature")}


def stream_features(server, user) -> set[str]:
    """The stream features offered after SASL (``{namespace}name``), read on a raw stream."""
    with raw.RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.auth_plain(user.user, user.password), "PLAIN login failed"
        return {child.tag for child in c.features}


def sasl_features(server) -> set[str]:
    """XEP-0388's ``<authentication/>`` feature before authentication (on TLS), what it
    offers inline, and XEP-0440's channel-binding types (``{namespace}name`` each)."""
    with raw.RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        feats = c.starttls()
        cb = {f.tag for f in feats if f.tag == "{urn:xmpp:sasl-cb:0}sasl-channel-binding"}
        auth = feats.find("{urn:xmpp:sasl:2}authentication")
        if auth is None:
            return cb
        inline = auth.find("{urn:xmpp:sasl:2}inline")
        return cb | {auth.tag} | ({child.tag for child in inline} if inline is not None else set())


def test_the_table_reads():
    rows = table()
    assert len(rows) > 20, rows
    assert any(r["advertised"] for r in rows if r["status"] == "supported")


async def test_the_table_is_what_the_server_advertises(server, make_user, clients):
    A = make_user("alice")
    a = await login(clients, A)
    room = new_room(server)
    await create(a, room)
    seen = {
        "server": disco_features(await a.query(server.domain, f"<query xmlns='{NS_INFO}'/>")),
        "account": disco_features(await a.query(A.jid, f"<query xmlns='{NS_INFO}'/>")),
        "conference": disco_features(await a.query(service(server), f"<query xmlns='{NS_INFO}'/>")),
        "room": disco_features(await a.query(room, f"<query xmlns='{NS_INFO}'/>")),
        "upload": disco_features(await a.query(f"upload.{server.domain}", f"<query xmlns='{NS_INFO}'/>")),
        "stream": stream_features(server, A),
        "sasl": sasl_features(server),
    }
    rows = table()
    wrong = []
    named = set()
    for r in rows:
        for scope, feature in r["advertised"]:
            named.add((scope, feature))
            shown = feature in seen[scope]
            if r["status"] in ("supported", "partial") and not shown:
                wrong.append(f"{r['spec']} is {r['status']} but {scope} does not advertise {feature}")
            if r["status"] in ("no", "in progress") and shown:
                wrong.append(f"{r['spec']} is {r['status']} but {scope} advertises {feature}")
    for scope, features in seen.items():
        for feature in sorted(features):
            if scope == "room" and feature.startswith("muc_"):
                continue  # the room's configuration (XEP-0045 §15.4), not a capability
            if (scope, feature) not in named:
                wrong.append(f"{scope} advertises {feature}, which no row of docs/compliance.md names")
    assert not wrong, "\n".join(wrong)
