#!/bin/sh
# JSON micro-benchmark: skiff's ParseJson/DumpJson against nlohmann's parse/dump, in ns per byte,
# on a stored node record, a memo entry and the memoized Workflow object (~80 KB) of a home where
# bench/pipelines' dag-memo.yaml has run (see docs/design/pipelines.md, "Start-up and re-runs").
#
#   bench/json/run.sh SKIFF_HOME [BUILD_DIR]     (from the repository root, after a build)
set -eu
home=${1:?usage: bench/json/run.sh SKIFF_HOME [BUILD_DIR]}
build=${2:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db="$home/skiff.db"
sqlite3 "$db" "select data from records where collection = 'workflow-nodes'
               and length(data) between 400 and 600 limit 1" > "$dir/node-record.json"
sqlite3 "$db" "select data from records where collection = 'memoize' limit 1" > "$dir/memo-entry.json"
sqlite3 "$db" "select data from objects where kind = 'Workflow' and data like '%\"memoize\"%'
               order by length(data) desc limit 1" > "$dir/workflow.json"
for f in "$dir"/*.json; do
  [ -s "$f" ] || { echo "no document for $(basename "$f") in $db" >&2; exit 1; }
done
mimalloc=$(ls /usr/lib/x86_64-linux-gnu/libmimalloc.so 2>/dev/null || true)
g++ -std=c++20 -O3 -DNDEBUG -Isrc bench/json/json_bench.cc "$build/src/common/libskiff_common.a" \
  $(sed -n 's/^LIBYAML_LIBRARY:FILEPATH=//p' "$build/CMakeCache.txt") -lcrypto -lz -ldl -pthread \
  ${mimalloc:+"$mimalloc"} -o "$dir/json_bench"
"$dir/json_bench" "$dir/node-record.json" "$dir/memo-entry.json" "$dir/workflow.json"
