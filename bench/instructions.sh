#!/usr/bin/env bash
# Instructions per login: the server's user-space instructions (valgrind callgrind) over
# the measured logins of one case, the generator's warm-up left out. Unlike CPU time on a
# shared machine, the count is the same from run to run for the same binary and inputs,
# so a change of a few percent shows (BENCHMARKS.md, "Instructions per login").
#
#   bench/instructions.sh                       # the three login cases, 400 logins each
#   CASES="login_direct_fast" N=200 bench/instructions.sh
#   CAUSERIE_BIN=/path/to/other/causerie bench/instructions.sh   # another build, same generator
#
# Prints one JSON line per case (instructions per login, in all and by part) and appends it
# to $OUT/instructions.jsonl. What it does not count: the kernel (socket writes, wake-ups),
# and valgrind's CPU has no SHA or ADX instructions, so the TLS handshake's hashes and
# x25519 take the slower paths: compare the same part between two builds, not the parts
# with each other or with perf's CPU shares.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
OUT=${OUT:-bench/results}
N=${N:-400}
SCHOOL=${SCHOOL:-10000}
CASES=${CASES:-"login_tls login_direct_fast resume_direct_fast"}
command -v valgrind >/dev/null || {
  log "valgrind is needed (apt-get install valgrind)"
  exit 1
}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p causerie -p causerie-bench >&2
mkdir -p "$OUT" "$BENCH_TMP"
raise_nofile
make_cert
causerie_provision "$SCHOOL"
SERVER_PID=""
trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi' EXIT

# The parts of a login, as inclusive costs of these functions (callgrind's names).
PARTS='{
  "tls_handshake": "tokio_rustls::common::handshake::MidHandshake<IS> as core::future::future::Future>::poll",
  "sasl": "causerie_server::c2s::Conn<T>::sasl::{{closure}}",
  "roster": "causerie_server::features::roster::handle::{{closure}}",
  "presence": "causerie_server::features::presence::broadcast::{{closure}}",
  "parse": "causerie_server::c2s::Framer::feed",
  "write": "causerie_server::c2s::Conn<T>::write_out::{{closure}}"
}'

case_args() {
  case $1 in
    login_tls) echo "login --tls starttls --mech scram-sha-256" ;;
    login_direct_fast) echo "login --tls direct --mech scram-sha-256 --tls-resume --fast" ;;
    resume_direct_fast) echo "resume --tls direct --mech scram-sha-256 --tls-resume --fast" ;;
    *)
      log "unknown case $1"
      return 1
      ;;
  esac
}

for c in $CASES; do
  args=$(case_args "$c")
  dir="$BENCH_TMP/run/causerie"
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cp "$(causerie_template "$SCHOOL")/data/"causerie.db* "$dir/data/"
  causerie_config "$dir"
  cg="$BENCH_TMP/instructions-$c"
  rm -f "$cg".*
  (
    raise_nofile
    exec valgrind --tool=callgrind --callgrind-out-file="$cg.%p" \
      "$CAUSERIE_BIN" --config "$dir/causerie.toml" serve >"$dir/server.log" 2>&1
  ) &
  SERVER_PID=$!
  wait_port "$CAUSERIE_PORT" 300
  port=$CAUSERIE_PORT
  [[ " $args " != *" --tls direct "* ]] || port=$CAUSERIE_TLS_PORT
  # shellcheck disable=SC2086
  "$BENCH_BIN" --max-secs 1200 $args --n "$N" --concurrency 20 --login-timeout 300 \
    --port "$port" --server-pid "$SERVER_PID" --label causerie --password "$PASSWORD" \
    --prefix "$PREFIX" >"$cg.json" 2>"$cg.log" &
  gen=$!
  # A phone's case logs every account in once first (tokens, tickets, stream ids): the
  # count starts when the generator says its warm-up is done.
  if [[ " $args " == *" --fast "* ]] || [[ $c == resume* ]]; then
    until grep -q "^fast:\|^warm:" "$cg.log" 2>/dev/null; do
      kill -0 "$gen" 2>/dev/null || break
      sleep 0.2
    done
  fi
  callgrind_control -z "$SERVER_PID" >/dev/null
  wait "$gen" || true
  callgrind_control -d "$SERVER_PID" >/dev/null
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  dump=$(ls "$cg".*.1)
  callgrind_annotate --inclusive=yes "$dump" >"$cg.txt" 2>/dev/null
  python3 - "$c" "$cg.json" "$cg.txt" "$PARTS" "$CAUSERIE_BIN" <<'PYEOF' | tee -a "$OUT/instructions.jsonl"
import json, re, subprocess, sys
case, gen_path, annotate, parts, binary = sys.argv[1:6]
gen = json.load(open(gen_path))
ok = gen.get("ok", 0)
text = open(annotate).read()
total = int(re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text, re.M).group(1).replace(",", ""))
def inclusive(name):
    best = 0
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \(", line)
        if m and name in line:
            best = max(best, int(m.group(1).replace(",", "")))
    return best
per = lambda x: round(x / ok) if ok else None
out = {
    "case": case,
    "binary": binary,
    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "logins": ok,
    "errors": gen.get("errors"),
    "instructions_per_login": per(total),
    "parts_per_login": {k: per(inclusive(v)) for k, v in json.loads(parts).items()},
}
print(json.dumps(out))
PYEOF
done
