"""One way to change the school (issue 13): a change made through any door — the
`causerie` command line, the directory sync API (/api/v1/directory), the admin API
(/admin/api) — is validated alike, audited alike, and enforced alike on what is open.

Each test names the issue's item it checks, goes through every door that can cause it,
checks the live effect on a connected client within a second, and, for a refused call,
that nothing in the database changed (its tables read before and after).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import urllib.error
import urllib.request

import pytest
from slixmpp import Message

from clients import barrier, befriend
from directory_fixture import (
    C2A,
    C6A,
    S1,
    S2,
    access,
    import_snapshot,
    password,
    school,
    user_entry,
)
from test_admin import Api, school_with_admin
from test_muc import create, invite_and_join, new_room
from test_directory import make_school  # noqa: F401  (pytest fixture)

SYNC_TOKEN = "sync-token-of-the-interop-tests"
WITH_SYNC = f'\n[directory]\napi_token = "{SYNC_TOKEN}"\n'
# Within a second, and a margin for a loaded machine.
LIVE = 1.0


def db_state(srv) -> dict:
    """The directory, access, rules, locks, grants and audit tables as rows, and the
    generation: what a refused change must leave as it was."""
    con = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True)
    try:
        out = {}
        for table in ["directory_generation", "structures", "classes", "directory_users",
                      "user_structures", "user_classes", "parent_children", "groups",
                      "group_members", "rule_sets", "rules", "structure_access",
                      "account_locks", "admin_grants", "audit_log"]:
            out[table] = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        return out
    finally:
        con.close()


def sync(srv, method: str, path: str, body=None, raw: bytes | None = None):
    """A call of the directory sync API: (status, JSON answer or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        f"http://{srv.host}:{srv.http_port}/api/v1/directory{path}", data=data, method=method,
        headers={"Authorization": f"Bearer {SYNC_TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            raw_answer = r.read()
            return r.status, (json.loads(raw_answer) if raw_answer else None)
    except urllib.error.HTTPError as e:
        raw_answer = e.read()
        return e.code, (json.loads(raw_answer) if raw_answer else None)


async def closed_within(client, seconds: float = LIVE) -> float:
    """Waits for the server to close the client's stream; how long it took."""
    t0 = time.monotonic()
    await asyncio.wait_for(client.disconnected.wait(), seconds + 4)
    took = time.monotonic() - t0
    assert took <= seconds + 0.5, f"closed after {took:.2f}s"
    return took


# ============================================================= item 1: access off

@pytest.mark.parametrize("door", ["cli", "admin_api"])
async def test_item1_chat_turned_off_closes_open_sessions(make_school, door):
    """Turning a structure's chat off closes its users' open sessions at once, with the
    reason, through every door that changes access; logins are refused afterwards."""
    sch = make_school(snapshot=school_with_admin(), extra_toml=WITH_SYNC)
    lea = await sch.login("lea.martin")
    emma = await sch.login("emma.roux")  # another structure: untouched
    if door == "cli":
        await asyncio.to_thread(access, sch.srv, S1, False)
    else:
        api = Api(sch.srv)
        await api.login("anne.durand", password("anne.durand"))
        status, answer, _ = await api.call(
            "PUT", f"/structures/{S1}/access", {"enabled": False, "profiles": []})
        assert status == 200, answer
    await closed_within(lea)
    assert "policy-violation" in lea.stream_errors, lea.stream_errors
    # The other structure's pupil is still served.
    await barrier(emma)
    assert emma.connected


# ============================================== item 2: a user leaves the directory

@pytest.mark.parametrize("door", ["sync_delete", "cli_import"])
async def test_item2_a_removed_user_is_closed_and_leaves_his_rooms(make_school, door):
    """A user removed from the directory (sync API DELETE, or an import without him)
    loses his live session at once, his room membership ends with a notice, and room
    messages stop flowing both ways."""
    sch = make_school(extra_toml=WITH_SYNC)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    room = new_room(sch.srv)
    await create(lea, room, None)
    await invite_and_join(lea, room, hugo, None)

    mh = hugo.mark()
    if door == "sync_delete":
        status, answer = await asyncio.to_thread(sync, sch.srv, "DELETE", "/users/lea.martin")
        assert status == 204, answer
    else:
        d = school()
        d["users"] = [u for u in d["users"] if u["login"] != "lea.martin"]
        d["users"] = [u for u in d["users"] if u["login"] != "paul.martin"]  # her parent
        cp = await asyncio.to_thread(import_snapshot, sch.srv, d)
        assert cp.returncode == 0, cp.stderr
    await closed_within(lea)
    assert "policy-violation" in lea.stream_errors, lea.stream_errors
    # The room is told she no longer has access, and nothing of hers comes any more.
    def notice(st) -> bool:
        bodies = [b.text or "" for b in st.xml.findall("{jabber:client}body")]
        return (isinstance(st, Message) and str(st["from"]) == room
                and "MARTIN Léa n'a plus accès à cette conversation" in bodies)
    await hugo.wait_for(notice, start=mh, timeout=LIVE + 2, what="the room's notice")
    mh = hugo.mark()
    hugo.xmpp.send_raw(f"<message to='{room}' type='groupchat'><body>encore là ?</body></message>")
    await hugo.wait_for(lambda st: isinstance(st, Message) and st["body"] == "encore là ?", start=mh)
    # She cannot come back: she can no longer even log in.
    with pytest.raises(AssertionError):
        await sch.login("lea.martin", "retour")


async def test_a_class_moved_to_another_structure_ends_what_its_pupils_may_no_longer_do(make_school):
    """The sync API moves a class to another structure: no pupil's record changes, but
    the rules of their structure no longer see them as classmates. What they had open
    between them ends at once: presence, and their shared room."""
    sch = make_school(extra_toml=WITH_SYNC)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    room = new_room(sch.srv)
    await create(lea, room, None)
    await invite_and_join(lea, room, hugo, None)
    mh = hugo.mark()
    status, answer = await asyncio.to_thread(
        sync, sch.srv, "PUT", f"/classes/{C6A}", {"id": C6A, "structure": S2, "name": "6e A"})
    assert status == 204, answer
    # Her presence ends for him, and his membership of her room ends (he is told).
    await hugo.wait_for(
        lambda st: st.name == "presence" and str(st["from"]).startswith("lea.martin@")
        and st["type"] == "unavailable", start=mh, timeout=LIVE + 2, what="her presence ending")
    await hugo.wait_for(
        lambda st: st.name == "presence" and str(st["from"]).startswith(f"{room}/")
        and st["type"] == "unavailable" and "110" in str(st),
        start=mh, timeout=LIVE + 2, what="his own departure from the room")
    # And a message between them is refused.
    ml = lea.mark()
    lea.send_message(hugo.bare, "toujours là ?", mid="after-move")
    err = await lea.wait_for(lambda st: st["type"] == "error" and st["id"] == "after-move",
                             start=ml, what="the refusal")
    assert err["error"]["condition"] == "forbidden", err


# ========================================= item 3: a deactivated user's console

async def test_item3_deactivated_administrator_loses_the_console_by_the_command_line(make_school):
    """An administrator removed from the directory by `causerie directory import` loses
    his open console session and cannot log in to the console again (the sync API's and
    the admin API's doors are tested in crates/web/tests/admin_api.rs)."""
    sch = make_school(snapshot=school_with_admin(), extra_toml=WITH_SYNC)
    api = Api(sch.srv)
    await api.login("anne.durand", password("anne.durand"))
    d = school_with_admin()
    d["users"] = [u for u in d["users"] if u["login"] != "anne.durand"]
    cp = await asyncio.to_thread(import_snapshot, sch.srv, d)
    assert cp.returncode == 0, cp.stderr
    before = db_state(sch.srv)
    status, answer, _ = await api.call("PUT", f"/structures/{S1}/access",
                                       {"enabled": False, "profiles": []})
    assert status in (401, 403), (status, answer)
    assert db_state(sch.srv) == before, "a refused call changed the database"
    fresh = Api(sch.srv)
    status, answer, _ = await fresh.call("POST", "/login", {"login": "anne.durand",
                                                            "password": password("anne.durand")})
    assert status in (401, 403) and answer["error"]["code"] in ("account-inactive", "not-admin"), answer


# ================================ items 6 and 7: the import's checks at every door

def _user_with_foreign_class() -> dict:
    u = dict(user_entry(school(), "lea.martin"))
    u["classes"] = [C2A]  # a class of the lycée; Léa is a pupil of the collège only
    return u


@pytest.mark.parametrize("case", ["foreign_class", "unknown_admin_of", "long_name"])
@pytest.mark.parametrize("door", ["sync_put", "cli_import"])
async def test_items6_7_a_user_is_checked_alike_at_every_door(make_school, door, case):
    """A user whose class belongs to a structure he is not in (item 6), who would
    administer a structure that does not exist, or whose name is 1 MiB long (item 7),
    is refused by the sync API as by the import, naming the field; nothing changes, and
    his connected classmate still reaches him as before."""
    sch = make_school(extra_toml=WITH_SYNC)
    lea = await sch.login("lea.martin")
    hugo = await sch.login("hugo.bernard")
    await befriend(lea, hugo)
    user = dict(user_entry(school(), "lea.martin"))
    if case == "foreign_class":
        user = _user_with_foreign_class()
        field = "classes[0]"
    elif case == "unknown_admin_of":
        user["admin_of"] = ["9999999Z"]
        field = "admin_of[0]"
    else:
        user["first_name"] = "L" * (1 << 20)
        field = "first_name"
    user.pop("password", None)
    before = db_state(sch.srv)
    if door == "sync_put":
        status, answer = await asyncio.to_thread(sync, sch.srv, "PUT", "/users/lea.martin", user)
        assert status == 422, (status, answer)
        assert answer["field"] == field, answer
    else:
        d = school()
        d["users"] = [user if u["login"] == "lea.martin" else u for u in d["users"]]
        cp = await asyncio.to_thread(import_snapshot, sch.srv, d)
        assert cp.returncode != 0
        assert field in cp.stderr, cp.stderr
    assert db_state(sch.srv) == before, "a refused change changed the database"
    # Nothing changed for the people either.
    mh = hugo.mark()
    lea.send_message(hugo.bare, "toujours là")
    await hugo.wait_message("toujours là", frm=lea.bare, start=mh)


async def test_item6_the_other_schools_administrator_sees_only_his_own(make_school):
    """The refused PUT of item 6 would have made Léa a member of the lycée's class: the
    lycée's pupil, connected, is not reachable from her, and she is not his
    administrator's user."""
    sch = make_school(extra_toml=WITH_SYNC)
    lea = await sch.login("lea.martin")
    emma = await sch.login("emma.roux")
    status, _ = await asyncio.to_thread(sync, sch.srv, "PUT", "/users/lea.martin", _user_with_foreign_class())
    assert status == 422
    ml, me = lea.mark(), emma.mark()
    lea.subscribe(emma.bare)
    err = await lea.wait_for(lambda st: st.xml.get("type") == "error" and st["from"].bare == emma.bare,
                             start=ml, what="the refusal of a pupil of another school")
    assert err.xml.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}forbidden") is not None
    await barrier(lea, emma)
    assert not emma.matching(lambda st: st["from"].bare == lea.bare, me)


# =========================================== item 13: every door writes the audit

async def test_item13_the_command_line_writes_audit_rows_like_the_console(make_school):
    """Rules, access, grants and imports made with `causerie` are in the audit log (actor
    `cli`), as the console's are, each with the directory generation in one
    transaction."""
    sch = make_school(snapshot=school_with_admin(), extra_toml=WITH_SYNC)
    srv = sch.srv
    rules = srv.root / "rules.json"
    rules.write_text(json.dumps([{"from": ["student"], "to": ["student"], "scope": "same_structure"}]))
    srv.cli("rules", "set", S1, str(rules))
    srv.cli("rules", "reset", S1)
    srv.cli("access", "set", S1, "--enabled", "true", "--profiles", "teacher,personnel")
    srv.cli("admin", "grant", "marc.leroy", S2)
    cp = await asyncio.to_thread(import_snapshot, srv, school_with_admin())
    assert cp.returncode == 0, cp.stderr
    status, answer = await asyncio.to_thread(sync, srv, "PUT", f"/structures/{S2}",
                                             {"id": S2, "name": "Lycée Victor Hugo (rénové)"})
    assert status == 204, answer
    root_api = Api(srv)
    srv.cli("admin", "add", "lea.martin", "--super")
    await root_api.login("lea.martin", password("lea.martin"))
    rows = await root_api.ok("GET", "/audit")
    got = [(r["actor"], r["action"]) for r in rows]
    for want in [("cli", "structure.rules"), ("cli", "structure.rules_reset"),
                 ("cli", "structure.access"), ("cli", "admin.grant"),
                 ("cli", "directory.import"), ("api", "directory.structure")]:
        assert want in got, f"{want} not in the audit log: {got}"


async def test_the_sync_api_takes_objects_only(make_school):
    """A body in serde's positional form (an array) would read fields by order: refused
    with 400, nothing created."""
    sch = make_school(extra_toml=WITH_SYNC)
    before = db_state(sch.srv)
    status, answer = await asyncio.to_thread(
        sync, sch.srv, "PUT", "/users/zz.array", raw=json.dumps(
            ["zz.array", "Last", "First", "student"]).encode())
    assert status == 400, answer
    assert "object" in answer["error"], answer
    assert db_state(sch.srv) == before
