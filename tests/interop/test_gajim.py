"""Gajim 1.7 (Debian's package), the real client, signed in to Causerie under Xvfb.

Gajim refuses to run as root, so under root (as in CI) the test runs it as a
dedicated user, ``causerie-gajim`` (created with ``useradd`` when missing),
with ``runuser`` and a HOME of its own; as any other user it runs it directly.

The profile is prepared with Gajim's own Settings API (``gajim/prepare.py``):
an account as the account wizard creates it (custom host 127.0.0.1 and the
c2s port, STARTTLS), the server's self-signed certificate in Gajim's
certificate store as « Add to Trusted Certificates » leaves it, and the test's
probe plugin (``gajim/causerie_probe``) activated. Once Gajim has signed in,
the probe, inside Gajim, sends a chat message to a slixmpp user, waits for the
answer, and opens « Server Info » from the account menu and reads its rows with
the window's own ``_get_features()``; it writes a JSON report and quits.

What compliance.md says is checked
----------------------------------
``docs/compliance.md`` has a table whose columns are Spec | Name | Status |
Gajim « Server Info ». Each row whose Status starts with ``supported`` names,
in its last column, the rows of Gajim's « Server Info » window it makes
available (separated by ``;``; ``—`` for none). Every such row must show as
available in Gajim, and must be one of Gajim's rows (a typo fails).

"Available" is the value of the property the window reads, called when it is
a method: Gajim 1.7.3's window reads ``features.has_sm`` without calling it,
so its « XEP-0198: Stream Management » row always says « Available »; the
report keeps both (``shown``, ``available``) and the test uses the real one.

Skipped when gajim or Xvfb is missing (scripts/test installs them with
apt-get), or when Gajim cannot be run as another user than root.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import certs

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMPLIANCE = REPO / "docs" / "compliance.md"
GAJIM_USER = "causerie-gajim"
PLUGIN = "causerie_probe"
# Gajim's start-up, sign-in and service discovery, under load
TIMEOUT = 45.0

pytestmark = pytest.mark.skipif(
    shutil.which("gajim") is None or shutil.which("Xvfb") is None,
    reason="gajim and xvfb are installed by scripts/test (apt-get)",
)


# ----------------------------------------------------------------- compliance

def supported_gajim_rows(path: Path = COMPLIANCE) -> dict[str, list[str]]:
    """{spec: [Gajim « Server Info » row names]} of the table's ``supported`` rows."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not re.fullmatch(r"(XEP-\d{4}|RFC \d+)", cells[0]):
            continue
        status, gajim = cells[2], cells[3]
        if status.split(":", 1)[0].strip().lower() != "supported":
            continue
        names = [n.strip() for n in gajim.split(";") if n.strip() not in ("", "—", "-")]
        if names:
            out[cells[0]] = names
    return out


def test_compliance_table_is_readable():
    """The Gajim test reads something: the table is there, with supported rows
    that Gajim shows (MUC, vcard-temp, carbons on today's server)."""
    rows = supported_gajim_rows()
    assert rows, f"no supported row with a Gajim « Server Info » name in {COMPLIANCE}"
    assert "XEP-0045" in rows and "XEP-0280" in rows, rows


# ---------------------------------------------------------------- the client

def _as_root() -> bool:
    return os.geteuid() == 0


def _gajim_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(GAJIM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", GAJIM_USER], check=True, capture_output=True)
        return pwd.getpwnam(GAJIM_USER)


class Desktop:
    """Xvfb on a display of its own, and Gajim in it with its own HOME."""

    def __init__(self):
        if _as_root():
            if shutil.which("runuser") is None or shutil.which("useradd") is None:
                pytest.skip("runuser/useradd missing: Gajim cannot run as root")
            self.user = _gajim_user()
        else:
            self.user = None
        # Not under pytest's tmp_path: its parents are private to root.
        self.home = Path(tempfile.mkdtemp(prefix="causerie-gajim-"))
        self.home.chmod(0o755)
        self.xvfb = None
        self.gajim = None
        self.display = None
        self.log = self.home / "gajim.log"

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            for p in [path, *path.rglob("*")]:
                os.chown(p, self.user.pw_uid, self.user.pw_gid)

    def _env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                "DISPLAY": self.display or "", "NO_AT_BRIDGE": "1", "GTK_A11Y": "none"}

    def _as_user(self, argv: list[str]) -> list[str]:
        env = [f"{k}={v}" for k, v in self._env().items()]
        if self.user is not None:
            return ["runuser", "-u", GAJIM_USER, "--", "env", "-i", *env, *argv]
        return ["env", "-i", *env, *argv]

    def start_xvfb(self) -> None:
        r, w = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x900x24",
                                      "-nolisten", "tcp"], pass_fds=(w,),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            number = f.readline().strip()
        assert number, "Xvfb gave no display number"
        self.display = f":{number}"

    def prepare(self, cfg: dict, probe: dict) -> None:
        plugin_dir = self.home / ".local/share/gajim/plugins" / PLUGIN
        shutil.copytree(HERE / "gajim" / PLUGIN, plugin_dir,
                        ignore=shutil.ignore_patterns("__pycache__", "probe.json"))
        (plugin_dir / "probe.json").write_text(json.dumps(probe), encoding="utf-8")
        (self.home / "prepare.json").write_text(json.dumps(cfg), encoding="utf-8")
        self._chown(self.home)
        cp = subprocess.run(self._as_user(["python3", str(HERE / "gajim" / "prepare.py"),
                                           str(self.home / "prepare.json")]),
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, f"prepare.py failed:\n{cp.stdout}\n{cp.stderr}"

    def start_gajim(self) -> None:
        argv = ["gajim", "--verbose"]
        if shutil.which("dbus-run-session"):
            argv = ["dbus-run-session", "--", *argv]
        with open(self.log, "ab") as log:
            self.gajim = subprocess.Popen(self._as_user(argv), stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def screenshot(self, path: Path) -> None:
        if shutil.which("import") and self.display:
            subprocess.run(["import", "-display", self.display, "-window", "root", str(path)],
                           capture_output=True, timeout=20)

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no Gajim log)"
        return "\n".join(lines[-n:])

    def close(self) -> None:
        if self.gajim is not None and self.gajim.poll() is None:
            # its own session (runuser, dbus-run-session, gajim): end them all
            try:
                os.killpg(self.gajim.pid, signal.SIGTERM)
                self.gajim.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.gajim.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.gajim.wait(5)
        if self.xvfb is not None:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(5)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()
                self.xvfb.wait(5)
        shutil.rmtree(self.home, ignore_errors=True)


def read_report(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def events(report: dict) -> list[str]:
    return [e[1] for e in report.get("events", [])]


async def test_gajim_signs_in_chats_and_finds_the_supported_features(server, make_user, clients, tmp_path):
    alice, bob = make_user("gajim"), make_user("bob")
    b = await clients.login(bob, "py")
    to_bob, to_gajim = "Bonjour depuis Gajim", "Bonjour depuis slixmpp"
    pem = ssl.DER_cert_to_PEM_cert(await asyncio.to_thread(certs.served_cert_starttls, server))
    desk = Desktop()
    report_path = desk.home / "report.json"
    t0 = time.monotonic()
    try:
        desk.start_xvfb()
        desk.prepare(
            {"account": "causerie", "user": alice.user, "domain": server.domain, "password": alice.password,
             "host": server.host, "port": server.c2s_port, "cert_pem": pem, "plugin": PLUGIN},
            {"account": "causerie", "peer": bob.jid, "message": to_bob, "reply": to_gajim,
             "report": str(report_path), "timeout": TIMEOUT, "linger_ms": 1500},
        )
        desk.start_gajim()

        # Gajim -> slixmpp
        try:
            msg = await b.wait_message(body=to_bob, timeout=TIMEOUT)
        except AssertionError:
            raise AssertionError(f"no message from Gajim; report: {read_report(report_path)}\n"
                                 f"Gajim's log:\n{desk.log_tail()}") from None
        assert msg["from"].bare == alice.jid
        assert msg["type"] == "chat"
        # slixmpp -> Gajim, to the bare JID
        b.send_message(alice.jid, to_gajim)

        deadline = time.monotonic() + TIMEOUT
        report = {}
        shot = False
        while time.monotonic() < deadline:
            report = read_report(report_path)
            if not shot and "server info read" in events(report):
                desk.screenshot(tmp_path / "gajim-server-info.png")
                shot = True
            if "done" in events(report):
                break
            if desk.gajim.poll() is not None:
                break
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - t0
        context = f"report: {json.dumps(report, ensure_ascii=False, indent=1)}\nGajim's log:\n{desk.log_tail()}"
        assert "done" in events(report), f"Gajim's probe did not finish in {elapsed:.0f}s\n{context}"
        assert report["errors"] == [], context
        assert report["signed_in"] and report["jid"].startswith(alice.jid + "/"), context
        assert report["sent"] == to_bob, context
        assert {"from": bob.jid, "body": to_gajim} in report["received"], context

        shown = {f["name"]: f["available"] for f in report["features"]}
        missing = []
        for spec, names in supported_gajim_rows().items():
            for name in names:
                assert name in shown, f"{spec}: {name!r} is not a row of Gajim's « Server Info »: {sorted(shown)}"
                if not shown[name]:
                    missing.append(f"{spec} → {name}")
        assert not missing, (f"docs/compliance.md says supported, Gajim's « Server Info » says not available: "
                             f"{missing}\nGajim's rows: {shown}\nscreenshot: {tmp_path / 'gajim-server-info.png'}")
        print(f"Gajim: signed in, chatted and read its server info in {elapsed:.1f}s; rows: {shown}")
    finally:
        desk.close()
