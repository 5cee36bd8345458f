"""A non-browser XMPP client for desktop-client.test.mjs: slixmpp (the interop
suite's wrapper, tests/interop/clients.py) over STARTTLS on the c2s port.

    desktop_client.py PORT JID PASSWORD PEER MESSAGE REPLY

Logs in, asks PEER for a contact request, approves PEER's request back, sends
MESSAGE once the subscription is mutual, then waits for REPLY from PEER.
Prints one line per step; exits 0 when REPLY arrived, 1 otherwise.
"""

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from clients import Client  # noqa: E402

TIMEOUT = 20.0


def step(text: str) -> None:
    print(text, flush=True)


async def main(port: int, jid: str, password: str, peer: str, message: str, reply: str) -> int:
    server = SimpleNamespace(host="127.0.0.1", c2s_port=port, c2s_tls_port=port)
    account = SimpleNamespace(jid=jid, password=password)
    c = await Client.login(server, account, "desktop")
    step("logged in")
    try:
        mark = c.mark()
        c.subscribe(peer)
        step("request sent")
        await c.wait_presence(frm=peer, ptype="subscribe", start=mark, timeout=TIMEOUT)
        c.send_presence(to=peer, ptype="subscribed")
        await c.wait_roster_push(peer, lambda i: i["subscription"] == "both", start=mark, timeout=TIMEOUT)
        step("mutual contacts")
        c.send_message(peer, message)
        step("message sent")
        await c.wait_message(body=reply, frm=peer, timeout=TIMEOUT)
        step("reply received")
        return 0
    finally:
        await c.disconnect()


if __name__ == "__main__":
    port, jid, password, peer, message, reply = sys.argv[1:7]
    sys.exit(asyncio.run(main(int(port), jid, password, peer, message, reply)))
