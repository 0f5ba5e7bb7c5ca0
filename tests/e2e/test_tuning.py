"""Katib Experiments through `skiff server`: a real server, real Trials run as batch/v1 Jobs
by the local kubelet, metrics read from the training containers' stdout."""

import json
import os
import re
import subprocess
import unittest

from skiffenv import SKIFF, SkiffTestCase, store_args

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "tuning",
                       "random-sklearn.yaml")


def have_sklearn():
    return subprocess.run(["/usr/bin/python3", "-c", "import sklearn"],
                          capture_output=True).returncode == 0


# The same shape as the example with a stdlib-only objective, so the test runs everywhere.
QUADRATIC = """
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: quadratic, namespace: default}
spec:
  objective: {type: minimize, objectiveMetricName: loss, additionalMetricNames: [x-squared]}
  algorithm: {algorithmName: random}
  parallelTrialCount: 2
  maxTrialCount: 4
  parameters:
    - {name: x, parameterType: double, feasibleSpace: {min: "-2", max: "2"}}
    - {name: n, parameterType: int, feasibleSpace: {min: "1", max: "3"}}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
      - {name: x, reference: x}
      - {name: n, reference: n}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            restartPolicy: Never
            containers:
              - name: training-container
                command:
                  - /usr/bin/python3
                  - -c
                  - |
                    import os, sys
                    x, n = float(sys.argv[1]), int(sys.argv[2])
                    assert os.environ["KATIB_TRIAL_NAME"].startswith("quadratic-")
                    for step in range(n):
                        print("epoch %d: loss=%.6f x-squared=%.6f" % (step, (x - 0.5) ** 2 + 1.0 / (step + 1), x * x))
                  - "${trialParameters.x}"
                  - "${trialParameters.n}"
"""


class TuningTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.start_server()

    def run_experiment(self, path, name, timeout):
        self.remote("apply", "-f", path)

        def finished():
            exp = json.loads(self.remote("get", "experiment", name, "-o", "json").stdout)
            for c in exp.get("status", {}).get("conditions", []):
                if c["type"] in ("Succeeded", "Failed") and c["status"] == "True":
                    return exp
            return None

        return self.wait_until(finished, timeout=timeout, interval=0.5)

    def check_finished(self, exp, name, objective):
        status = exp["status"]
        succeeded = [c for c in status["conditions"] if c["type"] == "Succeeded"]
        self.assertEqual(len(succeeded), 1, status)
        self.assertEqual(succeeded[0]["status"], "True", status)
        self.assertIn(succeeded[0]["reason"], ("ExperimentMaxTrialsReached",
                                               "ExperimentGoalReached"))
        trials = json.loads(self.remote("get", "trials", "-o", "json").stdout)["items"]
        trials = [t for t in trials
                  if t["metadata"]["labels"].get("katib.kubeflow.org/experiment") == name]
        if succeeded[0]["reason"] == "ExperimentMaxTrialsReached":
            self.assertEqual(status["trials"], 4, status)
            self.assertEqual(status["trialsSucceeded"], 4, status)
            self.assertEqual(len(trials), 4)
        best = status["currentOptimalTrial"]
        self.assertIn(best["bestTrialName"], [t["metadata"]["name"] for t in trials])
        metrics = {m["name"]: m for m in best["observation"]["metrics"]}
        self.assertIn(objective, metrics)
        for key in ("min", "max", "latest"):
            float(metrics[objective][key])
        return status, trials, metrics

    def test_quadratic_experiment_runs_four_trials_and_keeps_the_best(self):
        path = self.write("quadratic.yaml", QUADRATIC)
        exp = self.run_experiment(path, "quadratic", timeout=180)
        status, trials, metrics = self.check_finished(exp, "quadratic", "loss")
        # The best trial has the lowest minimum loss, and its assignment produced it.
        losses = {}
        for t in trials:
            ms = {m["name"]: m for m in t["status"]["observation"]["metrics"]}
            losses[t["metadata"]["name"]] = float(ms["loss"]["min"])
            a = {p["name"]: p["value"] for p in t["spec"]["parameterAssignments"]}
            x, n = float(a["x"]), int(a["n"])
            self.assertTrue(-2 <= x <= 2 and 1 <= n <= 3, a)
            self.assertAlmostEqual(float(ms["loss"]["latest"]), (x - 0.5) ** 2 + 1.0 / n, places=4)
            self.assertAlmostEqual(float(ms["x-squared"]["max"]), x * x, places=4)
        self.assertEqual(status["currentOptimalTrial"]["bestTrialName"],
                         min(losses, key=losses.get))

    @unittest.skipUnless(have_sklearn(), "scikit-learn is not installed for /usr/bin/python3")
    def test_sklearn_example(self):
        exp = self.run_experiment(EXAMPLE, "random-sklearn", timeout=600)
        _, _, metrics = self.check_finished(exp, "random-sklearn", "accuracy")
        self.assertGreater(float(metrics["accuracy"]["max"]), 0.5)


if __name__ == "__main__":
    unittest.main()
