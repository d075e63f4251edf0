#!/usr/bin/env bash
# Builds the libFuzzer targets (Tests/Fuzz/<name>/main.swift, one per parser) with
# ASan and coverage and runs each for SECONDS over its seed corpus
# (Tests/Fuzz/<name>/corpus, kept in the repo; new inputs libFuzzer finds go to a scratch
# corpus under .build-fuzz, not into the repo). A crash fails the run and leaves its
# input as .build-fuzz/crashes/<name>-crash-*: make it a regression test.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s each, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(HTTP Router JSON SSHConfig KnownHosts Ledger Detection KeyFile)
export RVIEWER_FUZZ=1
# ASan and libFuzzer's coverage for every module; the targets link libFuzzer (Package.swift).
flags=(--build-path .build-fuzz -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
       -Xswiftc -use-ld=lld)
for t in "${targets[@]}"; do
  "$SWIFT" build "${flags[@]}" --product "Fuzz$t" >/dev/null
done
bin=$("$SWIFT" build "${flags[@]}" --show-bin-path)
mkdir -p .build-fuzz/crashes
for t in "${targets[@]}"; do
  scratch=.build-fuzz/corpus/$t
  mkdir -p "$scratch"
  echo "fuzz: $t for ${seconds}s"
  "$bin/Fuzz$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=".build-fuzz/crashes/$t-" "$scratch" "Tests/Fuzz/$t/corpus" 2>&1 | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" || true
  if ls .build-fuzz/crashes/"$t"-* >/dev/null 2>&1; then
    echo "fuzz: $t crashed; inputs in .build-fuzz/crashes/" >&2
    exit 1
  fi
done
echo "fuzz: no crash in ${#targets[@]} target(s)"
