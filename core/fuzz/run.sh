#!/usr/bin/env bash
# Fuzz landopp's parsers with AFL++ (cargo-afl), one target after another.
#
#   bash core/fuzz/run.sh SECONDS [TARGET...]     # default: every target
#
# Builds the instrumented harness (target/afl), seeds each target with fixtures/fuzz/<target>/,
# and runs afl-fuzz for SECONDS with a 1 GiB memory limit (-m 1024: a bigger allocation aborts,
# which AFL records as a crash) and a 2 s hang limit. Findings are kept in
# target/afl-out/<target>/default/{crashes,hangs}; each is replayed through the harness without
# AFL so its error or panic is printed. Exits 1 if any target found a crash or hang.
# CI runs it with a short budget; the long runs (an hour a target) are the same command.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER=${1:?usage: run.sh SECONDS [TARGET...]}
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(geotiff wkb geojson flatgeobuf shapefile geopackage crs model config relief wkt)

if ! command -v cargo-afl >/dev/null 2>&1; then
  echo "==> installing cargo-afl (builds AFL++ from its bundled source)"
  cargo install --locked cargo-afl@0.18.2 >/dev/null 2>&1
  cargo afl config --build >/dev/null 2>&1 || true
fi
echo "==> building the AFL harness (target/afl)"
cargo afl build --release --locked -p landopp-fuzz --features afl --target-dir target/afl -q
BIN=target/afl/release/landopp-fuzz
REPLAY=target/afl/replay/release/landopp-fuzz

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
export AFL_SKIP_CRASHES=1 AFL_IGNORE_SEED_PROBLEMS=1
found=0
mkdir -p target/afl-out
for t in "${TARGETS[@]}"; do
  out=target/afl-out/$t
  # resume a previous run of this target if there is one
  in=fixtures/fuzz/$t
  [ -d "$out/default/queue" ] && in=-
  echo "==> afl-fuzz $t for ${SECONDS_PER}s"
  cargo afl fuzz -i "$in" -o "$out" -V "$SECONDS_PER" -m 1024 -t 2000 "$BIN" "$t" >"$out.log" 2>&1 || true
  stats=$out/default/fuzzer_stats
  if [ ! -f "$stats" ]; then
    echo "afl-fuzz did not start for $t:"; tail -20 "$out.log"; found=1; continue
  fi
  execs=$(awk -F': ' '/^execs_done/ {print $2}' "$stats")
  crashes=$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$out/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  echo "    $t: $execs executions, $crashes crashes, $hangs hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    found=1
    [ -x "$REPLAY" ] || cargo build --release --locked -p landopp-fuzz --target-dir target/afl/replay -q
    for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
      [ -f "$f" ] || continue
      echo "    replay $f:"; timeout 20 "$REPLAY" "$t" "$f" 2>&1 | tail -3 | sed 's/^/      /' || true
    done
  fi
done
exit $found
