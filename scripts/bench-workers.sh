#!/usr/bin/env bash
# Measures the PostgreSQL work queue on this machine (numbers for the README and the notes):
#   1. throughput over the integration test's 6 documents: 2 workers x 1 thread against
#      1 worker x 2 threads (each twice, interleaved);
#   2. checkpoint overhead of one long score run against PostgreSQL at the default interval,
#      against the same run with checkpoints off (only the final one) and against SQLite.
#
#   scripts/bench-workers.sh URL [DOCUMENT]
#
# URL: a PostgreSQL database the script may create databases from (scripts/postgres-cluster.sh
# start DIR prints one). DOCUMENT: the long document of part 2 (default: Hamlet, via
# scripts/fetch-document.sh). Needs a release build (swift build -c release).
set -euo pipefail
cd "$(dirname "$0")/.."
url="${1:?usage: $0 URL [DOCUMENT]}"
long="${2:-$(scripts/fetch-document.sh)}"
bin="$(swift build -c release --show-bin-path)/sinkstream"
work="$(mktemp -d "${TMPDIR:-/tmp}/sinkstream-benchw.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME="$work/data"
psql_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql"
libpq="${url/postgres:\/\//postgresql://}"
fresh() {  # a new database, its URL on stdout
    local name="bench_$(date +%s%N | tail -c 9)"
    "$psql_bin" "$libpq" -qAtc "CREATE DATABASE $name" >/dev/null
    python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$url" "$name"
}
# The integration test's documents (Tests/CLITests/PostgresWorkerTests.swift).
python3 - "$work" <<'PY'
import json, sys
text = json.load(open("fixtures/golden_A.json"))["text"]
sentences = [s for s in text.split(". ") if s]
for i in range(6):
    shift = (i * 7) % len(sentences)
    rotated = sentences[shift:] + sentences[:shift]
    out, k = "", 0
    while len(out.encode()) < 13000:
        out += rotated[k % len(rotated)] + ". "; k += 1
    open(f"{sys.argv[1]}/doc{i}.txt", "w").write(out)
PY
quiet() { while [ -e /work/notes/QUIET.lock ]; do sleep 20; done; }

echo "== 1. six documents: 2 workers x 1 thread vs 1 worker x 2 threads"
for round in 1 2; do
    for shape in "2x1" "1x2"; do
        quiet
        db="$(fresh)"
        "$bin" submit "$work"/doc*.txt --db "$db" --quiet >/dev/null
        start=$(date +%s.%N)
        if [ "$shape" = "2x1" ]; then
            "$bin" worker --db "$db" --threads 1 --idle-exit 1 --poll 0.2 --quiet & p1=$!
            "$bin" worker --db "$db" --threads 1 --idle-exit 1 --poll 0.2 --quiet & p2=$!
            wait $p1 $p2
        else
            "$bin" worker --db "$db" --threads 2 --idle-exit 1 --poll 0.2 --quiet
        fi
        end=$(date +%s.%N)
        tokens=$("$psql_bin" "${db/postgres:\/\//postgresql://}" -qAtc "SELECT sum(tokens) FROM run WHERE status = 'completed'")
        python3 -c "import sys; s=$end-$start-1.0; print(f'round $round $shape: {int(\"$tokens\")} tokens in {s:.2f} s (idle exit excluded) = {int(\"$tokens\")/s:.0f} tokens/s')"
    done
done

echo "== 2. checkpoint overhead, one score run of 40,000 tokens, 2 threads"
for round in 1 2; do
    for how in pg-default pg-off sqlite-default; do
        quiet
        case "$how" in
            pg-default) db="$(fresh)"; extra=(--keep-cache) ;;
            pg-off) db="$(fresh)"; extra=(--checkpoint-every 0 --checkpoint-seconds 0) ;;
            sqlite-default) db="$work/s$round.sqlite"; extra=() ;;
        esac
        out="$("$bin" score "$long" --tokens 40000 --threads 2 --db "$db" --format json --quiet "${extra[@]}")"
        python3 -c "import json,sys; o=json.loads(sys.argv[1]); print(f\"round $round $how: {o['scored']} tokens in {o['seconds']:.2f} s = {o['tokens_per_second']:.0f} tokens/s\")" "$out"
        if [ "$how" = pg-default ]; then
            "$psql_bin" "${db/postgres:\/\//postgresql://}" -qAtc \
                "SELECT 'stored K/V bytes of the final checkpoint: ' || sum(length(data)) || ' in ' || count(*) || ' blocks; losses: ' || (SELECT sum(length(nll) + length(byteOffsets)) FROM nll_block) FROM kv_block"
        fi
    done
done
