"""Last year's conversations (issue 16, « L'année scolaire »; docs/safety.md): a room
created before the current school year began (`[archive] school_year_start`) is archived.
Its members still enter it and read its history; posting, changing the subject and
inviting are refused with a text saying why. This year's rooms are not concerned."""

from __future__ import annotations

import sqlite3
import time

from slixmpp import Message

from clients import Clients
from directory_fixture import error_of
from test_muc import PLUGINS, create, groupchat, invite, invited, join, new_room, send

YEAR_MS = 400 * 86_400_000


def is_error(mid: str):
    return lambda st: isinstance(st, Message) and st["type"] == "error" and st["id"] == mid


async def test_last_years_room_is_read_only_and_this_years_is_not(make_server):
    srv = make_server()
    A, B, C = srv.new_account("prof"), srv.new_account("eleve"), srv.new_account("nouveau")
    clients = Clients(srv)
    old_room, new = new_room(srv, "ancienne"), new_room(srv, "nouvelle")
    try:
        a = await clients.login(A, "r", plugins=PLUGINS)
        b = await clients.login(B, "r", plugins=PLUGINS)
        await create(a, old_room, "prof", title="6e A 2025")
        m = b.mark()
        invite(a, old_room, B.jid)
        await invited(b, old_room, m)
        await join(b, old_room, "eleve")
        mb = b.mark()
        send(a, f"<message to='{old_room}' type='groupchat' id='h1'><body>devoirs pour lundi</body></message>")
        await b.wait_for(groupchat(old_room, "devoirs pour lundi"), start=mb)
        await create(a, new, "prof", title="5e A 2026")
    finally:
        await clients.close()
    srv.stop()
    # The first room was created last year (a year and more ago).
    db = sqlite3.connect(srv.db_path)
    with db:
        db.execute("UPDATE rooms SET created_ms = ? WHERE name = ?",
                   (int(time.time() * 1000) - YEAR_MS, old_room.split("@")[0]))
    db.close()
    srv.start()

    clients = Clients(srv)
    try:
        a = await clients.login(A, "r2", plugins=PLUGINS)
        b = await clients.login(B, "r2", plugins=PLUGINS)
        c = await clients.login(C, "r2", plugins=PLUGINS)
        # Members still enter, and read its history.
        mb = b.mark()
        await join(a, old_room, "prof")
        await join(b, old_room, "eleve", extra="<history maxstanzas='10'/>")
        await b.wait_for(groupchat(old_room, "devoirs pour lundi", live=False), start=mb,
                         what="last year's history")
        # Posting, the subject and invitations are refused with the reason.
        ma = a.mark()
        send(a, f"<message to='{old_room}' type='groupchat' id='p1'><body>encore ?</body></message>")
        err = await a.wait_for(is_error("p1"), start=ma, what="the refusal of a post")
        cond, texts = error_of(err.xml)
        assert cond == "not-allowed", err
        assert "année scolaire passée" in texts["fr"] and "past school year" in texts["en"], texts
        send(a, f"<message to='{old_room}' type='groupchat' id='s1'><subject>Nouveau sujet</subject></message>")
        err = await a.wait_for(is_error("s1"), start=ma, what="the refusal of a subject")
        assert error_of(err.xml)[0] == "not-allowed", err
        mc = c.mark()
        send(a, f"<message to='{old_room}' id='i1'><x xmlns='http://jabber.org/protocol/muc#user'>"
                f"<invite to='{C.jid}'/></x></message>")
        err = await a.wait_for(is_error("i1"), start=ma, what="the refusal of an invitation")
        assert error_of(err.xml)[0] == "not-allowed", err
        await b.expect_none(groupchat(old_room, "encore ?"), 0.5, "a post to last year's room", start=mb)
        await c.expect_none(lambda st: isinstance(st, Message) and st["from"].bare == old_room, 0.3,
                            "an invitation to last year's room", start=mc)
        # This year's room takes posts.
        await join(a, new, "prof")
        ma = a.mark()
        send(a, f"<message to='{new}' type='groupchat' id='n1'><body>bonne rentrée</body></message>")
        await a.wait_for(groupchat(new, "bonne rentrée"), start=ma, what="a post to this year's room")
    finally:
        await clients.close()
