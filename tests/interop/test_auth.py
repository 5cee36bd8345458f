"""Authentication: SASL mechanisms, failures, password storage, throttling,
account administration through the CLI while the server runs."""

from __future__ import annotations

import base64
import secrets
import time

import pytest

from clients import Client, LoginFailed
from raw import NS_SASL, RawClient, local, ns, tostring

MECHS = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]


@pytest.mark.parametrize("mech", MECHS)
async def test_login_with_mechanism(server, make_user, clients, mech):
    alice = make_user("alice")
    c = await clients.login(alice, "m", mech=mech)
    assert c.mechanism == mech
    assert c.full == f"{alice.jid}/m"


@pytest.mark.parametrize("mech", MECHS)
async def test_wrong_password_not_authorized(server, make_user, mech):
    alice = make_user("alice")
    with pytest.raises(LoginFailed) as ei:
        await Client.login(server, alice, "m", mech=mech, password=alice.password + "-wrong")
    assert ei.value.reason == "auth", ei.value
    assert ei.value.condition == "not-authorized", ei.value


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "PLAIN"])
async def test_unknown_user_not_authorized(server, mech):
    from harness import Account
    ghost = Account(f"nobody{secrets.token_hex(4)}", "whatever", server.domain)
    with pytest.raises(LoginFailed) as ei:
        await Client.login(server, ghost, "m", mech=mech)
    assert ei.value.reason == "auth", ei.value
    assert ei.value.condition == "not-authorized", ei.value


def test_raw_plain_wrong_password_failure(server, make_user):
    alice = make_user("alice")
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert not c.auth_plain(alice.user, "definitely-not-it")
        assert c.sasl_failure_condition() == "not-authorized"
        # the stream stays usable for another attempt (RFC 6120 §6.4.5 allows retries)
        assert c.auth_plain(alice.user, alice.password)
        assert c.bind("r") == f"{alice.jid}/r"


def test_a_login_cannot_act_for_another_account(server, make_user):
    """The authorization identity (RFC 6120 §6.3.8) may only name the user himself:
    alice's password with bob as the authzid is `invalid-authzid`, in PLAIN and in
    SCRAM (refused at its first message); with her own bare JID she logs in as herself."""
    alice, bob = make_user("alice"), make_user("bob")
    with RawClient(server.host, server.c2s_port, server.domain) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert not c.auth_plain(alice.user, alice.password, authzid=bob.jid)
        assert c.sasl_failure_condition() == "invalid-authzid"
        first = base64.b64encode(f"n,a={bob.jid},n={alice.user},r=abcdefgh".encode()).decode()
        c.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256'>{first}</auth>")
        el = c.wait_for(lambda e: ns(e.tag) == NS_SASL, what="SASL <failure/>")
        assert local(el.tag) == "failure", tostring(el)
        assert el.find(f"{{{NS_SASL}}}invalid-authzid") is not None, tostring(el)
        assert c.auth_plain(alice.user, alice.password, authzid=alice.jid)
        assert c.bind("r") == f"{alice.jid}/r"


async def test_password_not_stored_in_clear(server, make_user, clients):
    pw1 = "Clear1-" + secrets.token_hex(8)
    pw2 = "Clear2-" + secrets.token_hex(8)
    alice = make_user("alice", password=pw1)
    # PLAIN hands the password to the server: it must not keep it either
    c = await clients.login(alice, "p", mech="PLAIN")
    await c.disconnect()
    server.passwd(alice.jid, pw2)
    alice.password = pw2
    c = await clients.login(alice, "p2", mech="PLAIN")
    await c.disconnect()
    files = server.storage_files()
    assert files, f"no files under {server.data_dir}"
    for path in files:
        data = path.read_bytes()
        for pw in (pw1, pw2):
            assert pw.encode() not in data, f"password found in clear in {path}"
            assert pw.encode("utf-16-le") not in data, f"password found (UTF-16) in {path}"
    log = server.log_text(tail=10**9)
    assert pw1 not in log and pw2 not in log, "password written to the server log"


def _timed_failure(srv, user: str) -> float:
    """Seconds from TCP connect to the SASL <failure/> of a wrong PLAIN password."""
    t0 = time.monotonic()
    with RawClient(srv.host, srv.c2s_port, srv.domain, timeout=15) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        ok = c.auth_plain(user, "wrong-" + secrets.token_hex(3))
        assert not ok
        assert c.sasl_failure_condition() == "not-authorized"
    return time.monotonic() - t0


def test_repeated_failures_are_slowed_down(make_server):
    delay = 0.3
    srv = make_server(auth={"failure_delay_ms": int(delay * 1000)})
    acct = srv.add_user("victim", "right-password")
    times = [_timed_failure(srv, acct.user) for _ in range(4)]
    first = times[0]
    assert times[2] > first + delay * 0.8, f"3rd failure not slower than the 1st: {times}"
    assert times[3] > first + delay * 0.8, f"4th failure not slower than the 1st: {times}"
    assert times[3] >= times[1] - 0.05, f"delay does not grow: {times}"
    # a success from the same address resets the penalty
    with RawClient(srv.host, srv.c2s_port, srv.domain, timeout=15) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.auth_plain(acct.user, acct.password)
    after = _timed_failure(srv, acct.user)
    assert after < times[3] - delay * 0.5, f"penalty not reset by a successful login: {times} then {after:.3f}"


def test_guessing_another_account_stays_slow_after_logging_in_as_oneself(make_server):
    """Behind one address (a school's), a pupil guessing a classmate's password cannot
    reset the slowdown by logging in to his own account between guesses, nor go faster
    by sending his guesses on several connections at once."""
    delay = 0.4
    srv = make_server(auth={"failure_delay_ms": int(delay * 1000)})
    victim = srv.add_user("victim", "right-password")
    me = srv.add_user("guesser", "my-password")
    times = [_timed_failure(srv, victim.user) for _ in range(3)]
    assert times[2] > delay * 1.6, f"3rd failure not delayed: {times}"
    with RawClient(srv.host, srv.c2s_port, srv.domain, timeout=15) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.auth_plain(me.user, me.password)
    after = _timed_failure(srv, victim.user)
    assert after > delay * 2.6, f"own login reset the guesses at another: {times} then {after:.3f}"

    # Two guesses at once: the second is refused unchecked while the first one waits.
    def opened():
        c = RawClient(srv.host, srv.c2s_port, srv.domain, timeout=15)
        c.connect()
        c.open_stream()
        c.starttls()
        return c

    a, b = opened(), opened()
    try:
        payload = base64.b64encode(f"\0{victim.user}\0wrong".encode()).decode()
        a.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{payload}</auth>")
        time.sleep(0.2)
        b.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{payload}</auth>")
        el = b.wait_for(lambda e: ns(e.tag) == NS_SASL, what="SASL answer")
        assert local(el.tag) == "failure"
        assert el.find(f"{{{NS_SASL}}}temporary-auth-failure") is not None, tostring(el)
        assert "réessayez dans" in (el.findtext(f"{{{NS_SASL}}}text") or "")
        el = a.wait_for(lambda e: ns(e.tag) == NS_SASL, what="SASL answer")
        assert el.find(f"{{{NS_SASL}}}not-authorized") is not None, tostring(el)
    finally:
        a.close()
        b.close()
    # The account's owner logs in as usual.
    with RawClient(srv.host, srv.c2s_port, srv.domain, timeout=15) as c:
        c.connect()
        c.open_stream()
        c.starttls()
        assert c.auth_plain(victim.user, victim.password)


async def test_user_added_while_running_logs_in_at_once(server, clients):
    user = f"fresh{secrets.token_hex(4)}"
    acct = server.add_user(user, "fresh-pw")
    c = await clients.login(acct, "now")
    assert c.full == f"{acct.jid}/now"
    assert acct.jid in server.list_users()


async def test_user_passwd(server, make_user, clients):
    alice = make_user("alice")
    old = alice.password
    server.passwd(alice.jid, "brand-new-pw")
    for mech in (None, "PLAIN"):  # None: the best mechanism offered (SCRAM)
        with pytest.raises(LoginFailed) as ei:
            await Client.login(server, alice, "old", password=old, mech=mech)
        assert ei.value.condition == "not-authorized", ei.value
    for mech in MECHS:
        c = await clients.login(alice, mech.lower(), password="brand-new-pw", mech=mech)
        assert c.mechanism == mech


async def test_user_del(server, make_user, clients):
    alice = make_user("alice")
    c = await clients.login(alice, "before")
    await c.disconnect()
    assert alice.jid in server.list_users()
    server.del_user(alice.jid)
    assert alice.jid not in server.list_users()
    for mech in (None, "PLAIN"):
        with pytest.raises(LoginFailed) as ei:
            await Client.login(server, alice, "after", mech=mech)
        assert ei.value.condition == "not-authorized", ei.value
