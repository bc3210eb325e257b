#!/usr/bin/env bash
# Runs the chaos scenarios at their FULL sizes (docs/reliability.md), one after the other, and
# prints the checker's figures as a table.
#
#   tests/chaos/run.sh                 every scenario (about an hour on 2 cores)
#   tests/chaos/run.sh bridge_kill db_outage
#   SPARROW_CHAOS_SIZE=short tests/chaos/run.sh     the short sizes (what ./sparrow test runs)
#
# Scenarios: bridge_kill broker_kill db_outage slow_and_frozen reconnect_storm sync_race
#            two_devices_sync failpoints
# Environment: SPARROW_CHAOS_BUILD_DIR (default: ./build-test, the failpoint build that
# `./sparrow test` makes; built here if missing), SPARROW_CHAOS_REPORT (the report file; default
# a new file under the build dir), SPARROW_JOBS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${SPARROW_CHAOS_BUILD_DIR:-$ROOT/build-test}"
JOBS="${SPARROW_JOBS:-$(nproc 2>/dev/null || echo 2)}"
SIZE="${SPARROW_CHAOS_SIZE:-full}"

declare -A FILTER=(
  [bridge_kill]='ChaosTest.BridgeKilledRepeatedlyWhileMessagesFlow'
  [broker_kill]='ChaosTest.BrokerKilledAndRestartedWithPersistence'
  [db_outage]='ChaosTest.DatabaseStoppedAndFrozenMidStream'
  [slow_and_frozen]='ChaosTest.SlowConsumerAndFrozenClientProcess'
  [reconnect_storm]='ChaosTest.ReconnectStormOfAllDevicesWhileMessagesFlow'
  [sync_race]='ChaosTest.SyncFromZeroRacingLiveTraffic'
  [two_devices_sync]='ChaosTest.TwoDevicesOfOneUserSyncAtOnceOneKilledMidSync'
  [failpoints]='Points/FailpointTest.*'
)
ORDER=(bridge_kill broker_kill db_outage slow_and_frozen reconnect_storm sync_race two_devices_sync
       failpoints)

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=("${ORDER[@]}")
for s in "${scenarios[@]}"; do
  [ -n "${FILTER[$s]:-}" ] || { echo "run.sh: unknown scenario '$s' (${ORDER[*]})" >&2; exit 2; }
done

if [ ! -x "$BUILD_DIR/tests/chaos/chaos_test" ]; then
  echo "run.sh: building chaos_test in $BUILD_DIR" >&2
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARROW_FAILPOINTS=ON >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS" --target chaos_test sparrow-chaos-device >/dev/null
fi

REPORT="${SPARROW_CHAOS_REPORT:-$BUILD_DIR/chaos-report-$(date +%Y%m%d-%H%M%S).txt}"
: >"$REPORT"
export SPARROW_CHAOS_REPORT="$REPORT"
if [ "$SIZE" = full ]; then export SPARROW_CHAOS_FULL=1; else unset SPARROW_CHAOS_FULL; fi

status=0
for s in "${scenarios[@]}"; do
  log="$BUILD_DIR/chaos-$s.log"
  echo "run.sh: $s ($SIZE) ... log: $log" >&2
  started=$SECONDS
  if ! "$BUILD_DIR/tests/chaos/chaos_test" --gtest_filter="${FILTER[$s]}" >"$log" 2>&1; then
    status=1
    echo "run.sh: $s FAILED after $((SECONDS - started)) s (see $log)" >&2
    grep -E 'Failure|Expected|Which is|acked_lost:|dup_displayed:|order_violations:' "$log" \
      | head -20 >&2 || true
  else
    echo "run.sh: $s passed in $((SECONDS - started)) s" >&2
  fi
done

# The table: one row per CHAOS line of the report.
awk '
  BEGIN {
    n = split("sent acked acked_lost copies_lost dup_displayed order_violations unexpected " \
              "failed_shown store_duplicate_rows store_lost receipt_mismatches receipts_missing " \
              "crash_redisplayed late seconds", cols, " ")
    printf "| scenario | size |"
    for (i = 1; i <= n; i++) printf " %s |", cols[i]
    printf " notes |\n|---|---|"
    for (i = 1; i <= n; i++) printf "---|"
    printf "---|\n"
  }
  /^CHAOS / {
    delete v; notes = ""
    for (i = 2; i <= NF; i++) {
      split($i, kv, "="); v[kv[1]] = substr($i, length(kv[1]) + 2)
    }
    known = " scenario size sent acked displayed acked_lost copies_lost dup_displayed " \
            "order_violations unexpected failed_shown failed_but_delivered unresolved " \
            "store_duplicate_rows store_seq_gaps store_lost receipt_mismatches receipts_missing " \
            "crash_redisplayed sent_while_db_down late seconds "
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (index(known, " " kv[1] " ") == 0) notes = notes (notes == "" ? "" : " ") $i
    }
    if (v["sent_while_db_down"] != "0") notes = notes " sent_while_db_down=" v["sent_while_db_down"]
    if (v["store_seq_gaps"] != "0") notes = notes " store_seq_gaps=" v["store_seq_gaps"]
    if (v["unresolved"] != "0") notes = notes " unresolved=" v["unresolved"]
    if (v["failed_but_delivered"] != "0") notes = notes " failed_but_delivered=" v["failed_but_delivered"]
    printf "| %s | %s |", v["scenario"], v["size"]
    for (i = 1; i <= n; i++) printf " %s |", v[cols[i]]
    printf " %s |\n", notes
  }' "$REPORT"
echo "run.sh: report lines in $REPORT" >&2
exit $status
