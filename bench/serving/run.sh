#!/usr/bin/env bash
# Benchmarks `skiff model-server` (native XGBoost runtime, V2 infer, JSON) with `wrk -t2 -c32`,
# next to nginx serving a static JSON file on the same machine, and prints req/s and p99 side by
# side. Needs wrk, nginx (scripts/install-deps.sh) and Debian's /usr/bin/python3 with
# python3-xgboost and python3-sklearn (to train the iris model).
#
#   bench/serving/run.sh [DURATION_S]      (SKIFF_BINARY defaults to build/skiff)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
skiff=${SKIFF_BINARY:-$root/build/skiff}
dur=${1:-10}
workers=${WORKERS:-4}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

/usr/bin/python3 "$root/src/serving/server/testdata/train_models.py" "$tmp/models"

# The model server on a free port; its first stdout line names the port.
mkfifo "$tmp/out"
"$skiff" model-server --model-name iris --model-dir "$tmp/models/xgboost" --port 0 --workers "$workers" \
  >"$tmp/out" &
pids+=($!)
exec 3<"$tmp/out"
read -r line <&3
port=${line##*:}; port=${port%% *}
read -r ready <&3
echo "# $line"
echo "# $ready"

# A V2 request: two iris rows, as in the conformance payload.
cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]}]}'
LUA
curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]}]}' \
  "http://127.0.0.1:$port/v2/models/iris/infer" >"$tmp/response.json"
echo "# response: $(cat "$tmp/response.json")"

# nginx with a temporary config, serving that response as a static file.
nport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/nginx/logs" "$tmp/www"
cp "$tmp/response.json" "$tmp/www/infer.json"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nport;
    location / { root $tmp/www; default_type application/json; }
  }
}
CONF
chmod -R a+rX "$tmp"
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nport/infer.json" >/dev/null && break; sleep 0.1; done

run_wrk() {  # prints "req/s p99"
  wrk -t2 -c32 -d"${dur}s" --latency "$@" >"$tmp/wrk.txt"
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.txt")
  errs=$(awk '/Non-2xx|Socket errors/' "$tmp/wrk.txt")
  echo "$rps $p99 ${errs:+($errs)}"
}
skiff_res=$(run_wrk -s "$tmp/post.lua" "http://127.0.0.1:$port/v2/models/iris/infer")
nginx_res=$(run_wrk "http://127.0.0.1:$nport/infer.json")
printf '%-48s %12s %10s\n' "target (wrk -t2 -c32, ${dur}s)" "req/s" "p99"
printf '%-48s %12s %10s %s\n' "skiff model-server V2 infer (xgboost, $workers workers)" $skiff_res
printf '%-48s %12s %10s %s\n' "nginx static JSON" $nginx_res
