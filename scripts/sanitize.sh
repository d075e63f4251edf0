#!/usr/bin/env bash
# The whole test suite against a build under a sanitizer: the test bundle and the
# daemon binary the integration tests start are both built with it (their own build
# path), so every request the tests make runs through instrumented code.
#   scripts/sanitize.sh address|thread [TEST FILTER...]
# A report makes the process exit non-zero (halt_on_error), which fails the test that
# saw it; the reports land in the daemon's stderr and the bundle's output.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
kind=${1:?usage: scripts/sanitize.sh address|thread [filter]}
shift
case "$kind" in
  address) short=asan; export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=0:abort_on_error=0} ;;
  thread) short=tsan; export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} ;;
  *) echo "sanitize: address or thread, not '$kind'" >&2; exit 2 ;;
esac
export RVIEWER_BUILD_FLAGS="--build-path .build-$short -Xswiftc -sanitize=$kind -Xcc -fsanitize=$kind"
# A sanitized build is slower: give the suite more time.
export RVIEWER_TEST_TIMEOUT=${RVIEWER_TEST_TIMEOUT:-7200}
read -r -a flags <<< "$RVIEWER_BUILD_FLAGS"
"$SWIFT" build --build-tests "${flags[@]}"
SWIFT=$SWIFT scripts/run-tests.sh "$@"
