"""A standard XMPP app for app-passwords.test.mjs: slixmpp (the interop suite's
wrapper, tests/interop/clients.py) over STARTTLS on the c2s port.

    app_login.py PORT JID PASSWORD MECHANISM

Logs in with MECHANISM (SCRAM-SHA-256, PLAIN…), prints ``logged in`` and stays
until the server ends the session (prints ``disconnected``, exits 0) or 30 s pass
(exits 2); a refused login prints ``refused CONDITION`` and exits 1.
"""

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from clients import Client, LoginFailed  # noqa: E402


async def main(port: int, jid: str, password: str, mech: str) -> int:
    server = SimpleNamespace(host="127.0.0.1", c2s_port=port, c2s_tls_port=port)
    account = SimpleNamespace(jid=jid, password=password)
    try:
        c = await Client.login(server, account, "app", mech=mech)
    except LoginFailed as e:
        print(f"refused {e.condition}", flush=True)
        return 1
    print("logged in", flush=True)
    try:
        await asyncio.wait_for(c.disconnected.wait(), 30)
    except asyncio.TimeoutError:
        await c.disconnect()
        return 2
    print("disconnected", flush=True)
    return 0


if __name__ == "__main__":
    port, jid, password, mech = sys.argv[1:5]
    sys.exit(asyncio.run(main(int(port), jid, password, mech)))
