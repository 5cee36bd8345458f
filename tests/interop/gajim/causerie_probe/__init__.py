"""Causerie's test probe for Gajim (tests/interop/test_gajim.py).

Loaded by Gajim's own plugin manager, it acts inside the real client once the
account is signed in, through the same code paths as Gajim's windows:

1. sends PEER a chat message (``Client.send_message`` with an
   ``OutgoingMessage``, as the chat window's « Send » does);
2. waits for PEER's answer (Gajim's ``message-received`` event);
3. opens « Server Info » from the account menu (the ``app.ACCOUNT-server-info``
   action) and reads its feature rows with the window's own
   ``_get_features()`` once Gajim's service discovery of the server, its
   items and the account is over;
4. writes everything into REPORT (JSON) and leaves Gajim (« Quit »).

Its parameters come from ``probe.json`` beside this file: account, peer,
message, reply (the body expected from the peer), report (path), timeout.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from pathlib import Path

from gi.repository import GLib

from gajim.common import app
from gajim.common import ged
from gajim.common.structs import OutgoingMessage
from gajim.plugins import GajimPlugin

log = logging.getLogger("gajim.p.causerie_probe")


class CauseriePlugin(GajimPlugin):
    def init(self) -> None:
        self.description = "Causerie test probe"
        self.config_dialog = None
        self._cfg = json.loads((Path(self.__path__) / "probe.json").read_text(encoding="utf-8"))
        self._report: dict = {"signed_in": False, "sent": None, "received": [], "features": None,
                              "events": [], "errors": []}
        self._started = time.monotonic()
        self._signed_in_at = None
        self._last_disco = None
        self._done = False
        self.events_handlers = {
            "signed-in": (ged.POSTGUI, self._on_signed_in),
            "message-received": (ged.POSTGUI, self._on_message_received),
            "server-disco-received": (ged.POSTGUI, self._on_server_disco),
            "account-disconnected": (ged.POSTGUI, self._on_disconnected),
        }

    def activate(self) -> None:
        self._event("activated")
        GLib.timeout_add(200, self._tick)

    # ------------------------------------------------------------------ events
    def _event(self, what: str) -> None:
        self._report["events"].append([round(time.monotonic() - self._started, 2), what])
        self._write()

    def _on_signed_in(self, event) -> None:
        if event.account != self._cfg["account"] or self._signed_in_at is not None:
            return
        client = app.get_client(event.account)
        self._report["signed_in"] = True
        self._report["jid"] = str(client.get_own_jid())
        self._signed_in_at = time.monotonic()
        self._event("signed-in")
        try:
            contact = client.get_module("Contacts").get_contact(self._cfg["peer"])
            message = OutgoingMessage(account=event.account, contact=contact,
                                      message=self._cfg["message"], type_="chat")
            client.send_message(message)
            self._report["sent"] = self._cfg["message"]
            self._event("message sent")
        except Exception:
            self._report["errors"].append(traceback.format_exc())
            self._write()

    def _on_message_received(self, event) -> None:
        if event.account != self._cfg["account"]:
            return
        self._report["received"].append({"from": str(event.jid), "body": event.msgtxt})
        self._event("message received")

    def _on_server_disco(self, _event) -> None:
        self._last_disco = time.monotonic()

    def _on_disconnected(self, event) -> None:
        if event.account == self._cfg["account"]:
            self._event("disconnected")

    # -------------------------------------------------------------- the probe
    def _discovery_over(self) -> bool:
        client = app.get_client(self._cfg["account"])
        disco = client.get_module("Discovery")
        if disco.server_info is None or disco.account_info is None:
            return False
        # the server's items (conference, search ...) answer one by one
        quiet_since = self._last_disco or self._signed_in_at
        return time.monotonic() - quiet_since > 1.0

    def _tick(self) -> bool:
        if self._done:
            return False
        try:
            if time.monotonic() - self._started > float(self._cfg["timeout"]):
                self._report["errors"].append("timed out")
                return self._finish()
            if self._signed_in_at is None:
                return True
            got_reply = any(m["body"] == self._cfg["reply"] for m in self._report["received"])
            if self._report["features"] is None and self._discovery_over():
                self._read_server_info()
            if got_reply and self._report["features"] is not None:
                return self._finish()
        except Exception:
            self._report["errors"].append(traceback.format_exc())
            return self._finish()
        return True

    def _read_server_info(self) -> None:
        account = self._cfg["account"]
        # Accounts menu → ACCOUNT → « Server Info »
        app.app.activate_action(f"{account}-server-info", GLib.Variant("s", account))
        from gajim.gtk.util import get_app_window
        window = get_app_window("ServerInfo", account)
        features = window._get_features()
        rows = []
        for f in features:
            value = f.available
            # Gajim 1.7.3 passes `features.has_sm` uncalled (a bound method,
            # always truthy): the window shows « Available » whatever the
            # server says. The report keeps what the window shows and what
            # the property really is.
            rows.append({"name": f.name, "shown": bool(value),
                         "available": bool(value() if callable(value) else value),
                         "additional": f.additional})
        self._report["features"] = rows
        # the « Features » tab, for the test's screenshot
        notebook = window._ui.server_info_notebook
        notebook.set_current_page(notebook.page_num(window._ui.features))
        self._event("server info read")

    def _finish(self) -> bool:
        self._done = True
        self._event("done")
        # leave a moment for a screenshot of the Server Info window, then « Quit »
        GLib.timeout_add(int(self._cfg.get("linger_ms", 0)) or 1, self._quit)
        return False

    @staticmethod
    def _quit() -> bool:
        app.app.start_shutdown(message="")
        return False

    def _write(self) -> None:
        path = Path(self._cfg["report"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._report, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
