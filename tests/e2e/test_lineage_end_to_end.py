"""The issue's acceptance walk: a pipeline prepares a data set from a raw file, a Katib Experiment
tunes on it, a training job trains with the best Trial's hyperparameters and writes its model
under $SKIFF_OUTPUT_DIR, and an InferenceService serves that model. The lineage recorded with no
help beyond `skiff log ... --input` leads from the served model back to the raw data set,
through the Trial that chose the hyperparameters. Also: a memoized step is recorded as CACHED,
linked to the execution that produced its outputs."""

import hashlib
import json
import os
import re
import subprocess
import unittest
import urllib.error
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args

PREPARE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: prepare, namespace: default}
spec:
  entrypoint: prepare
  templates:
  - name: prepare
    container:
      image: busybox
      command: [sh, -c]
      args:
      - |
        set -e
        skiff log artifact %(raw)s --type Dataset --name raw --input
        sort -n %(raw)s > /tmp/prepared.csv
        cp /tmp/prepared.csv %(prepared)s
        skiff log artifact /tmp/prepared.csv --type Dataset --name prepared
"""

EXPERIMENT = """
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: tune, namespace: default}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: random}
  parallelTrialCount: 2
  maxTrialCount: 2
  parameters:
    - {name: lr, parameterType: double, feasibleSpace: {min: "0.01", max: "0.5"}}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
      - {name: lr, reference: lr}
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
                    import sys
                    from skiff import log_artifact
                    log_artifact("%(prepared)s", type="Dataset", name="prepared", input=True)
                    lr = float(sys.argv[1])
                    print("loss=%%.6f" %% ((lr - 0.2) ** 2))
                  - "${trialParameters.lr}"
"""

TRAIN = """
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: train, namespace: default}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      restartPolicy: Never
      template:
        spec:
          containers:
            - name: pytorch
              image: python:3
              command: [/usr/bin/python3, -c]
              args:
                - |
                  import json, os
                  from skiff import log_artifact, output_dir
                  log_artifact("%(hp)s", type="katib.HyperParameters", name="chosen", input=True)
                  lr = float(json.load(open("%(hp)s"))["lr"])
                  model = "lr=%%s rows=%%d" %% (lr, len(open("%(prepared)s").read().split()))
                  with open(os.path.join(output_dir(), "model.txt"), "w") as f:
                      f.write(model)
                  with open(os.path.join(output_dir(), "checkpoint-1.txt"), "w") as f:
                      f.write("half " + model)
                  with open("%(served)s", "w") as f:
                      f.write(model)
"""

ISVC = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "model", "namespace": "default"},
    "spec": {"predictor": {"model": {"modelFormat": {"name": "custom"}, "storageUri": None}}},
}

MEMOIZED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: memo-}
spec:
  entrypoint: once
  templates:
  - name: once
    memoize: {key: "k1", cache: {configMap: {name: lineage-cache}}}
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo cached > /tmp/out.txt"]
    outputs:
      parameters:
      - name: out
        valueFrom: {path: /tmp/out.txt}
"""


class LineageEndToEndTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        store = store_args()
        if store:  # `skiff lineage` reads the lineage where the server keeps it
            self.env["SKIFF_STORE"] = store[1]
        self.start_server(store=store)
        self.api = self.url + "/apis/metadata.skiff.dev/v1/namespaces/default"

    def get(self, path):
        with urllib.request.urlopen(self.api + path) as r:
            return r.read() if path.startswith("/artifacts/") else json.loads(r.read())

    def items(self, path):
        """The items of a list, or None while its context does not exist yet (404)."""
        try:
            return self.get(path)["items"] or None
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def kube(self, method, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def get_obj(self, kind, name):
        return json.loads(self.remote("get", kind, name, "-o", "json").stdout)

    def conditions(self, obj):
        return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}

    def test_served_model_traces_back_to_the_raw_data_through_the_trial(self):
        raw = self.write("raw.csv", "3\n1\n2\n")
        files = {"raw": raw, "prepared": os.path.join(self.files, "prepared.csv"),
                 "hp": os.path.join(self.files, "hp.json"),
                 "served": os.path.join(self.files, "model.txt")}
        # 1. The pipeline.
        self.remote("apply", "-f", self.write("prepare.yaml", PREPARE % files))
        self.wait_until(lambda: self.get_obj("workflow", "prepare").get("status", {}).get(
            "phase") == "Succeeded", timeout=120, interval=0.2)
        # 2. The Experiment.
        self.remote("apply", "-f", self.write("exp.yaml", EXPERIMENT % files))
        exp = self.wait_until(lambda: (lambda e: e if self.conditions(e).get("Succeeded") == "True"
                                       else None)(self.get_obj("experiment", "tune")),
                              timeout=180, interval=0.5)
        best = exp["status"]["currentOptimalTrial"]["bestTrialName"]
        # Each finished Trial is an execution in the Experiment's context, with its assignment,
        # its observed loss, and the data set its Pod read.
        trials = self.wait_until(lambda: (lambda t: t if t and len(t) == 2 else None)(
            self.items("/executions?context=katib.Experiment/tune")), timeout=30)
        by_name = {t["name"]: t for t in trials}
        self.assertIn(best, by_name)
        self.assertEqual(by_name[best]["type"], "katib.Trial")
        self.assertEqual(by_name[best]["state"], "COMPLETE")
        lr = float(by_name[best]["properties"]["parameters"]["lr"])
        with urllib.request.urlopen(self.api + "/executions/%s/metrics" % best) as r:
            loss = {m["name"]: m["value"] for m in json.loads(r.read())["metrics"]}["loss"]
        self.assertAlmostEqual(loss, (lr - 0.2) ** 2, places=5)
        # The Experiment's metrics as a table: one row a Trial.
        table = self.get("/metrics?context=katib.Experiment/tune")
        self.assertEqual(table["columns"], ["loss"])
        self.assertEqual(sorted(r["execution"] for r in table["rows"]), sorted(by_name))
        self.assertIn(best, self.skiff("metrics", "--context", "katib.Experiment/tune", check=0).stdout)
        # Contexts: the Trials are children of the Experiment's context, by API and CLI.
        children = self.get("/contexts?parent=katib.Experiment/tune")["items"]
        self.assertEqual(sorted(c["name"] for c in children), sorted(by_name))
        self.assertEqual({c["type"] for c in children}, {"katib.Trial"})
        self.assertEqual(self.get("/contexts/katib.Trial/" + best)["parent"], "katib.Experiment/tune")
        with self.assertRaises(urllib.error.HTTPError) as missing:
            self.get("/contexts/katib.Experiment/nope")
        self.assertEqual(missing.exception.code, 404)
        listed = self.skiff("contexts", "ls", "--parent", "katib.Experiment/tune", check=0).stdout
        self.assertIn(best, listed)
        self.assertIn("katib.Experiment/tune", listed)
        experiments = json.loads(self.skiff("get", "contexts", "--type", "katib.Experiment", "-o", "json",
                                            check=0).stdout)
        self.assertEqual([c["name"] for c in experiments], ["tune"])
        bad = self.skiff("contexts", "ls", "--parent", "katib.Experiment/nope", check=1)
        self.assertIn("--parent", bad.stderr)
        # The hyperparameters it chose, as the artifact a training job can read.
        hp = self.get("/artifacts?type=katib.HyperParameters&context=katib.Trial/" + best)["items"]
        self.assertEqual(len(hp), 1)
        with open(files["hp"], "wb") as f:
            f.write(self.get("/artifacts/" + hp[0]["digest"]))
        # 3. The training job.
        self.remote("apply", "-f", self.write("train.yaml", TRAIN % files))
        self.wait_until(lambda: self.conditions(self.get_obj("pytorchjob", "train")).get(
            "Succeeded") == "True", timeout=120, interval=0.3)
        replicas = self.wait_until(lambda: self.items(
            "/executions?context=kubeflow.PyTorchJob/train&state=COMPLETE"), timeout=30)
        self.assertEqual([r["type"] for r in replicas], ["training.Replica"])
        self.assertEqual(replicas[0]["properties"]["replicaType"].lower(), "master")
        outputs = self.get("/artifacts?context=kubeflow.PyTorchJob/train")["items"]
        self.assertEqual(sorted((a["type"], a["name"]) for a in outputs if a["type"] != "katib.HyperParameters"),
                         [("Checkpoint", "checkpoint-1.txt"), ("Model", "model.txt")])
        # 4. The InferenceService: its controller creates the revision (latestCreatedRevision)
        # that the recorder turns into a deploy execution, which starts the walk.
        isvc = json.loads(json.dumps(ISVC))
        isvc["spec"]["predictor"]["model"]["storageUri"] = "file://" + files["served"]
        base = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
        self.kube("POST", base, isvc)
        deploys = self.wait_until(lambda: self.items("/executions?context=kserve.InferenceService/model"),
                                  timeout=30)
        deploy = deploys[-1]["name"]
        self.assertTrue(deploy.startswith("deploy-model-"), deploy)
        self.assertEqual(deploys[-1]["type"], "kserve.Deploy")
        # The walk: served model <- deploy <- ... <- raw data set, through the best Trial.
        g = self.get("/lineage?execution=%s&direction=upstream&hops=20" % deploy)
        execs = {e["name"]: e for e in g["executions"]}
        types = {e["type"] for e in g["executions"]}
        self.assertLessEqual({"argo.Step", "katib.Trial", "kserve.Deploy", "training.Replica"}, types)
        self.assertIn(deploy, execs)
        self.assertIn(best, execs, "the walk does not pass the best trial: %s" % list(execs))
        self.assertIn(replicas[0]["name"], execs)
        self.assertIn("prepare", [e["properties"].get("workflow") for e in g["executions"]])
        others = [t for t in by_name if t != best]
        self.assertNotIn(others[0], execs, "a trial that was not chosen is on the path")
        arts = {a["name"]: a for a in g["artifacts"]}
        self.assertIn("raw", arts)
        with open(raw, "rb") as f:
            self.assertEqual(arts["raw"]["digest"], "sha256:" + hashlib.sha256(f.read()).hexdigest())
        served = [a for a in g["artifacts"] if a["type"] == "Model"]
        self.assertEqual(len(served), 1)
        with open(files["served"], "rb") as f:
            self.assertEqual(self.get("/artifacts/" + served[0]["digest"]), f.read())
        # The CLI walks the same graph from the served model's digest and prints the tree.
        tree = self.skiff("lineage", "artifact", served[0]["digest"], check=0).stdout
        self.assertIn(best, tree)
        self.assertIn("artifact raw", tree)

    def test_memoized_step_is_recorded_as_cached_linked_to_the_original(self):
        path = self.write("memo.yaml", MEMOIZED)
        names = []
        for _ in range(2):
            out = self.remote("create", "-f", path).stdout
            names.append(re.search(r"memo-[a-z0-9]+", out).group(0))
            self.wait_until(lambda: self.get_obj("workflow", names[-1]).get("status", {}).get(
                "phase") == "Succeeded", timeout=60, interval=0.2)
        cached = self.wait_until(lambda: self.items("/executions?state=CACHED"), timeout=30)
        self.assertEqual(len(cached), 1)
        self.assertEqual(cached[0]["properties"]["workflow"], names[1])
        original = self.get("/executions?context=skiff.WorkflowRun/" + names[0])["items"]
        self.assertEqual(len(original), 1)
        self.assertEqual(cached[0]["properties"]["cachedExecution"], original[0]["name"])
        self.assertEqual(cached[0]["properties"]["outputParameters"][0]["value"], "cached")


if __name__ == "__main__":
    unittest.main()
