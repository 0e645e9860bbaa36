#!/usr/bin/env bash
# Task quality and speed against the naive baseline, on one document.
#
#   scripts/bench-tasks.sh summarize DOC [sinkstream options…]
#   scripts/bench-tasks.sh translate DOC REFERENCE LANGUAGE [sinkstream options…]
#
# Runs the task twice with the same model: as Sinkstream does it (tuned prompts, reply checks
# with one retry) and as the naive baseline (--plain-prompts: each section in a fresh context
# with the plain instruction, one attempt), then prints each run's time and the quality figures
# of summary_quality.py / translation_quality.py (set TOOLS to the folder that holds them;
# default: ../shared/tools beside the checkout). Translation needs PyPI's sacrebleu.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${TOOLS:-../shared/tools}"
task="$1"; doc="$2"; shift 2
ref=""; lang=""
if [ "$task" = translate ]; then ref="$1"; lang="$2"; shift 2; fi
bin="$(swift build -c release --show-bin-path)/sinkstream"
[ -x "$bin" ] || swift build -c release --product sinkstream
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for variant in tuned naive; do
  flags=(); [ "$variant" = naive ] && flags=(--plain-prompts)
  start=$(date +%s.%N)
  if [ "$task" = summarize ]; then
    "$bin" summarize "$doc" --db "$out/runs.sqlite" --output "$out/$variant.md" --quiet "${flags[@]}" "$@"
    figures=$(python3 "$tools/summary_quality.py" "$doc" "$out/$variant.md")
  else
    "$bin" translate "$doc" --to "$lang" --db "$out/runs.sqlite" --output "$out/$variant.txt" --quiet "${flags[@]}" "$@"
    case "$(echo "$lang" | tr 'A-Z' 'a-z')" in
      spanish) code=es ;; french) code=fr ;; german) code=de ;; *) code=es ;;
    esac
    figures=$(python3 "$tools/translation_quality.py" "$out/$variant.txt" "$ref" --source "$doc" --lang "$code")
  fi
  end=$(date +%s.%N)
  printf '%s\t%.1f s\t%s\n' "$variant" "$(echo "$end - $start" | bc)" "$figures"
done
