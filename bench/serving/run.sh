#!/usr/bin/env bash
# Benchmarks `skiff model-server` (native XGBoost runtime, V2 infer, JSON) with `wrk -t2 -c32`,
# directly at a replica and through the gateway of `skiff server`, next to nginx serving a
# static JSON file on the same machine, and prints req/s, p50 and p99 side by side and the
# gateway hop's added p50. The replica is a Pod the server's kubelet runs (readiness probe on
# /v2/health/ready), routed by an InferenceService whose status the script writes as the serving
# controller would. Needs wrk, nginx (scripts/install-deps.sh) and Debian's /usr/bin/python3
# with python3-xgboost and python3-sklearn (to train the iris model).
#
# Every server runs in a session of its own (setsid), as the kubelet's supervisor runs a Pod:
# with the kernel's autogroup scheduling (on in Debian), a process in wrk's session shares one
# scheduling group with wrk and answers up to twice as fast on a loaded machine as one in its own
# group, so the sides are only comparable when they are placed alike. Beside req/s and latency
# it prints each server's CPU time per request (utime + stime from /proc over the run), which
# other engineers' load does not move much.
#
#   bench/serving/run.sh [DURATION_S]      (SKIFF_BINARY defaults to build/skiff;
#                                           IO_THREADS, WORKERS for the direct model server)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
skiff=${SKIFF_BINARY:-$root/build/skiff}
dur=${1:-10}
workers=${WORKERS:-4}
io_args=()  # `skiff model-server` defaults to one I/O loop per core
if [ -n "${IO_THREADS:-}" ]; then io_args=(--io-threads "$IO_THREADS"); fi
# Not under /tmp: Pods get a private /tmp, and the replica Pod reads the model from here.
tmp=$(mktemp -d -p /var/tmp skiff-bench-serving.XXXXXX)
pids=()
api=""
cleanup() {
  # The InferenceService first, through the API, so the kubelet stops its replica (the supervisor outlives
  # the server by design); then the supervisor itself.
  if [ -n "$api" ]; then
    curl -sf -X DELETE "$api/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/iris" >/dev/null 2>&1 || true
    for _ in $(seq 100); do
      [ "$(curl -sf "$api/api/v1/namespaces/default/pods" | grep -c '"name"')" = "0" ] && break
      sleep 0.1
    done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$tmp/home/run/supervisor.pid" ]; then kill "$(cat "$tmp/home/run/supervisor.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
trap cleanup EXIT

/usr/bin/python3 "$root/src/serving/server/testdata/train_models.py" "$tmp/models"

# The model server on a free port; its first stdout line names the port.
mkfifo "$tmp/out"
setsid "$skiff" model-server --model-name iris --model-dir "$tmp/models/xgboost" --port 0 --workers "$workers" \
  "${io_args[@]}" >"$tmp/out" &
ms_pid=$!
pids+=($ms_pid)
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
nport=$(free_port)
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
setsid nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>/dev/null &
nginx_pid=$!
pids+=($nginx_pid)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nport/infer.json" >/dev/null && break; sleep 0.1; done

# `skiff server` with its gateway; the InferenceService's replica is a Pod that the serving
# controller makes and the kubelet runs, on the port given in the Pod's annotations.
sport=$(free_port)
mkdir -p "$tmp/home"
SKIFF_HOME="$tmp/home" setsid "$skiff" server --port "$sport" >"$tmp/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
api="http://127.0.0.1:$sport"
for _ in $(seq 100); do curl -sf "$api/healthz" >/dev/null && break; sleep 0.1; done
isvc_path="$api/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
curl -sf -X POST -H 'Content-Type: application/json' "$isvc_path" -d '{
  "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
  "metadata": {"name": "iris", "namespace": "default"},
  "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": "file://'"$tmp/models/xgboost"'"}}}}' \
  >/dev/null
ok=""
for _ in $(seq 300); do
  if curl -sf -X POST -H 'Content-Type: application/json' \
      -d '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4]}]}' \
      "$api/v2/models/iris/infer" -o /dev/null; then ok=1; break; fi
  sleep 0.1
done
if [ -z "$ok" ]; then
  echo "the gateway never routed to the replica Pod; server log:" >&2
  cat "$tmp/server.log" >&2
  exit 1
fi
# The replica Pod the serving controller made; its port is in the Pod's annotations.
rport=$(curl -sf "$api/api/v1/namespaces/default/pods?labelSelector=serving.kserve.io%2Finferenceservice%3Diris" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["annotations"]["serving.skiff.dev/port"])')
echo "# gateway: $api (replica Pod on port $rport, made by the serving controller, run by the kubelet)"
pod_pid=$(pgrep -f -- "model-server .*--port $rport\b" | head -1)
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

to_ms() {  # wrk latency ("245.00us", "1.20ms", "1.01s") -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
cpu_ticks() {  # utime + stime of the given processes and their children, in clock ticks
  local all=("$@") p
  for p in "$@"; do all+=($(pgrep -P "$p" || true)); done
  for p in "${all[@]}"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done |
    awk '{ s += $1 } END { print s + 0 }'
}
hz=$(getconf CLK_TCK)
run_wrk() {  # run_wrk "PIDS" wrk-args...: prints "req/s p50 p99 cpu-us-per-request [errors]"
  local cpu_pids=($1); shift
  local t0 t1
  t0=$(cpu_ticks "${cpu_pids[@]}")
  wrk -t2 -c32 -d"${dur}s" --latency "$@" >"$tmp/wrk.txt"
  t1=$(cpu_ticks "${cpu_pids[@]}")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$tmp/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.txt")
  n=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
  cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1fus", (b - a) * 1e6 / hz / n }')
  errs=$(awk '/Non-2xx|Socket errors/' "$tmp/wrk.txt" | tr -s ' ' | tr '\n' ' ')
  echo "$rps $p50 $p99 $cpu ${errs:+($errs)}"
}
skiff_res=$(run_wrk "$ms_pid" -s "$tmp/post.lua" "http://127.0.0.1:$port/v2/models/iris/infer")
pod_res=$(run_wrk "$pod_pid" -s "$tmp/post.lua" "http://127.0.0.1:$rport/v2/models/iris/infer")
gw_res=$(run_wrk "$server_pid" -s "$tmp/post.lua" "$api/v2/models/iris/infer")
nginx_res=$(run_wrk "$nginx_pid" "http://127.0.0.1:$nport/infer.json")
printf '%-58s %10s %9s %9s %12s\n' "target (wrk -t2 -c32, ${dur}s)" "req/s" "p50" "p99" "CPU/request"
printf '%-58s %10s %9s %9s %12s %s\n' "skiff model-server V2 infer (xgboost, ${IO_THREADS:-default} I/O threads)" $skiff_res
printf '%-58s %10s %9s %9s %12s %s\n' "same, replica Pod run by the kubelet, direct" $pod_res
printf '%-58s %10s %9s %9s %12s %s\n' "same replica Pod through the skiff server gateway (server)" $gw_res
printf '%-58s %10s %9s %9s %12s %s\n' "nginx static JSON (2 workers)" $nginx_res
direct_p50=$(to_ms "$(echo "$pod_res" | awk '{print $2}')")
direct_p99=$(to_ms "$(echo "$pod_res" | awk '{print $3}')")
gw_p50=$(to_ms "$(echo "$gw_res" | awk '{print $2}')")
# The hop alone, without 32 connections queueing for the CPUs: one connection, one request at a
# time.
wrk_p50() { wrk -t1 -c1 -d"${dur}s" --latency -s "$tmp/post.lua" "$1" | awk '$1 == "50%" {print $2}'; }
one_direct=$(to_ms "$(wrk_p50 "http://127.0.0.1:$rport/v2/models/iris/infer")")
one_gw=$(to_ms "$(wrk_p50 "$api/v2/models/iris/infer")")
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v d="$(echo "$pod_res" | awk '{print $1}')" -v n="$(echo "$nginx_res" | awk '{print $1}')" \
  'BEGIN { r = d / n; printf "direct/nginx = %.2f (target 0.50): %s\n", r, (r >= 0.5 ? "met" : "missed") }'
awk -v p="$direct_p99" 'BEGIN { printf "direct p99 = %.2f ms (target <= 2 ms): %s\n", p, (p <= 2 ? "met" : "missed") }'
awk -v d="$direct_p50" -v g="$gw_p50" \
  'BEGIN { h = g - d; printf "gateway hop adds %.3f ms at p50 (%.3f -> %.3f ms; target <= 0.3 ms): %s\n", h, d, g, (h <= 0.3 ? "met" : "missed") }'
awk -v d="$one_direct" -v g="$one_gw" \
  'BEGIN { printf "gateway hop adds %.3f ms at p50 with wrk -t1 -c1 (%.3f -> %.3f ms)\n", g - d, d, g }'
