"""The acknowledgement promise (XEP-0198): a stanza the server acknowledged
survives ``kill -9``.

Senders with stream management send numbered messages, under load, to an
offline account (durable through offline storage), to an account that is
online (durable through the accounts' archive: the recipient's XEP-0313
archive) and to their own room (durable through the rooms' archive), ask for
acknowledgements and keep a ledger of what the server's ``<a h/>`` covered.
The server is killed with SIGKILL at random moments and restarted on the same
data directory; at the end every acknowledged message must be found: in the
offline delivery at the recipient's login, in the online recipient's archive,
or in the room's archive. 0 acknowledged stanzas lost.

Short by default (CI). The benchmark's long run:
``CAUSERIE_LEDGER_KILLS=40 CAUSERIE_LEDGER_SENDERS=8`` (and
``CAUSERIE_LEDGER_ROUND_SECS``, the mean time between two kills).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time

from raw import MESSAGE, RawTimeout, login_server, xml_escape
from sm_client import NS_SM, SmClient, enable, sm

KILLS = int(os.environ.get("CAUSERIE_LEDGER_KILLS", "4"))
SENDERS = int(os.environ.get("CAUSERIE_LEDGER_SENDERS", "3"))
ROUND_SECS = float(os.environ.get("CAUSERIE_LEDGER_ROUND_SECS", "1.5"))
BATCH = 6  # stanzas sent between two <r/>
NS_MUC = "http://jabber.org/protocol/muc"


class Sender(threading.Thread):
    """One account: its own room, and messages to the offline recipient."""

    def __init__(self, server, account, recipient: str, live: str, room: str, round_: int, ledger: set,
                 sent: list):
        super().__init__(daemon=True)
        self.server, self.account, self.recipient, self.room = server, account, recipient, room
        self.live = live
        self.round, self.ledger, self.sent_total = round_, ledger, sent
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except (OSError, AssertionError, RawTimeout) as e:  # killed under us
            self.error = e
        finally:
            self.ready.set()

    def _run(self) -> None:
        c = login_server(self.server, self.account, "ledger", timeout=10)
        s = enable(c, resume=False)
        # Stanzas sent since <enable/>, in order: an <a h/> acknowledges the first h.
        order: list[tuple[str, str] | None] = []
        c.send(f"<presence to='{xml_escape(self.room)}/{self.account.user}'><x xmlns='{NS_MUC}'/></presence>")
        order.append(None)
        pres = c.wait_for(lambda e: e.get("from") == f"{self.room}/{self.account.user}", 10, "room self-presence")
        if pres.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}status[@code='201']") is not None:
            c.send(f"<iq type='set' id='cfg' to='{self.room}'><query xmlns='http://jabber.org/protocol/muc#owner'>"
                   "<x xmlns='jabber:x:data' type='submit'/></query></iq>")
            order.append(None)
            c.wait_for(lambda e: e.get("id") == "cfg", 10, "room configured")
        self.ready.set()
        n = 0
        acked = 0
        while not self.stop.is_set():
            for _ in range(BATCH // 2):
                mid = f"{self.account.user}-{self.round}-{n}"
                c.send(f"<message to='{self.recipient}' type='chat' id='{mid}-o'><body>{mid}-o</body></message>")
                order.append(("offline", f"{mid}-o"))
                c.send(f"<message to='{self.room}' type='groupchat' id='{mid}-r'><body>{mid}-r</body></message>")
                order.append(("room", f"{mid}-r"))
                c.send(f"<message to='{self.live}' type='chat' id='{mid}-l'><body>{mid}-l</body></message>")
                order.append(("live", f"{mid}-l"))
                n += 1
                self.sent_total.append(1)
            c.send(f"<r xmlns='{NS_SM}'/>")
            a = c.wait_for(lambda e: e.tag == sm("a"), 10, "<a/>")
            h = int(a.get("h"))
            assert h <= len(order), f"acknowledged {h} of {len(order)}"
            for item in order[acked:h]:
                if item is not None:
                    self.ledger.add(item)
            acked = h
            # Acknowledge the room's echoes, so the server's queue stays small.
            c.send(f"<a xmlns='{NS_SM}' h='{s.h}'/>")


def drain(client, stop: threading.Event) -> None:
    """Reads (and forgets) what the online recipient gets, so that it stays online."""
    while not stop.is_set():
        try:
            client.recv(0.5)
        except RawTimeout:
            continue
        except Exception:  # noqa: BLE001 - the server was killed under it
            return


def test_acknowledged_stanzas_survive_kill_9(make_server):
    # Rate limits off: the ledger measures what the server accepted and acknowledged; with
    # them, a sender's flood is refused past 120 messages a minute (an error back, which the
    # ledger does not tell from an accepted message), and those would count as lost.
    srv = make_server(limits={"max_offline_per_user": 1_000_000, "send_queue_len": 4000},
                      extra_toml="[rates.adults]\nmessages_per_minute = 0\nrecipients_per_minute = 0\n")
    recipient = srv.new_account("inbox")
    live = srv.new_account("live")
    senders = [srv.new_account("snd") for _ in range(SENDERS)]
    rooms = {a.user: f"ledger-{a.user}@conference.{srv.domain}" for a in senders}
    ledger: set[tuple[str, str]] = set()
    sent: list[int] = []
    rng = random.Random(int(os.environ.get("CAUSERIE_LEDGER_SEED", "14")))
    for round_ in range(KILLS):
        # The online recipient: connected (and available) while the senders write to it.
        reader = login_server(srv, live, "online", timeout=10)
        reader.presence()
        reading = threading.Event()
        threading.Thread(target=drain, args=(reader, reading), daemon=True).start()
        threads = [Sender(srv, a, recipient.jid, live.jid, rooms[a.user], round_, ledger, sent)
                   for a in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.ready.wait(15)
        time.sleep(rng.uniform(0.3, 2 * ROUND_SECS - 0.3))
        srv.kill()
        for t in threads:
            t.stop.set()
            t.join(15)
        reading.set()
        reader.abort()
        srv.start()
    # What survived. The offline storage as committed (read before the recipient's login,
    # which delivers and deletes it) ...
    with sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True) as db:
        stored_offline = "\n".join(row[0] for row in db.execute(
            "SELECT o.stanza FROM offline_messages o JOIN accounts u ON u.id = o.account_id "
            "WHERE u.username = ?", (recipient.user,)))
    # ... and, for a run short enough for one client to read it all, delivered at login.
    want_offline = {mid for kind, mid in ledger if kind == "offline"}
    offline: set[str] = set()
    c = login_server(srv, recipient, "check")
    c.presence()
    deadline = time.monotonic() + 30
    while len(want_offline) <= 1500 and time.monotonic() < deadline and not want_offline <= offline:
        try:
            el = c.recv(1.0)
        except RawTimeout:
            continue
        if el.tag == MESSAGE and el.get("id"):
            offline.add(el.get("id"))
    c.close()
    with sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True) as db:
        archived = {row[0] for row in db.execute("SELECT stanza FROM room_archive")}
        live_archive = "\n".join(row[0] for row in db.execute(
            "SELECT a.stanza FROM account_archive a JOIN accounts u ON u.id = a.owner_id "
            "WHERE u.username = ?", (live.user,)))
    blob = "\n".join(archived)
    lost = sorted(mid for kind, mid in ledger
                  if (kind == "offline" and f">{mid}<" not in stored_offline)
                  or (kind == "offline" and len(want_offline) <= 1500 and mid not in offline)
                  or (kind == "room" and f">{mid}<" not in blob)
                  or (kind == "live" and f">{mid}<" not in live_archive))
    kinds = {k: sum(1 for kind, _ in ledger if kind == k) for k in ("offline", "live", "room")}
    assert kinds["live"], "no message to the online recipient was acknowledged: the 1:1 case measured nothing"
    print(f"\nledger: {len(sent) * 3} messages sent, {len(ledger)} acknowledged ({kinds}), {KILLS} kill -9, "
          f"{len(lost)} acknowledged lost")
    assert ledger, "nothing was acknowledged: the test measured nothing"
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {lost[:10]}"
