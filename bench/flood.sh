#!/usr/bin/env bash
# The flooding measurement (issue 16, « Limites »; BENCHMARKS.md "A flooding pupil"):
# ROOMS classes of 30 pupils post in their class room at MUC_RATE posts/s in total
# (each pupil about once every ROOMS*30/MUC_RATE seconds, under his 30 a minute), and
# their latency is measured, first with nobody flooding ("idle"), then with one pupil of
# the first class flooding (room posts and one-to-one messages to his classmates, as fast
# as the server reads them). Under the school's default rates, then with the rates off
# (what the limits buy). A fresh server for every run.
#
#   bench/flood.sh                  # RUNS=3, 10 classes, 100 posts/s, 10 s each
#   bench/flood.sh --quick          # one short run of each: checks that it works
#
# Results: bench/results/flood.jsonl (one line per run, "case" field), and a summary of
# the others' p99 under the flooder against idle on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

if [ "${1:-}" = "--quick" ]; then
  RUNS=${RUNS:-1} ROOMS=${ROOMS:-2} DURATION=${DURATION:-3} MUC_RATE=${MUC_RATE:-20}
  OUT_FILE=${OUT_FILE:-bench/results/flood-quick.jsonl}
else
  RUNS=${RUNS:-3} ROOMS=${ROOMS:-10} DURATION=${DURATION:-10} MUC_RATE=${MUC_RATE:-100}
  OUT_FILE=${OUT_FILE:-bench/results/flood.jsonl}
fi
FLOODERS=${FLOODERS:-1}
mkdir -p "$(dirname "$OUT_FILE")" "$BENCH_TMP"
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p causerie -p causerie-bench >&2
N=$((ROOMS * 30))
make_cert
causerie_provision "$N"
trap causerie_stop EXIT

one() { # case rates flooders run
  local json
  CAUSERIE_RATES=$2 causerie_start "$N"
  json=$(timeout 300 "$BENCH_BIN" --max-secs 280 muc --tls none --mech scram-sha-1 \
    --host 127.0.0.1 --port "$PORT" --domain localhost --password "$PASSWORD" --prefix "$PREFIX" \
    --server-pid "$SERVER_PID" --rooms "$ROOMS" --size 30 --window 100 --rate "$MUC_RATE" \
    --duration "$DURATION" --flooders "$3" 2>/dev/null | tail -n1)
  causerie_stop
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(case=sys.argv[2], rates=sys.argv[3], run=int(sys.argv[4])); print(json.dumps(d))' \
    "$json" "$1" "$2" "$4" | tee -a "$OUT_FILE" >&2
}

for run in $(seq 1 "$RUNS"); do
  one idle school 0 "$run"
  one flood school "$FLOODERS" "$run"
  one flood_no_rates off "$FLOODERS" "$run"
done

python3 - "$OUT_FILE" "$RUNS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = rows[-3 * int(sys.argv[2]):]
def med(case, key):
    v = [r.get(key) for r in rows if r.get("case") == case and r.get(key) is not None]
    return statistics.median(v) if v else None
idle = med("idle", "p99_ms")
for case in ("idle", "flood", "flood_no_rates"):
    p99 = med(case, "p99_ms")
    print(f"{case}: p50 {med(case, 'p50_ms')} ms, p99 {p99} ms, "
          f"flooder sent {med(case, 'flood_sent_per_s')} msg/s, refused {med(case, 'flood_refused')}, "
          f"lost {med(case, 'lost')}, errors {med(case, 'errors')}, "
          f"server CPU {med(case, 'server_cpu_us_per_delivery')} µs/delivery"
          + (f"; p99 {p99 / idle:.2f}x idle" if idle and p99 else ""))
PY
