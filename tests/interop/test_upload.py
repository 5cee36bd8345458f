"""XEP-0363 HTTP File Upload (issue 15), as a client and a browser see it.

slixmpp's ``xep_0363`` plugin (a client nobody here wrote) finds the service in
the server's disco items (``upload.localhost``), asks for a slot and PUTs the
file with aiohttp; the test then fetches the GET URL with a plain HTTP client
and reads what a browser would get: the same bytes, the image type, and the
safe headers (``nosniff``, a sandbox CSP). Also:

* a file larger than the structure allows gets ``not-acceptable`` with
  ``<file-too-large><max-file-size/>`` (XEP-0363 §5), the limit in the form;
* a primary school (by its name) has sharing off: ``not-allowed`` with the
  reason, and no service among the server's items, until its administrator
  turns it on (``causerie upload set``);
* a PUT with a wrong signature, after its deadline, with another size or type,
  or a second time, is refused and stores nothing;
* an HTML file (a structure that allows ``text/html``) is served as an
  ``application/octet-stream`` attachment, never as ``text/html``;
* files past their structure's retention are deleted, on disk too;
* the URL travels only in messages, which the gate decides: a pupil cannot send
  it to someone his school keeps apart.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import struct
import urllib.error
import urllib.request
import zlib
from xml.etree import ElementTree as ET

import pytest
from clients import DEFAULT_PLUGINS, Client
from directory_fixture import (
    C6A,
    S1,
    S2,
    _user,
    account,
    error_of,
    import_ok,
    school,
)

NS_UPLOAD = "urn:xmpp:http:upload:0"
NS_ITEMS = "http://jabber.org/protocol/disco#items"
NS_INFO = "http://jabber.org/protocol/disco#info"
NS_DATA = "jabber:x:data"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
UPLOAD = "upload.localhost"
PRIMARY = "0750009Z"
PLUGINS = (*DEFAULT_PLUGINS, "xep_0363")


def png(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def with_primary_school() -> dict:
    snap = school()
    snap["structures"].append({"id": PRIMARY, "name": "École élémentaire Jules Ferry"})
    snap["classes"].append({"id": f"{PRIMARY}-CP", "structure": PRIMARY, "name": "CP"})
    snap["users"].append(_user("leo.blanc", "Blanc", "Léo", "student", [PRIMARY], [f"{PRIMARY}-CP"]))
    return snap


def upload_toml(port: int, validity: int = 300) -> str:
    return f"""
[upload]
url_base = "http://127.0.0.1:{port}"
max_bytes = 100000
slot_validity_secs = {validity}
"""


@pytest.fixture
def school_server(make_server):
    """A server whose uploads are reached at its HTTP port, with the school imported."""
    def make(validity: int = 300):
        srv = make_server(auth={"failure_delay_ms": 50}, start=False)
        srv.extra_toml = upload_toml(srv.http_port, validity)
        srv.write_config()
        srv.start()
        import_ok(srv, with_primary_school())
        return srv
    return make


async def login(server, login_name: str) -> Client:
    a = account(login_name)
    c = Client(a.jid, a.password, server.host, server.c2s_port, plugins=PLUGINS)
    await c.connect()
    return c


def http(method: str, url: str, data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of an HTTP request; errors are answers too."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


async def slot(c: Client, filename: str, size: int, content_type: str):
    """The reply to a slot request (result or error)."""
    return await c.query(
        UPLOAD,
        f"<request xmlns='{NS_UPLOAD}' filename='{filename}' size='{size}' content-type='{content_type}'/>",
    )


def slot_urls(reply) -> tuple[str, str]:
    assert reply["type"] == "result", reply
    s = reply.xml.find(f"{{{NS_UPLOAD}}}slot")
    return s.find(f"{{{NS_UPLOAD}}}put").get("url"), s.find(f"{{{NS_UPLOAD}}}get").get("url")


async def items(c: Client) -> set[str]:
    r = await c.query("localhost", f"<query xmlns='{NS_ITEMS}'/>")
    return {i.get("jid") for i in r.xml.find(f"{{{NS_ITEMS}}}query")}


async def test_a_pupil_shares_an_image_that_comes_back_safe(school_server):
    srv = school_server()
    lea = await login(srv, "lea.martin")
    try:
        assert UPLOAD in await items(lea)
        data = png()
        url = await lea.xmpp["xep_0363"].upload_file(
            "photo de classe.png", size=len(data), content_type="image/png", input_file=io.BytesIO(data))
        # The service's form told the largest file.
        assert lea.xmpp["xep_0363"].max_file_size == 100000
        assert url.startswith(f"http://127.0.0.1:{srv.http_port}/upload/")
        file_id = url.split("/")[4]
        assert len(file_id) == 32 and int(file_id, 16) >= 0, "128 random bits"
        status, headers, body = http("GET", url)
        assert status == 200
        assert body == data
        assert headers["Content-Type"] == "image/png"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in headers["Content-Security-Policy"]
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["Content-Disposition"].startswith("inline")
        assert "photo_de_classe.png" in headers["Content-Disposition"]
        # Stored under its id, not the client's name.
        on_disk = srv.data_dir / "uploads" / file_id[:2] / file_id
        assert on_disk.read_bytes() == data
        # Another id is not there.
        assert http("GET", url.replace(file_id, "0" * 32))[0] == 404
    finally:
        await lea.disconnect()


async def test_too_large_wrong_type_and_the_limits_in_disco(school_server):
    srv = school_server()
    lea = await login(srv, "lea.martin")
    try:
        info = await lea.query(UPLOAD, f"<query xmlns='{NS_INFO}'/>")
        q = info.xml.find(f"{{{NS_INFO}}}query")
        assert q.find(f"{{{NS_INFO}}}identity").get("category") == "store"
        assert NS_UPLOAD in {f.get("var") for f in q.findall(f"{{{NS_INFO}}}feature")}
        fields = {f.get("var"): f.findtext(f"{{{NS_DATA}}}value") for f in q.iter(f"{{{NS_DATA}}}field")}
        assert fields["max-file-size"] == "100000"

        r = await slot(lea, "big.png", 100001, "image/png")
        assert r["type"] == "error"
        err = r.xml.find("{jabber:client}error")
        assert err.find(f"{{{NS_STANZAS}}}not-acceptable") is not None
        assert err.get("type") == "modify"
        assert err.find(f"{{{NS_UPLOAD}}}file-too-large/{{{NS_UPLOAD}}}max-file-size").text == "100000"
        cond, texts = error_of(r.xml)
        assert "Fichier trop gros" in texts.get("fr", ""), texts

        # slixmpp's own check refuses before asking, with the same limit.
        with pytest.raises(Exception) as e:
            await lea.xmpp["xep_0363"].upload_file(
                "big.png", size=200000, content_type="image/png", input_file=io.BytesIO(b"x"))
        assert "100000" in str(e.value) or "FileTooBig" in type(e.value).__name__

        r = await slot(lea, "page.html", 10, "text/html")
        cond, texts = error_of(r.xml)
        assert cond == "not-acceptable", r
        assert "type de fichier" in texts.get("fr", "")
    finally:
        await lea.disconnect()


async def test_a_primary_school_has_sharing_off_until_its_administrator_turns_it_on(school_server):
    srv = school_server()
    leo = await login(srv, "leo.blanc")
    try:
        assert UPLOAD not in await items(leo), "no paperclip for a primary school pupil"
        r = await slot(leo, "dessin.png", 100, "image/png")
        cond, texts = error_of(r.xml)
        assert cond == "not-allowed", r
        assert "partage de fichiers" in texts.get("fr", "").lower()
        assert texts.get("en"), texts
        out = srv.cli("upload", "show", PRIMARY).stdout
        assert "off" in out and "the default" in out
        srv.cli("upload", "set", PRIMARY, "--enabled", "true", "--max-bytes", "5000")
        assert UPLOAD in await items(leo)
        put, _ = slot_urls(await slot(leo, "dessin.png", 100, "image/png"))
        r = await slot(leo, "dessin.png", 5001, "image/png")
        assert r.xml.find(f".//{{{NS_UPLOAD}}}max-file-size").text == "5000"
        srv.cli("upload", "reset", PRIMARY)
        cond, _ = error_of((await slot(leo, "dessin.png", 100, "image/png")).xml)
        assert cond == "not-allowed"
    finally:
        await leo.disconnect()


async def test_a_put_must_be_the_slot_it_was_signed_for_and_only_once(school_server):
    srv = school_server()
    lea = await login(srv, "lea.martin")
    try:
        data = png()
        put, get = slot_urls(await slot(lea, "a.png", len(data), "image/png"))
        ok = {"Content-Type": "image/png"}
        # A wrong signature, a changed deadline: refused.
        assert http("PUT", put[:-4] + "0000", data, ok)[0] == 403
        base, _, query = put.partition("?")
        expires = int(query.split("&")[0].split("=")[1])
        assert http("PUT", f"{base}?expires={expires + 60000}&{query.split('&')[1]}", data, ok)[0] == 403
        assert http("PUT", base, data, ok)[0] == 403
        # Another size or type than the slot's: refused, the slot still open.
        assert http("PUT", put, data + b"more", ok)[0] == 400
        assert http("PUT", put, data, {"Content-Type": "text/html"})[0] == 415
        assert http("GET", get)[0] == 404, "nothing stored"
        # The right one, once.
        assert http("PUT", put, data, ok)[0] == 201
        assert http("PUT", put, data, ok)[0] == 409
        status, _, body = http("GET", get)
        assert status == 200 and body == data
        # Another slot's signature does not open this one.
        put2, _ = slot_urls(await slot(lea, "b.png", len(data), "image/png"))
        sig2 = put2.split("sig=")[1]
        assert http("PUT", put.split("sig=")[0] + "sig=" + sig2, data, ok)[0] in (403, 409)
    finally:
        await lea.disconnect()


async def test_an_expired_put_url_is_refused(school_server):
    srv = school_server(validity=1)
    lea = await login(srv, "lea.martin")
    try:
        data = png()
        put, get = slot_urls(await slot(lea, "late.png", len(data), "image/png"))
        await asyncio.sleep(1.5)
        status, _, body = http("PUT", put, data, {"Content-Type": "image/png"})
        assert status == 403 and b"expired" in body
        assert http("GET", get)[0] == 404
    finally:
        await lea.disconnect()


async def test_html_is_never_served_inline(school_server):
    srv = school_server()
    srv.cli("upload", "set", S1, "--types", "image/png,text/html,image/svg+xml")
    lea = await login(srv, "lea.martin")
    try:
        for name, ctype, data in [
            ("page.html", "text/html", b"<html><script>alert(1)</script></html>"),
            ("logo.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ]:
            put, get = slot_urls(await slot(lea, name, len(data), ctype))
            assert http("PUT", put, data, {"Content-Type": ctype})[0] == 201
            status, headers, body = http("GET", get)
            assert status == 200 and body == data
            assert headers["Content-Type"] == "application/octet-stream", headers
            assert headers["Content-Disposition"].startswith("attachment"), headers
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in headers["Content-Security-Policy"]
    finally:
        await lea.disconnect()


async def test_files_past_the_retention_are_deleted_on_disk(school_server):
    srv = school_server()
    lea = await login(srv, "lea.martin")
    try:
        data = png()
        put, get = slot_urls(await slot(lea, "old.png", len(data), "image/png"))
        assert http("PUT", put, data, {"Content-Type": "image/png"})[0] == 201
        put2, get2 = slot_urls(await slot(lea, "new.png", len(data), "image/png"))
        assert http("PUT", put2, data, {"Content-Type": "image/png"})[0] == 201
        old_id, new_id = get.split("/")[4], get2.split("/")[4]
        old_file = srv.data_dir / "uploads" / old_id[:2] / old_id
        assert old_file.exists()
        # The collège keeps 30 days; the old file was sent 31 days ago.
        srv.cli("archive", "retention", S1, "30")
        with sqlite3.connect(srv.db_path) as db:
            db.execute("UPDATE uploads SET created_ms = created_ms - 31 * 86400000 WHERE id = ?", (old_id,))
        out = srv.cli("archive", "purge").stdout
        assert "1 shared files purged" in out, out
        assert not old_file.exists()
        assert http("GET", get)[0] == 404
        assert http("GET", get2)[0] == 200
        assert (srv.data_dir / "uploads" / new_id[:2] / new_id).exists()
    finally:
        await lea.disconnect()


async def test_the_url_travels_only_where_the_rules_allow(school_server):
    srv = school_server()
    lea = await login(srv, "lea.martin")
    emma = await login(srv, "emma.roux")  # another school: the rules keep them apart
    try:
        data = png()
        put, get = slot_urls(await slot(lea, "p.png", len(data), "image/png"))
        assert http("PUT", put, data, {"Content-Type": "image/png"})[0] == 201
        m = lea.xmpp.make_message(mto=emma.bare, mbody=get, mtype="chat")
        m.xml.append(ET.fromstring(f"<x xmlns='jabber:x:oob'><url>{get}</url></x>"))
        mark = lea.mark()
        m.send()
        err = await lea.wait_for(lambda st: st.name == "message" and st["type"] == "error",
                                 timeout=5, start=mark)
        assert error_of(err.xml)[0] is not None
        await emma.expect_none(lambda st: st.name == "message" and get in str(st), duration=1.0)
    finally:
        await lea.disconnect()
        await emma.disconnect()
