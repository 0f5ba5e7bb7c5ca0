"""The serving gateway of a real `skiff server`: replica Pods run by the server's kubelet
(`skiff model-server` with XGBoost models trained here on sklearn's digits, readiness probe on
/v2/health/ready), an InferenceService whose status this test writes through the API as the
serving controller would (traffic 90/10 across two revisions, tags), and clients speaking KServe
V1/V2 to the server's port. Needs Debian's /usr/bin/python3 with python3-xgboost and
python3-sklearn."""

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
import unittest
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "..", "src", "serving", "gateway", "testdata", "train_digits.py")
ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"


def have_xgboost():
    return subprocess.run(["/usr/bin/python3", "-c", "import xgboost, sklearn"],
                          capture_output=True).returncode == 0


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(have_xgboost(), "python3-xgboost / python3-sklearn are not installed")
class GatewayTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.models = os.path.join(self.files, "models")
        subprocess.run(["/usr/bin/python3", TRAIN, self.models], check=True)
        with open(os.path.join(self.models, "expected.json")) as f:
            self.expected = json.load(f)
        self.server = subprocess.Popen([SKIFF, "server", "--port", "0"] + store_args(), env=self.env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.server.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        self.assertIsNotNone(m, "server did not start: %r" % line)
        self.port = int(m.group(1))
        self.url = "http://127.0.0.1:%d" % self.port

    def tearDown(self):
        # Delete the replica Pods first, so the kubelet stops their processes (the supervisor
        # outlives the server by design, and killing it would orphan them).
        try:
            for pod in self.api("GET", "/api/v1/namespaces/default/pods")["items"]:
                name = pod["metadata"]["name"]
                self.api("DELETE", "/api/v1/namespaces/default/pods/" + name)
            deadline = time.time() + 30
            while time.time() < deadline and self.api("GET", "/api/v1/namespaces/default/pods")["items"]:
                time.sleep(0.1)
        except OSError:
            pass
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
        self.server.stdout.close()
        self.server.stderr.close()
        super().tearDown()

    # --- API helpers ---
    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def put_isvc(self, traffic, create=True):
        obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": {"name": "digits", "namespace": "default"},
               "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"}}}}}
        if create:
            self.api("POST", ISVC_PATH, obj)
        current = self.api("GET", ISVC_PATH + "/digits")
        current["status"] = {"url": "http://digits.default.example.com",
                             "address": {"url": "http://digits.default.example.com"},
                             "components": {"predictor": {"traffic": traffic}}}
        self.api("PUT", ISVC_PATH + "/digits/status", current)

    def put_pod(self, revision, model_dir, version):
        port = free_port()
        self.api("POST", "/api/v1/namespaces/default/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": revision + "-a", "namespace": "default",
                         "labels": {"serving.kserve.io/inferenceservice": "digits", "component": "predictor",
                                    "serving.knative.dev/revision": revision},
                         "annotations": {"serving.skiff.dev/port": str(port),
                                         "serving.skiff.dev/container-concurrency": "0",
                                         "serving.skiff.dev/timeout-seconds": "60"}},
            "spec": {"restartPolicy": "Always", "containers": [{
                "name": "kserve-container", "image": "skiff",
                "command": [os.path.abspath(SKIFF), "model-server", "--model-name", "digits", "--model-dir",
                            model_dir, "--model-version", version, "--port", str(port), "--workers", "2"],
                # Small requests: three replicas must fit the local node's CPUs (a 2-core host).
                "resources": {"requests": {"cpu": "100m"}},
                "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": port}, "periodSeconds": 1}}]}})
        return port

    # --- inference helpers ---
    def v2_body(self):
        rows = self.expected["x"]
        return {"id": "e2e", "inputs": [{"name": "input-0", "shape": [len(rows), 64], "datatype": "FP32",
                                          "data": [v for r in rows for v in r]}]}

    def which_model(self, probabilities):
        for rev in ("rev1", "rev2"):
            want = self.expected[rev]
            if len(probabilities) == len(want) * 10 and all(
                    abs(probabilities[i * 10 + k] - want[i][k]) < 1e-5 for i in range(len(want)) for k in range(10)):
                return rev
        return ""

    def post(self, conn, path, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request("POST", path, json.dumps(body), h)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    def wait_routable(self, conn, headers=None, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            status, _, _ = self.post(conn, "/v2/models/digits/infer", self.v2_body(), headers)
            if status == 200:
                return
            time.sleep(0.1)
        self.fail("the gateway never served %s; server stderr: %s" % (headers, self.server.stderr.name))

    def test_predictions_canary_tags_activation_and_metrics(self):
        rev1, rev2, rev3 = "digits-predictor-00001", "digits-predictor-00002", "digits-predictor-00003"
        self.put_pod(rev1, os.path.join(self.models, "rev1"), "1")
        self.put_pod(rev2, os.path.join(self.models, "rev2"), "2")
        self.put_isvc([{"revisionName": rev2, "percent": 10, "latestRevision": True, "tag": "latest"},
                       {"revisionName": rev1, "percent": 90, "latestRevision": False, "tag": "prev"}])
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.wait_routable(conn, {"Knative-Serving-Tag": "prev"})
        self.wait_routable(conn, {"Knative-Serving-Tag": "latest"})

        # Each revision answers with its own model's predictions, V1 and V2, by tag or host.
        for tag, model in (("prev", "rev1"), ("latest", "rev2")):
            status, _, body = self.post(conn, "/v2/models/digits/infer", self.v2_body(), {"Knative-Serving-Tag": tag})
            self.assertEqual(status, 200, body)
            out = json.loads(body)
            self.assertEqual(out["id"], "e2e")
            self.assertEqual(self.which_model(out["outputs"][0]["data"]), model)
            status, _, body = self.post(conn, "/v1/models/digits:predict", {"instances": self.expected["x"]},
                                        {"Host": tag + "-digits.default.example.com"})
            self.assertEqual(status, 200, body)
            preds = json.loads(body)["predictions"]
            self.assertEqual(self.which_model([v for row in preds for v in row]), model)

        # 2,000 plain requests: the canary gets 10% +- 3%.
        served = {"rev1": 0, "rev2": 0, "": 0}
        for i in range(2000):
            status, _, body = self.post(conn, "/v2/models/digits/infer", self.v2_body())
            self.assertEqual(status, 200, body)
            served[self.which_model(json.loads(body)["outputs"][0]["data"])] += 1
        self.assertEqual(served[""], 0)
        self.assertTrue(140 <= served["rev2"] <= 260, served)
        print("canary: %s" % served)

        status, _, body = self.post(conn, "/v2/models/nope/infer", self.v2_body())
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body), {"error": "Model with name nope does not exist."})

        # A revision with no replica: requests are held, then forwarded when its Pod is ready.
        self.put_isvc([{"revisionName": rev3, "percent": 100, "latestRevision": True}], create=False)
        results = {}
        deadline = time.time() + 30
        while time.time() < deadline:  # the gateway applies the new status asynchronously
            status, _, _ = self.post(conn, "/v2/models/digits/infer", self.v2_body(), {"Knative-Serving-Tag": "prev"})
            if status == 404:
                break
            time.sleep(0.05)

        def held_request():
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=90)
            results["status"], _, results["body"] = self.post(c, "/v2/models/digits/infer", self.v2_body())

        t = threading.Thread(target=held_request)
        t.start()
        deadline = time.time() + 30
        text = ""
        while time.time() < deadline:
            text = urllib.request.urlopen(self.url + "/metrics").read().decode()
            if re.search(r'skiff_serving_queue_length\{[^}]*revision="%s"\} 1\n' % rev3, text):
                break
            time.sleep(0.05)
        self.assertRegex(text, r'skiff_serving_queue_length\{[^}]*revision="%s"\} 1\n' % rev3)
        created = time.time()
        self.put_pod(rev3, os.path.join(self.models, "rev2"), "3")
        t.join(90)
        self.assertEqual(results.get("status"), 200, results)
        self.assertEqual(self.which_model(json.loads(results["body"])["outputs"][0]["data"]), "rev2")
        print("held request answered %.2fs after its Pod was created" % (time.time() - created))

        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        self.assertRegex(text, r'skiff_serving_requests_total\{namespace="default",inferenceservice="digits",'
                               r'revision="%s",code="200"\} \d+' % rev2)
        self.assertIn("skiff_serving_request_duration_seconds_bucket", text)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


if __name__ == "__main__":
    unittest.main()
