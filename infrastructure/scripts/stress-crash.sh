#!/usr/bin/env bash
# The Kafka crash test (tests/integration/test_crash.py) run again and again under CPU load, to
# catch what shows only sometimes (issue 13: one tenant's bookings once counted twice).
# STRESS_RUNS runs (default 20), STRESS_HOGS busy processes beside it (default 2, one per core
# here); stops at the first failure and keeps its output in STRESS_LOG_DIR (default
# .data/stress). Bounded: the runs, and each run by pytest's own timeouts.
set -u
runs=${STRESS_RUNS:-20}
hogs=${STRESS_HOGS:-2}
logs=${STRESS_LOG_DIR:-.data/stress}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$logs"

pids=()
stop_hogs() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; }
trap stop_hogs EXIT
for _ in $(seq 1 "$hogs"); do
  # A busy loop that ends by itself after an hour at most.
  "$python" -c "import time; end = time.time() + 3600
while time.time() < end: pass" &
  pids+=($!)
done

passed=0
for run in $(seq 1 "$runs"); do
  log="$logs/run-$run.log"
  started=$(date +%s)
  if "$python" -m pytest -q -p no:cacheprovider tests/integration/test_crash.py >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "run $run/$runs: passed in $(( $(date +%s) - started )) s"
  else
    echo "run $run/$runs: FAILED in $(( $(date +%s) - started )) s, see $log"
    tail -n 40 "$log"
    echo "$passed passed, 1 failed"
    exit 1
  fi
done
echo "$passed passed, 0 failed"
