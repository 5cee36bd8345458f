# Functions shared by the benchmark scripts: start, stop and provision Causerie,
# Prosody and ejabberd, each on its own loopback ports with its own config and data
# under $BENCH_TMP (never the system instances). Sourced, not run.
#
# Every change from a peer's defaults is listed in BENCHMARKS.md ("Configurations").

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_TMP="${BENCH_TMP:-/dev/shm/causerie-bench}"
BENCH_BIN="${BENCH_BIN:-$ROOT/target/release/causerie-bench}"
CAUSERIE_BIN="${CAUSERIE_BIN:-$ROOT/target/release/causerie}"
PASSWORD="${PASSWORD:-bench}"
PREFIX="${PREFIX:-u}"
# Plain accounts (causerie_plain, Prosody, ejabberd): groups of CONTACTS + 1 mutual contacts.
CONTACTS="${CONTACTS:-30}"
# Directory users (causerie): classes of CLASS_SIZE pupils, each with his classmates as
# mutual contacts; CLASSES_PER_STRUCTURE classes per collège (20: four year groups of five).
CLASS_SIZE="${CLASS_SIZE:-30}"
CLASSES_PER_STRUCTURE="${CLASSES_PER_STRUCTURE:-20}"
ITERATIONS="${ITERATIONS:-4096}"

# Ports: plaintext/STARTTLS and direct TLS.
CAUSERIE_PORT=17222
CAUSERIE_TLS_PORT=17223
CAUSERIE_HTTP_PORT=17280
PROSODY_PORT=17322
PROSODY_TLS_PORT=17323
EJABBERD_PORT=17422
EJABBERD_TLS_PORT=17423

EJABBERD_NODE=ejabberd-bench@localhost

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The open-files limit: the hard limit of this machine (20,000 here) bounds the
# connections of one process, the server's and the generator's alike.
raise_nofile() { ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

wait_port() { # port, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! port_free "$1"; then return 0; fi
    sleep 0.1
  done
  log "port $1 did not open within $2 s"
  return 1
}

wait_gone() { # pid, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# One self-signed ECDSA P-256 certificate for localhost, shared by the three servers.
make_cert() {
  local dir="$BENCH_TMP/tls"
  [ -f "$dir/cert.pem" ] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost" 2>/dev/null
  cat "$dir/key.pem" "$dir/cert.pem" >"$dir/combined.pem"
  chmod 644 "$dir"/*.pem
}

# ---------------------------------------------------------------- Causerie

causerie_config() { # dir
  cat >"$1/causerie.toml" <<EOF
domain = "localhost"
data_dir = "$1/data"

[listen]
c2s = "127.0.0.1:$CAUSERIE_PORT"
c2s_tls = "127.0.0.1:$CAUSERIE_TLS_PORT"
# Omitting it would not disable it (the default 0.0.0.0:5280 applies): a port of its own.
http = "127.0.0.1:$CAUSERIE_HTTP_PORT"

[tls]
cert = "$BENCH_TMP/tls/cert.pem"
key = "$BENCH_TMP/tls/key.pem"

[auth]
allow_plaintext_on_loopback = true
scram_iterations = $ITERATIONS

[log]
level = "warn"

[policy]
mode = "${CAUSERIE_POLICY:-school}"

# The load runs at any hour: no quiet hours holding the pupils' messages.
[quiet_hours]
default = false

# The load comes from one address and its accounts send as fast as they can: no cap on
# connections not logged in yet per address, no per-account rates (issue 16), unless
# CAUSERIE_RATES=school keeps the school's default rates (bench/flood.sh).
[limits]
unauthenticated_per_address = 1000000
$(if [ "${CAUSERIE_RATES:-off}" != school ]; then cat <<'RATES'
[rates.pupils]
messages_per_minute = 0
recipients_per_minute = 0
rooms_per_day = 0
invitations_per_room_per_hour = 0
[rates.adults]
messages_per_minute = 0
recipients_per_minute = 0
rooms_per_day = 0
invitations_per_room_per_hour = 0
RATES
fi)
EOF
}

# The accounts of the `causerie` column are directory users of a generated school, as a
# school runs Causerie: pupils u1..uN in classes of $CLASS_SIZE (each pupil's roster holds
# his classmates, subscription both), two teachers per class, collèges of
# $CLASS_SIZE x $CLASSES_PER_STRUCTURE pupils, the default communication rules. In a
# template database, named after the school's shape so a change of shape makes a new one.
causerie_template() { # n
  echo "$BENCH_TMP/template/causerie-school-$1-c${CLASS_SIZE}x$CLASSES_PER_STRUCTURE"
}

causerie_provision() { # n
  local tpl
  tpl=$(causerie_template "$1")
  if [ -f "$tpl/done" ]; then return 0; fi
  rm -rf "$tpl"
  mkdir -p "$tpl/data"
  log "causerie: provisioning a school of $1 pupils (directory users)"
  "$BENCH_BIN" provision causerie-school --store-url "sqlite://$tpl/data/causerie.db?mode=rwc" \
    --n "$1" --prefix "$PREFIX" --password "$PASSWORD" --class-size "$CLASS_SIZE" \
    --classes-per-structure "$CLASSES_PER_STRUCTURE" --iterations "$ITERATIONS"
  touch "$tpl/done"
}

# The `causerie_plain` column: plain accounts u1..uN (outside the directory, so the
# school's rules never apply to them) with rosters of $CONTACTS mutual contacts, as
# Prosody's and ejabberd's, provisioned as every Causerie column was before the school.
causerie_plain_template() { # n
  echo "$BENCH_TMP/template/causerie-plain-$1-k$CONTACTS"
}

causerie_plain_provision() { # n
  local tpl
  tpl=$(causerie_plain_template "$1")
  if [ -f "$tpl/done" ]; then return 0; fi
  rm -rf "$tpl"
  mkdir -p "$tpl/data"
  log "causerie_plain: provisioning $1 plain accounts"
  "$BENCH_BIN" provision causerie --store-url "sqlite://$tpl/data/causerie.db?mode=rwc" \
    --n "$1" --prefix "$PREFIX" --password "$PASSWORD" --contacts "$CONTACTS" \
    --iterations "$ITERATIONS"
  touch "$tpl/done"
}

causerie_start_from() { # template directory
  local dir="$BENCH_TMP/run/causerie"
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cp "$1/data/"causerie.db* "$dir/data/"
  causerie_config "$dir"
  port_free "$CAUSERIE_PORT" || { log "port $CAUSERIE_PORT is taken"; return 1; }
  (raise_nofile; exec "$CAUSERIE_BIN" --config "$dir/causerie.toml" serve >"$dir/server.log" 2>&1) &
  SERVER_PID=$!
  wait_port "$CAUSERIE_PORT" 30
  PORT=$CAUSERIE_PORT
  TLS_PORT=$CAUSERIE_TLS_PORT
}

causerie_start() { causerie_start_from "$(causerie_template "$1")"; } # n

causerie_stop() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait_gone "$SERVER_PID" 20 || kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

causerie_plain_start() { causerie_start_from "$(causerie_plain_template "$1")"; } # n
causerie_plain_stop() { causerie_stop; }

# Diagnostic variant, not in the default run: the school's data with `[policy] mode =
# "open"` (no rules), to tell the rule checks' cost from the data's (rosters of 29, the
# directory loaded) when causerie and causerie_plain differ.
causerie_open_provision() { causerie_provision "$@"; }
causerie_open_start() { CAUSERIE_POLICY=open causerie_start "$@"; }
causerie_open_stop() { causerie_stop; }

# ---------------------------------------------------------------- Prosody

prosody_config() { # dir
  cat >"$1/prosody.cfg.lua" <<EOF
-- Benchmark instance: loopback only, its own data, no s2s, no HTTP.
pidfile = "$1/prosody.pid"
data_path = "$1/data"
admin_socket = "$1/prosody.sock"
log = { warn = "$1/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $PROSODY_PORT }
c2s_direct_tls_ports = { $PROSODY_TLS_PORT }
s2s_ports = {}
http_ports = {}
https_ports = {}
run_as_root = true
network_backend = "epoll"
-- Only what the scenarios use; mod_limits (rate limits) is NOT loaded.
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }
modules_disabled = { "s2s"; "offline"; "c2s_limits" }
authentication = "internal_hashed"
storage = "internal"
default_iteration_count = $ITERATIONS
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
ssl = { certificate = "$BENCH_TMP/tls/cert.pem"; key = "$BENCH_TMP/tls/key.pem"; }
VirtualHost "localhost"
-- Rooms (XEP-0045) for the muc scenario, with Prosody's defaults otherwise.
Component "conference.localhost" "muc"
EOF
}

prosody_provision() { # n
  local tpl="$BENCH_TMP/template/prosody-$1"
  if [ -f "$tpl/done" ]; then return 0; fi
  rm -rf "$tpl"
  mkdir -p "$tpl/data"
  log "prosody: provisioning $1 accounts"
  "$BENCH_BIN" provision prosody --data-dir "$tpl/data" --n "$1" --prefix "$PREFIX" \
    --password "$PASSWORD" --contacts "$CONTACTS" --iterations "$ITERATIONS"
  touch "$tpl/done"
}

prosody_start() { # n
  local dir="$BENCH_TMP/run/prosody"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -r "$BENCH_TMP/template/prosody-$1/data" "$dir/data"
  prosody_config "$dir"
  port_free "$PROSODY_PORT" || { log "port $PROSODY_PORT is taken"; return 1; }
  (raise_nofile; exec prosody --config "$dir/prosody.cfg.lua" -F >"$dir/server.log" 2>&1) &
  SERVER_PID=$!
  wait_port "$PROSODY_PORT" 30
  PORT=$PROSODY_PORT
  TLS_PORT=$PROSODY_TLS_PORT
}

prosody_stop() { causerie_stop; }

# ---------------------------------------------------------------- ejabberd

ejabberd_config() { # dir
  cat >"$1/ejabberd.yml" <<EOF
# Benchmark instance: loopback only, its own spool, shapers off.
hosts:
  - localhost
loglevel: warning
# The caches (rosters, users...) hold 1,000 entries by default and thrash with thousands
# of users online ("Shrinking cache 'roster_cache'" warnings): sized for the benchmark.
cache_size: 100000
certfiles:
  - $BENCH_TMP/tls/combined.pem
listen:
  -
    port: $EJABBERD_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 4096
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: true
  -
    port: $EJABBERD_TLS_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 4096
    max_stanza_size: 262144
    shaper: none
    access: c2s
    tls: true
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
default_db: mnesia
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper:
  normal: 1000000000
  fast: 1000000000
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 5000
  c2s_shaper: none
  s2s_shaper: none
modules:
  mod_roster: {}
  mod_ping: {}
  mod_disco: {}
  mod_admin_extra: {}
  mod_muc:
    access_create: all
    max_users: 200
EOF
  cat >"$1/ejabberdctl.cfg" <<EOF
ERL_MAX_PORTS=65536
ERL_PROCESSES=1000000
ERLANG_NODE=$EJABBERD_NODE
EOF
  cp /etc/ejabberd/inetrc "$1/inetrc"
}

ejctl() { # dir, [--no-timeout], args...
  local dir=$1 nt=()
  shift
  if [ "${1:-}" = "--no-timeout" ]; then
    nt=(--no-timeout)
    shift
  fi
  # Run ejabberdctl as the ejabberd user ourselves, without su: su's PAM session would
  # reset the open-files limit to 1024 (ejabberd then refuses connections past ~1,000).
  # setpriv keeps the limits of this shell, raised to the hard limit.
  (
    raise_nofile
    cd "$dir"
    HOME=/var/lib/ejabberd exec setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
      ejabberdctl "${nt[@]}" --config-dir "$dir" --config "$dir/ejabberd.yml" \
      --ctl-config "$dir/ejabberdctl.cfg" --logs "$dir/logs" --spool "$dir/db" "$@"
  )
}

ejabberd_pid() {
  pgrep -f "beam.smp.*-sname $EJABBERD_NODE " | head -1
}

ejabberd_boot() { # dir
  local dir=$1
  port_free "$EJABBERD_PORT" || { log "port $EJABBERD_PORT is taken"; return 1; }
  (raise_nofile; ejctl "$dir" start) >/dev/null 2>&1
  ejctl "$dir" started >/dev/null 2>&1 || true
  wait_port "$EJABBERD_PORT" 60
  SERVER_PID=$(ejabberd_pid)
}

ejabberd_halt() { # dir
  local dir=$1 pid
  pid=$(ejabberd_pid)
  ejctl "$dir" stop >/dev/null 2>&1 || true
  if [ -n "$pid" ]; then
    wait_gone "$pid" 30 || kill -9 "$pid" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# Accounts and rosters: Prosody's files, imported by ejabberd's own import_prosody.
ejabberd_provision() { # n
  local tpl="$BENCH_TMP/template/ejabberd-$1"
  if [ -f "$tpl/done" ]; then return 0; fi
  prosody_provision "$1"
  rm -rf "$tpl"
  mkdir -p "$tpl/db" "$tpl/logs"
  ejabberd_config "$tpl"
  cp -r "$BENCH_TMP/template/prosody-$1/data" "$tpl/prosody-data"
  chown -R ejabberd:ejabberd "$tpl"
  log "ejabberd: importing $1 accounts with import_prosody"
  ejabberd_boot "$tpl"
  ejctl "$tpl" --no-timeout import_prosody "$tpl/prosody-data" || true
  local got
  got=$(ejctl "$tpl" registered_users localhost | wc -l)
  ejabberd_halt "$tpl"
  [ "$got" -ge "$1" ] || { log "ejabberd: only $got accounts imported"; return 1; }
  rm -rf "$tpl/prosody-data"
  touch "$tpl/done"
}

ejabberd_start() { # n
  local dir="$BENCH_TMP/run/ejabberd"
  rm -rf "$dir"
  mkdir -p "$dir/logs"
  ejabberd_config "$dir"
  cp -r "$BENCH_TMP/template/ejabberd-$1/db" "$dir/db"
  chown -R ejabberd:ejabberd "$dir"
  ejabberd_boot "$dir"
  PORT=$EJABBERD_PORT
  TLS_PORT=$EJABBERD_TLS_PORT
}

ejabberd_stop() { ejabberd_halt "$BENCH_TMP/run/ejabberd"; }
