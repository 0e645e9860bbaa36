#!/usr/bin/env bash
# Runs the test suite under a sanitizer, in its own scratch folder (.build-asan / .build-tsan)
# so the normal build is untouched.
#
#   scripts/sanitize.sh address   # AddressSanitizer: the whole suite, real-model suites included
#   scripts/sanitize.sh thread    # ThreadSanitizer: everything except the real-model golden suites
#
# Both build optimized (-c release, testing enabled, as scripts/test.sh does): the kernels are
# compiled -Ounchecked anyway, and a debug build would make the real-model suites take minutes.
#
# Under ThreadSanitizer the suites that run the real 135M model over the golden documents
# (GoldenDenseTests, GenerationTests, GoldenModeTests, RealModelTests, the tokenizer golden and
# benchmark suites) are skipped: they would run 5–15× slower and exercise no concurrency the
# small suites do not. The thread pool is covered by KernelsTests/ThreadPoolTests (many short
# back-to-back jobs, creation and teardown) and StreamingTests/ThreadedScoringTests (whole
# forward passes of the tiny model with 1, 2 and 3 threads); SQLite concurrency by StoreTests.
# Extra arguments go to `swift test` (e.g. --filter ThreadPool).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
shift || true
case "$kind" in
  address)
    scratch=.build-asan
    skip=()
    extra=()
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
    ;;
  thread)
    scratch=.build-tsan
    skip=(--skip 'GoldenDenseTests|GenerationTests|GoldenModeTests|RealModelTests|GoldenTokenizationTests|EncodeBenchmarkTests')
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
    # The engine's decode jobs are speculative (Sources/Kernels/ThreadPool.swift): a descheduled
    # worker's item may be re-run by the dispatching thread, and the late computation then reads
    # buffers that later jobs already reuse and is discarded. ThreadSanitizer would report those
    # reads, so the engine's pools do not re-run items here; ThreadPoolTests still checks the
    # re-run protocol itself (its pools turn it on explicitly).
    extra=(-Xswiftc -DSINKSTREAM_NO_RECLAIM)
    ;;
  *)
    echo "usage: scripts/sanitize.sh address|thread [swift test arguments…]" >&2
    exit 2
    ;;
esac
# The Swift runtime's own backtracer would start while the sanitizer reports; leave it to them.
export SWIFT_BACKTRACE=enable=no
swift test -c release -Xswiftc -enable-testing "${extra[@]}" --sanitize="$kind" --scratch-path "$scratch" "${skip[@]}" "$@"
