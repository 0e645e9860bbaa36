#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback for the tests and for trying workers out.
#
#   scripts/postgres-cluster.sh start DIR   initdb into DIR (if new), start on a free port,
#                                          print the URL (postgres://sinkstream:…@127.0.0.1:PORT/sinkstream)
#   scripts/postgres-cluster.sh start DIR --tls
#                                          the same, TLS only (a self-signed certificate, hostssl
#                                          in pg_hba.conf; the URL says sslmode=require)
#   scripts/postgres-cluster.sh restart DIR restart it (same port; clients see their connections drop)
#   scripts/postgres-cluster.sh stop DIR    stop it (the directory stays; rm -rf it yourself)
#   scripts/postgres-cluster.sh url DIR     print the URL of a started cluster
#
# The server listens on 127.0.0.1 only, its unix socket lives in DIR. Run as root, the
# server runs as the `postgres` user (created by Debian's postgresql package; setup.sh).
set -euo pipefail
bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$bin/initdb" ] || { echo "postgres-cluster: no PostgreSQL server binaries (install the postgresql package: scripts/setup.sh)" >&2; exit 1; }
cmd="${1:-}"; dir="${2:-}"; tls="${3:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|url DIR [--tls]" >&2; exit 64; }
[ -z "$tls" ] || [ "$tls" = "--tls" ] || { echo "usage: $0 start DIR [--tls]" >&2; exit 64; }
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
password="sinkstream-test"
case "$cmd" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        printf '%s\n' "$password" > "$dir/pwfile"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pwfile"
        as_owner "$bin/initdb" -D "$dir/data" -U sinkstream --pwfile="$dir/pwfile" \
            --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        rm -f "$dir/pwfile"
        if [ -n "$tls" ]; then
            # TLS only: a self-signed certificate, and loopback TCP sessions must use TLS.
            command -v openssl >/dev/null || { echo "postgres-cluster: --tls needs openssl (scripts/setup.sh)" >&2; exit 1; }
            openssl req -new -x509 -days 7 -nodes -subj "/CN=sinkstream-test" \
                -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1
            chmod 600 "$dir/data/server.key"
            [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data/server.key" "$dir/data/server.crt"
            sed -i 's/^host\([[:space:]]\+all[[:space:]]\+all[[:space:]]\+127\.0\.0\.1\/32\)/hostssl\1/' "$dir/data/pg_hba.conf"
            echo "ssl = on" >> "$dir/data/postgresql.conf"
            touch "$dir/tls"
        fi
    fi
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # The server must not inherit our descriptors beyond 0-2: a caller that learns of our exit
    # from a descriptor closing (Foundation's Process does, with a socket it passes every child)
    # would otherwise wait for the server to stop, i.e. forever.
    (
        for fd in /proc/self/fd/*; do
            fd="${fd##*/}"
            [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ] && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec </dev/null
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null 2>&1
    ) || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" > "$dir/port"
    mode=disable; [ -f "$dir/tls" ] && mode=require
    PGPASSWORD="$password" PGSSLMODE="$mode" "$bin/psql" -h 127.0.0.1 -p "$port" -U sinkstream -d postgres -qAt \
        -c "CREATE DATABASE sinkstream" >/dev/null
    echo "postgres://sinkstream:$password@127.0.0.1:$port/sinkstream?sslmode=$mode"
    ;;
url)
    mode=disable; [ -f "$dir/tls" ] && mode=require
    echo "postgres://sinkstream:$password@127.0.0.1:$(cat "$dir/port")/sinkstream?sslmode=$mode"
    ;;
restart)
    # Same port and options (pg_ctl keeps them in postmaster.opts); descriptors closed as in start.
    (
        for fd in /proc/self/fd/*; do
            fd="${fd##*/}"
            [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ] && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec </dev/null
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null 2>&1
    ) || { cat "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
*)
    echo "usage: $0 start|restart|stop|url DIR" >&2; exit 64
    ;;
esac
