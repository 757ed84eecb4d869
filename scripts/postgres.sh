#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: on 127.0.0.1, on a free port, in a folder
# of its own, run as a non-root user (the server refuses root), with no durability
# (fsync off: the tests kill clients, never the server), trust authentication.
#
#   scripts/postgres.sh start [DIR]   start a cluster in DIR (default: a new folder under
#                                     /tmp); prints its DSN on stdout (also in DIR/dsn)
#   scripts/postgres.sh stop DIR      stop it and remove DIR
#
# Debian's postgresql package is installed with apt-get when no server is found (root
# only). Exits non-zero, with the reason on stderr, when no server can be had.
set -euo pipefail

find_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

install_server() {
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "postgres.sh: no PostgreSQL server found and apt-get cannot be used here" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "postgres.sh: installing Debian's postgresql package" >&2
    apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
}

# run a command as the cluster's owner: ourselves, or the postgres user when we are root
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$OWNER" -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:-}
case "$cmd" in
start)
    BIN=$(find_bin) || { install_server && BIN=$(find_bin); } || {
        echo "postgres.sh: PostgreSQL could not be installed" >&2
        exit 1
    }
    DIR=${2:-$(mktemp -d /tmp/wamd-postgres.XXXXXX)}
    mkdir -p "$DIR"
    OWNER=$(id -un)
    if [[ $(id -u) -eq 0 ]]; then
        OWNER=postgres
        id "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home "$OWNER"
        chmod 0755 "$DIR"
        chown "$OWNER" "$DIR"
    fi
    as_owner "$BIN/initdb" -D "$DIR/data" -U wamd --auth=trust -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2
        exit 1
    }
    for attempt in 1 2 3 4 5; do
        PORT=$(free_port)
        if as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null; then
            DSN="postgresql://wamd@127.0.0.1:$PORT/postgres"
            echo "$DSN" >"$DIR/dsn"
            echo "$DSN"
            exit 0
        fi
    done
    cat "$DIR/server.log" >&2 || true
    exit 1
    ;;
stop)
    DIR=${2:?usage: postgres.sh stop DIR}
    BIN=$(find_bin) || exit 0
    OWNER=$(stat -c %U "$DIR/data" 2>/dev/null || id -un)
    if [[ -f "$DIR/data/postmaster.pid" ]]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    ;;
*)
    echo "usage: postgres.sh start [DIR] | stop DIR" >&2
    exit 2
    ;;
esac
