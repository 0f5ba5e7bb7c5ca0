"""Every search algorithm end to end on the examples in examples/tuning (trials that really train
a logistic regression with Python's standard library), early stopping with a trial that fails,
and PBT's checkpoint hand-over between generations."""

import json
import math
import os
import unittest

from skiffenv import SkiffTestCase

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "tuning")


def assignments(trial):
    return {a["name"]: a["value"] for a in trial["spec"]["parameterAssignments"]}


def latest_loss(trial):
    for m in trial["status"]["observation"]["metrics"]:
        if m["name"] == "loss":
            return float(m["latest"])
    raise AssertionError("no loss in %s" % trial["status"])


class TuningAlgorithmsTest(SkiffTestCase):
    def run_example(self, name, rc=0):
        exp = self.run_json(os.path.join(EXAMPLES, name + ".yaml"), rc=rc)
        p = self.skiff("get", "trials", "-l", "katib.kubeflow.org/experiment=" + name, "-o", "json",
                       check=0)
        trials = json.loads(p.stdout)["items"]
        self.assertEqual(len(trials), exp["status"]["trials"], exp["status"])
        return exp, {t["metadata"]["name"]: t for t in trials}

    def check_best(self, exp, trials):
        """The best trial is the one with the lowest loss among those that finished."""
        best = exp["status"]["currentOptimalTrial"]["bestTrialName"]
        done = {n: t for n, t in trials.items() if t["status"].get("observation")}
        mins = {n: min(float(m["min"]) for m in t["status"]["observation"]["metrics"]
                       if m["name"] == "loss") for n, t in done.items()}
        # (Ties happen: a promoted Hyperband trial repeats its parent's first epochs exactly.)
        self.assertEqual(mins[best], min(mins.values()), (best, mins))
        # A real model was trained: the best validation log-loss is well below chance (ln 2).
        self.assertLess(mins[best], 0.5)

    def test_samplers_run_their_trials_within_the_space(self):
        for name, n in (("sobol", 8), ("multivariate-tpe", 10), ("bayesianoptimization", 10),
                        ("cmaes", 12)):
            with self.subTest(algorithm=name):
                exp, trials = self.run_example(name)
                self.assertEqual(exp["status"]["trialsSucceeded"], n, exp["status"])
                points = set()
                for t in trials.values():
                    a = assignments(t)
                    lr, l2 = float(a["lr"]), float(a["l2"])
                    self.assertTrue(0.001 <= lr <= 1 and 0 <= l2 <= 0.1, a)
                    self.assertEqual(a["epochs"], "3")
                    points.add((a["lr"], a["l2"]))
                self.assertEqual(len(points), n, "parallel suggestions collapsed onto one point")
                self.check_best(exp, trials)

    def test_grid_runs_every_point_once_and_ends_exhausted(self):
        exp, trials = self.run_example("grid")
        self.assertEqual(exp["status"]["trialsSucceeded"], 6)
        self.assertTrue(any(c["reason"] == "ExperimentSuggestionEndReached"
                            for c in exp["status"]["conditions"]), exp["status"]["conditions"])
        grid = sorted((a["lr"], a["l2"]) for a in map(assignments, trials.values()))
        self.assertEqual(grid, sorted((lr, l2) for lr in ("0.01", "0.1", "1")
                                      for l2 in ("0", "0.05")))
        self.check_best(exp, trials)

    def test_hyperband_promotes_the_best_to_more_epochs(self):
        exp, trials = self.run_example("hyperband")
        epochs = {}
        for t in trials.values():
            e = int(assignments(t)["epochs"])
            epochs[e] = epochs.get(e, 0) + 1
            # The trial trained as many epochs as its budget says.
            log = self.skiff("logs", t["metadata"]["name"] + "-0", check=0).stdout
            self.assertIn("epoch=%d loss=" % e, log)
            self.assertNotIn("epoch=%d loss=" % (e + 1), log)
        self.assertEqual(sorted(epochs), [1, 3, 9])
        self.assertGreater(epochs[1], epochs[3])
        self.assertGreater(epochs[3], epochs[9])
        self.check_best(exp, trials)

    def test_medianstop_stops_worse_trials_and_tolerates_a_failing_one(self):
        exp, trials = self.run_example("medianstop")
        st = exp["status"]
        self.assertGreaterEqual(st["trialsEarlyStopped"], 1, st)
        self.assertGreaterEqual(st["trialsFailed"], 1, st)
        for name in st["earlyStoppedTrialList"]:
            t = trials[name]
            conds = {c["type"]: c for c in t["status"]["conditions"]}
            self.assertEqual(conds["EarlyStopped"]["status"], "True")
            # Stopped before its 30 epochs, with what it reported so far.
            math.isfinite(latest_loss(t))
        for name in st["failedTrialList"]:
            self.assertGreater(float(assignments(trials[name])["lr"]), 4)
        self.check_best(exp, trials)

    def test_pbt_hands_each_trial_its_parents_checkpoint(self):
        exp, trials = self.run_example("pbt")
        self.assertEqual(exp["status"]["trialsSucceeded"], 15, exp["status"])
        claim = os.path.join(self.home, "volumes", "default", "pbt-pbt", "pbt")
        for name, t in trials.items():
            labels = t["spec"].get("labels", {})
            gen = int(labels["pbt.suggestion.katib.kubeflow.org/generation"])
            with open(os.path.join(claim, name, "checkpoint.json")) as f:
                ckpt = json.load(f)
            # Two epochs per generation, each from the parent's checkpoint.
            self.assertEqual(ckpt["epoch"], 2 * (gen + 1), name)
            if gen == 0:
                self.assertNotIn("pbt.suggestion.katib.kubeflow.org/parent", labels)
                continue
            parent = labels["pbt.suggestion.katib.kubeflow.org/parent"]
            self.assertEqual(
                int(trials[parent]["spec"]["labels"]["pbt.suggestion.katib.kubeflow.org/generation"]),
                gen - 1)
            log = self.skiff("logs", name + "-0", check=0).stdout
            self.assertIn("resumed from epoch %d" % (2 * gen), log)
        self.assertEqual(sorted(int(t["spec"]["labels"]["pbt.generation"]) for t in trials.values()),
                         [0] * 5 + [1] * 5 + [2] * 5)
        self.check_best(exp, trials)


class KatibConformanceTest(SkiffTestCase):
    def test_describe_shows_the_planned_trials_of_katibs_own_experiments(self):
        folder = "/work/shared/conformance/katib"
        if not os.path.isdir(folder):
            self.skipTest("no Katib conformance folder here")
        names = []
        for f in sorted(os.listdir(folder)):
            if not f.endswith(".yaml"):
                continue
            p = self.skiff("run", os.path.join(folder, f), "--detach", check=0)
            kind_name = p.stdout.strip().split("/")
            self.assertEqual(kind_name[0], "experiment", p.stdout)
            names.append(kind_name[1])
        self.assertGreaterEqual(len(names), 10)
        for name in names:
            exp = json.loads(self.skiff("get", "experiment", name, "-n", "kubeflow", "-o", "json",
                                        check=0).stdout)
            out = self.skiff("describe", "experiment", name, "-n", "kubeflow", check=0).stdout
            self.assertIn("Plan:", out, name)
            self.assertNotIn("<invalid", out, name)
            planned = [l for l in out.splitlines() if l.startswith("  %s-" % name) and "=" in l]
            want = min(exp["spec"].get("parallelTrialCount", 3), exp["spec"].get("maxTrialCount", 10**9))
            self.assertEqual(len(planned), want, out)
            # Every planned assignment names each parameter of the search space.
            params = [p["name"] for p in exp["spec"]["parameters"]]
            for line in planned:
                for p in params:
                    self.assertIn(" %s=" % p, line, name)


if __name__ == "__main__":
    unittest.main()
