"""« Disponible selon collectivité » (issue 18): a région, département or commune decides
the chat for the schools it covers, above each school's own setting.

The school of ``directory_fixture`` is imported with a ``collectivites`` list: the
département ``dep-75`` covers both structures, the commune ``com-s1`` the collège (S1)
only. Anne Durand also teaches at the lycée (S2), so that she keeps the chat when only
the collège's collectivité turns it off. Changes go through the command line
(``causerie collectivite …``, ``causerie access set``) and the sync API.
"""

from __future__ import annotations

import asyncio

import pytest
from slixmpp import Message

from clients import Client, LoginFailed, barrier, befriend
from directory_fixture import S1, S2, access, account, import_ok, sasl_plain, school, user_entry
from test_changes import WITH_SYNC, closed_within, sync
from test_directory import make_school  # noqa: F401  (pytest fixture)


def with_collectivites() -> dict:
    d = school()
    user_entry(d, "anne.durand")["structures"] = [S1, S2]
    d["collectivites"] = [
        {"id": "dep-75", "name": "Département de Paris", "kind": "departement",
         "structures": [S1, S2]},
        {"id": "com-s1", "name": "Commune du collège", "kind": "commune", "structures": [S1]},
    ]
    return d


def cli(srv, *args):
    return asyncio.to_thread(srv.cli, *args)


@pytest.fixture
def sch(make_school):
    return make_school(snapshot=with_collectivites(), extra_toml=WITH_SYNC)


async def test_a_collectivite_off_beats_a_school_that_is_on(sch):
    srv = sch.srv
    listed = (await cli(srv, "collectivite", "list")).stdout
    assert "com-s1\tcommune\tchat on" in listed and "dep-75\tdepartement" in listed, listed
    lea = await sch.login("lea.martin")
    anne = await sch.login("anne.durand")
    emma = await sch.login("emma.roux")
    await befriend(lea, anne)

    # The collège's commune turns the chat off: the collège (on, never set) is closed at once.
    await cli(srv, "collectivite", "access", "com-s1", "off")
    await closed_within(lea)
    assert "policy-violation" in lea.stream_errors, lea.stream_errors
    out = await sasl_plain(srv, "lea.martin")
    assert not out.ok, out
    assert "Le chat n'est pas activé" in out.text and "not enabled" in out.text, out
    # Anne also teaches at the lycée, which its collectivités leave on; Emma is untouched.
    await barrier(anne, emma)
    assert anne.connected and emma.connected
    # Messages to the collège's pupil are refused while it lasts.
    ma = anne.mark()
    anne.send_message(lea.bare, "tu es là ?")
    err = await anne.wait_for(
        lambda st: isinstance(st, Message) and st["type"] == "error" and st["from"].bare == lea.bare,
        start=ma, what="the refusal of a message to a pupil whose chat is off")
    assert err.xml.find("{jabber:client}error") is not None

    # The school turns itself on explicitly: it cannot widen what its commune forbids.
    await asyncio.to_thread(access, srv, S1, True)
    assert not (await sasl_plain(srv, "lea.martin")).ok
    shown = (await cli(srv, "collectivite", "show", "com-s1")).stdout
    assert f"{S1}\tCollège Jean Moulin\town: on" in shown and "effective: off" in shown, shown
    assert "effective under its collectivités: chat off" in (await cli(srv, "access", "show", S1)).stdout

    # Back on: she logs in again.
    await cli(srv, "collectivite", "access", "com-s1", "on")
    assert (await sasl_plain(srv, "lea.martin")).ok
    await sch.login("lea.martin", "again")


async def test_profiles_narrow_across_levels(sch):
    srv = sch.srv
    lea = await sch.login("lea.martin")
    emma = await sch.login("emma.roux")
    anne = await sch.login("anne.durand")
    # The département allows the adults only: every pupil it covers is closed.
    await cli(srv, "collectivite", "access", "dep-75", "on", "--profiles", "teacher,personnel,relative")
    await closed_within(lea)
    await closed_within(emma)
    out = await sasl_plain(srv, "emma.roux")
    assert not out.ok and "Élève" in out.text, out
    await barrier(anne)
    assert anne.connected
    # The collège allows pupils and teachers: the intersection is teachers only.
    await asyncio.to_thread(access, srv, S1, True, ["student", "teacher"])
    assert not (await sasl_plain(srv, "lea.martin")).ok
    assert not (await sasl_plain(srv, "paul.martin")).ok, "a parent: the collège leaves parents out"
    assert (await sasl_plain(srv, "anne.durand")).ok
    with pytest.raises(LoginFailed):
        await Client.login(srv, account("lea.martin"), "r2")
    # A re-import keeps the collectivités' settings.
    import_ok(srv, with_collectivites())
    assert not (await sasl_plain(srv, "emma.roux")).ok


async def test_sync_api_puts_and_removes_a_collectivite(sch):
    srv = sch.srv
    emma = await sch.login("emma.roux")
    body = {"id": "reg-idf", "name": "Région Île-de-France", "kind": "region", "structures": [S2]}
    status, answer = await asyncio.to_thread(sync, srv, "PUT", "/collectivites/reg-idf", body)
    assert status == 204, answer
    assert "reg-idf\tregion" in (await cli(srv, "collectivite", "list")).stdout
    # Refused with the field at fault, nothing changed.
    bad = dict(body, structures=[S2, "nowhere"])
    status, answer = await asyncio.to_thread(sync, srv, "PUT", "/collectivites/reg-idf", bad)
    assert status == 422 and answer["field"] == "structures[1]", answer
    # The région turns the chat off: the lycée's pupil is closed; removing the région
    # from the directory gives the lycée its own setting back.
    await cli(srv, "collectivite", "access", "reg-idf", "off")
    await closed_within(emma)
    status, answer = await asyncio.to_thread(sync, srv, "DELETE", "/collectivites/reg-idf")
    assert status == 204, answer
    assert (await sasl_plain(srv, "emma.roux")).ok
    status, _ = await asyncio.to_thread(sync, srv, "DELETE", "/collectivites/reg-idf")
    assert status == 404


async def test_a_bad_collectivites_list_refuses_the_import(sch):
    d = with_collectivites()
    d["collectivites"].append({"id": "x", "name": "X", "kind": "canton", "structures": []})
    from directory_fixture import import_snapshot
    cp = import_snapshot(sch.srv, d)
    assert cp.returncode != 0
    assert "collectivites[2] (x), field kind: unknown kind \"canton\"" in cp.stderr, cp.stderr
    d["collectivites"][2] = {"id": "dep-75", "name": "Doublon", "kind": "region", "structures": [S1]}
    cp = import_snapshot(sch.srv, d)
    assert cp.returncode != 0 and "duplicate collectivite id \"dep-75\"" in cp.stderr, cp.stderr
    d["collectivites"][2] = {"id": "y", "name": "Y", "kind": "region", "structures": ["nowhere"]}
    cp = import_snapshot(sch.srv, d)
    assert cp.returncode != 0 and "unknown structure \"nowhere\"" in cp.stderr, cp.stderr
