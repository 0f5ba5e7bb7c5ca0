"""The serving gateway of a real `skiff server`: replica Pods run by the server's kubelet
(`skiff model-server` with XGBoost models trained here on sklearn's digits, readiness probe on
/v2/health/ready), made by the serving controller from an InferenceService (revision 2 as a
10 % canary, tags, then rolled back so that the canary has no replica and a request by its tag
activates it), and clients speaking KServe V1/V2 to the server's port. Needs Debian's /usr/bin/python3 with python3-xgboost and
python3-sklearn."""

import http.client
import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.request

from skiffenv import SkiffTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "..", "src", "serving", "gateway", "testdata", "train_digits.py")
ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"


def have_xgboost():
    return subprocess.run(["/usr/bin/python3", "-c", "import xgboost, sklearn"],
                          capture_output=True).returncode == 0


@unittest.skipUnless(have_xgboost(), "python3-xgboost / python3-sklearn are not installed")
class GatewayTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.models = os.path.join(self.files, "models")
        subprocess.run(["/usr/bin/python3", TRAIN, self.models], check=True)
        with open(os.path.join(self.models, "expected.json")) as f:
            self.expected = json.load(f)
        self.start_server()
        self.port = int(self.url.rsplit(":", 1)[1])

    def tearDown(self):
        self.stop_server_and_replicas()
        super().tearDown()

    # --- API helpers ---
    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def put_isvc(self, model, canary=None, create=False):
        """The InferenceService as a user writes it; the controller makes revisions and Pods."""
        predictor = {"minReplicas": 1,
                     # Small requests: replicas must fit the local node's CPUs (a 2-core host).
                     "model": {"modelFormat": {"name": "xgboost"},
                               "storageUri": "file://" + os.path.join(self.models, model),
                               "resources": {"requests": {"cpu": "100m"}}}}
        if canary is not None:
            predictor["canaryTrafficPercent"] = canary
        obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": {"name": "digits", "namespace": "default"}, "spec": {"predictor": predictor}}
        if create:
            self.api("POST", ISVC_PATH, obj)
            return
        current = self.api("GET", ISVC_PATH + "/digits")
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        self.api("PUT", ISVC_PATH + "/digits", obj)

    def wait_status(self, what, fn, limit=90):
        deadline = time.time() + limit
        while time.time() < deadline:
            st = self.api("GET", ISVC_PATH + "/digits").get("status", {})
            if fn(st):
                return st
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def revision_pods(self, revision):
        sel = urllib.request.quote("serving.knative.dev/revision=" + revision)
        return self.api("GET", "/api/v1/namespaces/default/pods?labelSelector=" + sel)["items"]

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
        rev1, rev2 = "digits-predictor-00001", "digits-predictor-00002"
        self.put_isvc("rev1", create=True)
        self.wait_status("revision 1 ready", lambda st: st.get("components", {}).get("predictor", {})
                         .get("latestReadyRevision") == rev1)
        self.put_isvc("rev2", canary=10)
        st = self.wait_status("revision 2 ready", lambda st: st.get("components", {}).get("predictor", {})
                              .get("latestReadyRevision") == rev2)
        self.assertEqual(sorted((t["revisionName"], t["percent"], t.get("tag")) for t in
                                st["components"]["predictor"]["traffic"]),
                         [(rev1, 90, "prev"), (rev2, 10, "latest")])
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

        # Roll back (canary 0 %): the canary loses its replica. A request by its tag is held
        # while the gateway asks the controller to activate the revision, then forwarded.
        self.put_isvc("rev2", canary=0)
        deadline = time.time() + 60
        while time.time() < deadline and self.revision_pods(rev2):
            time.sleep(0.1)
        self.assertEqual(self.revision_pods(rev2), [])
        asked = time.time()
        status, _, body = self.post(conn, "/v2/models/digits/infer", self.v2_body(), {"Knative-Serving-Tag": "latest"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.which_model(json.loads(body)["outputs"][0]["data"]), "rev2")
        print("request to a revision without replicas answered after %.2fs (activation)" % (time.time() - asked))
        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        self.assertRegex(text, r'skiff_isvc_ready_replicas\{revision="default/digits/%s"\} 1' % rev2)

        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        self.assertRegex(text, r'skiff_serving_requests_total\{namespace="default",inferenceservice="digits",'
                               r'revision="%s",code="200"\} \d+' % rev2)
        self.assertIn("skiff_serving_request_duration_seconds_bucket", text)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


if __name__ == "__main__":
    unittest.main()
