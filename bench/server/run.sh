#!/usr/bin/env bash
# `make bench` part 2: the server load benchmark on SQLite and on a throwaway PostgreSQL.
#   bench/server/run.sh build/skiff [--workflows N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skiff=${1:?usage: run.sh path/to/skiff [--workflows N]}
shift
pgdir=$(mktemp -d /var/tmp/skiff-bench-pg-XXXXXX)
trap '"$here/../../scripts/pg-test-server.sh" stop "$pgdir" >/dev/null 2>&1 || true' EXIT
url=$("$here/../../scripts/pg-test-server.sh" start "$pgdir")
/usr/bin/python3 "$here/run.py" "$skiff" --postgres "$url" "$@"
