#!/usr/bin/env bash
# Profile of Causerie under the benchmark's load: where CPU goes per message and per
# login (perf sampling on the cpu-clock software event, which works where hardware
# counters are 'not supported', as on this VM; callgrind otherwise), and where memory
# goes per connection (valgrind massif, heap by allocation site).
#
#   bench/profile.sh            # writes bench/results/profile-*.txt
#
# Run it on a quiet machine; it starts its own Causerie (school mode, as deployed)
# on the benchmark's ports with 5,000 pupils of the benchmark's generated school
# (directory users, rosters of their 29 classmates; bench/lib.sh, causerie_provision).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
OUT=${OUT:-bench/results}
mkdir -p "$OUT" "$BENCH_TMP"
cargo build --release -p causerie -p causerie-bench >&2
raise_nofile
make_cert
causerie_provision 5000
SERVER_PID=""
trap 'causerie_stop' EXIT

use_perf=0
if command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
  use_perf=1
fi

cpu_profile() { # name, generator args...
  local name=$1
  shift
  causerie_start 5000
  local data="$BENCH_TMP/perf-$name.data"
  if [ "$use_perf" = 1 ]; then
    perf record -e cpu-clock -F 999 -g -p "$SERVER_PID" -o "$data" >/dev/null 2>&1 &
    local perf_pid=$!
    "$BENCH_BIN" "$@" --port "$PORT" --server-pid "$SERVER_PID" --label causerie \
      >"$OUT/profile-$name.json"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    {
      echo "# $name: $(cat "$OUT/profile-$name.json")"
      echo "## by shared object"
      perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -15
      echo "## by symbol"
      perf report -i "$data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep '%' | head -40
      echo "## callers of the top kernel symbol (context switches)"
      perf report -i "$data" --no-children --sort symbol --stdio -g caller,0.5,callee --percent-limit 5 2>/dev/null |
        grep -v '^$' | head -60
    } >"$OUT/profile-$name.txt"
  else
    causerie_stop
    valgrind --tool=callgrind --callgrind-out-file="$BENCH_TMP/callgrind-$name.out" \
      "$CAUSERIE_BIN" --config "$BENCH_TMP/run/causerie/causerie.toml" serve >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_port "$CAUSERIE_PORT" 60
    "$BENCH_BIN" "$@" --port "$CAUSERIE_PORT" --server-pid "$SERVER_PID" --label causerie \
      --login-timeout 300 >"$OUT/profile-$name.json"
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    callgrind_annotate "$BENCH_TMP/callgrind-$name.out" | head -80 >"$OUT/profile-$name.txt"
  fi
  causerie_stop
}

cpu_profile chat chat --tls none --mech scram-sha-1 --pairs 100 --window 10 --duration 8 --warmup 1
cpu_profile login login --tls none --mech scram-sha-1 --n 2000 --concurrency 50

# Memory per connection: massif's heap tree with 1,000 idle sessions held.
causerie_start 5000
causerie_stop
valgrind --tool=massif --threshold=0.5 --massif-out-file="$BENCH_TMP/massif.out" \
  "$CAUSERIE_BIN" --config "$BENCH_TMP/run/causerie/causerie.toml" serve >/dev/null 2>&1 &
SERVER_PID=$!
wait_port "$CAUSERIE_PORT" 60
"$BENCH_BIN" idle --tls none --mech scram-sha-1 --n 1000 --concurrency 10 --settle-secs 5 \
  --idle-secs 5 --port "$CAUSERIE_PORT" --server-pid "$SERVER_PID" --label causerie \
  --login-timeout 300 >"$OUT/profile-idle.json"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
python3 - "$BENCH_TMP/massif.out" >"$OUT/profile-memory.txt" <<'PYEOF'
import re, sys
snaps = open(sys.argv[1]).read().split("snapshot=")[1:]
best = None
for s in snaps:
    h = int(re.search(r"mem_heap_B=(\d+)", s).group(1))
    if "heap_tree=detailed" in s or "heap_tree=peak" in s:
        if best is None or h > best[0]:
            best = (h, s)
h, s = best
print(f"peak heap {h / 1024:.0f} KiB with 1,000 idle sessions (massif; virtual, not resident)")
for line in s.split("\n"):
    m = re.match(r"^( *)n(\d+): (\d+) (.*)", line)
    if m and len(m.group(1)) <= 2:
        print(" " * len(m.group(1)), f"{int(m.group(3)) // 1024} KiB", m.group(4)[:150])
PYEOF
echo "profiles in $OUT/profile-*.txt" >&2
