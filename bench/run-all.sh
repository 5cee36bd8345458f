#!/usr/bin/env bash
# The side-by-side benchmark: Causerie, Prosody and ejabberd on this machine, the
# same scenarios at the same sizes, each server freshly started for every run,
# RUNS runs each (medians and spread in the report). Then Causerie with TLS.
# Causerie is measured twice: `causerie`, its accounts directory users of a generated
# school under the default rules (what a school runs), and `causerie_plain`, plain
# accounts that the rules do not concern; the difference is what the rules cost.
#
#   bench/run-all.sh            # the full run (about 40 minutes on 2 cores)
#   bench/run-all.sh --quick    # tiny sizes, one run: checks that everything works
#
# Results: bench/results/results.jsonl (one line per run), bench/results/meta.txt
# (machine, versions, load), and the tables of BENCHMARKS.md (bench/report.py).
# Environment: RUNS, SERVERS, and the sizes below can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

if [ "$QUICK" = 1 ]; then
  RUNS=${RUNS:-1}
  LOGIN_N=${LOGIN_N:-200} IDLE_N=${IDLE_N:-300} PAIRS=${PAIRS:-20} DURATION=${DURATION:-3}
  RATE=${RATE:-2000} STORM_N=${STORM_N:-300} STORM_T=${STORM_T:-3} IDLE_MAX_N=${IDLE_MAX_N:-0}
  ROOMS=${ROOMS:-2} MUC_RATE=${MUC_RATE:-60}
  BENCH_TMP=${BENCH_TMP_QUICK:-/dev/shm/causerie-bench-quick}
else
  RUNS=${RUNS:-3}
  LOGIN_N=${LOGIN_N:-2000} IDLE_N=${IDLE_N:-5000} PAIRS=${PAIRS:-100} DURATION=${DURATION:-10}
  RATE=${RATE:-10000} STORM_N=${STORM_N:-10000} STORM_T=${STORM_T:-10}
  IDLE_MAX_N=${IDLE_MAX_N:-19000}
  ROOMS=${ROOMS:-10} MUC_RATE=${MUC_RATE:-300}
fi
LOGIN_C=${LOGIN_C:-50}
WINDOW=${WINDOW:-10}
# causerie_open (the school with [policy] mode = "open") is a diagnostic column that can be
# added to SERVERS; it is not in the default run (see BENCHMARKS.md, Method).
SERVERS=${SERVERS:-"causerie causerie_plain prosody ejabberd"}
OUT=${OUT:-bench/results}
# The rooms (30 consecutive accounts) and the chat pairs must each be one class of the
# school, where the rules allow the traffic (crates/bench/src/provision.rs, School).
if ((CLASS_SIZE % 30 != 0)); then
  log "CLASS_SIZE must be a multiple of 30 (the rooms' size), not $CLASS_SIZE"
  exit 1
fi
ACCOUNTS=$(printf '%s\n' "$LOGIN_N" "$IDLE_N" "$((PAIRS * 2))" "$STORM_N" "$((ROOMS * 30))" | sort -n | tail -1)
CASE_TIMEOUT=${CASE_TIMEOUT:-400}

mkdir -p "$OUT" "$BENCH_TMP"
RESULTS="$OUT/results.jsonl"
META="$OUT/meta.txt"
# A quick run leaves the full run's results and conditions alone.
if [ "$QUICK" = 1 ]; then
  RESULTS="$OUT/quick.jsonl"
  META="$OUT/quick-meta.txt"
fi
[ "${FIRST_RUN:-1}" -gt 1 ] || : >"$META"
# FIRST_RUN=K resumes an interrupted run at run K, appending to the results.
FIRST_RUN=${FIRST_RUN:-1}
[ "$FIRST_RUN" -gt 1 ] || : >"$RESULTS"

SERVER_PID=""
CURRENT=""
cleanup() {
  if [ -n "$CURRENT" ]; then "${CURRENT}_stop" || true; fi
  # An ejabberd left by a failed provisioning step.
  if [ -n "$(ejabberd_pid)" ]; then
    ejabberd_halt "$BENCH_TMP/template/ejabberd-$ACCOUNTS" || true
  fi
}
trap cleanup EXIT

has_server() { [[ " $SERVERS " == *" $1 "* ]]; }
if has_server prosody || has_server ejabberd; then
  log "installing the peers when missing"
  bench/install-peers.sh >&2
fi
log "building Causerie and the generator (release)"
# SKIP_BUILD=1 keeps the binaries already built (a resumed run measures the same ones).
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p causerie -p causerie-bench >&2
raise_nofile
make_cert

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ) (from run $FIRST_RUN)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc)"
  echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -r)"
  echo "causerie: $(git rev-parse --short HEAD)$(git diff --quiet || echo '+uncommitted') (release build)"
  if has_server prosody; then
    echo "prosody: $(dpkg-query -W -f='${Version}' prosody) (Lua $(lua5.4 -v 2>&1 | awk '{print $2}'))"
  fi
  if has_server ejabberd; then
    echo "ejabberd: $(dpkg-query -W -f='${Version}' ejabberd) (Erlang/OTP $(erl -noshell -eval 'io:put_chars(erlang:system_info(otp_release)), halt().'))"
  fi
  echo "servers: $SERVERS"
  echo "causerie accounts: directory users of a generated school (classes of $CLASS_SIZE, $CLASSES_PER_STRUCTURE classes per collège, default rules); causerie_plain and the peers: plain accounts, rosters of $CONTACTS"
  echo "open files limit: $(ulimit -n)"
  echo "sizes: login $LOGIN_N at concurrency $LOGIN_C; idle $IDLE_N; chat $PAIRS pairs window $WINDOW for ${DURATION}s, fixed rate $RATE/s; storm $STORM_N in ${STORM_T}s; rooms $ROOMS of 30, fixed rate $MUC_RATE posts/s; idle max $IDLE_MAX_N; runs $RUNS"
  echo "load before: $(cat /proc/loadavg)"
  echo "top before:"
  top -b -n 1 -o %CPU | sed -n '7,14p'
} >>"$META"

for s in $SERVERS; do "${s}_provision" "$ACCOUNTS"; done
if [ "$IDLE_MAX_N" -gt 0 ] && has_server causerie && { [ -z "${CASES:-}" ] || [[ " $CASES " == *" idle_max_tls "* ]]; }; then
  causerie_provision "$IDLE_MAX_N"
fi

# One measured run: start the server fresh, run the generator, stop the server.
measure() { # server, case, run, accounts, generator args...
  local server=$1 case=$2 run=$3 accounts=$4
  shift 4
  CURRENT=$server
  "${server}_start" "$accounts"
  local load json
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  log "$case / $server / run $run (load $load)"
  # A direct-TLS case (XEP-0368) connects to the server's TLS port.
  local port=$PORT
  [[ " $* " != *" --tls direct "* ]] || port=$TLS_PORT
  json=$(timeout "$CASE_TIMEOUT" "$BENCH_BIN" --max-secs $((CASE_TIMEOUT - 20)) "$@" \
    --port "$port" --server-pid "$SERVER_PID" --label "$server" --password "$PASSWORD" \
    --prefix "$PREFIX") || json='{"failed":true}'
  [ -n "$json" ] || json='{"failed":true}'
  printf '{"case":"%s","server":"%s","run":%d,"load_before":"%s","result":%s}\n' \
    "$case" "$server" "$run" "$load" "$json" >>"$RESULTS"
  "${server}_stop"
  CURRENT=""
}

# Side by side: the same mechanism for all three (SCRAM-SHA-1 is the SCRAM every
# one of them offers with hashed storage; PLAIN), without TLS, on loopback.
SIDE=(
  "login_plain|login --tls none --mech plain --n $LOGIN_N --concurrency $LOGIN_C"
  "login_scram|login --tls none --mech scram-sha-1 --n $LOGIN_N --concurrency $LOGIN_C"
  "idle|idle --tls none --mech scram-sha-1 --n $IDLE_N --concurrency $LOGIN_C"
  "chat|chat --tls none --mech scram-sha-1 --pairs $PAIRS --window $WINDOW --duration $DURATION"
  "chat_rate|chat --tls none --mech scram-sha-1 --pairs $PAIRS --window 200 --rate $RATE --duration $DURATION"
  "storm|storm --tls none --mech scram-sha-1 --n $STORM_N --within $STORM_T --login-timeout 120"
  "muc|muc --tls none --mech scram-sha-1 --rooms $ROOMS --size 30 --window 2 --duration $DURATION"
  "muc_rate|muc --tls none --mech scram-sha-1 --rooms $ROOMS --size 30 --window 100 --rate $MUC_RATE --duration $DURATION"
)
# Causerie with STARTTLS and SCRAM-SHA-256, as its clients connect.
TLS=(
  "login_tls|login --tls starttls --mech scram-sha-256 --n $LOGIN_N --concurrency $LOGIN_C"
  "login_tls_sm|login --tls starttls --mech scram-sha-256 --sm --n $LOGIN_N --concurrency $LOGIN_C"
  "login_tls_fast|login --tls starttls --mech scram-sha-256 --fast --n $LOGIN_N --concurrency $LOGIN_C"
  "login_tls_fast_sm|login --tls starttls --mech scram-sha-256 --fast --sm --n $LOGIN_N --concurrency $LOGIN_C"
  "resume_tls|resume --tls starttls --mech scram-sha-256 --tls-resume --n $LOGIN_N --concurrency $LOGIN_C"
  # A phone coming back the modern way: direct TLS (XEP-0368) from a ticket, then one
  # SASL2 <authenticate/> with its FAST token, Bind 2 (login) or <resume/> inline (resume).
  "login_direct_fast|login --tls direct --mech scram-sha-256 --tls-resume --fast --n $LOGIN_N --concurrency $LOGIN_C"
  "resume_direct_fast|resume --tls direct --mech scram-sha-256 --tls-resume --fast --n $LOGIN_N --concurrency $LOGIN_C"
  "idle_tls|idle --tls starttls --mech scram-sha-256 --n $IDLE_N --concurrency $LOGIN_C"
  "chat_tls|chat --tls starttls --mech scram-sha-256 --pairs $PAIRS --window $WINDOW --duration $DURATION"
  "chat_rate_tls|chat --tls starttls --mech scram-sha-256 --pairs $PAIRS --window 200 --rate $RATE --duration $DURATION"
  "storm_tls|storm --tls starttls --mech scram-sha-256 --n $STORM_N --within $STORM_T --login-timeout 120"
)

# CASES="chat muc" runs only those cases (a focused measurement; idle_max_tls too when listed).
wanted() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }

for ((run = FIRST_RUN; run <= RUNS; run++)); do
  for entry in "${SIDE[@]}"; do
    case_name=${entry%%|*}
    wanted "$case_name" || continue
    read -r -a args <<<"${entry#*|}"
    for s in $SERVERS; do measure "$s" "$case_name" "$run" "$ACCOUNTS" "${args[@]}"; done
  done
  for entry in "${TLS[@]}"; do
    case_name=${entry%%|*}
    wanted "$case_name" || continue
    read -r -a args <<<"${entry#*|}"
    for s in $SERVERS; do
      case $s in causerie | causerie_plain | causerie_open) measure "$s" "$case_name" "$run" "$ACCOUNTS" "${args[@]}" ;; esac
    done
  done
done

# The most connections this machine lets one process hold (open-files limit).
if [ "$IDLE_MAX_N" -gt 0 ] && has_server causerie && wanted idle_max_tls; then
  measure causerie idle_max_tls 1 "$IDLE_MAX_N" idle --tls starttls --mech scram-sha-256 \
    --n "$IDLE_MAX_N" --concurrency "$LOGIN_C" --source-ips 8
fi

echo "load after: $(cat /proc/loadavg)" >>"$META"

# The acknowledgement promise under kill -9, long (a full run only; CI runs it short).
if [ "$QUICK" = 0 ] && [ -z "${CASES:-}" ] && has_server causerie; then
  OUT="$OUT" bench/ledger.sh || log "the kill -9 ledger failed: see above"
fi
if [ "$QUICK" = 1 ] || [ -n "${CASES:-}" ]; then
  # A quick or focused run prints its tables; only a full run rewrites BENCHMARKS.md.
  python3 bench/report.py "$RESULTS" "$META"
else
  python3 bench/report.py "$RESULTS" "$META" --update BENCHMARKS.md
fi
log "done: $RESULTS"
