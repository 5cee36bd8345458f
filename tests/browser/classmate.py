"""The classmate of converse.test.mjs: a slixmpp client (the interop suite's
wrapper, tests/interop/clients.py, with its XEP-0045 plugin) over STARTTLS on
the c2s port, that plays the other side of the seed's scenario.

    classmate.py PORT JID PASSWORD PEER CHAT REPLY ROOM_TEXT ROOM_REPLY

1. logs in; on PEER's contact request, accepts it and asks back (as « Accepter »
   does in the school's chat);
2. waits for CHAT from PEER and answers REPLY;
3. waits until PEER is away, then goes « Ne pas déranger » (dnd);
4. waits for an invitation to a room, joins it, waits for ROOM_TEXT there and
   answers ROOM_REPLY.

Prints one line per step (``ready``, ``contacts``, ``chat``, ``away``,
``dnd``, ``joined ROOM``, ``room``); exits 0 after the last one, 1 on a timeout.
"""

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from clients import Client  # noqa: E402
from test_muc import PLUGINS, from_room_with, groupchat, join  # noqa: E402

TIMEOUT = 30.0


def step(text: str) -> None:
    print(text, flush=True)


async def main(port, jid, password, peer, chat, reply, room_text, room_reply) -> int:
    server = SimpleNamespace(host="127.0.0.1", c2s_port=port, c2s_tls_port=port)
    c = await Client.login(server, SimpleNamespace(jid=jid, password=password), "classmate", plugins=PLUGINS)
    step("ready")
    try:
        await c.wait_presence(frm=peer, ptype="subscribe", timeout=TIMEOUT)
        mark = c.mark()
        c.send_presence(to=peer, ptype="subscribed")
        c.subscribe(peer)
        await c.wait_roster_push(peer, lambda i: i["subscription"] == "both", start=mark, timeout=TIMEOUT)
        step("contacts")

        await c.wait_message(body=chat, frm=peer, timeout=TIMEOUT)
        c.send_message(peer, reply)
        step("chat")

        await c.wait_for(lambda st: st.xml.tag.endswith("presence") and st["from"].bare == peer
                         and st["show"] == "away", TIMEOUT, "PEER away")
        step("away")
        c.send_presence(show="dnd")
        step("dnd")

        inv = await c.wait_for(lambda st: st.xml.tag.endswith("message") and st["from"].bare != peer
                               and from_room_with(str(st["from"]), "invite")(st), TIMEOUT, "an invitation")
        room = str(inv["from"])
        mark = c.mark()
        await join(c, room, "Hugo")
        step(f"joined {room}")
        await c.wait_for(groupchat(room, room_text), TIMEOUT, "the room's message", start=mark)
        c.send_message(room, room_reply, mtype="groupchat")
        step("room")
        await asyncio.sleep(2)
        return 0
    except AssertionError as e:
        step(f"failed: {e}")
        return 1
    finally:
        await c.disconnect()


if __name__ == "__main__":
    port, *rest = sys.argv[1:9]
    sys.exit(asyncio.run(main(int(port), *rest)))
