#!/usr/bin/env bash
# Causerie on 1, 2 and 3 nodes of one cluster on this machine (issue 17): the same
# PostgreSQL database and the machine's NATS, each node on its own loopback ports.
#
# For each node count K: a fresh database, K nodes started, plain accounts provisioned
# (classes of CONTACTS + 1 mutual contacts), then
#   - login: LOGINS full logins (STARTTLS, SCRAM-SHA-256), account i on node i mod K;
#   - chat:  PAIRS pairs exchanging 1:1 messages as fast as they can (closed loop): with
#            K >= 2 the two sides of every pair are on two different nodes, so every
#            message crosses nodes; chat_rate: 100 pairs at RATE messages per second in all
#            (open loop), for the latencies;
#   - muc:   ROOMS rooms of ROOM_SIZE occupants spread over the K nodes, closed loop;
#            muc_rate: the same at ROOM_RATE posts per second (open loop).
# Each line of OUT is the generator's JSON (server CPU: the K nodes' processes together)
# with "nodes" and "nats_cpu_s" (the NATS server's CPU during the case) added.
#
#   bench/cluster.sh                       # alone, then 1, 2, 3 nodes
#   NODES_LIST="1 3" DURATION=20 bench/cluster.sh
#
# `alone` is one node on the same PostgreSQL database without `[cluster]` (no NATS): what
# the cluster mode itself costs on one node.
#
# The machine has 2 cores for the nodes, NATS, PostgreSQL and the generator: read the CPU
# per message and per login, which add up whatever the machine, and the latencies as an
# upper bound.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PG=${PG:-postgres://postgres@127.0.0.1:5432}
NATS=${NATS:-nats://127.0.0.1:4222}
NODES_LIST=${NODES_LIST:-"alone 1 2 3"}
ACCOUNTS=${ACCOUNTS:-2000}
LOGINS=${LOGINS:-2000}
PAIRS=${PAIRS:-200}
ROOMS=${ROOMS:-10}
ROOM_SIZE=${ROOM_SIZE:-30}
DURATION=${DURATION:-10}
# The offered rate of the open-loop chat case (messages per second, all pairs together):
# the latencies at a load the nodes carry, rather than at saturation.
RATE=${RATE:-3000}
# The offered posts per second of the open-loop room case (each delivered to ROOM_SIZE).
ROOM_RATE=${ROOM_RATE:-300}
OUT=${OUT:-$ROOT/bench/results/cluster-$(date +%Y%m%d-%H%M%S).jsonl}
BENCH_TMP=${BENCH_TMP:-/dev/shm/causerie-bench-cluster}

[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p causerie -p causerie-bench >&2
raise_nofile
mkdir -p "$BENCH_TMP" "$(dirname "$OUT")"
make_cert
: >"$OUT"

nats_pid() { pgrep -x nats-server | head -n1; }
cpu_s() { # pid: its user+system CPU seconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

PIDS=()
stop_nodes() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait_gone "$p" 20 || true; done
  PIDS=()
}
trap stop_nodes EXIT

node_config() { # dir, index, db, cluster name
  local base=$((17500 + 10 * $2))
  cat >"$1/causerie.toml" <<EOF
domain = "localhost"
data_dir = "$1/data"

[listen]
c2s = "127.0.0.1:$base"
c2s_tls = "127.0.0.1:$((base + 1))"
http = "127.0.0.1:$((base + 2))"

[storage]
url = "$PG/$3"

[tls]
cert = "$BENCH_TMP/tls/cert.pem"
key = "$BENCH_TMP/tls/key.pem"

[auth]
allow_plaintext_on_loopback = true
scram_iterations = $ITERATIONS

[log]
level = "warn"

[quiet_hours]
default = false

[limits]
unauthenticated_per_address = 1000000

[rates.adults]
messages_per_minute = 0
recipients_per_minute = 0
rooms_per_day = 0
invitations_per_room_per_hour = 0
EOF
  if [ "$4" != alone ]; then
    cat >>"$1/causerie.toml" <<EOF

[cluster]
nats_url = "$NATS"
node = "b$2"
name = "$4"
EOF
  fi
}

measure() { # nodes, case, generator args...
  local nodes=$1 case_name=$2 pids nats n0 n1 line
  shift 2
  pids=$(IFS=,; echo "${PIDS[*]}")
  nats=$(nats_pid)
  n0=$(cpu_s "$nats")
  log "$nodes node(s): $case_name"
  line=$("$BENCH_BIN" "$@" --server-pid "$pids" --password "$PASSWORD" --prefix "$PREFIX")
  n1=$(cpu_s "$nats")
  python3 - "$line" "$nodes" "$case_name" "$n0" "$n1" >>"$OUT" <<'PY'
import json, sys
line, nodes, case, n0, n1 = sys.argv[1:]
d = json.loads(line)
d.update(nodes=nodes, case=case, nats_cpu_s=round(float(n1) - float(n0), 3))
print(json.dumps(d))
PY
}

for label in $NODES_LIST; do
  nodes=$label
  name="bench$$n$label"
  if [ "$label" = alone ]; then nodes=1; name=alone; fi
  db="causerie_bench_${label}_$$"
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  ports=()
  for ((i = 0; i < nodes; i++)); do
    dir="$BENCH_TMP/$db/node$i"
    mkdir -p "$dir/data"
    node_config "$dir" "$i" "$db" "$name"
    if [ "$i" = 0 ]; then
      # The first node makes the schema, the accounts go in before the others start.
      "$CAUSERIE_BIN" --config "$dir/causerie.toml" check >/dev/null
      log "$nodes node(s): provisioning $ACCOUNTS accounts"
      "$BENCH_BIN" provision causerie --store-url "$PG/$db" --n "$ACCOUNTS" \
        --prefix "$PREFIX" --password "$PASSWORD" --contacts "$CONTACTS" \
        --iterations "$ITERATIONS" >&2
    fi
    "$CAUSERIE_BIN" --config "$dir/causerie.toml" serve >"$dir/log" 2>&1 &
    PIDS+=($!)
    ports+=($((17500 + 10 * i)))
    wait_port $((17500 + 10 * i + 2)) 30
  done
  # Every node heard every other one.
  for ((t = 0; t < 100 && nodes > 1; t++)); do
    ok=1
    for ((i = 0; i < nodes; i++)); do
      [ "$(grep -c "a node joined" "$BENCH_TMP/$db/node$i/log" || true)" -ge $((nodes - 1)) ] || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  list=$(IFS=,; echo "${ports[*]}")
  measure "$label" login login --ports "$list" --n "$LOGINS" --concurrency 50
  measure "$label" chat chat --ports "$list" --pairs "$PAIRS" --window 10 --duration "$DURATION"
  measure "$label" chat_rate chat --ports "$list" --pairs 100 --window 200 --rate "$RATE" \
    --duration "$DURATION"
  measure "$label" muc muc --ports "$list" --rooms "$ROOMS" --size "$ROOM_SIZE" --duration "$DURATION" \
    --room-prefix "c$$n$label"
  measure "$label" muc_rate muc --ports "$list" --rooms "$ROOMS" --size "$ROOM_SIZE" --window 100 \
    --rate "$ROOM_RATE" --duration "$DURATION" --room-prefix "r$$n$label"
  stop_nodes
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  # The nodes' logs stay (BENCH_TMP/DB/nodeI/log); their data goes.
  rm -rf "${BENCH_TMP:?}/$db"/node*/data
done
log "results: $OUT"
