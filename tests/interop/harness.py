"""Start, stop and administer a Causerie server for the interop tests.

A :class:`Server` owns a temporary directory holding its config file, its
``data_dir`` and a log file (the server's stdout+stderr).  It writes the TOML
config with free loopback ports, starts ``causerie --config FILE serve``, waits
until the c2s port accepts connections, and stops the process with SIGTERM.

The binary defaults to ``target/debug/causerie`` at the repository root; set
``CAUSERIE_BIN`` to use another one.

Everything the tests need from "a server" goes through this class (ports,
``add_user``, ``cli``, ``pid``, ``storage_files`` ...), so the conftest only
ever calls ``harness.SERVER_CLASS(...)``.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("CAUSERIE_BIN", REPO / "target" / "debug" / "causerie"))
DOMAIN = "localhost"
HOST = "127.0.0.1"

START_TIMEOUT = float(os.environ.get("CAUSERIE_START_TIMEOUT", "30"))
CLI_TIMEOUT = 30


class ServerError(Exception):
    pass


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 right now (tiny race with other
    processes, acceptable here). The sockets are held open together while the
    kernel picks, so it cannot hand out one port twice (closing each socket
    before the next bind let it reuse a port at once: two listeners then
    collided)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


@dataclass
class Account:
    user: str
    password: str
    domain: str = DOMAIN

    @property
    def jid(self) -> str:
        return f"{self.user}@{self.domain}"

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return self.jid


class Server:
    """One Causerie process and its private directory.

    ``limits`` / ``auth`` / ``tls`` are dicts merged into the ``[limits]``,
    ``[auth]`` and ``[tls]`` tables of the config.
    """

    domain = DOMAIN
    host = HOST
    name = "causerie"

    _DEFAULT = object()

    def __init__(self, root: Path, *, limits: dict | None = None,
                 auth: dict | None = None, tls: dict | None = None,
                 extra_toml: str = "", storage_url=_DEFAULT, language: str | None = None,
                 nofile: int | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.root / "data"
        self.config_path = self.root / "causerie.toml"
        self.log_path = self.root / "server.log"
        (self.c2s_port, self.c2s_tls_port, self.http_port, self.https_port,
         self.component_port) = free_ports(5)
        self.limits = dict(limits or {})
        self.auth = dict(auth or {})
        self.tls = dict(tls or {})
        self.extra_toml = extra_toml
        # The deployment's language (`language = …`); None: the server's default.
        self.language = language
        # The server process's RLIMIT_NOFILE (soft and hard); None: inherited.
        self.nofile = nofile
        # None: no [storage] table at all (the server's default location)
        self.storage_url = f"sqlite://{self.db_path}?mode=rwc" if storage_url is Server._DEFAULT else storage_url
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        self._counter = 0
        self.write_config()

    # ------------------------------------------------------------------ config
    @property
    def db_path(self) -> Path:
        return self.data_dir / "causerie.db"

    @property
    def cert_dir(self) -> Path:
        return self.data_dir / "tls"

    def write_config(self) -> None:
        lines = [
            f"domain = {_toml_value(self.domain)}",
            f"data_dir = {_toml_value(self.data_dir)}",
            *([f"language = {_toml_value(self.language)}"] if self.language else []),
            "",
            "[listen]",
            f"c2s = {_toml_value(f'{self.host}:{self.c2s_port}')}",
            f"c2s_tls = {_toml_value(f'{self.host}:{self.c2s_tls_port}')}",
            f"http = {_toml_value(f'{self.host}:{self.http_port}')}",
            f"https = {_toml_value(f'{self.host}:{self.https_port}')}",
            # Bound only when the config lists [[components]] (extra_toml).
            f"component = {_toml_value(f'{self.host}:{self.component_port}')}",
        ]
        if self.storage_url is not None:
            lines += ["", "[storage]", f"url = {_toml_value(self.storage_url)}"]
        for table, values in (("limits", self.limits), ("auth", self.auth), ("tls", self.tls)):
            if values:
                lines += ["", f"[{table}]"]
                lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        if "[quiet_hours]" not in (self.extra_toml or ""):
            # Tests run at any hour: no default quiet hours (21:00–07:00 for pupils) unless
            # a test sets its own (test_quiet.py).
            lines += ["", "[quiet_hours]", "default = false"]
        if self.extra_toml:
            lines += ["", self.extra_toml]
        self.config_path.write_text("\n".join(lines) + "\n")

    # --------------------------------------------------------------- lifecycle
    def start(self, timeout: float = START_TIMEOUT) -> "Server":
        if not BINARY.exists():
            raise ServerError(f"server binary not found: {BINARY} (run `cargo build -p causerie`)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"=== start {time.strftime('%H:%M:%S')} ===\n".encode())
        self._log_file.flush()
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        env.pop("CAUSERIE_CONFIG", None)
        self.proc = subprocess.Popen(
            [str(BINARY), "--config", str(self.config_path), "serve"],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=self.root, env=env, preexec_fn=self._limit_files if self.nofile else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode} during start-up:\n{self.log_text()}")
            # Every listener, the web ones too: they are bound after the XMPP ones.
            ports = (self.c2s_port, self.c2s_tls_port, self.http_port, self.https_port)
            if all(port_open(p) for p in ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"server did not listen on all its ports within {timeout}s:\n{self.log_text()}")

    def _limit_files(self) -> None:
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def stop(self, timeout: float = 10) -> int | None:
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return rc

    def kill(self) -> None:
        """``kill -9``: the process ends at once, nothing flushed or closed; the data
        directory is kept (``start()`` runs again on it)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        if self._log_file is not None:
            self._log_file.write(f"=== kill -9 {time.strftime('%H:%M:%S')} ===\n".encode())
            self._log_file.close()
            self._log_file = None

    def restart(self) -> "Server":
        self.stop()
        # The ports are kept: wait until the old listener is really gone.
        return self.start()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def rss_kb(self) -> int:
        """VmRSS of the server process, in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerError("no VmRSS line")

    def log_text(self, tail: int = 200_000) -> str:
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return "(no server log)"
        return data[-tail:].decode("utf-8", "replace")

    def storage_files(self) -> list[Path]:
        """Every file the server persists (database, WAL, ...), for byte scans."""
        return [p for p in self.data_dir.rglob("*") if p.is_file()]

    # --------------------------------------------------------------------- CLI
    def cli(self, *args: str, check: bool = True, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.pop("CAUSERIE_CONFIG", None)
        cp = subprocess.run(
            [str(BINARY), "--config", str(self.config_path), *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env,
        )
        if check and cp.returncode != 0:
            raise ServerError(f"`causerie {' '.join(args)}` exited {cp.returncode}\nstdout: {cp.stdout}\nstderr: {cp.stderr}")
        return cp

    def add_user(self, user: str, password: str) -> Account:
        self.cli("user", "add", f"{user}@{self.domain}", "--password", password)
        return Account(user, password, self.domain)

    def passwd(self, jid: str, password: str) -> None:
        self.cli("user", "passwd", jid, "--password", password)

    def del_user(self, jid: str) -> None:
        self.cli("user", "del", jid)

    def list_users(self) -> list[str]:
        return [line.strip() for line in self.cli("user", "list").stdout.splitlines() if line.strip()]

    def check(self) -> subprocess.CompletedProcess:
        return self.cli("check", check=False)

    def new_account(self, prefix: str = "u", password: str | None = None) -> Account:
        """Create a fresh, uniquely named account."""
        self._counter += 1
        user = f"{prefix}{self._counter}x{secrets.token_hex(3)}".lower()
        return self.add_user(user, password or f"pw-{secrets.token_hex(6)}")


# The class the fixtures instantiate.  A local pytest plugin may replace it
# (e.g. to sanity-check the suite against another server implementation).
SERVER_CLASS = Server
