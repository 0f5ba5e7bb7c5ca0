#!/usr/bin/env bash
# `make bench` part: the training operators.
#   (a) apply -> all replicas Running for a 1 master + 3 workers PyTorchJob through `skiff
#       server` (latency.py; RUNS samples, median reported; target <= 50 ms);
#   (b) MPI all-reduce throughput inside an MPIJob vs a plain `mpirun` of the same program
#       (mpi.py; MPI_ROUNDS runs each, alternating; target >= 95%).
# See bench/training/README.md.
#
#   bench/training/run.sh build/skiff
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skiff=${1:?usage: run.sh path/to/skiff}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" "$here/latency.py" "$skiff" --runs "${RUNS:-12}"
"$py" "$here/mpi.py" "$skiff" --rounds "${MPI_ROUNDS:-5}"
