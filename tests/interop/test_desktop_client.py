"""A real desktop client, Profanity (Debian's package, driven in tmux), chats
with a slixmpp user through Causerie: STARTTLS, certificate prompt, SCRAM,
roster, messages both ways."""

from __future__ import annotations

import asyncio
import os
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
