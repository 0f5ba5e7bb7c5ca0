#!/usr/bin/env bash
# Runs the digits pipeline with skiff and reports the chosen setting, its validation and test
# accuracy and where the winning model artifact was stored.
#
#   examples/digits/run-demo.sh build/skiff [-p test-size=0.3 -p seed=7]
#
# Exits non-zero unless the workflow Succeeded. The final Workflow JSON is kept on failure.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 SKIFF_BINARY [skiff run options, e.g. -p seed=7]" >&2
  exit 2
fi
skiff=$1
shift
if [ ! -x "$skiff" ] || [ -d "$skiff" ]; then
  echo "run-demo: '$skiff' is not an executable file (build it with 'make build')" >&2
  exit 2
fi
skiff="$(cd "$(dirname "$skiff")" && pwd)/$(basename "$skiff")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

work="$(mktemp -d "${TMPDIR:-/tmp}/skiff-digits.XXXXXX")"
cd "$work"
echo "run-demo: $skiff run examples/digits/pipeline.yaml $* -o json   (in $work)"

rc=0
"$skiff" run "$here/pipeline.yaml" "$@" -o json >out.json || rc=$?

report_rc=0
"$py" - out.json "$rc" <<'EOF' || report_rc=$?
import json, os, sys

path, skiff_rc = sys.argv[1], int(sys.argv[2])
try:
    with open(path) as f:
        wf = json.load(f)
except (OSError, ValueError) as e:
    print(f"run-demo: skiff exited {skiff_rc} and printed no Workflow JSON ({e})")
    sys.exit(1)

status = wf.get("status") or {}
phase = status.get("phase", "<none>")
nodes = list((status.get("nodes") or {}).values())
name = (wf.get("metadata") or {}).get("name", "?")
print(f"workflow {name}: {phase} (skiff exit code {skiff_rc})")


def params_of(node):
    outs = node.get("outputs") or {}
    return {p.get("name"): p.get("value") for p in outs.get("parameters") or []}


def is_task(node, task):
    return node.get("type") == "Pod" and (node.get("templateName") == task or
                                          node.get("displayName", "").startswith(task))


if phase != "Succeeded" or skiff_rc != 0:
    for n in sorted(nodes, key=lambda n: n.get("startedAt") or ""):
        if n.get("phase") not in ("Succeeded", "Skipped"):
            print(f"  {n.get('displayName', n.get('name'))}: {n.get('phase')} {n.get('message', '')}")
    sys.exit(1)

trains = sorted((n for n in nodes if is_task(n, "train")), key=lambda n: n.get("displayName", ""))
for n in trains:
    p = params_of(n)
    print(f"  {n.get('displayName')}: {p.get('params')}  validation accuracy={p.get('accuracy')}")

results = {p.get("name"): p.get("value") for p in (status.get("outputs") or {}).get("parameters") or []}
for task in ("pick-best", "evaluate"):  # when global outputs are missing, read the nodes
    for n in nodes:
        if is_task(n, task):
            for k, v in params_of(n).items():
                results.setdefault(k, v)
missing = [k for k in ("best-params", "best-accuracy", "best-setting", "test-accuracy") if k not in results]
if missing:
    print(f"run-demo: the workflow succeeded but these outputs are missing: {', '.join(missing)}")
    sys.exit(1)

print(f"best: {results['best-params']} accuracy={results['best-accuracy']} (validation)")
print(f"test accuracy of the chosen model on the held-out split: {results['test-accuracy']}")

winner = [n for n in trains if params_of(n).get("setting") == results["best-setting"]]
arts = []
if winner:
    arts = (winner[0].get("outputs") or {}).get("artifacts") or []
model = next((a for a in arts if a.get("name") == "model"), None)
if model is None:
    print("model artifact: not found in the final workflow status")
    sys.exit(1)
key = (model.get("s3") or {}).get("key")
if not key:
    print(f"model artifact (no s3.key recorded): {json.dumps(model)}")
    sys.exit(1)
home = os.environ.get("SKIFF_HOME") or os.path.join(os.path.expanduser("~"), ".skiff")
# The artifact store keeps each key as a small JSON file naming a content-addressed blob:
# keys/<seg>.d/.../<last>.json -> blobs/sha256/<ab>/<rest of the digest>.
parts = key.split("/")
key_file = os.path.join(home, "artifacts", "keys", *[p + ".d" for p in parts[:-1]], parts[-1] + ".json")
print(f"model artifact of {winner[0].get('displayName')}: s3.key {key}")
try:
    with open(key_file) as f:
        digest = json.load(f)["digest"]
    hexd = digest.split(":", 1)[1]
    blob = os.path.join(home, "artifacts", "blobs", "sha256", hexd[:2], hexd[2:])
    print(f"  content {digest}")
    print(f"  stored at {blob} (tgz holding model.pkl): {'present' if os.path.exists(blob) else 'NOT FOUND'}")
except (OSError, KeyError, ValueError, IndexError) as e:
    print(f"  key file {key_file} not readable: {e}")
    sys.exit(1)
EOF

if [ "$rc" -ne 0 ] || [ "$report_rc" -ne 0 ]; then
  echo "run-demo: FAILED; the final Workflow JSON is in $work/out.json" >&2
  exit 1
fi
rm -rf "$work"
