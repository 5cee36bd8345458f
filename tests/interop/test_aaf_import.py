"""The national feed (issue 18): the académie's AAF exports imported with
``causerie directory import-aaf DIR`` (docs/aaf-import.md).

The sample feed (tests/fixtures/aaf/sample: a collège with classes 6A and 6B, a
lycée) is mapped and imported through the CLI; on the school it makes, the default
rules hold: a pupil and the teacher of his class chat, a pupil of the other class
cannot reach him. The report names what was skipped; ``--dry-run`` changes
nothing; a feed with a file that cannot be read is refused whole, since a full
snapshot deactivates everyone it misses.

AAF exports carry no passwords (the portal's single sign-on logs people in); the
tests give the few users they log in a password with ``causerie user passwd``.
"""

from __future__ import annotations

from pathlib import Path

from slixmpp.stanza import Message, Presence

from clients import Clients, barrier, befriend
from directory_fixture import account, assert_refusal, is_error_from, password, vcard, vcard_fn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aaf"
QUIET = 0.6


def import_aaf(srv, feed: str, *args: str):
    return srv.cli("directory", "import-aaf", str(FIXTURES / feed), *args, check=False)


def give_password(srv, login: str) -> None:
    srv.cli("user", "passwd", f"{login}@{srv.domain}", "-p", password(login))


def test_dry_run_reports_what_is_skipped_and_changes_nothing(make_server, tmp_path):
    srv = make_server()
    report = tmp_path / "report.txt"
    snapshot = tmp_path / "snapshot.json"
    cp = import_aaf(srv, "sample", "--dry-run", "--report", str(report), "--json", str(snapshot))
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert "2 structures, 3 classes, 1 groups; users: 6 pupils, 3 relatives, 3 teachers, 2 staff" in out, out
    assert "ignored: 1 entries of category MatiereEducNat" in out, out
    assert "relative without pupil: 1" in out, out
    assert "relative 2867009 (DUPONT Jean): skipped: no imported pupil names this person" in out, out
    assert 'ENTPersonFonctions "52999$ENS$ENSEIGNEMENT$L0422$ANGLAIS"' not in out  # the structure, not the value
    assert 'staff member 2397005 (BLANC Julie): ENTPersonFonctions "52999" dropped' in out, out
    assert "dry run: nothing was imported" in out, out
    assert "DUPONT Jean" in report.read_text(encoding="utf-8")
    assert '"login": "lea.martin"' in snapshot.read_text(encoding="utf-8")
    assert not [u for u in srv.list_users() if u.startswith("lea.martin@")]


async def test_sample_feed_pupil_and_teacher_chat_other_class_cannot(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    cp = import_aaf(srv, "sample")
    assert cp.returncode == 0, f"stdout: {cp.stdout}\nstderr: {cp.stderr}"
    assert "users: 14 created, 0 updated, 0 deactivated" in cp.stdout, cp.stdout
    for login in ("lea.martin", "anne.durand", "noe.roux"):
        give_password(srv, login)

    clients = Clients(srv)
    try:
        lea = await clients.login(account("lea.martin", srv.domain), "r")
        anne = await clients.login(account("anne.durand", srv.domain), "r")
        noe = await clients.login(account("noe.roux", srv.domain), "r")

        # The names come from the feed (the pupils' file is ISO-8859-15).
        card = await vcard(anne, lea.bare)
        assert card["type"] == "result", card
        assert vcard_fn(card) == "MARTIN Léa"

        # Léa (6A) and Anne Durand, who teaches 6A, become contacts and chat.
        await befriend(lea, anne)
        ml, ma = lea.mark(), anne.mark()
        lea.send_message(anne.bare, "Bonjour Madame")
        await anne.wait_message("Bonjour Madame", frm=lea.bare, start=ma)
        anne.send_message(lea.bare, "Bonjour Léa")
        await lea.wait_message("Bonjour Léa", frm=anne.bare, start=ml)

        # Noé (6B) cannot reach her: no contact request, no message.
        mn, ml = noe.mark(), lea.mark()
        noe.subscribe(lea.bare)
        err = await noe.wait_for(lambda st: is_error_from(st, "presence", lea.bare), start=mn,
                                 what="refused contact request")
        assert_refusal(err, "forbidden")
        noe.send_message(lea.bare, "salut")
        err = await noe.wait_for(lambda st: is_error_from(st, "message", lea.bare), start=mn,
                                 what="refused message")
        assert_refusal(err, "forbidden")
        await barrier(noe, lea)
        await lea.expect_none(
            lambda st: isinstance(st, (Message, Presence)) and st["from"].bare == noe.bare,
            QUIET, "anything from a pupil of another class", start=ml)
    finally:
        await clients.close()


async def test_a_feed_with_an_unreadable_file_is_refused_whole(make_server):
    srv = make_server(auth={"failure_delay_ms": 50})
    assert import_aaf(srv, "sample").returncode == 0
    cp = import_aaf(srv, "broken")
    assert cp.returncode != 0
    assert "could not be read: nothing was imported" in cp.stderr, cp.stderr
    # what it could read is still reported
    assert "ENT_TEST_Complet_20250901_PersEducNat_0001.xml: file not read: root element <annuaire>" in cp.stdout
    assert 'ENTPersonLogin "Ugo Maj!" is not a usable login' in cp.stdout, cp.stdout
    # nobody of the sample feed was deactivated: the teacher, absent from the broken feed, still logs in
    give_password(srv, "anne.durand")
    clients = Clients(srv)
    try:
        anne = await clients.login(account("anne.durand", srv.domain), "r")
        assert anne.bare == f"anne.durand@{srv.domain}"
    finally:
        await clients.close()
    # re-importing the same full feed changes nothing
    again = import_aaf(srv, "sample")
    assert "users: 0 created, 0 updated, 0 deactivated" in again.stdout, again.stdout
