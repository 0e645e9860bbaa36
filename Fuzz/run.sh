#!/usr/bin/env bash
# Builds the libFuzzer harness (ASan + fuzzer instrumentation) and runs one target for a
# bounded time.
#
#   Fuzz/run.sh gguf|tokenizer SECONDS [extra libFuzzer flags…]
#
# Corpus: Fuzz/corpus/TARGET (grown by libFuzzer, seeded on first run: GGUF seeds are written
# by the target itself from GGUFWriter, tokenizer seeds come from fixtures/tokenizer_cases.json
# plus edge cases). Crashes go to Fuzz/crashes/TARGET. Neither folder is committed; a crash
# that was fixed becomes a regression test in Tests/GGUFTests or Tests/TokenizationTests.
# The tokenizer target uses the real model's vocabulary when the model is present
# (SINKSTREAM_MODEL or ~/.cache/sinkstream/models/…), else the tiny test vocabulary.
# Runs under `nice`; the log goes to Fuzz/logs/TARGET.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:?usage: run.sh gguf|tokenizer SECONDS}"
seconds="${2:?usage: run.sh gguf|tokenizer SECONDS}"
shift 2
case "$target" in
  gguf) product=FuzzGGUF ;;
  tokenizer) product=FuzzTokenizer ;;
  *) echo "unknown target '$target' (gguf or tokenizer)" >&2; exit 2 ;;
esac
scratch="$here/.build-fuzz"
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
(cd "$here" && nice swift build "${flags[@]}" --product "$product")
binary="$(cd "$here" && swift build "${flags[@]}" --show-bin-path)/$product"

corpus="$here/corpus/$target"
crashes="$here/crashes/$target"
mkdir -p "$corpus" "$crashes" "$here/logs"
if [ -z "$(ls -A "$corpus")" ]; then
  case "$target" in
    gguf) SINKSTREAM_FUZZ_WRITE_SEEDS="$corpus" "$binary" ;;
    tokenizer) python3 "$here/make_tokenizer_seeds.py" "$here/../fixtures/tokenizer_cases.json" "$corpus" ;;
  esac
fi
SWIFT_BACKTRACE=enable=no nice "$binary" "$corpus" -artifact_prefix="$crashes/" -max_total_time="$seconds" \
  -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 "$@" 2>&1 | tee "$here/logs/$target.log" | grep -E "^#[0-9]+[[:space:]]+(INITED|DONE|pulse)|==ERROR|FUZZ INVARIANT|stat::|SUMMARY" || true
exit "${PIPESTATUS[0]}"
