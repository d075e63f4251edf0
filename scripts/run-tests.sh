#!/usr/bin/env bash
# Runs the built XCTest bundle directly (no second SwiftPM planning step), with its
# output line-buffered so a log always ends at the test that is running, and under a
# time bound so a hang fails the run with a message instead of eating CI's budget.
#   RVIEWER_TEST_TIMEOUT  seconds for the whole suite (default 2400; it takes ~2-5 min)
#   RVIEWER_BUILD_FLAGS   extra `swift build` flags (scripts/sanitize.sh: a build path and a sanitizer)
#   extra arguments go to the bundle (e.g. a test filter: IntegrationTests.ForwardTests)
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
read -r -a flags <<< "${RVIEWER_BUILD_FLAGS:-}"
bin=$("$SWIFT" build --build-tests "${flags[@]}" --show-bin-path)
bundle=$(ls -d "$bin"/*PackageTests.xctest | head -n1)
limit=${RVIEWER_TEST_TIMEOUT:-2400}
set +e
timeout -k 30 "$limit" stdbuf -oL -eL "$bundle" "$@" </dev/null
rc=$?
set -e
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
  echo "run-tests: the suite did not finish within ${limit}s; the test running then is the last one started above" >&2
fi
exit $rc
