#!/usr/bin/env bash
# The test command: fetches the default model (once, into the per-user cache) and runs the
# whole test suite as an optimized build with testing enabled, so that tests on the real model
# take seconds. Extra arguments go to `swift test` (e.g. --filter GoldenTests).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --product sinkstream
"$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/sinkstream" model fetch >/dev/null
swift test -c release -Xswiftc -enable-testing "$@"
