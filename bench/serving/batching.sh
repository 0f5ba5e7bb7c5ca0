#!/usr/bin/env bash
# Batching on vs off for a heavier model: `skiff model-server` with a larger XGBoost model
# (digits, 64 features, 10 classes, 200 rounds of depth-8 trees = 2,000 trees) under
# `wrk -t2 -c32` V2 infer of one row per request, once without the batcher and once with
# `--max-batch-size 32 --max-latency-ms 2`; prints req/s, p50 and p99 side by side and how many
# runtime calls the batcher made for how many requests (the model server's /metrics).
#
#   bench/serving/batching.sh [DURATION_S]      (SKIFF_BINARY defaults to build/skiff)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
skiff=${SKIFF_BINARY:-$root/build/skiff}
dur=${1:-10}
tmp=$(mktemp -d -p /var/tmp skiff-bench-batching.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

/usr/bin/python3 - "$tmp/model" <<'PY'
import os, sys, json
import xgboost as xgb
from sklearn.datasets import load_digits
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
x, y = load_digits(return_X_y=True)
booster = xgb.train({"objective": "multi:softprob", "num_class": 10, "max_depth": 8, "eta": 0.1,
                     "nthread": 1}, xgb.DMatrix(x, label=y), num_boost_round=200)
booster.save_model(os.path.join(out, "model.ubj"))
row = [float(v) for v in x[17]]
body = {"inputs": [{"name": "input-0", "shape": [1, 64], "datatype": "FP32", "data": row}]}
with open(os.path.join(out, "..", "body.json"), "w") as f:
    json.dump(body, f)
PY
body=$(cat "$tmp/body.json")
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

start_server() {  # start_server NAME ARGS... ; sets port
  mkfifo "$tmp/out-$1"
  local name=$1
  shift
  "$skiff" model-server --model-name digits --model-dir "$tmp/model" --port 0 "$@" >"$tmp/out-$name" &
  pids+=($!)
  exec 3<"$tmp/out-$name"
  read -r line <&3
  port=${line##*:}; port=${port%% *}
  read -r _ <&3
  exec 3<&-
}
run_wrk() {  # prints "req/s p50 p99 [errors]"
  wrk -t2 -c32 -d"${dur}s" --latency -s "$tmp/post.lua" "$1" >"$tmp/wrk.txt"
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$tmp/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.txt")
  errs=$(awk '/Non-2xx|Socket errors/' "$tmp/wrk.txt" | tr -s ' ' | tr '\n' ' ')
  echo "$rps $p50 $p99 ${errs:+($errs)}"
}

start_server off
off_port=$port
start_server on --max-batch-size 32 --max-latency-ms 2
on_port=$port
# Both answer the same prediction.
a=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$off_port/v2/models/digits/infer")
b=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$on_port/v2/models/digits/infer")
if [ "$a" != "$b" ]; then
  echo "batching changed the answer: $a vs $b" >&2
  exit 1
fi
off_res=$(run_wrk "http://127.0.0.1:$off_port/v2/models/digits/infer")
on_res=$(run_wrk "http://127.0.0.1:$on_port/v2/models/digits/infer")
metrics=$(curl -sf "http://127.0.0.1:$on_port/metrics")
calls=$(echo "$metrics" | awk '/^skiff_model_batch_calls_total/ {print $2}')
reqs=$(echo "$metrics" | awk '/^skiff_model_batched_requests_total/ {print $2}')
echo "== serving: batching on vs off, XGBoost digits (2,000 trees), V2 infer of one row, wrk -t2 -c32 ${dur}s"
echo "   $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-58s %12s %10s %10s\n' "model server" "req/s" "p50" "p99"
printf '%-58s %12s %10s %10s %s\n' "batching off" $off_res
printf '%-58s %12s %10s %10s %s\n' "batching on (--max-batch-size 32 --max-latency-ms 2)" $on_res
awk -v c="$calls" -v r="$reqs" 'BEGIN { if (c > 0) printf "batcher: %d requests in %d runtime calls (%.1f rows per call)\n", r, c, r / c }'
