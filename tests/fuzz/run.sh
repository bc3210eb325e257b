#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz/ (README.md) and reports what each did.
#
#   tests/fuzz/run.sh [--executions N] [--jobs J] [--add-seeds K] [target...]
#
#   --executions N  libFuzzer -runs per target (default 10000000)
#   --jobs J        targets fuzzed at the same time, one process each (default 1)
#   --add-seeds K   afterwards, merge into the committed seeds (corpus/<target>/) at most K of
#                   the smallest new inputs (<= 512 bytes) that add coverage (default 0)
#   target          decode_up decode_down token acl (default: all)
#
# Configures and builds a clang-14 build with ASan+UBSan and libFuzzer in build-fuzz/
# (SPARROW_FUZZ_BUILD_DIR), fuzzes each target on a scratch copy of its seeds (the committed
# corpus does not grow), and prints per target: executions, exec/s, coverage (cov/ft of
# libFuzzer's last line), wall time, crashes. A crash, timeout or OOM input is copied to
# tests/fuzz/crashes/<target>/ and the script exits 1: fix the bug, add a unit test beside the
# code, keep the input (fuzz_regression_test replays it from then on).
#
# Environment: SPARROW_FUZZ_BUILD_DIR, SPARROW_JOBS (build jobs, default 2), CC/CXX (clang-14),
# FUZZ_TIMEOUT (seconds per input before it counts as a hang, default 10).
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/../.." && pwd)"
BUILD_DIR="${SPARROW_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
BUILD_JOBS="${SPARROW_JOBS:-2}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
ALL_TARGETS=(decode_up decode_down token acl)

say() { printf 'fuzz: %s\n' "$*"; }
die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 2; }

max_len_of() {  # the -max_len of a target: frames 4096, tokens 1024, ACL lines 512
  case "$1" in
    decode_up | decode_down) echo 4096 ;;
    token) echo 1024 ;;
    acl) echo 512 ;;
  esac
}

EXECUTIONS=10000000
JOBS=1
ADD_SEEDS=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --executions) EXECUTIONS=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --add-seeds) ADD_SEEDS=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [ -n "$(max_len_of "$1")" ] || die "unknown target '$1' (known: ${ALL_TARGETS[*]})"
      TARGETS+=("$1"); shift ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
[[ "$EXECUTIONS" =~ ^[0-9]+$ && "$JOBS" =~ ^[1-9][0-9]*$ && "$ADD_SEEDS" =~ ^[0-9]+$ ]] \
  || die "--executions, --jobs and --add-seeds take numbers"

# ---- build ----
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  say "configuring $BUILD_DIR (clang-14, ASan+UBSan, libFuzzer)"
  # Every library is instrumented for coverage (fuzzer-no-link) and the sanitizers; only the
  # fuzz binaries link libFuzzer itself (tests/fuzz/CMakeLists.txt).
  mkdir -p "$BUILD_DIR"
  CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}" cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPARROW_FUZZ=ON "-DSPARROW_SANITIZE=address;undefined" \
    "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -Wno-unknown-warning-option" \
    "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link -Wno-unknown-warning-option" \
    -DSPARROW_BUILD_BENCH=OFF >"$BUILD_DIR/configure.log" 2>&1 \
    || { cat "$BUILD_DIR/configure.log" >&2; die "cmake configure failed"; }
fi
say "building ${TARGETS[*]/#/fuzz_}"
if ! cmake --build "$BUILD_DIR" -j "$BUILD_JOBS" --target "${TARGETS[@]/#/fuzz_}" \
    >"$BUILD_DIR/fuzz-build.log" 2>&1; then
  grep -E 'error|FAILED' "$BUILD_DIR/fuzz-build.log" | head -30 >&2
  die "build failed (log: $BUILD_DIR/fuzz-build.log)"
fi

# ---- fuzz ----
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sparrow-fuzz.XXXXXX")"
LOG_DIR="$BUILD_DIR/fuzz-logs"
mkdir -p "$LOG_DIR"
declare -A PID_OF=()   # target -> pid of its fuzzer
declare -A START_OF=() # target -> $SECONDS at start
declare -A WALL_OF=()  # target -> wall seconds
declare -A RC_OF=()    # target -> exit code

cleanup() {
  local target
  for target in "${!PID_OF[@]}"; do kill "${PID_OF[$target]}" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_target() {
  local target=$1 dir="$WORK/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp "$FUZZ_DIR/corpus/$target/"* "$dir/corpus/"
  say "start $target: -runs=$EXECUTIONS -max_len=$(max_len_of "$target") (log: $LOG_DIR/$target.log)"
  "$BUILD_DIR/tests/fuzz/fuzz_$target" -runs="$EXECUTIONS" -max_len="$(max_len_of "$target")" \
    -timeout="$TIMEOUT" -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$LOG_DIR/$target.log" 2>&1 &
  PID_OF[$target]=$!
  START_OF[$target]=$SECONDS
}

finish_one() {  # waits for any running fuzzer and records how it ended
  local pid rc=0 target
  wait -n -p pid "${PID_OF[@]}" || rc=$?
  for target in "${!PID_OF[@]}"; do
    [ "${PID_OF[$target]}" = "$pid" ] || continue
    RC_OF[$target]=$rc
    WALL_OF[$target]=$((SECONDS - START_OF[$target]))
    unset "PID_OF[$target]"
    say "done $target (exit $rc, $((WALL_OF[$target])) s)"
  done
}

for target in "${TARGETS[@]}"; do
  while [ ${#PID_OF[@]} -ge "$JOBS" ]; do finish_one; done
  start_target "$target"
done
while [ ${#PID_OF[@]} -gt 0 ]; do finish_one; done

# ---- report ----
stat_of() {  # stat_of TARGET NAME: a -print_final_stats value
  sed -n "s/^stat::$2: *//p" "$LOG_DIR/$1.log" | tail -1
}
FAILED=0
printf '\n%-12s %12s %8s %8s %8s %8s %8s\n' target executions exec/s cov ft time_s crashes
for target in "${TARGETS[@]}"; do
  log="$LOG_DIR/$target.log"
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  crashes=0
  for file in "$WORK/$target/artifacts/"*; do
    [ -f "$file" ] || continue
    case "$(basename "$file")" in
      crash-* | leak-* | timeout-* | oom-*)
        mkdir -p "$FUZZ_DIR/crashes/$target"
        cp "$file" "$FUZZ_DIR/crashes/$target/"
        say "$target: saved tests/fuzz/crashes/$target/$(basename "$file")"
        crashes=$((crashes + 1)) ;;
    esac
  done
  if [ "${RC_OF[$target]}" != 0 ] && [ $crashes -eq 0 ]; then crashes="?"; fi
  [ "${RC_OF[$target]}" = 0 ] || FAILED=1
  printf '%-12s %12s %8s %8s %8s %8s %8s\n' "$target" "$(stat_of "$target" number_of_executed_units)" \
    "$(stat_of "$target" average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "${WALL_OF[$target]}" \
    "$crashes"
done

# ---- optional: a few new seeds ----
if [ "$ADD_SEEDS" -gt 0 ] && [ $FAILED = 0 ]; then
  for target in "${TARGETS[@]}"; do
    merged="$WORK/$target/merged"
    mkdir -p "$merged"
    cp "$FUZZ_DIR/corpus/$target/"* "$merged/"
    before="$(ls "$merged" | sort)"
    # -merge=1 copies into $merged only the inputs that add coverage to what it holds.
    "$BUILD_DIR/tests/fuzz/fuzz_$target" -merge=1 -max_len="$(max_len_of "$target")" \
      "$merged" "$WORK/$target/corpus" >"$LOG_DIR/$target.merge.log" 2>&1
    comm -13 <(echo "$before") <(ls "$merged" | sort) | while read -r name; do
      size=$(stat -c %s "$merged/$name")
      [ "$size" -le 512 ] && echo "$size $name"
    done | sort -n | head -n "$ADD_SEEDS" | while read -r _ name; do
      cp "$merged/$name" "$FUZZ_DIR/corpus/$target/fuzz-${name:0:12}"
      say "$target: new seed tests/fuzz/corpus/$target/fuzz-${name:0:12}"
    done
  done
fi

if [ $FAILED != 0 ]; then
  say "FAILED: a target crashed (inputs in tests/fuzz/crashes/; logs in $LOG_DIR)"
  exit 1
fi
say "no crash (logs in $LOG_DIR)"
