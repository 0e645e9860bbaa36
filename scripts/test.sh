#!/usr/bin/env bash
# The test command: fetches the catalog models (once, into the per-user cache) and runs the
# whole test suite as an optimized build with testing enabled, so that tests on the real model
# take seconds. Extra arguments go to `swift test` (e.g. --filter GoldenTests).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --product sinkstream
bin="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)"
# The default model and the two other catalog models (their tokenizer and model tests use them).
for name in smollm2-135m-instruct qwen2.5-coder-0.5b-instruct gemma-3-270m; do
    "$bin/sinkstream" model fetch "$name" >/dev/null
done
# A throw-away PostgreSQL cluster on loopback for the PostgreSQL store's tests (unless
# SINKSTREAM_TEST_POSTGRES names a server, or is `off` to skip those tests).
if [ -z "${SINKSTREAM_TEST_POSTGRES:-}" ]; then
    pgdir="$(mktemp -d "${TMPDIR:-/tmp}/sinkstream-pg.XXXXXX")"
    trap 'scripts/postgres-cluster.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
    SINKSTREAM_TEST_POSTGRES="$(scripts/postgres-cluster.sh start "$pgdir")"
    export SINKSTREAM_TEST_POSTGRES
fi
swift test -c release -Xswiftc -enable-testing "$@"
