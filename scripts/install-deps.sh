#!/usr/bin/env bash
# Installs everything Skiff needs to build, test, demo and benchmark on Debian 12.
# Idempotent and fast when everything is already present: it asks dpkg first and only
# runs apt-get (update, then install) for what is missing.
set -euo pipefail

PKGS=(
  # build
  cmake ninja-build g++ ccache pkg-config
  # libraries (see docs/dependencies.md)
  nlohmann-json3-dev libyaml-dev libsqlite3-dev libssl-dev zlib1g-dev libgtest-dev libpq-dev
  # the binary's allocator: a quarter fewer instructions than glibc malloc for the JSON-heavy
  # controller paths (docs/design/pipelines.md)
  libmimalloc-dev
  # the PostgreSQL store's tests run against a throwaway server (scripts/pg-test-server.sh)
  postgresql
  # workloads and conformance stand-ins: busybox ash for alpine/busybox images, cowsay, jq,
  # Debian's python3 with sklearn for the demo
  busybox cowsay jq bash python3 python3-sklearn python3-numpy
  # API compatibility tests: Kubernetes' own Python client (kubectl is added below if missing)
  python3-kubernetes
  # promtool (checks the server's /metrics exposition in tests)
  prometheus
  # the tuning engine's linear algebra (GP, CMA-ES)
  libeigen3-dev
  # benchmark peers
  make snakemake time hyperfine python3-optuna
  # serving: the native XGBoost runtime (C API), the models the tests train, and the benchmark's
  # load generator and static-file peer
  libxgboost-dev python3-xgboost wrk nginx-light
  # training operator examples and tests: PyTorch DDP (gloo), XGBoost, OpenMPI; fast BLAS
  python3-torch openmpi-bin libopenmpi-dev libopenblas0-pthread python3-yaml
)

# The server tests drive the stock kubectl; Debian's kubernetes-client provides one when the
# machine has none (a newer one, e.g. from the Cloud SDK, is used as it is).
if ! command -v kubectl >/dev/null 2>&1; then PKGS+=(kubernetes-client); fi

# One dpkg-query call for all packages keeps the no-op path fast.
installed=$({ dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null || true; } |
  awk '/ install ok installed$/ {print $1}')
missing=()
for p in "${PKGS[@]}"; do
  if ! grep -qx "$p" <<<"$installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install-deps: apt-get failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
