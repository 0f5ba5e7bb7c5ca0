"""Katib metrics collectors end to end: File (TEXT and JSON, written inside the trial Pod's
private filesystem), Push (real HTTP to `skiff server`, from `curl` in the trial and from the
test), PrometheusMetric (a trial serving /metrics), the Suggestion resource, and
`skiff run experiment.yaml` in local mode (exit status, -o json, a failing experiment)."""

import json
import os
import re
import socket
import subprocess
import unittest
import urllib.error
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args


def experiment(name, collector, command, objective="loss", kind="minimize", max_trials=2,
               parallel=2, extra=""):
    return """
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: %(name)s, namespace: default}
spec:
  objective: {type: %(kind)s, objectiveMetricName: %(objective)s}
  algorithm: {algorithmName: random}
  parallelTrialCount: %(parallel)d
  maxTrialCount: %(max_trials)d
  maxFailedTrialCount: 0
%(collector)s
%(extra)s
  parameters:
    - {name: x, parameterType: double, feasibleSpace: {min: "-2", max: "2"}}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
      - {name: x, reference: x}
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
%(command)s
                  - "${trialParameters.x}"
""" % dict(name=name, collector=collector, command="\n".join(
        "                    " + line for line in command.strip("\n").split("\n")),
        objective=objective, kind=kind, max_trials=max_trials, parallel=parallel, extra=extra)


FILE_JSON = experiment("file-json", """  metricsCollectorSpec:
    collector: {kind: File}
    source:
      fileSystemPath: {path: /var/log/katib/metrics.json, kind: File, format: JSON}""", """
import json, sys, time
x = float(sys.argv[1])
with open("/var/log/katib/metrics.json", "a") as f:
    for step in range(3):
        f.write(json.dumps({"loss": str((x - 0.5) ** 2 + 1.0 / (step + 1)), "timestamp": time.time()}) + "\\n")
    f.write("a torn line {\\n")
print("loss=12345")  # stdout is not the collector
""")

FILE_TEXT_TMP = experiment("file-text", """  metricsCollectorSpec:
    collector: {kind: File}
    source:
      fileSystemPath: {path: /tmp/out/metrics.log, kind: File}
      filter:
        metricsFormat: ["{metricName: ([\\\\w|-]+), metricValue: ((-?\\\\d+)(\\\\.\\\\d+)?)}"]""", """
import os, sys
x = float(sys.argv[1])
os.makedirs("/tmp/out", exist_ok=True)
with open("/tmp/out/metrics.log", "w") as f:
    f.write("{metricName: loss, metricValue: %.6f}\\n" % ((x - 0.5) ** 2))
""")

FILE_MISSING = experiment("file-missing", """  metricsCollectorSpec:
    collector: {kind: File}
    source:
      fileSystemPath: {path: /var/log/katib/never-written.log, kind: File}""", """
print("loss=1.0")
""", max_trials=1, parallel=1)

PUSH = experiment("push", """  metricsCollectorSpec:
    collector: {kind: Push}""", """
import json, os, sys, urllib.request
x = float(sys.argv[1])
for step, acc in enumerate([0.1, 1.0 - abs(x) / 4]):
    body = json.dumps({"metrics": [{"name": "accuracy", "value": str(acc)}]}).encode()
    req = urllib.request.Request(os.environ["KATIB_METRICS_URL"], data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    assert urllib.request.urlopen(req).status == 200
print("accuracy=99")  # stdout is not the collector
""", objective="accuracy", kind="maximize")

PUSH_CURL = experiment("push-curl", """  metricsCollectorSpec:
    collector: {kind: Push}""", """
import subprocess, sys
subprocess.run(["curl", "-sf", "-X", "POST", "-H", "Content-Type: application/json", "-d",
                '{"accuracy": %s}' % sys.argv[1], "-o", "/dev/null",
                __import__("os").environ["KATIB_METRICS_URL"]], check=True)
""", objective="accuracy", kind="maximize", max_trials=1, parallel=1)

HOLD = experiment("hold", """  metricsCollectorSpec:
    collector: {kind: Push}""", """
import time
time.sleep(30)
""", objective="accuracy", kind="maximize", max_trials=1, parallel=1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prometheus(port):
    return experiment("prom", """  metricsCollectorSpec:
    collector: {kind: PrometheusMetric}
    source:
      httpGet: {port: %d, path: /custom-metrics}""" % port, """
import http.server, sys, threading, time
x = float(sys.argv[1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/custom-metrics":
            self.send_response(404); self.end_headers(); return
        body = ("# HELP loss The loss.\\n# TYPE loss gauge\\nloss{phase=\\"train\\"} 7\\nloss %%f\\n" %% ((x - 0.5) ** 2)).encode()
        self.send_response(200); self.send_header("Content-Type", "text/plain"); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", %d), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
time.sleep(2.5)
""" % port, max_trials=2, parallel=1)


class CollectorsThroughServerTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.start_server()

    def remote(self, *args, check=0):
        p = subprocess.run([SKIFF] + list(args) + ["--server", self.url], env=self.env,
                           capture_output=True, text=True, timeout=120)
        if check is not None:
            self.assertEqual(p.returncode, check, "skiff %s: rc=%d\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def get(self, kind, name):
        return json.loads(self.remote("get", kind, name, "-o", "json").stdout)

    def run_experiment(self, text, name, timeout=120):
        self.remote("apply", "-f", self.write(name + ".yaml", text))

        def finished():
            exp = self.get("experiment", name)
            for c in exp.get("status", {}).get("conditions", []):
                if c["type"] in ("Succeeded", "Failed") and c["status"] == "True":
                    return exp
            return None

        return self.wait_until(finished, timeout=timeout, interval=0.3)

    def trials(self, name):
        items = json.loads(self.remote("get", "trials", "-o", "json").stdout)["items"]
        return [t for t in items if t["metadata"]["labels"].get("katib.kubeflow.org/experiment") == name]

    @staticmethod
    def observed(trial, metric="loss"):
        for m in trial["status"]["observation"]["metrics"]:
            if m["name"] == metric:
                return m
        raise AssertionError("no %s in %s" % (metric, trial["status"]))

    @staticmethod
    def x(trial):
        return float(trial["spec"]["parameterAssignments"][0]["value"])

    def post(self, path, body, expect):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req) as r:
                code, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read().decode()
        self.assertEqual(code, expect, text)
        return json.loads(text)

    def test_file_collector_json_reads_the_file_the_trial_wrote_in_its_pod(self):
        exp = self.run_experiment(FILE_JSON, "file-json")
        self.assertEqual(exp["status"]["trialsSucceeded"], 2, exp["status"])
        for t in self.trials("file-json"):
            m = self.observed(t)
            self.assertAlmostEqual(float(m["latest"]), (self.x(t) - 0.5) ** 2 + 1.0 / 3, places=6)
            self.assertAlmostEqual(float(m["max"]), (self.x(t) - 0.5) ** 2 + 1.0, places=6)
        # The Suggestion mirrors both suggestions, as Katib's does.
        sug = self.get("suggestion", "file-json")
        self.assertEqual(sug["status"]["suggestionCount"], 2)
        self.assertEqual(sorted(s["name"] for s in sug["status"]["suggestions"]),
                         sorted(t["metadata"]["name"] for t in self.trials("file-json")))

    def test_file_collector_text_in_the_private_tmp_with_a_custom_filter(self):
        exp = self.run_experiment(FILE_TEXT_TMP, "file-text")
        self.assertEqual(exp["status"]["trialsSucceeded"], 2, exp["status"])
        for t in self.trials("file-text"):
            self.assertAlmostEqual(float(self.observed(t)["latest"]), (self.x(t) - 0.5) ** 2, places=5)

    def test_file_collector_without_the_file_is_metrics_unavailable(self):
        exp = self.run_experiment(FILE_MISSING, "file-missing")
        self.assertEqual(exp["status"]["trialsMetricsUnavailable"], 1, exp["status"])
        failed = [c for c in exp["status"]["conditions"] if c["type"] == "Failed"]
        self.assertEqual(failed[0]["status"], "True")

    def test_push_collector_takes_what_the_trial_posted(self):
        exp = self.run_experiment(PUSH, "push")
        self.assertEqual(exp["status"]["trialsSucceeded"], 2, exp["status"])
        for t in self.trials("push"):
            m = self.observed(t, "accuracy")
            self.assertAlmostEqual(float(m["latest"]), 1.0 - abs(self.x(t)) / 4, places=6)
            self.assertEqual(m["min"], "0.1")
            logs = json.loads(urllib.request.urlopen(
                self.url + "/apis/kubeflow.org/v1beta1/namespaces/default/trials/%s/metrics"
                % t["metadata"]["name"]).read())["observationLogs"]
            self.assertEqual(len(logs), 2)
        exp = self.run_experiment(PUSH_CURL, "push-curl")
        t = self.trials("push-curl")[0]
        self.assertAlmostEqual(float(self.observed(t, "accuracy")["latest"]), self.x(t), places=6)

    def test_push_endpoint_errors_and_acknowledged_reports(self):
        base = "/apis/kubeflow.org/v1beta1/namespaces/default/trials/%s/metrics"
        body = self.post(base % "nope", {"metrics": [{"name": "accuracy", "value": "1"}]}, 404)
        self.assertIn("nope", body["message"])
        self.remote("apply", "-f", self.write("hold.yaml", HOLD))
        self.wait_until(lambda: self.trials("hold"), timeout=30)
        trial = base % "hold-0"
        body = self.post(trial, {"metrics": [{"name": "accuracy", "value": "high"}]}, 422)
        self.assertIn("metrics[0].value", body["message"])
        # Katib's ReportObservationLog shape is accepted too.
        self.post(trial, {"trial_name": "hold-0", "observation_log": {"metric_logs": [
            {"time_stamp": "2024-01-01T00:00:00Z", "metric": {"name": "accuracy", "value": "0.5"}}]}}, 200)
        self.post(trial, {"metrics": [{"name": "accuracy", "value": 0.75}]}, 200)
        self.remote("delete", "experiment", "hold")
        # Once the trial is gone, its reports are refused.
        self.wait_until(lambda: self.remote("get", "trial", "hold-0", check=None).returncode != 0,
                        timeout=30)
        self.post(trial, {"metrics": [{"name": "accuracy", "value": "1"}]}, 404)

    def test_prometheus_collector_scrapes_the_trial_while_it_runs(self):
        exp = self.run_experiment(prometheus(free_port()), "prom", timeout=60)
        self.assertEqual(exp["status"]["trialsSucceeded"], 2, exp["status"])
        for t in self.trials("prom"):
            # The unlabelled series, not the labelled one (7).
            self.assertAlmostEqual(float(self.observed(t)["latest"]), (self.x(t) - 0.5) ** 2, places=5)


    def test_long_running_experiment_continues_when_max_trial_count_is_raised(self):
        text = PUSH.replace("name: push,", "name: lr,").replace(
            "maxTrialCount: 2", "maxTrialCount: 2\n  resumePolicy: LongRunning")
        exp = self.run_experiment(text, "lr")
        first = {t["metadata"]["name"]: t["spec"]["parameterAssignments"] for t in self.trials("lr")}
        self.assertEqual(sorted(first), ["lr-0", "lr-1"])
        self.remote("apply", "-f", self.write("lr.yaml", text.replace("maxTrialCount: 2", "maxTrialCount: 4")))

        def four_done():
            exp = self.get("experiment", "lr")
            return exp if exp["status"].get("trialsSucceeded") == 4 and any(
                c["type"] == "Succeeded" and c["status"] == "True" for c in exp["status"]["conditions"]) else None

        exp = self.wait_until(four_done, timeout=60, interval=0.3)
        trials = {t["metadata"]["name"]: t["spec"]["parameterAssignments"] for t in self.trials("lr")}
        self.assertEqual(sorted(trials), ["lr-0", "lr-1", "lr-2", "lr-3"])
        for name, assignments in first.items():
            self.assertEqual(trials[name], assignments, "earlier trials are untouched")
        self.assertEqual(self.get("suggestion", "lr")["status"]["suggestionCount"], 4)


class PushWithAuthTest(SkiffTestCase):
    def test_push_needs_a_token_that_may_update_trials(self):
        editor = self.skiff("token", "create", "trainer", "--namespace", "default", "--role", "edit",
                            check=0).stdout.strip()
        viewer = self.skiff("token", "create", "reader", "--namespace", "default", "--role", "view",
                            check=0).stdout.strip()
        server = subprocess.Popen([SKIFF, "server", "--port", "0", "--auth"] + store_args(),
                                  env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            m = re.search(r"http://127\.0\.0\.1:(\d+)", server.stdout.readline())
            url = "http://127.0.0.1:%s/apis/kubeflow.org/v1beta1/namespaces/default/trials/t/metrics" % m.group(1)

            def post(token):
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = "Bearer " + token
                req = urllib.request.Request(url, data=b'{"accuracy": 1}', headers=headers, method="POST")
                try:
                    return urllib.request.urlopen(req).status
                except urllib.error.HTTPError as e:
                    return e.code

            self.assertEqual(post(None), 401)
            self.assertEqual(post(viewer), 403)
            self.assertEqual(post(editor), 404)  # allowed; there is no trial "t"
        finally:
            server.terminate()
            server.wait(timeout=10)
            server.stdout.close()
            server.stderr.close()


class RunExperimentTest(SkiffTestCase):
    def test_skiff_run_runs_an_experiment_to_completion(self):
        path = self.write("file-json.yaml", FILE_JSON)
        p = self.skiff("run", path, check=0, timeout=120)
        self.assertIn("experiment/file-json Succeeded", p.stdout)
        self.assertRegex(p.stdout, r"trial file-json-0 Succeeded loss=")
        self.assertRegex(p.stdout, r"best: file-json-[01] loss=")
        exp = self.get_json("experiment", "file-json")
        self.assertEqual(exp["status"]["trials"], 2)

    def test_collector_examples_run(self):
        examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "tuning")
        exp = self.run_json(os.path.join(examples, "file-collector.yaml"))
        self.assertEqual(exp["status"]["trialsSucceeded"], 12, exp["status"])
        best = exp["status"]["currentOptimalTrial"]
        a = {p["name"]: float(p["value"]) for p in best["parameterAssignments"]}
        loss = float(best["observation"]["metrics"][0]["min"])
        self.assertAlmostEqual(loss, (a["x"] - 1.0) ** 2 + 1.0 / a["epochs"], delta=0.011)
        exp = self.run_json(os.path.join(examples, "push-collector.yaml"))
        self.assertEqual(exp["status"]["trialsSucceeded"], 6, exp["status"])

    def test_skiff_run_prints_the_final_experiment_and_fails_with_it(self):
        exp = self.run_json(self.write("push.yaml", PUSH))
        self.assertEqual(exp["kind"], "Experiment")
        self.assertEqual(exp["status"]["trialsSucceeded"], 2)
        exp = self.run_json(self.write("missing.yaml", FILE_MISSING), rc=1)
        self.assertEqual(exp["status"]["trialsMetricsUnavailable"], 1)
        bad = FILE_MISSING.replace("/var/log/katib/never-written.log", "relative.log").replace(
            "file-missing", "bad-path")
        p = self.skiff("run", self.write("bad.yaml", bad), check=2)
        self.assertIn("spec.metricsCollectorSpec.source.fileSystemPath.path: must be absolute",
                      p.stderr)
        # Katib's own examples are accepted as they are.
        for name in ("file-metrics-collector", "random", "median-stop", "hyperband"):
            path = "/work/shared/conformance/katib/%s.yaml" % name
            if os.path.exists(path):
                self.skiff("lint", path, check=0)


if __name__ == "__main__":
    unittest.main()
