#!/usr/bin/env bash
# Katib per-trial platform overhead (trial created -> Pod Running -> metrics recorded -> Trial
# Succeeded) for a trial that only prints its objective, on a fresh `skiff server`; median and
# p90 over TRIALS (default 60) trials run one at a time. See bench/tuning/README.md.
#
#   bench/tuning/overhead.sh path/to/skiff [--collector StdOut|Push|File]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
skiff=${1:?usage: overhead.sh path/to/skiff [--collector StdOut|Push|File]}
shift
/usr/bin/python3 "$here/overhead.py" "$skiff" --trials "${TRIALS:-60}" "$@"
