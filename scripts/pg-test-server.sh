#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests (the PostgreSQL `Store`'s test suite runs against it).
#
#   scripts/pg-test-server.sh start DIR   # prints postgresql://postgres@127.0.0.1:PORT/skiff
#   scripts/pg-test-server.sh stop DIR    # stops the server and removes DIR
#
# `start` creates a cluster in DIR/data (trust authentication, fsync off, TCP on 127.0.0.1 only,
# a free high port, no Unix socket), starts it, creates the database `skiff` and prints its URL
# (also kept in DIR/url). Starting a running cluster prints the URL again. `stop` on a directory
# that holds no running cluster just removes it. Run as root, the server runs as the `postgres`
# user (initdb and postgres refuse root); otherwise as the caller.
#
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
prog=$(basename "$0")

die() {
  echo "$prog: $*" >&2
  exit 1
}

usage() {
  echo "usage: $prog start DIR | stop DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

# The server's user: postgres when we are root.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$dir/data/postmaster.pid" ] && as_server "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  [ -x "$PG_BIN/postgres" ] || die "no PostgreSQL server in $PG_BIN (apt-get install postgresql, or set PG_BIN)"
  if running && [ -s "$dir/url" ]; then
    cat "$dir/url"
    return
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as (install postgresql)"
    chown postgres: "$dir"
    as_server test -w "$dir" ||
      die "user postgres cannot write $dir (is a parent directory closed to other users?)"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    as_server "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
      die "initdb failed (see $dir/initdb.log): $(tail -n 3 "$dir/initdb.log")"
  fi
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_server "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      break
    fi
    # Most likely someone took the port between our probe and the server's bind: try another.
    port=""
  done
  [ -n "$port" ] || die "the server did not start (see $dir/server.log): $(tail -n 3 "$dir/server.log")"
  local base="postgresql://postgres@127.0.0.1:$port"
  if ! "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$base/postgres" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'skiff'" | grep -q 1; then
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$base/postgres" -c "CREATE DATABASE skiff" >/dev/null ||
      die "creating the database skiff failed"
  fi
  echo "$base/skiff" >"$dir/url"
  cat "$dir/url"
}

stop() {
  [ -e "$dir" ] || return 0
  # Only ever remove what `start` made.
  local extra
  extra=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name data ! -name url ! -name initdb.log \
    ! -name server.log -print -quit)
  [ -z "$extra" ] || die "$dir holds $extra, which start did not make; not removing it"
  if [ -d "$dir/data" ] && running; then
    as_server "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      die "pg_ctl stop failed for $dir/data"
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
