"""A region on several nodes (issue 17): three Causerie nodes on loopback ports, one
PostgreSQL database and the machine's NATS, driven by slixmpp clients connected to
different nodes.

Each test makes a fresh database and a cluster name of its own (NATS subjects and
buckets), so tests do not see each other. CI requires PostgreSQL and NATS
(`CAUSERIE_REQUIRE_POSTGRES=1`, `.ci/run` starts both); elsewhere the tests are skipped
when either is missing.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.parse

import pytest

import threading

import harness
from clients import Client, befriend
from raw import RawTimeout, StreamClosed, login_server, xml_escape
from directory_fixture import S1, access, account, import_ok, school
from test_mam import MAM_PLUGINS, archive

PG_URL = os.environ.get("CAUSERIE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("CAUSERIE_TEST_NATS_URL", "nats://127.0.0.1:4222")
REQUIRED = os.environ.get("CAUSERIE_REQUIRE_POSTGRES") == "1"
# A directory change on every node within a second (the issue), and a margin for a
# loaded two-core machine.
LIVE = 1.0
NS_MUC = "http://jabber.org/protocol/muc"
HEARTBEAT_MS = 200
DEAD_AFTER_MS = 1200


def _reachable(url: str, default_port: int) -> bool:
    u = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), 1):
            return True
    except OSError:
        return False


def _need(what: str, ok: bool) -> None:
    if ok:
        return
    if REQUIRED:
        pytest.fail(f"{what} is not reachable: CI runs the cluster tests on it")
    pytest.skip(f"{what} is not reachable")


def _admin_url(db: str) -> str:
    u = urllib.parse.urlparse(PG_URL)
    return urllib.parse.urlunparse(u._replace(path=f"/{db}"))


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", _admin_url("postgres"), "-c", sql],
                   check=True, capture_output=True, text=True, timeout=30)


class Cluster:
    """Three nodes of one domain on one fresh database."""

    def __init__(self, root, n: int = 3, nats_url: str = NATS_URL, extra: str = "",
                 limits: dict | None = None):
        _need("PostgreSQL", _reachable(PG_URL, 5432))
        _need("NATS", _reachable(nats_url, 4222))
        self.db = f"causerie_cluster_{secrets.token_hex(4)}"
        _psql(f"CREATE DATABASE {self.db}")
        self.name = f"t{secrets.token_hex(4)}"
        self.root, self.nats_url, self.extra, self.limits = root, nats_url, extra, limits
        self.on_node = None  # called with a node made again on other ports
        self.nodes: list[harness.Server] = [self._node(i) for i in range(n)]
        self.clients: list[Client] = []

    def _node(self, i: int, attempt: int = 0) -> harness.Server:
        toml = (f"[cluster]\nnats_url = \"{self.nats_url}\"\nnode = \"n{i + 1}\"\n"
                f"name = \"{self.name}\"\nheartbeat_ms = {HEARTBEAT_MS}\n"
                f"dead_after_ms = {DEAD_AFTER_MS}\n{self.extra}")
        return harness.SERVER_CLASS(
            self.root / f"node{i + 1}" / f"a{attempt}", storage_url=_admin_url(self.db),
            auth={"failure_delay_ms": 50}, limits=self.limits, extra_toml=toml)

    def start(self) -> "Cluster":
        # The first node makes the schema; the others find it. A port picked free may be
        # taken meanwhile (by another node's outgoing connection): then other ports.
        for i in range(len(self.nodes)):
            for attempt in range(1, 4):
                try:
                    self.nodes[i].start()
                    break
                except harness.ServerError as e:
                    if "Address already in use" not in str(e) or attempt == 3:
                        raise
                    self.nodes[i] = self._node(i, attempt)
                    if self.on_node:
                        self.on_node(self.nodes[i])
        self.wait_joined()
        return self

    def live(self) -> list[harness.Server]:
        return [n for n in self.nodes if n.is_running()]

    def wait_joined(self, timeout: float = 15) -> None:
        """Until every live node heard every other one (its log says so)."""
        deadline = time.monotonic() + timeout
        live = self.live()
        while time.monotonic() < deadline:
            if all(n.log_text().count("a node joined") >= len(live) - 1 for n in live):
                return
            time.sleep(0.05)
        raise AssertionError("the nodes did not all see each other:\n"
                             + "\n".join(n.log_text()[-3000:] for n in live))

    async def login(self, node: int, acct, resource: str = "r", **kw) -> Client:
        kw.setdefault("plugins", MAM_PLUGINS)
        c = await Client.login(self.nodes[node], acct, resource, **kw)
        self.clients.append(c)
        return c

    async def close(self) -> None:
        for c in self.clients:
            try:
                await c.disconnect()
            except Exception:
                pass

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
        try:
            _psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass


@pytest.fixture
async def cluster(tmp_path, request):
    c = Cluster(tmp_path)
    from conftest import _remember
    for n in c.nodes:
        _remember(request.node.nodeid, n)
    c.on_node = lambda n: _remember(request.node.nodeid, n)
    try:
        c.start()
        yield c
    finally:
        await c.close()
        c.stop()


def query(cluster: Cluster, sql: str) -> list[str]:
    """Rows of `sql` on the cluster's database (one column)."""
    out = subprocess.run(["psql", "-At", "-v", "ON_ERROR_STOP=1", _admin_url(cluster.db), "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.splitlines()


def plain(cluster: Cluster, prefix: str):
    return cluster.nodes[0].new_account(prefix)


async def test_chat_presence_and_subscription_across_nodes(cluster):
    """Two people on two nodes become contacts, see each other's presence and chat; one
    of them with a second device on the third node gets what is sent to his bare JID on
    both, and his full JID on the one named."""
    alice_acct, bob_acct = plain(cluster, "alice"), plain(cluster, "bob")
    alice = await cluster.login(0, alice_acct, "pc")
    bob = await cluster.login(1, bob_acct, "phone")
    await befriend(alice, bob)
    await alice.wait_presence(frm=bob.full)
    await bob.wait_presence(frm=alice.full)

    alice.send_message(bob.bare, "bonjour de n1")
    await bob.wait_message("bonjour de n1", frm=alice.full)
    bob.send_message(alice.bare, "bonjour de n2")
    await alice.wait_message("bonjour de n2", frm=bob.full)

    m = alice.mark()
    bob2 = await cluster.login(2, bob_acct, "tablet")
    # His new device's presence reaches his contact on another node, and he sees hers.
    await alice.wait_presence(frm=bob2.full, start=m)
    await bob2.wait_presence(frm=alice.full)
    alice.send_message(bob.bare, "aux deux appareils")
    await bob.wait_message("aux deux appareils")
    await bob2.wait_message("aux deux appareils")
    alice.send_message(bob2.full, "à la tablette seule")
    await bob2.wait_message("à la tablette seule")
    await bob.expect_none(lambda st: st.name == "message" and st["body"] == "à la tablette seule",
                          duration=0.5)

    # The end of a session is seen across nodes.
    m = alice.mark()
    await bob2.disconnect()
    await alice.wait_presence(frm=bob2.full, ptype="unavailable", start=m)


async def test_same_resource_on_two_nodes_the_newer_wins(cluster):
    """A resource bound on one node and bound again on another: the older session is
    closed with <conflict/> (RFC 6120 §7.7.2.2), the newer one serves."""
    acct = plain(cluster, "carl")
    first = await cluster.login(0, acct, "same")
    second = await cluster.login(1, acct, "same")
    deadline = time.monotonic() + 5
    while first.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not first.connected
    assert "conflict" in first.stream_errors, first.stream_errors
    assert second.connected


async def test_offline_message_across_nodes(cluster):
    """A message to someone with no session anywhere is kept, whichever node it was sent
    on, and given on another node at his next login."""
    alice_acct, bob_acct = plain(cluster, "alice"), plain(cluster, "bob")
    alice = await cluster.login(0, alice_acct)
    bob = await cluster.login(1, bob_acct)
    await befriend(alice, bob)
    m = alice.mark()
    await bob.disconnect()
    await alice.wait_presence(frm=bob.full, ptype="unavailable", start=m)
    alice.send_message(bob.bare, "pour plus tard")
    await asyncio.sleep(0.2)
    bob_again = await cluster.login(2, bob_acct, "r2")
    await bob_again.wait_message("pour plus tard", frm=alice.full)


async def test_rules_and_a_directory_change_hold_on_every_node(cluster):
    """The school's rules are the same on every node, and a change made on one node
    (the chat turned off for a structure, by the command line) closes that structure's
    sessions on every node within a second."""
    import_ok(cluster.nodes[0], school())
    lea = await cluster.login(1, account("lea.martin"))      # pupil, 6e A
    anne = await cluster.login(2, account("anne.durand"))    # her teacher
    ines = await cluster.login(2, account("ines.petit"))     # pupil, 6e B
    emma = await cluster.login(0, account("emma.roux"))      # another school

    await befriend(lea, anne)
    lea.send_message(anne.bare, "Bonjour Madame")
    await anne.wait_message("Bonjour Madame")
    # A pupil may not write to a pupil of another class: refused on her node, with the
    # rules' text, and nothing reaches the other node.
    m = lea.mark()
    lea.send_message(ines.bare, "salut")
    err = await lea.wait_for(lambda st: st.name == "message" and st["type"] == "error", start=m)
    assert err["error"]["condition"] in ("forbidden", "not-allowed", "policy-violation"), err
    await ines.expect_none(lambda st: st.name == "message" and st["body"] == "salut", duration=0.5)

    t0 = time.monotonic()
    await asyncio.to_thread(access, cluster.nodes[0], S1, False)
    while (lea.connected or anne.connected or ines.connected) and time.monotonic() - t0 < 5:
        await asyncio.sleep(0.02)
    took = time.monotonic() - t0
    assert not (lea.connected or anne.connected or ines.connected), "sessions left open"
    # The command line's own run (a process start) is in the figure: the change takes
    # effect well within it.
    assert took < LIVE + 1.5, f"closed after {took:.2f}s"
    assert "policy-violation" in lea.stream_errors
    assert emma.connected, "the other structure is not touched"


async def test_a_killed_node_its_clients_come_back_and_nothing_acknowledged_is_lost(cluster):
    """kill -9 of a node: its users show as gone to their contacts on the other nodes
    within the configured delay; they log in again on a surviving node; what their
    contacts sent them meanwhile (acknowledged by the sender's node) is in their archive."""
    alice_acct, bob_acct = plain(cluster, "alice"), plain(cluster, "bob")
    alice = await cluster.login(0, alice_acct)
    bob = await cluster.login(1, bob_acct)
    await befriend(alice, bob)
    await alice.wait_presence(frm=bob.full)

    m = alice.mark()
    cluster.nodes[1].kill()
    sent = [f"pendant la panne {i}" for i in range(5)]
    for body in sent:
        alice.send_message(bob.bare, body)
    await alice.wait_presence(frm=bob.full, ptype="unavailable", start=m,
                              timeout=DEAD_AFTER_MS / 1000 + 5)

    bob = await cluster.login(2, bob_acct, "r2")
    await alice.wait_presence(frm=bob.full, start=m)
    got, _, reply = await archive(bob, form=f"<field var='with'><value>{alice.bare}</value></field>")
    assert reply["type"] == "result", reply
    bodies = [g["body"] for g in got]
    for body in sent:
        assert body in bodies, f"{body!r} lost; archive: {bodies}"
    # And chat goes on through the survivors.
    alice.send_message(bob.bare, "ça remarche")
    await bob.wait_message("ça remarche")
    # Nothing of the dead node's sessions is left in the others' view: a message to a
    # full JID that lived there is not routed into the void.
    assert re.search(r"cleaning up after a gone node", cluster.nodes[0].log_text()
                     + cluster.nodes[2].log_text())


async def test_a_room_with_occupants_on_three_nodes_survives_its_node(cluster):
    """A room lives on one node; people on the two others join it, post and read each
    other. Its node killed, a survivor takes the room over from the database: the
    occupants' XEP-0410 self-ping says they are no longer in it, they join again, and
    the conversation goes on."""
    from test_muc import create, groupchat, invite_and_join, join, new_room, send
    from test_muc_selfping import PLUGINS as PING_PLUGINS, self_ping
    from slixmpp.plugins.xep_0410 import PingStatus

    plugins = tuple(dict.fromkeys(MAM_PLUGINS + PING_PLUGINS))
    accts = [plain(cluster, p) for p in ("anna", "bea", "carl")]
    a = await cluster.login(0, accts[0], plugins=plugins)
    b = await cluster.login(1, accts[1], plugins=plugins)
    c = await cluster.login(2, accts[2], plugins=plugins)
    room = new_room(cluster.nodes[0])
    await create(a, room, "Anna", title="Trois nœuds")
    await invite_and_join(a, room, b, "Bea")
    await invite_and_join(a, room, c, "Carl")

    for sender, text in ((a, "depuis n1"), (b, "depuis n2"), (c, "depuis n3")):
        send(sender, f"<message to='{room}' type='groupchat'><body>{text}</body></message>")
        for reader in (a, b, c):
            await reader.wait_for(groupchat(room, text), what=f"{text!r} at {reader.full}")
    assert await self_ping(c, f"{room}/Carl") == PingStatus.JOINED
    # The posts are in the room's archive (committed: what a kill -9 keeps; without
    # stream management nothing promised it earlier).
    deadline = time.monotonic() + 10
    while True:
        got, _, reply = await archive(b, to=room)
        if {"depuis n1", "depuis n2", "depuis n3"} <= {g["body"] for g in got}:
            break
        assert time.monotonic() < deadline, f"not archived: {got} {reply}"
        await asyncio.sleep(0.1)

    # The room's node (the first to see it: n1) dies.
    cluster.nodes[0].kill()
    deadline = time.monotonic() + DEAD_AFTER_MS / 1000 + 8
    status = None
    while time.monotonic() < deadline:
        status = await self_ping(c, f"{room}/Carl")
        if status == PingStatus.DISCONNECTED:
            break
        await asyncio.sleep(0.3)
    assert status == PingStatus.DISCONNECTED, status
    await join(c, room, "Carl")
    await join(b, room, "Bea")
    send(b, f"<message to='{room}' type='groupchat'><body>après la panne</body></message>")
    await c.wait_for(groupchat(room, "après la panne"), what="a post after the take-over")
    # The owner comes back on another node and finds her room and its history.
    a2 = await cluster.login(1, accts[0], "r2", plugins=plugins)
    m = a2.mark()
    await join(a2, room, "Anna")
    await a2.wait_for(groupchat(room, "depuis n3", live=False), start=m, what="history")
    send(a2, f"<message to='{room}' type='groupchat'><body>me revoilà</body></message>")
    await b.wait_for(groupchat(room, "me revoilà"))
    await c.wait_for(groupchat(room, "me revoilà"))


NATS_SERVER = "/usr/sbin/nats-server"


def start_nats(port: int, store) -> subprocess.Popen:
    p = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not harness.port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    return p


async def test_nats_restarting_loses_nothing_the_nodes_can_tell_again(tmp_path, request):
    """NATS restarted (its in-memory buckets gone): each node makes them again and tells
    the others its sessions, and chat across nodes resumes."""
    if not os.path.exists(NATS_SERVER):
        _need("nats-server", False)
    port = harness.free_ports(1)[0]
    nats = start_nats(port, tmp_path / "nats")
    c = Cluster(tmp_path, n=2, nats_url=f"nats://127.0.0.1:{port}")
    from conftest import _remember
    for n in c.nodes:
        _remember(request.node.nodeid, n)
    c.on_node = lambda n: _remember(request.node.nodeid, n)
    try:
        c.start()
        alice_acct, bob_acct = plain(c, "alice"), plain(c, "bob")
        alice = await c.login(0, alice_acct)
        bob = await c.login(1, bob_acct)
        await befriend(alice, bob)
        nats.kill()
        nats.wait()
        nats = start_nats(port, tmp_path / "nats")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(n.log_text().count("connected to NATS again") >= 1 for n in c.nodes):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the nodes did not reconnect to NATS")
        # Until the other node's sessions are told again, a message may find nobody
        # (then it is kept offline, which is delivered too): one of either reaches bob.
        await asyncio.sleep(1)
        alice.send_message(bob.bare, "après NATS")
        await bob.wait_message("après NATS", timeout=10)
        bob.send_message(alice.bare, "reçu")
        await alice.wait_message("reçu", timeout=10)
    finally:
        await c.close()
        c.stop()
        nats.kill()


STORM_SENDERS = int(os.environ.get("CAUSERIE_CLUSTER_SENDERS", "6"))
STORM_ACCOUNTS = int(os.environ.get("CAUSERIE_CLUSTER_STORM", "30"))
STORM_SECS = float(os.environ.get("CAUSERIE_CLUSTER_SECS", "4"))


class LoadBalancer:
    """What a TCP load balancer does: a live node, round robin."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.n = 0
        self.lock = threading.Lock()

    def pick(self) -> harness.Server:
        with self.lock:
            live = [n for n in self.cluster.nodes if n.is_running()]
            self.n += 1
            return live[self.n % len(live)]


class LedgerSender(threading.Thread):
    """One account with stream management: its own room, messages to an offline and to
    an online account; what the server's <a h/> covered goes in the ledger. Connected
    through the load balancer: when its node dies, it logs in again on another."""

    def __init__(self, lb: LoadBalancer, account, offline: str, live: str, room: str, ledger: set):
        super().__init__(daemon=True)
        self.lb, self.account, self.offline, self.live, self.room = lb, account, offline, live, room
        self.ledger = ledger
        self.stop = threading.Event()
        self.logins = 0
        self.n = 0
        self.node = None
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.session()
            except (OSError, AssertionError, RawTimeout, StreamClosed) as e:
                self.error = e
                time.sleep(0.05)

    def session(self) -> None:
        from sm_client import NS_SM, enable, sm
        node = self.lb.pick()
        c = login_server(node, self.account, "ledger", timeout=10)
        self.node, self.logins = node, self.logins + 1
        try:
            s = enable(c, resume=False)
            order: list = []
            me = f"{self.room}/{self.account.user}"
            # A join sent while the room's dead node is not yet known dead goes nowhere:
            # like a client, try again (each attempt counts in the SM order).
            pres = None
            for _ in range(6):
                c.send(f"<presence to='{xml_escape(me)}'><x xmlns='{NS_MUC}'/></presence>")
                order.append(None)
                try:
                    pres = c.wait_for(lambda e: e.get("from") == me, 2, "room self-presence")
                    break
                except RawTimeout:
                    continue
            if pres is None:
                raise AssertionError(f"cannot join {self.room}")
            if pres.get("type") == "error":
                raise AssertionError(f"cannot join {self.room}")
            if pres.find(f"{{{NS_MUC}#user}}x/{{{NS_MUC}#user}}status[@code='201']") is not None:
                c.send(f"<iq type='set' id='cfg' to='{self.room}'><query xmlns='{NS_MUC}#owner'>"
                       "<x xmlns='jabber:x:data' type='submit'/></query></iq>")
                order.append(None)
                c.wait_for(lambda e: e.get("id") == "cfg", 10, "room configured")
            acked = 0
            while not self.stop.is_set():
                for _ in range(2):
                    mid = f"{self.account.user}-{self.logins}-{self.n}"
                    self.n += 1
                    for kind, to, mtype in (("offline", self.offline, "chat"), ("room", self.room, "groupchat"),
                                            ("live", self.live, "chat")):
                        c.send(f"<message to='{to}' type='{mtype}' id='{mid}-{kind[0]}'>"
                               f"<body>{mid}-{kind[0]}</body></message>")
                        order.append((kind, f"{mid}-{kind[0]}"))
                c.send(f"<r xmlns='{NS_SM}'/>")
                a = c.wait_for(lambda e: e.tag == sm("a"), 10, "<a/>")
                h = int(a.get("h"))
                assert h <= len(order), f"acknowledged {h} of {len(order)}"
                for item in order[acked:h]:
                    if item is not None:
                        self.ledger.add(item)
                acked = h
                c.send(f"<a xmlns='{NS_SM}' h='{s.h}'/>")
        finally:
            c.abort()


class Storm(threading.Thread):
    """Logins and logouts through the load balancer, as at 8:00."""

    def __init__(self, lb: LoadBalancer, accounts: list):
        super().__init__(daemon=True)
        self.lb, self.accounts = lb, accounts
        self.stop = threading.Event()
        self.ok = 0
        self.failed = 0

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            acct = self.accounts[i % len(self.accounts)]
            i += 1
            try:
                c = login_server(self.lb.pick(), acct, f"s{i}", timeout=10)
                c.presence()
                c.close()
                self.ok += 1
            except (OSError, AssertionError, RawTimeout, StreamClosed):
                self.failed += 1


def make_room(node, account, room: str) -> None:
    """Creates and configures `room` as `account`, from `node` (which then holds it)."""
    c = login_server(node, account, "maker", timeout=10)
    try:
        me = f"{room}/{account.user}"
        c.send(f"<presence to='{xml_escape(me)}'><x xmlns='{NS_MUC}'/></presence>")
        c.wait_for(lambda e: e.get("from") == me, 10, "room self-presence")
        c.send(f"<iq type='set' id='cfg' to='{room}'><query xmlns='{NS_MUC}#owner'>"
               "<x xmlns='jabber:x:data' type='submit'/></query></iq>")
        c.wait_for(lambda e: e.get("id") == "cfg", 10, "room configured")
    finally:
        c.close()


def _drain(client, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            client.recv(0.5)
        except RawTimeout:
            continue
        except Exception:  # noqa: BLE001 - closed under it
            return


async def test_kill_9_in_a_login_storm_and_chat_load(tmp_path, request):
    """A node killed with SIGKILL while logins pour in and senders with stream management
    write to an offline account, to an online one and to their rooms, through a load
    balancer: every client ends connected to a surviving node, every stanza a node
    acknowledged is found (offline storage, the recipient's archive, the room's archive),
    and the rooms of the dead node are back on the survivors, written to after the kill."""
    c = Cluster(tmp_path, limits={"max_offline_per_user": 1_000_000, "send_queue_len": 4000},
                extra="\n[rates.adults]\nmessages_per_minute = 0\nrecipients_per_minute = 0\n")
    from conftest import _remember
    for n in c.nodes:
        _remember(request.node.nodeid, n)
    c.on_node = lambda n: _remember(request.node.nodeid, n)
    stop_reading = threading.Event()
    threads: list[threading.Thread] = []
    try:
        c.start()
        domain = c.nodes[0].domain
        offline = c.nodes[0].new_account("inbox")
        live = c.nodes[0].new_account("live")
        senders = [c.nodes[0].new_account("snd") for _ in range(STORM_SENDERS)]
        crowd = [c.nodes[0].new_account("eleve") for _ in range(STORM_ACCOUNTS)]
        # The online recipient on the node that stays.
        reader = await asyncio.to_thread(login_server, c.nodes[0], live, "online", timeout=10)
        reader.presence()
        threading.Thread(target=_drain, args=(reader, stop_reading), daemon=True).start()
        rooms = {a.user: f"ledger-{a.user}@conference.{domain}" for a in senders}
        # Each sender's room is made from another node than the one the balancer gives
        # him first: his posts cross nodes, and are acknowledged only once the room's
        # node committed them.
        for i, a in enumerate(senders):
            await asyncio.to_thread(make_room, c.nodes[i % len(c.nodes)], a, rooms[a.user])
        lb = LoadBalancer(c)
        ledger: set = set()
        ledgers = [LedgerSender(lb, a, offline.jid, live.jid, rooms[a.user], ledger) for a in senders]
        storm = Storm(lb, crowd)
        threads = [*ledgers, storm]
        for t in threads:
            t.start()
        await asyncio.sleep(STORM_SECS / 2)
        victim = c.nodes[1]
        on_victim = [s for s in ledgers if s.node is victim]
        victim.kill()
        killed_at = len(ledger)
        await asyncio.sleep(STORM_SECS / 2 + DEAD_AFTER_MS / 1000)
        for t in threads:
            t.stop.set()
        for t in threads:
            await asyncio.to_thread(t.join, 20)
        stop_reading.set()
        reader.abort()

        # Every sender logged in again on a survivor; the storm went on.
        assert on_victim, "no sender was on the killed node: the test measured nothing"
        for s in on_victim:
            assert s.logins >= 2 and s.node is not victim, f"{s.account.user} not back ({s.logins} logins)"
        assert storm.ok > len(crowd), f"login storm: {storm.ok} logins"
        # Every account can log in on a survivor at the end.
        for acct in crowd + senders:
            await asyncio.to_thread(lambda a=acct: login_server(lb.pick(), a, "end", timeout=10).close())

        assert len(ledger) > killed_at, "nothing acknowledged after the kill"
        stored_offline = "\n".join(query(c, (
            "SELECT o.stanza FROM offline_messages o JOIN accounts u ON u.id = o.account_id "
            f"WHERE u.username = '{offline.user}'")))
        room_archive = "\n".join(query(c, "SELECT stanza FROM room_archive"))
        live_archive = "\n".join(query(c, (
            "SELECT a.stanza FROM account_archive a JOIN accounts u ON u.id = a.owner_id "
            f"WHERE u.username = '{live.user}'")))
        where = {"offline": stored_offline, "room": room_archive, "live": live_archive}
        lost = sorted(mid for kind, mid in ledger if f">{mid}<" not in where[kind])
        kinds = {k: sum(1 for kind, _ in ledger if kind == k) for k in where}
        # The victim's senders' rooms took posts after the kill, on a survivor.
        after = [s for s in on_victim if f">{s.account.user}-{s.logins}-" in room_archive]
        print(f"\ncluster ledger: {len(ledger)} acknowledged ({kinds}), {storm.ok} logins in the storm "
              f"({storm.failed} cut by the kill), {len(on_victim)} senders moved, {len(lost)} lost")
        assert after, ("no room of the dead node took a post after the kill: "
                       + "; ".join(f"{s.account.user}: {s.logins} logins, {s.error!r}" for s in on_victim))
        assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {lost[:10]}"
    finally:
        for t in threads:
            getattr(t, "stop", threading.Event()).set()
        stop_reading.set()
        c.stop()


async def test_revoking_an_app_password_on_one_node_ends_its_session_on_another(cluster):
    """A session logged in with an app password on one node ends when the password is
    revoked through another node's web door; the account's other sessions stay."""
    from harness import Account
    from test_app_passwords import own
    import_ok(cluster.nodes[0], school())
    status, made = await own(cluster.nodes[0], "paul.martin", "create", label="Téléphone")
    assert status == 201, made
    app = Account("paul.martin", made["secret"], cluster.nodes[0].domain)
    by_app = await cluster.login(2, app, "phone", mech="SCRAM-SHA-256")
    by_pw = await cluster.login(1, account("paul.martin"), "desk")
    status, _ = await own(cluster.nodes[0], "paul.martin", "revoke", id=made["id"])
    assert status == 204
    deadline = time.monotonic() + 5
    while by_app.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not by_app.connected, "the app password's session on another node stayed open"
    assert by_pw.connected


async def test_pep_events_reach_a_contact_on_another_node(cluster):
    """A contact on another node whose client says `+notify` (XEP-0115, its capabilities
    learnt by its own node) gets the publisher's events, and the last item on another
    device of his on a third node."""
    from test_pep import NS_TUNE, PEP_PLUGINS, is_event, publish, tune, with_caps
    a_acct, b_acct = plain(cluster, "tuner"), plain(cluster, "listener")
    a = await cluster.login(0, a_acct, "desk", presence=False, plugins=PEP_PLUGINS)
    b = await cluster.login(1, b_acct, "phone", presence=False, plugins=PEP_PLUGINS)
    # Capabilities of his own (another hash than the publisher's): only his node asks.
    b.xmpp.plugin["xep_0030"].add_feature("urn:example:listener")
    for x in (a, b):
        await with_caps(x)
    await befriend(a, b)
    mb = b.mark()
    r = await publish(a, NS_TUNE, "t1", tune("Gymnopédie"))
    assert r["type"] == "result", r
    ev = await b.wait_for(is_event(a.bare, NS_TUNE, "item", "t1"), start=mb, what="the tune event")
    assert "Gymnopédie" in str(ev)
    b2 = await cluster.login(2, b_acct, "tablet", presence=False, plugins=PEP_PLUGINS)
    m2 = b2.mark()
    b2.xmpp.plugin["xep_0030"].add_feature("urn:example:listener")
    await with_caps(b2)
    await b2.wait_for(is_event(a.bare, NS_TUNE, "item", "t1"), start=m2, what="last item on presence")


async def test_a_drained_node_sends_its_clients_away_and_hands_its_rooms_over(cluster):
    """A node stopped for an upgrade (SIGTERM): its clients are told to reconnect
    (`system-shutdown`) and do so on another node; the occupants on other nodes of the
    rooms it held are told they are out (status 332) and join again, the room now held
    by another node; the other nodes know at once, not after the heartbeat delay."""
    from test_muc import codes, create, groupchat, invite_and_join, join, new_room, send
    from test_muc import PLUGINS as MUC_PLUGINS
    a_acct, b_acct = plain(cluster, "anna"), plain(cluster, "bea")
    a = await cluster.login(0, a_acct, plugins=MUC_PLUGINS)
    b = await cluster.login(1, b_acct, plugins=MUC_PLUGINS)
    room = new_room(cluster.nodes[0])
    await create(a, room, "Anna", title="Vidange")
    await invite_and_join(a, room, b, "Bea")
    mb = b.mark()
    t0 = time.monotonic()
    await asyncio.to_thread(cluster.nodes[0].stop)
    assert "system-shutdown" in a.stream_errors, a.stream_errors
    out = await b.wait_for(lambda st: st.name == "presence" and str(st["from"]) == f"{room}/Bea"
                           and st["type"] == "unavailable", start=mb, what="out of the room")
    assert 332 in codes(out), out
    assert "left the cluster" in cluster.nodes[0].log_text()
    while "a node is gone" not in cluster.nodes[1].log_text():
        assert time.monotonic() - t0 < 5, "the others did not see it go"
        await asyncio.sleep(0.02)
    await join(b, room, "Bea")
    a2 = await cluster.login(2, a_acct, "r2", plugins=MUC_PLUGINS)
    await join(a2, room, "Anna")
    send(a2, f"<message to='{room}' type='groupchat'><body>sur un autre nœud</body></message>")
    await b.wait_for(groupchat(room, "sur un autre nœud"))


async def test_staff_moderate_a_room_held_by_another_node(tmp_path, request):
    """The staff's actions on a room reported (« Signalements ») go through the console on
    one node while the room lives on another: the retraction and the closing reach its
    occupants, wherever they are connected."""
    from slixmpp import Message
    from test_moderation import ROOM_PLUGINS, retraction_of, staff_consoles, threat_reported
    from test_muc import new_room
    from test_reports import CONFIG, school_with_staff
    c = Cluster(tmp_path, extra=CONFIG)
    from conftest import _remember
    for n in c.nodes:
        _remember(request.node.nodeid, n)
    c.on_node = lambda n: _remember(request.node.nodeid, n)
    try:
        c.start()
        import_ok(c.nodes[0], school_with_staff())
        lea = await c.login(1, account("lea.martin"), plugins=ROOM_PLUGINS)
        hugo = await c.login(2, account("hugo.bernard"), plugins=ROOM_PLUGINS)
        tom = await c.login(2, account("tom.girard"), plugins=ROOM_PLUGINS)
        room = new_room(c.nodes[1])
        bad = await threat_reported(lea, hugo, tom, room)   # the room held by the second node

        # The console on the first node.
        _, cpe = await staff_consoles(c.nodes[0])
        [rep] = await cpe.ok("GET", f"/structures/{S1}/reports")
        marks = {x: x.mark() for x in (lea, hugo, tom)}
        done = await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "delete_messages"})
        assert done["done"]["count"] == 1, done["done"]
        for x in (lea, hugo, tom):
            await x.wait_for(retraction_of(room, bad), start=marks[x], what="the retraction")
        lmark, tmark = lea.mark(), tom.mark()
        await cpe.ok("POST", f"/reports/{rep['id']}/actions", {"action": "close_room"})
        for x, m in ((lea, lmark), (tom, tmark)):
            await x.wait_for(lambda s: s.xml.tag == "{jabber:client}presence" and s["from"].bare == room
                             and "Conversation fermée par" in str(s), start=m, what="the room closed")
        # Nobody posts in it any more.
        mark = lea.mark()
        hugo.send_message(room, "encore là ?", mtype="groupchat")
        await lea.expect_none(lambda s: isinstance(s, Message) and s["body"] == "encore là ?", duration=1.0,
                              start=mark)
    finally:
        await c.close()
        c.stop()
