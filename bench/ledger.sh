#!/usr/bin/env bash
# The long run of the acknowledgement ledger (XEP-0198): senders with stream management
# write to an offline account, an online account and their rooms while the server is
# killed with SIGKILL again and again; every message the server acknowledged must be
# found afterwards (offline delivery, the online account's XEP-0313 archive, the room's
# archive). CI runs the same test short (tests/interop/test_sm_ledger.py); this is the
# benchmark's long run, with its figures appended to bench/results/ledger.txt.
#
#   bench/ledger.sh                       # 40 kills, 8 senders
#   KILLS=4 SENDERS=3 bench/ledger.sh     # a short run
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${KILLS:-40}
SENDERS=${SENDERS:-8}
ROUND_SECS=${ROUND_SECS:-2}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi
[ -x target/debug/causerie ] || cargo build -p causerie
line=$(CAUSERIE_LEDGER_KILLS=$KILLS CAUSERIE_LEDGER_SENDERS=$SENDERS CAUSERIE_LEDGER_ROUND_SECS=$ROUND_SECS \
  .venv/bin/python -m pytest tests/interop/test_sm_ledger.py -q -s -p no:cacheprovider --timeout 3600 2>&1 |
  tee /dev/stderr | grep '^ledger:' || true)
if [ -z "$line" ]; then
  echo "ledger: the test printed no result (see above)" >&2
  exit 1
fi
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD) $line" >>"$OUT/ledger.txt"
echo "$line"
