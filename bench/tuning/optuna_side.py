#!/usr/bin/python3
"""Runs Optuna 3.1's samplers on the same functions and seeds as tuning_bench, reads tuning_bench's
JSON and prints one side-by-side table, then the targets (see bench/tuning/README.md).

    optuna_side.py SKIFF_JSON [--seeds N] [--trials N] [--json OUT]
"""
import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import optuna

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
        if t + 1 in (50, 100, 200):
            bests[t + 1] = best
    return bests, statistics.median(times) if times else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("skiff_json")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--json")
    args = ap.parse_args()
    with open(args.skiff_json) as f:
        skiff = json.load(f)
    sk = {(r["sampler"], r["function"]): r for r in skiff["results"]}
    optuna_rows = {}
    for fname, (fn, box, _) in FUNCTIONS.items():
        for sname, make in SAMPLERS.items():
            runs = [run_one(make, fn, box, seed, args.trials) for seed in range(args.seeds)]
            optuna_rows[(sname, fname)] = {
                "best50": statistics.median(r[0][50] for r in runs),
                "best100": statistics.median(r[0][100] for r in runs),
                "best200": statistics.median(r[0][200] for r in runs),
                "ms_per_suggest": statistics.median(r[1] for r in runs),
            }
            print("optuna %-17s %-17s done" % (sname, fname), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"sampler": k[0], "function": k[1], **v} for k, v in optuna_rows.items()], f,
                      indent=1)

    print("Skiff vs Optuna 3.1: median over seeds of the best value after 200 trials (and 50);")
    print("skiff seeds: %d, optuna seeds: %d, trials: %d. gap = best - known minimum; ratio = "
          "skiff gap / optuna gap (< 1: skiff closer)." % (skiff["seeds"], args.seeds, args.trials))
    hdr = "%-17s %-17s %12s %12s %12s %12s %8s %-6s %9s %9s %7s" % (
        "function", "algorithm", "skiff@50", "optuna@50", "skiff@200", "optuna@200", "ratio",
        "wins", "skiff ms", "optuna ms", "speedup")
    print(hdr)
    print("-" * len(hdr))
    wins = {}
    for fname, (_, _, opt) in FUNCTIONS.items():
        best_optuna = min((optuna_rows[(s, fname)] for s in SAMPLERS), key=lambda r: r["best200"])
        best_name = min(SAMPLERS, key=lambda s: optuna_rows[(s, fname)]["best200"])
        pairs = [(s, s, optuna_rows[(s, fname)]) for s in SAMPLERS]
        pairs.append(("gp-ei", "best:" + best_name, best_optuna))
        for sname, oname, o in pairs:
            s = sk.get((sname, fname))
            if s is None:
                continue
            gs, go = s["best200"] - opt, o["best200"] - opt
            ratio = gs / go if go > 1e-12 else (1.0 if gs <= 1e-12 else math.inf)
            win = "skiff" if s["best200"] <= o["best200"] else "optuna"
            wins.setdefault(sname, []).append(win == "skiff")
            print("%-17s %-17s %12.5g %12.5g %12.5g %12.5g %8.3g %-6s %9.3g %9.3g %7.1f" % (
                fname, sname + (" vs " + oname if sname != oname else ""), s["best50"],
                o["best50"], s["best200"], o["best200"], ratio, win, s["ms_per_suggest"],
                o["ms_per_suggest"], o["ms_per_suggest"] / max(s["ms_per_suggest"], 1e-9)))
    print()
    print("Targets:")
    ok_all = True
    for sname, w in wins.items():
        share = sum(w) / len(w)
        ok = share >= 0.8
        ok_all &= ok
        print("  quality %-17s skiff >= optuna on %d/%d functions (%.0f%%, target 80%%): %s" % (
            sname, sum(w), len(w), 100 * share, "met" if ok else "MISSED"))
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
