#!/usr/bin/env bash
# Pipeline benchmark: the same 700-step DAG (500 independent + 200 chained `true` steps) under
# make -j2, snakemake --cores 2 and skiff, side by side in one run; then skiff's memoized re-run
# and a withItems fan-out at three sizes. See bench/pipelines/README.md.
#
#   bench/pipelines/run.sh build/skiff
#
# Settings (environment): RUNS (3) timed runs per command, median reported; N_INDEPENDENT (500),
# N_CHAIN (200); FANOUT_SIZES ("2500 5000 10000"); FANOUT_RUNS (1); SKIFF_TIMEOUT (900 s per
# skiff run); BENCH_KEEP=1 keeps the work folder; BENCH_STRICT=1 also exits non-zero when a target
# is missed.
# Exit status: non-zero if any skiff run failed (or, with BENCH_STRICT=1, missed a target).
set -uo pipefail
export LC_ALL=C
unset MAKEFLAGS MFLAGS MAKELEVEL  # the inner make must not join an outer `make bench` jobserver

RUNS=${RUNS:-3}
N_INDEPENDENT=${N_INDEPENDENT:-500}
N_CHAIN=${N_CHAIN:-200}
FANOUT_SIZES=${FANOUT_SIZES:-2500 5000 10000}
FANOUT_RUNS=${FANOUT_RUNS:-1}
SKIFF_TIMEOUT=${SKIFF_TIMEOUT:-900} # seconds; a skiff run that takes longer counts as failed
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if [ $# -lt 1 ]; then
  echo "usage: $0 SKIFF_BINARY" >&2
  exit 2
fi
skiff=""
skiff_failed=0
if [ -x "$1" ] && [ ! -d "$1" ]; then
  skiff="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  sk="timeout $SKIFF_TIMEOUT '$skiff'" # as a command line for sh -c
else
  echo "bench: '$1' is not an executable file; the skiff rows are skipped" >&2
  skiff_failed=1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/skiff-bench.XXXXXX")"
mkdir -p "$WORK/logs"
export SKIFF_HOME="$WORK/skiff-home"
cd "$WORK" || exit 2

declare -A T   # key -> median wall seconds, or FAILED / SKIPPED
declare -A RSS # fan-out size -> peak RSS in KiB

have() { command -v "$1" >/dev/null 2>&1; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a - b }'; }
isnum() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
note_failure() { # note_failure KEY WHAT
  local code
  code=$(cat "$WORK/logs/$1.failed" 2>/dev/null || echo '?')
  [ "$code" = 124 ] && code="124: timed out after $SKIFF_TIMEOUT s"
  echo "bench: FAILED: $2 (exit $code); last lines of its log:" >&2
  tail -n 15 "$WORK/logs/$1.log" | sed 's/^/  | /' >&2
}

# measure KEY PREP CMD: runs CMD $RUNS times (PREP, untimed, before each) and sets T[KEY] to the
# median wall time in seconds, or FAILED. Output goes to logs/KEY.log.
measure() {
  local key=$1 prep=$2 cmd=$3 log="$WORK/logs/$1.log" fail="$WORK/logs/$1.failed"
  rm -f "$fail"
  : >"$log"
  local wrapped="{ $cmd ; } >>'$log' 2>&1 || echo \$? >'$fail'"
  echo "bench: $key: $cmd  (x$RUNS)" >&2
  local median_s=""
  if have hyperfine; then
    local args=(--runs "$RUNS" --style none --export-json "$WORK/logs/$key.json")
    [ -n "$prep" ] && args+=(--prepare "$prep")
    if hyperfine "${args[@]}" "$wrapped" >/dev/null 2>>"$log"; then
      median_s=$("$py" -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' \
        "$WORK/logs/$key.json" 2>/dev/null)
    fi
    [ -z "$median_s" ] && echo "bench: hyperfine gave no result for $key; timing it here instead" >&2
  fi
  if [ -z "$median_s" ]; then
    rm -f "$fail"
    local times=() r s e
    for ((r = 0; r < RUNS; r++)); do
      [ -n "$prep" ] && sh -c "$prep"
      s=$EPOCHREALTIME
      sh -c "$wrapped"
      e=$EPOCHREALTIME
      times+=("$(fsub "$e" "$s")")
    done
    median_s=$(median "${times[@]}")
  fi
  T[$key]=$median_s
  if [ -e "$fail" ]; then
    T[$key]=FAILED
    note_failure "$key" "$cmd"
  fi
}

# time_once KEY CMD: one timed run (no PREP), for runs that change state (filling a cache).
time_once() {
  local key=$1 cmd=$2 log="$WORK/logs/$1.log" fail="$WORK/logs/$1.failed" s e
  rm -f "$fail"
  : >"$log"
  echo "bench: $key: $cmd  (x1)" >&2
  s=$EPOCHREALTIME
  sh -c "{ $cmd ; } >>'$log' 2>&1 || echo \$? >'$fail'"
  e=$EPOCHREALTIME
  T[$key]=$(fsub "$e" "$s")
  if [ -e "$fail" ]; then
    T[$key]=FAILED
    note_failure "$key" "$cmd"
  fi
}

skiff_check() { # marks the skiff runs as failed when T[KEY] is FAILED
  [ "${T[$1]:-}" = FAILED ] && skiff_failed=1
  return 0
}

# ---------------------------------------------------------------------------------------------
sizes_csv=$(echo "$FANOUT_SIZES" | tr -s ' ' ',')
if ! "$py" "$here/gen.py" -o "$WORK/gen" --independent "$N_INDEPENDENT" --chain "$N_CHAIN" \
  --items "$sizes_csv" --salt "bench$$.$(date +%s)" >"$WORK/logs/gen.log" 2>&1; then
  cat "$WORK/logs/gen.log" >&2
  exit 2
fi
steps=$((N_INDEPENDENT + N_CHAIN))
timer="own timer (bash EPOCHREALTIME around sh -c)"
have hyperfine && timer="hyperfine $(hyperfine --version | awk '{ print $2 }')"

echo "bench: work folder $WORK, SKIFF_HOME=$SKIFF_HOME" >&2

# --- peers ---
if have make; then
  measure make "" "make -j2 -s -f gen/Makefile"
else
  T[make]=SKIPPED
fi
snakemake_greedy=0
if have snakemake; then
  measure snakemake "rm -rf snk" "snakemake -s gen/Snakefile -d snk --cores 2 -q"
  if snakemake --help 2>/dev/null | grep -q -- '--scheduler'; then
    snakemake_greedy=1
    measure snakemake-greedy "rm -rf snk" "snakemake -s gen/Snakefile -d snk --cores 2 --scheduler greedy -q"
  fi
else
  T[snakemake]=SKIPPED
fi

# --- skiff ---
memo_hits="?"
if [ -n "$skiff" ]; then
  measure skiff-version "" "$sk version"
  skiff_check skiff-version
  measure skiff-cold "" "$sk run gen/dag.yaml"
  skiff_check skiff-cold
  time_once skiff-memo-fill "$sk run gen/dag-memo.yaml"
  skiff_check skiff-memo-fill
  measure skiff-memo "" "$sk run gen/dag-memo.yaml"
  skiff_check skiff-memo
  # One more (untimed) memoized run, to count the cache hits in the final status.
  if timeout "$SKIFF_TIMEOUT" "$skiff" run gen/dag-memo.yaml -o json >"$WORK/logs/memo-check.json" 2>"$WORK/logs/memo-check.log"; then
    memo_hits=$("$py" - "$WORK/logs/memo-check.json" <<'EOF' 2>/dev/null || echo "?"
import json, sys
nodes = json.load(open(sys.argv[1]))["status"]["nodes"].values()
pods = [n for n in nodes if n.get("type") == "Pod"]
print(f"{sum(1 for n in pods if (n.get('memoizationStatus') or {}).get('hit'))}/{len(pods)}")
EOF
    )
  else
    skiff_failed=1
    echo "bench: FAILED: the memoization check run ($skiff run gen/dag-memo.yaml -o json)" >&2
    tail -n 15 "$WORK/logs/memo-check.log" | sed 's/^/  | /' >&2
  fi

  for k in $FANOUT_SIZES; do
    key="fanout-$k"
    echo "bench: $key: $skiff run gen/fanout-$k.yaml  (x$FANOUT_RUNS)" >&2
    : >"$WORK/logs/$key.log"
    times=()
    peak=0
    for ((r = 0; r < FANOUT_RUNS; r++)); do
      rc=0
      if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%e %M' -o "$WORK/logs/$key.time" timeout "$SKIFF_TIMEOUT" "$skiff" run "gen/fanout-$k.yaml" \
          >>"$WORK/logs/$key.log" 2>&1 || rc=$?
        # GNU time writes "Command exited with non-zero status N" first on failure.
        wall=$(tail -n 1 "$WORK/logs/$key.time" | awk '{ print $1 }')
        rss=$(tail -n 1 "$WORK/logs/$key.time" | awk '{ print $2 }')
      else
        s=$EPOCHREALTIME
        timeout "$SKIFF_TIMEOUT" "$skiff" run "gen/fanout-$k.yaml" >>"$WORK/logs/$key.log" 2>&1 || rc=$?
        e=$EPOCHREALTIME
        wall=$(fsub "$e" "$s")
        rss=""
      fi
      if [ "$rc" -ne 0 ]; then
        echo "$rc" >"$WORK/logs/$key.failed"
        break
      fi
      times+=("$wall")
      if [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then peak=$rss; fi
    done
    if [ -e "$WORK/logs/$key.failed" ]; then
      T[$key]=FAILED
      note_failure "$key" "$skiff run gen/fanout-$k.yaml"
      skiff_failed=1
    else
      T[$key]=$(median "${times[@]}")
      [ "$peak" -gt 0 ] && RSS[$k]=$peak
    fi
  done
fi

# ---------------------------------------------------------------------------------------------
fmt_s() { if isnum "${1:-}"; then printf '%.3f' "$1"; else printf '%s' "${1:-not run}"; fi; }
ratio() { # ratio KEY: T[KEY] / T[make]
  local v=${T[$1]:-} m=${T[make]:-}
  if isnum "$v" && isnum "$m" && awk -v m="$m" 'BEGIN { exit !(m > 0) }'; then
    awk -v v="$v" -v m="$m" 'BEGIN { printf "%.2fx", v / m }'
  else
    printf -- '-'
  fi
}
row() { printf '  %-50s %10s %10s\n' "$1" "$(fmt_s "${T[$2]:-}")" "$(ratio "$2")"; }

echo
echo "== pipelines benchmark: $N_INDEPENDENT independent + $N_CHAIN chained trivial steps ($steps in all) =="
echo "   $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "median of $RUNS runs, $timer"
echo "   make: $(make --version 2>/dev/null | head -n 1 || echo none)," \
  "snakemake: $(snakemake --version 2>/dev/null || echo none)," \
  "skiff: $([ -n "$skiff" ] && "$skiff" version 2>/dev/null | head -n 1 || echo none)"
echo
printf '  %-50s %10s %10s\n' "tool" "wall s" "vs make"
row "make -j2" make
row "snakemake --cores 2" snakemake
[ "$snakemake_greedy" = 1 ] && row "snakemake --cores 2 --scheduler greedy" snakemake-greedy
row "skiff run dag.yaml (cold)" skiff-cold
row "skiff run dag-memo.yaml, 1st run (fills the cache)" skiff-memo-fill
row "skiff run dag-memo.yaml, fully memoized" skiff-memo
row "skiff version (process start)" skiff-version

memo_over=""
if isnum "${T[skiff-memo]:-}" && isnum "${T[skiff-version]:-}"; then
  memo_over=$(awk -v a="${T[skiff-memo]}" -v b="${T[skiff-version]}" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
  echo
  echo "  memoized re-run beyond process start: ${memo_over} ms (cache hits in the final status: $memo_hits)"
fi

echo
echo "  withItems fan-out (one trivial step per item; $FANOUT_RUNS run(s) each; RSS = peak of skiff run)"
echo "  (marginal = extra time per extra item since the previous size: flat when the cost is linear)"
printf '  %8s %10s %10s %16s %14s\n' items "wall s" "ms/item" "marginal ms/item" "peak RSS MiB"
ks=() per_items=() marginals=() rss_list=()
prev_k="" prev_v=""
for k in $FANOUT_SIZES; do
  v=${T[fanout-$k]:-}
  if ! isnum "$v"; then
    printf '  %8s %10s\n' "$k" "${v:-not run}"
    continue
  fi
  per=$(awk -v v="$v" -v k="$k" 'BEGIN { printf "%.3f", v * 1000 / k }')
  marg="-"
  if [ -n "$prev_k" ] && [ "$k" -gt "$prev_k" ]; then
    marg=$(awk -v a="$v" -v b="$prev_v" -v n=$((k - prev_k)) 'BEGIN { printf "%.3f", (a - b) * 1000 / n }')
    marginals+=("$marg")
  fi
  rss_mib="n/a"
  [ -n "${RSS[$k]:-}" ] && rss_mib=$(awk -v r="${RSS[$k]}" 'BEGIN { printf "%.1f", r / 1024 }')
  printf '  %8s %10.3f %10s %16s %14s\n' "$k" "$v" "$per" "$marg" "$rss_mib"
  ks+=("$k") per_items+=("$per") rss_list+=("${RSS[$k]:-}")
  prev_k=$k prev_v=$v
done

# --- targets (from the foundation issue) ---
echo
echo "  targets"
missed=0
verdict() { # verdict OK_EXPR TEXT
  if [ "$1" = "n/a" ]; then
    echo "    [ n/a ] $2"
  elif [ "$1" = 1 ]; then
    echo "    [ met ] $2"
  else
    echo "    [MISSED] $2"
    missed=1
  fi
}
if isnum "${T[skiff-cold]:-}" && isnum "${T[make]:-}"; then
  ok=$(awk -v a="${T[skiff-cold]}" -v m="${T[make]}" 'BEGIN { print (a <= 1.2 * m) ? 1 : 0 }')
  verdict "$ok" "skiff cold DAG <= 1.2x make -j2: $(ratio skiff-cold)"
else
  verdict n/a "skiff cold DAG <= 1.2x make -j2"
fi
if [ -n "$memo_over" ]; then
  ok=$(awk -v o="$memo_over" 'BEGIN { print (o <= 50) ? 1 : 0 }')
  [ "$memo_hits" != "$steps/$steps" ] && ok=0 # every one of the steps must be a cache hit
  verdict "$ok" "fully memoized re-run <= 50 ms beyond process start: ${memo_over} ms, hits $memo_hits"
else
  verdict n/a "fully memoized re-run <= 50 ms beyond process start"
fi
n=${#ks[@]}
if [ "${#marginals[@]}" -ge 2 ]; then
  a=${marginals[0]} b=${marginals[${#marginals[@]} - 1]}
  ok=$(awk -v a="$a" -v b="$b" 'BEGIN { print (b <= 1.25 * a) ? 1 : 0 }')
  verdict "$ok" "linear fan-out cost: marginal ms/item $a (${ks[0]}..${ks[1]}) -> $b (${ks[n - 2]}..${ks[n - 1]}), at most +25%"
elif [ "$n" -ge 2 ]; then
  a=${per_items[0]} b=${per_items[n - 1]}
  ok=$(awk -v a="$a" -v b="$b" 'BEGIN { print (b <= 1.25 * a) ? 1 : 0 }')
  verdict "$ok" "linear fan-out cost: ms/item $a at ${ks[0]} -> $b at ${ks[n - 1]}, at most +25%"
else
  verdict n/a "linear fan-out cost (needs two sizes)"
fi
if [ "$n" -ge 2 ] && [ -n "${rss_list[0]}" ] && [ -n "${rss_list[n - 1]}" ]; then
  echo "    [ info] memory: $(awk -v a="${rss_list[n - 1]}" -v b="${rss_list[0]}" -v ka="${ks[n - 1]}" -v kb="${ks[0]}" \
    'BEGIN { printf "peak RSS %.1f MiB at %d items, %.1f MiB at %d items (%.2f KiB per extra item)",
             b / 1024, kb, a / 1024, ka, (a - b) / (ka - kb) }')"
fi

status=0
if [ "$skiff_failed" = 1 ]; then
  echo
  echo "bench: at least one skiff run failed (see above); logs in $WORK/logs"
  status=1
elif [ "$missed" = 1 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
  status=1
fi
if [ "$status" = 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
  cd / && rm -rf "$WORK"
else
  echo "bench: work folder kept: $WORK"
fi
exit "$status"
