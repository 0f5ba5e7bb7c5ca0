#!/usr/bin/python3
"""Runs Optuna 3.1's samplers on the same functions and seeds as tuning_bench, reads tuning_bench's
JSON and prints one side-by-side table, then the targets (see bench/tuning/README.md).

    optuna_side.py SKIFF_JSON [--seeds N] [--seeds-for SAMPLER=N]... [--trials N] [--json OUT]
                              [--cache FILE]

Both sides run seeds 0..N-1 with the same N (checked; --seeds-for gives one sampler its own N on
both sides), the same boxes (suggest_float over the
same bounds) and "best so far" = the minimum objective over the first t trials. Optuna's runs
are deterministic given the seed, so --cache keeps them per seed between invocations.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import optuna

try:
    from scipy.stats import mannwhitneyu
except ImportError:  # the table still prints; p is NaN
    mannwhitneyu = None

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
              [17, 8, 0.05, 10, 0.1, 14]])
P = np.array([[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
              [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
              [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
              [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]])
ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x):
    x = np.asarray(x)
    return float(-np.sum(ALPHA * np.exp(-np.sum(A * (x - P) ** 2, axis=1))))


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    n = len(x)
    s1 = sum(v * v for v in x)
    s2 = sum(math.cos(2 * math.pi * v) for v in x)
    return -20 * math.exp(-0.2 * math.sqrt(s1 / n)) - math.exp(s2 / n) + 20 + math.e


def levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    s = math.sin(math.pi * w[0]) ** 2
    for i in range(len(x) - 1):
        s += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
    s += (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return s


def styblinski_tang(x):
    return sum(v ** 4 - 16 * v * v + 5 * v for v in x) / 2


FUNCTIONS = {
    "branin": (branin, [(-5, 10), (0, 15)], 0.397887),
    "hartmann6": (hartmann6, [(0, 1)] * 6, -3.32237),
    "rosenbrock4": (rosenbrock, [(-5, 10)] * 4, 0.0),
    "ackley5": (ackley, [(-32.768, 32.768)] * 5, 0.0),
    "levy4": (levy, [(-10, 10)] * 4, 0.0),
    "styblinski_tang4": (styblinski_tang, [(-5, 5)] * 4, -39.16599 * 4),
}

SAMPLERS = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "multivariate-tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed),
}


def run_one(make, fn, box, seed, trials):
    study = optuna.create_study(sampler=make(seed))
    best = math.inf
    bests, times = {}, []
    for t in range(trials):
        start = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float("x%d" % d, lo, hi) for d, (lo, hi) in enumerate(box)]
        elapsed = (time.perf_counter() - start) * 1e3
        y = fn(x)
        study.tell(trial, y)
        best = min(best, y)
        if t >= 150:
            times.append(elapsed)
        if t + 1 in CHECKPOINTS:
            bests[t + 1] = best
    return {"best": [bests.get(c, best) for c in CHECKPOINTS],
            "ms": statistics.median(times) if times else float("nan")}


CHECKPOINTS = (50, 100, 200)


def load_cache(path, trials):
    """Per-seed Optuna runs kept between invocations: {"trials": N, "runs": {key: {seed: run}}}."""
    try:
        with open(path) as f:
            cache = json.load(f)
        if cache.get("trials") == trials:
            return cache
    except (OSError, ValueError):
        pass
    return {"trials": trials, "runs": {}}


def optuna_runs(seeds_of, trials, cache_path):
    """seeds_of(sampler name) -> how many seeds (0..N-1) that sampler runs."""
    cache = load_cache(cache_path, trials) if cache_path else {"trials": trials, "runs": {}}
    out = {}
    for fname, (fn, box, _) in FUNCTIONS.items():
        for sname, make in SAMPLERS.items():
            key = sname + "/" + fname
            have = cache["runs"].setdefault(key, {})
            seeds = seeds_of(sname)
            for seed in range(seeds):
                if str(seed) not in have:
                    have[str(seed)] = run_one(make, fn, box, seed, trials)
                    if cache_path:
                        with open(cache_path + ".tmp", "w") as f:
                            json.dump(cache, f)
                        os.replace(cache_path + ".tmp", cache_path)
            out[(sname, fname)] = [have[str(s)] for s in range(seeds)]
            print("optuna %-17s %-17s done" % (sname, fname), file=sys.stderr)
    return out


def summarize(runs):
    """Medians over seeds of the best values at each checkpoint and of ms per suggestion."""
    row = {"best%d" % c: statistics.median(r["best"][i] for r in runs)
           for i, c in enumerate(CHECKPOINTS)}
    row["ms_per_suggest"] = statistics.median(r["ms"] for r in runs)
    row["per_seed200"] = [r["best"][-1] for r in runs]
    return row


def compare(s, o, opt):
    """skiff row vs optuna row at 200 trials: verdict and the Mann-Whitney p-value.

    `win` is the primary figure: skiff's median best <= Optuna's, where both medians within
    1e-6 (relative to the function's scale) of the known minimum count as a tie at the optimum.
    `p` is a two-sided Mann-Whitney U test over the per-seed best values (NaN without scipy)."""
    gs, go = s["best200"] - opt, o["best200"] - opt
    tol = 1e-6 * max(1.0, abs(opt))
    at_opt = gs <= tol and go <= tol
    win = s["best200"] <= o["best200"] or at_opt
    p = float("nan")
    if mannwhitneyu is not None and s.get("per_seed200") and o.get("per_seed200"):
        a, b = s["per_seed200"], o["per_seed200"]
        if len(set(a) | set(b)) > 1:
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
        else:
            p = 1.0
    return win, at_opt, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("skiff_json", help="tuning_bench's output, or - to only fill --cache")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seeds-for", action="append", default=[], metavar="SAMPLER=N",
                    help="this sampler runs N seeds on both sides instead of --seeds")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--json")
    ap.add_argument("--cache", help="per-seed Optuna results, reused when present")
    args = ap.parse_args()
    own_seeds = {}
    for spec in args.seeds_for:
        name, _, n = spec.partition("=")
        if name not in SAMPLERS or not n.isdigit() or int(n) <= 0:
            print("--seeds-for %s: expected SAMPLER=N, SAMPLER one of %s" % (
                spec, ", ".join(SAMPLERS)), file=sys.stderr)
            return 2
        own_seeds[name] = int(n)

    def seeds_of(sname):
        return own_seeds.get(sname, args.seeds)

    if args.skiff_json == "-":
        optuna_runs(seeds_of, args.trials, args.cache)
        return 0
    with open(args.skiff_json) as f:
        skiff = json.load(f)
    if skiff["seeds"] != args.seeds or skiff["trials"] != args.trials:
        print("seed/trial counts differ: skiff %d seeds %d trials, optuna %d seeds %d trials" % (
            skiff["seeds"], skiff["trials"], args.seeds, args.trials), file=sys.stderr)
        return 2
    sk = {}
    for r in skiff["results"]:
        # gp-ei is compared with Optuna's best sampler, over --seeds
        want = seeds_of(r["sampler"]) if r["sampler"] in SAMPLERS else args.seeds
        if r.get("seeds", skiff["seeds"]) != want:
            print("seed counts differ for %s on %s: skiff %d, optuna %d" % (
                r["sampler"], r["function"], r.get("seeds", skiff["seeds"]), want), file=sys.stderr)
            return 2
        if "runs" in r:
            r["per_seed200"] = [run[-1] for run in r["runs"]]
        sk[(r["sampler"], r["function"])] = r
    optuna_rows = {k: summarize(v) for k, v in optuna_runs(seeds_of, args.trials,
                                                              args.cache).items()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"sampler": k[0], "function": k[1], **v} for k, v in optuna_rows.items()], f,
                      indent=1)

    print("Skiff vs Optuna 3.1: median over seeds of the best value after 50, 100 and 200 trials;")
    print("seeds 0-%d on both sides%s, %d trials. ratio = skiff gap / optuna gap at 200 "
          "(gap = best - known minimum; < 1: skiff closer); p = two-sided Mann-Whitney U over "
          "seeds at 200." % (args.seeds - 1, "".join(
              " (%s: 0-%d)" % (k, v - 1) for k, v in sorted(own_seeds.items())), args.trials))
    hdr = "%-16s %-20s %10s %10s %10s %10s %10s %10s %7s %-6s %5s %8s %8s %7s" % (
        "function", "algorithm", "skiff@50", "optuna@50", "skiff@100", "optuna@100", "skiff@200",
        "optuna@200", "ratio", "wins", "p", "skiff ms", "optun ms", "speedup")
    print(hdr)
    print("-" * len(hdr))
    wins, wins100, wins50, noise = {}, {}, {}, {}
    for fname, (_, _, opt) in FUNCTIONS.items():
        best_name = min(SAMPLERS, key=lambda s: optuna_rows[(s, fname)]["best200"])
        best_optuna = optuna_rows[(best_name, fname)]
        pairs = [(s, s, optuna_rows[(s, fname)]) for s in SAMPLERS]
        pairs.append(("gp-ei", "best:" + best_name, best_optuna))
        for sname, oname, o in pairs:
            s = sk.get((sname, fname))
            if s is None:
                continue
            gs, go = s["best200"] - opt, o["best200"] - opt
            ratio = gs / go if go > 1e-12 else (1.0 if gs <= 1e-12 else math.inf)
            win, at_opt, p = compare(s, o, opt)
            wins.setdefault(sname, []).append(win)
            wins100.setdefault(sname, []).append(s["best100"] <= o["best100"])
            wins50.setdefault(sname, []).append(s["best50"] <= o["best50"])
            # not worse within noise: a win, or a loss the test cannot tell from chance
            noise.setdefault(sname, []).append(win or not (p < 0.05))
            label = "tie@opt" if at_opt else ("skiff" if win else "optuna")
            print("%-16s %-20s %10.5g %10.5g %10.5g %10.5g %10.5g %10.5g %7.3g %-7s %4.2f "
                  "%8.3g %8.3g %7.1f" % (
                      fname, sname + (" vs " + oname if sname != oname else ""), s["best50"],
                      o["best50"], s["best100"], o["best100"], s["best200"], o["best200"], ratio,
                      label, p, s["ms_per_suggest"], o["ms_per_suggest"],
                      o["ms_per_suggest"] / max(s["ms_per_suggest"], 1e-9)))
    print()
    print("Targets:")
    ok_all = True
    for sname, w in wins.items():
        share = sum(w) / len(w)
        ok = share >= 0.8
        ok_all &= ok
        print("  quality %-17s skiff >= optuna on %d/%d functions at 200 (%.0f%%, target 80%%): "
              "%s   [at 100: %d/%d, at 50: %d/%d; not worse within noise (p>=0.05): %d/%d]" % (
                  sname, sum(w), len(w), 100 * share, "met" if ok else "MISSED",
                  sum(wins100[sname]), len(w), sum(wins50[sname]), len(w), sum(noise[sname]),
                  len(w)))
    for sname in ("tpe", "multivariate-tpe"):
        sp = [optuna_rows[(sname, f)]["ms_per_suggest"] / sk[(sname, f)]["ms_per_suggest"]
              for f in FUNCTIONS if (sname, f) in sk]
        if sp:
            ok = min(sp) >= 10
            ok_all &= ok
            print("  speed   %-17s suggest %.0fx-%.0fx faster than Optuna (target 10x): %s" % (
                sname, min(sp), max(sp), "met" if ok else "MISSED"))
    gp = [sk[("gp-ei", f)] for f in FUNCTIONS if ("gp-ei", f) in sk]
    if gp:
        worst = max(r["ms_per_suggest"] for r in gp)
        worst_cpu = max(r.get("cpu_ms_per_suggest", r["ms_per_suggest"]) for r in gp)
        ok = worst_cpu <= 20
        ok_all &= ok
        print("  speed   gp-ei suggest at trials 150-200: worst %.1f ms wall, %.1f ms CPU "
              "(target 20 ms): %s" % (worst, worst_cpu, "met" if ok else "MISSED"))
    return 0 if ok_all else 3


if __name__ == "__main__":
    sys.exit(main())
