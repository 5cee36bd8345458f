"""The accounts' archive of one-to-one messages (XEP-0313 at one's bare JID,
issue 14): what a user finds on another device, what he never finds, who may
read it, and the retention that deletes it for real.

Each test gets its own server with the school of ``directory_fixture``
imported. Users who chat are made mutual contacts first (the seed's rule
for direct messages between directory users).
"""

from __future__ import annotations

import sqlite3
import time
import xml.etree.ElementTree as ET

import pytest

from clients import DEFAULT_PLUGINS, Clients, barrier, befriend
from directory_fixture import S1, account, assert_refusal, import_ok, school

NS_MAM = "urn:xmpp:mam:2"
NS_MAM_EXT = "urn:xmpp:mam:2#extended"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SID = "urn:xmpp:sid:0"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_CLIENT = "jabber:client"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

MAM_PLUGINS = DEFAULT_PLUGINS + ("xep_0004", "xep_0059", "xep_0297", "xep_0313", "xep_0359")
DAY_MS = 86_400_000


class School:
    def __init__(self, srv):
        self.srv = srv
        self.clients = Clients(srv)

    def jid(self, login: str) -> str:
        return f"{login}@{self.srv.domain}"

    async def login(self, login: str, resource: str = "r", **kw):
        kw.setdefault("plugins", MAM_PLUGINS)
        return await self.clients.login(account(login, self.srv.domain), resource, **kw)


@pytest.fixture
async def sch(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    import_ok(srv, school())
    s = School(srv)
    yield s
    await s.clients.close()


def stanza_ids(msg) -> list[tuple[str | None, str | None]]:
    return [(e.get("by"), e.get("id")) for e in msg.xml.findall(f"{{{NS_SID}}}stanza-id")]


async def archive(client, *, max_: int = 50, extra: str = "", form: str = "",
                  to: str | None = None) -> tuple[list[dict], ET.Element | None, object]:
    """One raw MAM query: ([{id, body, from, to, stamp, stanza_ids}], <fin/>, reply)."""
    qid = f"q{time.monotonic_ns()}"
    mark = client.mark()
    x = ""
    if form:
        x = (f"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
             f"<value>{NS_MAM}</value></field>{form}</x>")
    reply = await client.query(
        to, f"<query xmlns='{NS_MAM}' queryid='{qid}'>{x}"
            f"<set xmlns='{NS_RSM}'><max>{max_}</max>{extra}</set></query>", "set")
    if reply["type"] != "result":
        return [], None, reply
    out = []
    for st in client.inbox[mark:]:
        res = st.xml.find(f"{{{NS_MAM}}}result")
        if res is None or res.get("queryid") != qid:
            continue
        fwd = res.find(f"{{{NS_FORWARD}}}forwarded")
        inner = fwd.find(f"{{{NS_CLIENT}}}message")
        out.append({
            "id": res.get("id"),
            "from_archive": st.xml.get("from"),
            "body": inner.findtext(f"{{{NS_CLIENT}}}body"),
            "from": inner.get("from"),
            "to": inner.get("to"),
            "stamp": fwd.find(f"{{{NS_DELAY}}}delay").get("stamp"),
            "stanza_ids": [(e.get("by"), e.get("id")) for e in inner.findall(f"{{{NS_SID}}}stanza-id")],
            "origin": inner.find(f"{{{NS_SID}}}origin-id"),
        })
    return out, reply.xml.find(f"{{{NS_MAM}}}fin"), reply


def rsm(fin, name: str) -> str | None:
    return fin.find(f"{{{NS_RSM}}}set").findtext(f"{{{NS_RSM}}}{name}")


def error_texts(reply) -> tuple[str | None, dict[str, str]]:
    err = reply.xml.find(f"{{{NS_CLIENT}}}error")
    if err is None:
        return None, {}
    cond = next((c.tag.split("}")[1] for c in err if c.tag.startswith(f"{{{NS_STANZAS}}}") and not c.tag.endswith("}text")), None)
    texts = {t.get(XML_LANG): t.text for t in err.findall(f"{{{NS_STANZAS}}}text")}
    return cond, texts


async def test_history_on_another_device_in_order_paged_and_with_stable_ids(sch):
    noah = await sch.login("noah.robert", "phone")
    jules = await sch.login("jules.lambert", "pc")
    await befriend(noah, jules)
    sent = []
    delivered = {}
    for i in range(7):
        a, b = (noah, jules) if i % 2 == 0 else (jules, noah)
        body = f"message {i} de {a.bare.split('@')[0]}"
        mark = b.mark()
        a.send_message(b.bare, body)
        got = await b.wait_message(body=body, frm=a.bare, start=mark)
        ids = stanza_ids(got)
        # One stanza-id, by the recipient's own bare JID.
        assert len(ids) == 1 and ids[0][0] == b.bare, ids
        delivered[body] = ids[0][1]
        sent.append(body)
    # Jules goes away; a message waits for him offline.
    await jules.disconnect()
    noah.send_message(jules.bare, "pendant ton absence")
    sent.append("pendant ton absence")
    await barrier(noah)

    # Jules on a new device, before his offline messages come: the archive has it all.
    tablet = await sch.login("jules.lambert", "tablet", presence=False)
    items, fin, _ = await archive(tablet, max_=50)
    assert [m["body"] for m in items] == sent
    assert fin.get("complete") == "true" and rsm(fin, "count") == str(len(sent))
    for m in items:
        assert m["from_archive"] == tablet.bare
        assert m["stamp"] and m["stamp"].endswith("Z")
        if m["body"] in delivered:
            # The id in the archive is the one the recipient's copy carried.
            assert m["id"] == delivered[m["body"]], m
    # Received ones carry Jules's stanza-id; the offline one too.
    offline = items[-1]
    assert offline["stanza_ids"] == [(tablet.bare, offline["id"])]

    # Paged through with slixmpp's XEP-0313 plugin, three at a time: same order.
    bodies = [m["mam_result"]["forwarded"]["stanza"]["body"]
              async for m in tablet.xmpp.plugin["xep_0313"].iterate(
                  jid=tablet.xmpp.boundjid.bare, rsm={"max": 3})]
    assert bodies == sent

    # The last page (<before/>), then back from its first.
    items, fin, _ = await archive(tablet, max_=3, extra="<before/>")
    assert [m["body"] for m in items] == sent[-3:]
    assert fin.get("complete") != "true" and rsm(fin, "count") == str(len(sent))
    assert fin.find(f"{{{NS_RSM}}}set/{{{NS_RSM}}}first").get("index") == str(len(sent) - 3)
    items2, fin2, _ = await archive(tablet, max_=10, extra=f"<before>{rsm(fin, 'first')}</before>")
    assert [m["body"] for m in items2] == sent[:-3] and fin2.get("complete") == "true"
    # Filters: with, and the extended ids / after-id.
    items, _, _ = await archive(tablet, form=f"<field var='with'><value>{noah.bare}/phone</value></field>")
    assert [m["body"] for m in items] == sent
    wanted = [delivered[sent[1]], delivered[sent[4]]]
    items, _, _ = await archive(tablet, form="<field var='ids'>" + "".join(f"<value>{i}</value>" for i in wanted) + "</field>")
    assert [m["body"] for m in items] == [sent[1], sent[4]]
    items, _, _ = await archive(tablet, form=f"<field var='after-id'><value>{delivered[sent[5]]}</value></field>")
    assert [m["body"] for m in items] == sent[6:]
    _, _, reply = await archive(tablet, extra="<after>nope</after>")
    assert error_texts(reply)[0] == "item-not-found"

    # Now his offline message arrives, with the id the archive holds.
    mark = tablet.mark()
    tablet.send_presence()
    got = await tablet.wait_message(body="pendant ton absence", start=mark)
    assert stanza_ids(got) == [(tablet.bare, offline["id"])]

    # Noah's own archive, from another device: the same conversation, with Jules only.
    laptop = await sch.login("noah.robert", "laptop")
    items, fin, _ = await archive(laptop)
    assert [m["body"] for m in items] == sent
    assert fin.get("complete") == "true"


async def test_what_the_rules_refuse_is_never_archived_and_archives_are_private(sch):
    lea = await sch.login("lea.martin")
    ines = await sch.login("ines.petit")
    tom = await sch.login("tom.girard")
    zoe = await sch.login("zoe.faure")
    # Two classes: refused, and in nobody's archive.
    mark = lea.mark()
    lea.send_message(ines.bare, "SECRET-classes")
    err = await lea.wait_for(lambda s: s.xml.get("type") == "error", start=mark)
    assert_refusal(err, "forbidden")
    # Classmates who are not contacts: refused too.
    mark = tom.mark()
    tom.send_message(zoe.bare, "SECRET-contacts")
    await tom.wait_for(lambda s: s.xml.get("type") == "error", start=mark)
    await barrier(lea, ines, tom, zoe)
    for c in (lea, ines, tom, zoe):
        items, fin, _ = await archive(c)
        assert items == [] and rsm(fin, "count") == "0", (c.bare, items)

    # Someone else's archive: forbidden, with a reason, whether or not the rules let the
    # pair reach each other; nothing of it is sent.
    for asker, owner in ((tom, lea), (ines, lea)):
        mark = asker.mark()
        items, _, reply = await archive(asker, to=owner.bare)
        cond, texts = error_texts(reply)
        assert cond == "forbidden" and texts.get("fr") and texts.get("en"), reply
        assert not asker.matching(lambda s: s.xml.find(f"{{{NS_MAM}}}result") is not None, mark)


async def test_forged_stanza_ids_are_replaced_and_origin_id_kept(sch):
    noah = await sch.login("noah.robert")
    jules = await sch.login("jules.lambert")
    await befriend(noah, jules)
    mark = jules.mark()
    m = noah.xmpp.make_message(mto=jules.bare, mbody="forgé", mtype="chat")
    ET.SubElement(m.xml, f"{{{NS_SID}}}stanza-id", {"by": jules.bare, "id": "forged"})
    ET.SubElement(m.xml, f"{{{NS_SID}}}origin-id", {"id": "origin-1"})
    m.send()
    got = await jules.wait_message(body="forgé", start=mark)
    ids = stanza_ids(got)
    assert len(ids) == 1 and ids[0][0] == jules.bare and ids[0][1] != "forged", ids
    assert got.xml.find(f"{{{NS_SID}}}origin-id").get("id") == "origin-1"
    items, _, _ = await archive(jules)
    assert [m["id"] for m in items] == [ids[0][1]]
    assert items[0]["origin"].get("id") == "origin-1"
    sender_items, _, _ = await archive(noah)
    assert [m["id"] for m in sender_items] == [ids[0][1]]


async def test_discovery_form_and_preferences(sch):
    lea = await sch.login("lea.martin")
    own = await lea.query(None, f"<query xmlns='{NS_DISCO_INFO}'/>")
    features = {f.get("var") for f in own.xml.iter(f"{{{NS_DISCO_INFO}}}feature")}
    assert {NS_MAM, NS_MAM_EXT, NS_SID} <= features
    server = await lea.query(sch.srv.domain, f"<query xmlns='{NS_DISCO_INFO}'/>")
    assert NS_MAM in {f.get("var") for f in server.xml.iter(f"{{{NS_DISCO_INFO}}}feature")}
    form = await lea.query(None, f"<query xmlns='{NS_MAM}'/>", "get")
    fields = {f.get("var") for f in form.xml.iter("{jabber:x:data}field")}
    assert {"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"} <= fields
    prefs = await lea.query(None, f"<prefs xmlns='{NS_MAM}'/>", "get")
    assert prefs.xml.find(f"{{{NS_MAM}}}prefs").get("default") == "always"
    refused = await lea.query(None, f"<prefs xmlns='{NS_MAM}' default='never'/>", "set")
    cond, texts = error_texts(refused)
    assert cond == "not-allowed" and "conserve" in texts["fr"] and "keeps" in texts["en"]
    # A malformed query: bad-request with a reason.
    _, _, bad = await archive(lea, form="<field var='start'><value>hier</value></field>")
    cond, texts = error_texts(bad)
    assert cond == "bad-request" and "start" in texts["en"]


def raw_bodies(srv, owner: str) -> list[str]:
    db = sqlite3.connect(srv.db_path)
    try:
        rows = db.execute(
            "SELECT x.stanza FROM account_archive x JOIN accounts a ON a.id = x.owner_id "
            "WHERE a.username = ? ORDER BY x.id", (owner,)).fetchall()
    finally:
        db.close()
    return [ET.fromstring(r[0]).findtext(f"{{{NS_CLIENT}}}body") for r in rows]


def backdate(srv, body: str, days: int) -> None:
    db = sqlite3.connect(srv.db_path, timeout=10)
    try:
        stamp = int(time.time() * 1000) - days * DAY_MS
        like = f"%<body>{body}</body>%"
        with db:
            # Through the archive's view (SQLite counts no changes made through one).
            db.execute("UPDATE account_archive SET stamp_ms = ? WHERE stanza LIKE ?", (stamp, like))
        n = db.execute("SELECT COUNT(*) FROM account_archive WHERE stamp_ms = ? AND stanza LIKE ?",
                       (stamp, like)).fetchone()[0]
        assert n == 2, f"{body}: {n} rows"
    finally:
        db.close()


async def test_retention_per_structure_purges_rows_for_real(sch):
    srv = sch.srv
    noah = await sch.login("noah.robert")      # collège S1
    jules = await sch.login("jules.lambert")   # collège S1
    emma = await sch.login("emma.roux")        # lycée S2, default retention
    marc = await sch.login("marc.leroy")       # lycée S2, her teacher
    await befriend(noah, jules)
    await befriend(emma, marc)
    for a, b, body in ((noah, jules, "ancien-1"), (jules, noah, "ancien-2"), (noah, jules, "récent"),
                       (emma, marc, "année-passée"), (marc, emma, "cette-année")):
        mark = b.mark()
        a.send_message(b.bare, body)
        await b.wait_message(body=body, start=mark)
    # A query flushes the writer: every row is in the file now.
    await archive(noah)
    await archive(emma)
    assert raw_bodies(srv, "noah.robert") == ["ancien-1", "ancien-2", "récent"]
    # Forty days ago for the collège's two; last school year (more than a year) for the lycée's.
    backdate(srv, "ancien-1", 40)
    backdate(srv, "ancien-2", 40)
    backdate(srv, "année-passée", 400)

    # The collège keeps 30 days; the lycée the default (the school year).
    out = srv.cli("archive", "retention", S1, "30").stdout
    assert "30" in out
    assert "30 (its own)" in srv.cli("archive", "show", S1).stdout
    assert "school_year (the default)" in srv.cli("archive", "show", "0750002B").stdout
    refused = srv.cli("archive", "retention", S1, "forever", check=False)
    assert refused.returncode != 0
    purged = srv.cli("archive", "purge").stdout
    assert "6 archived messages purged" in purged, purged
    assert "0 room messages purged" in purged, purged  # the rooms' own limit, run too

    # Gone from the file, for both owners; the rest stays.
    assert raw_bodies(srv, "noah.robert") == ["récent"]
    assert raw_bodies(srv, "jules.lambert") == ["récent"]
    assert raw_bodies(srv, "emma.roux") == ["cette-année"]
    assert raw_bodies(srv, "marc.leroy") == ["cette-année"]
    db = sqlite3.connect(srv.db_path)
    try:
        left = db.execute("SELECT COUNT(*) FROM account_archive WHERE stanza LIKE '%ancien%' "
                          "OR stanza LIKE '%passée%'").fetchone()[0]
    finally:
        db.close()
    assert left == 0
    # And what users see.
    items, _, _ = await archive(jules)
    assert [m["body"] for m in items] == ["récent"]

    # Back to the default: the collège follows the school year again.
    srv.cli("archive", "reset", S1)
    assert "(the default)" in srv.cli("archive", "show", S1).stdout
