"""A real desktop client, Profanity (Debian's package, driven in tmux), against
Causerie, as its user sees it on the screen:

- a plain account chats with a slixmpp user: STARTTLS, certificate prompt,
  SCRAM, messages both ways;
- the seed's scenario for a pupil of the school's directory (Léa, 6e A) with a
  classmate on slixmpp (Hugo): contact request and acceptance both ways,
  chat both ways, a conversation with several people (Léa creates the room,
  invites Hugo, messages both ways), states seen on both sides, and the
  refusal of a pupil of another class (Inès, 6e B) shown in French.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("profanity") is None or shutil.which("tmux") is None,
    reason="profanity and tmux are installed by scripts/test (apt-get)",
)


class Tmux:
    """Profanity in a private tmux server, with its own HOME."""

    def __init__(self, home):
        self.socket = f"causerie-{uuid.uuid4().hex[:8]}"
        self.env = dict(os.environ, HOME=str(home), TERM="xterm-256color", LANG="C.UTF-8")
        self.run("new-session", "-d", "-s", "p", "-x", "220", "-y", "50", "profanity")

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=10)

    def type(self, text):
        self.run("send-keys", "-t", "p", "-l", text)
        self.run("send-keys", "-t", "p", "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-t", "p", "-p", "-S", "-200").stdout

    async def wait_for(self, text, timeout=15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            await asyncio.sleep(0.2)
        raise AssertionError(f"profanity never showed {text!r}; screen:\n{self.screen()}")

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True)


async def test_profanity_chats_with_slixmpp(server, make_user, clients, tmp_path):
    alice, bob = make_user("alice"), make_user("bob")
    b = await clients.login(bob, "py")
    prof = Tmux(tmp_path / "home")
    try:
        await prof.wait_for("Profanity", timeout=10)
        prof.type(f"/connect {alice.jid} server {server.host} port {server.c2s_port} tls force")
        await prof.wait_for("password", timeout=10)
        prof.type(alice.password)
        # The self-signed certificate is shown for approval, as for a real user.
        await prof.wait_for("/tls allow")
        prof.type("/tls allow")
        await prof.wait_for("logged in successfully")

        # slixmpp -> Profanity
        b.xmpp.send_message(mto=alice.jid, mbody="Salut depuis slixmpp", mtype="chat")
        await prof.wait_for(f"chat message: {b.full}")
        prof.type("/win 2")
        await prof.wait_for("Salut depuis slixmpp")

        # Profanity -> slixmpp, addressed to the bare JID.
        prof.type(f"/msg {bob.jid} Bonjour depuis Profanity")
        msg = await b.wait_message(body="Bonjour depuis Profanity")
        assert msg["from"].bare == alice.jid
        assert msg["type"] == "chat"
    finally:
        prof.close()


# ------------------------------------------------------- the seed's scenario

async def test_profanity_pupil_goes_through_the_seed(make_server, tmp_path):
    from clients import Clients
    from directory_fixture import account, import_ok, school
    from test_muc import PLUGINS as MUC_PLUGINS, codes, groupchat, invited, join

    srv = make_server(auth={"failure_delay_ms": 50})
    import_ok(srv, school())
    lea, hugo_acct, ines = account("lea.martin"), account("hugo.bernard"), account("ines.petit")
    cs = Clients(srv)
    prof = Tmux(tmp_path / "home")
    try:
        hugo = await cs.login(hugo_acct, "py", plugins=MUC_PLUGINS)
        await prof.wait_for("Profanity", timeout=10)
        prof.type(f"/connect {lea.jid} server {srv.host} port {srv.c2s_port} tls force")
        await prof.wait_for("password", timeout=10)
        prof.type(lea.password)
        await prof.wait_for("/tls allow")
        prof.type("/tls allow")
        await prof.wait_for("logged in successfully")

        # « Ajouter contacts »: Léa adds Hugo and asks him; Hugo accepts and asks back.
        mh = hugo.mark()
        prof.type(f"/roster add {hugo.bare} Hugo")
        await prof.wait_for("Roster item added: hugo.bernard@localhost")
        prof.type(f"/sub request {hugo.bare}")
        await prof.wait_for(f"Sent subscription request to {hugo.bare}")
        await hugo.wait_presence(frm=lea.jid, ptype="subscribe", start=mh)
        hugo.send_presence(to=lea.jid, ptype="subscribed")
        hugo.subscribe(lea.jid)
        # Léa sees Hugo's request and accepts it (« Accepter »)
        await prof.wait_for(f"Received authorization request from {hugo.bare}")
        prof.type(f"/sub allow {hugo.bare}")
        await hugo.wait_roster_push(lea.jid, lambda i: i["subscription"] == "both", start=mh)
        hugo.send_presence()
        # Hugo is in Léa's roster, online, with a mutual subscription
        prof.type(f"/sub show {hugo.bare}")
        await prof.wait_for(f"{hugo.bare} subscription status: both.")
        await prof.wait_for("++ Hugo (py) is online")

        # a 1:1 conversation both ways
        hugo.send_message(lea.jid, "Salut Léa, tu as fini l'exercice ?")
        await prof.wait_for("chat message: Hugo")
        prof.type("/win 2")
        await prof.wait_for("Salut Léa, tu as fini l'exercice ?")
        prof.type("Oui, je te l'envoie")
        await hugo.wait_message(body="Oui, je te l'envoie", frm=lea.jid)
        prof.type("/win 1")

        # states: Léa goes « Absent »; Hugo sees it, and Léa sees Hugo's « Ne pas déranger »
        mh = hugo.mark()
        prof.type('/status set away "En cours"')
        st = await hugo.wait_presence(frm=lea.jid, start=mh)
        assert st["show"] == "away", st
        hugo.send_presence(show="dnd")
        await prof.wait_for("Hugo (py) is dnd")

        # a conversation with several people: Léa creates it, invites Hugo
        room = f"expose-{uuid.uuid4().hex[:6]}@conference.{srv.domain}"
        prof.type(f"/join {room}")
        # the school's name for her, whatever nickname Profanity asked for
        await prof.wait_for("You have joined the room as MARTIN Léa, role: moderator, affiliation: owner")
        await prof.wait_for("Room locked")
        prof.type("/room accept")
        await prof.wait_for("Room unlocked")
        # the seed's notices, in French
        await prof.wait_for("Le salon de discussion est verrouillé, entrée impossible jusqu'à ce que la configuration soit déverrouillée")
        await prof.wait_for("Le salon de discussion est maintenant déverrouillé")
        mh = hugo.mark()
        prof.type(f"/invite send {hugo.bare}")
        await invited(hugo, room, mh)
        pres = await join(hugo, room, "Hugo")
        assert 110 in codes(pres)
        # the occupants' panel: Hugo, under his school name, beside Léa
        prof.type("/occupants show")
        await prof.wait_for("BERNARD Hugo")
        prof.type("Bonjour Hugo, on prépare l'exposé ici")
        await hugo.wait_for(groupchat(room, "Bonjour Hugo, on prépare l'exposé ici"), start=mh)
        hugo.send_message(room, "D'accord, je commence le plan", mtype="groupchat")
        await prof.wait_for("BERNARD Hugo: D'accord, je commence le plan")

        # A pupil of another class: the request is refused with the school's
        # rules, shown on Léa's screen. Profanity shows the first <text>, which
        # is French today; libstrophe declares xml:lang='en', so once error
        # texts follow the stream's language (issue 14) it may be the English
        # one: either is the school's refusal.
        prof.type("/win 1")
        prof.type(f"/roster add {ines.jid}")
        prof.type(f"/sub request {ines.jid}")
        await prof.wait_for(f"Sent subscription request to {ines.jid}")
        screen = await prof.wait_for(f"Error from {ines.jid}: ")
        line = next(li for li in screen.splitlines() if f"Error from {ines.jid}: " in li)
        assert re.search(r"règles|rules", line), line
        assert f"Roster item added: {ines.jid}" not in screen
        # and a message to her is refused the same way, in the chat window it opens
        prof.type(f"/msg {ines.jid} coucou")
        await prof.wait_for("me: coucou")
        screen = await prof.wait_for(f"! Error from {ines.jid}: ")
        line = next(li for li in screen.splitlines() if f"! Error from {ines.jid}: " in li)
        assert re.search(r"règles|rules", line), line
    finally:
        prof.close()
        await cs.close()
