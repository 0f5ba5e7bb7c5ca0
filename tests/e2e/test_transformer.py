"""An InferenceService with a custom transformer on a real `skiff server`: the transformer is a
small Python stdlib HTTP server (written below) run as the service's transformer Pod by the
kubelet; it rescales the client's input (the client sends iris measurements in millimetres, the
model was trained in centimetres) and calls the predictor through the gateway, as KServe's
transformers do, at `SKIFF_GATEWAY` with the predictor's host from `PREDICTOR_HOST`. The
predictor is `skiff model-server` on an XGBoost iris model trained here. Clients reach the
transformer through the gateway (`/v2/models/iris/infer` and `/v1/models/iris:predict` on the
server's port); the predictions must equal the model's own for the rescaled rows. Needs Debian's
/usr/bin/python3 with python3-xgboost and python3-sklearn."""

import http.client
import json
import os
import subprocess
import time
import unittest
import urllib.request

from skiffenv import SkiffTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "..", "src", "serving", "server", "testdata", "train_models.py")
ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"

# The transformer: V2 `infer` and V1 `:predict` in, every number divided by 10, the same protocol
# out to the predictor through the gateway (Host = PREDICTOR_HOST), its answer passed back with
# a header that says the transformer handled it.
TRANSFORMER = r'''
import http.client, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GATEWAY = os.environ["SKIFF_GATEWAY"]
PREDICTOR = os.environ["PREDICTOR_HOST"]

def scale(x):
    return [scale(v) for v in x] if isinstance(x, list) else x / 10.0

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200, b'{"status": "alive"}')

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path.endswith(":predict"):
            req["instances"] = scale(req["instances"])
        else:
            for i in req["inputs"]:
                i["data"] = scale(i["data"])
        host, port = GATEWAY.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", self.path, json.dumps(req),
                     {"Host": PREDICTOR, "Content-Type": "application/json"})
        r = conn.getresponse()
        self.answer(r.status, r.read(), {"X-Transformed-By": "rescale"})

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def have_xgboost():
    return subprocess.run(["/usr/bin/python3", "-c", "import xgboost, sklearn"],
                          capture_output=True).returncode == 0


@unittest.skipUnless(have_xgboost(), "python3-xgboost / python3-sklearn are not installed")
class TransformerTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.models = os.path.join(self.files, "models")
        subprocess.run(["/usr/bin/python3", TRAIN, self.models], check=True, timeout=300)
        with open(os.path.join(self.models, "expected.json")) as f:
            self.expected = json.load(f)
        self.transformer = os.path.join(self.files, "transformer.py")
        with open(self.transformer, "w") as f:
            f.write(TRANSFORMER)
        # On `--port 0` too the controller tells transformers the gateway's address (SKIFF_GATEWAY),
        # read once the server listens.
        self.start_server()
        self.port = int(self.url.rsplit(":", 1)[1])

    def tearDown(self):
        self.stop_server_and_replicas()
        super().tearDown()

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def post(self, conn, path, body):
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()

    def test_transformer_rescales_and_calls_the_predictor_through_the_gateway(self):
        isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": "iris", "namespace": "default"},
                "spec": {
                    "transformer": {"containers": [{
                        "name": "kserve-container", "image": "local/rescale",
                        "command": ["/usr/bin/python3", self.transformer],
                        "resources": {"requests": {"cpu": "100m"}}}]},
                    "predictor": {"model": {
                        "modelFormat": {"name": "xgboost"},
                        "storageUri": "file://" + os.path.join(self.models, "xgboost"),
                        "resources": {"requests": {"cpu": "100m"}}}}}}
        self.api("POST", ISVC_PATH, isvc)

        # Ready means both components are: the transformer's Pod answers on its port and the
        # predictor's model is loaded.
        deadline = time.time() + 120
        conds = {}
        while time.time() < deadline:
            obj = self.api("GET", ISVC_PATH + "/iris")
            conds = {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}
            if conds.get("Ready") == "True":
                break
            time.sleep(0.25)
        self.assertEqual(conds.get("TransformerReady"), "True", conds)
        self.assertEqual(conds.get("PredictorReady"), "True", conds)
        traffic = obj["status"]["components"]["transformer"]["traffic"]
        self.assertEqual(traffic[0]["revisionName"], "iris-transformer-00001")
        pods = self.api("GET", "/api/v1/namespaces/default/pods")["items"]
        env = {}
        for p in pods:
            if p["metadata"]["name"].startswith("iris-transformer-00001"):
                env = {e["name"]: e.get("value") for e in p["spec"]["containers"][0]["env"]}
        self.assertEqual(env.get("PREDICTOR_HOST"), "iris-predictor.default.example.com")
        self.assertEqual(env.get("SKIFF_GATEWAY"), "127.0.0.1:%d" % self.port)

        rows_cm = self.expected["x"]
        rows_mm = [[v * 10.0 for v in row] for row in rows_cm]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        # V2: the client's millimetres, through the gateway to the transformer, rescaled, through
        # the gateway again to the predictor.
        body = {"inputs": [{"name": "input-0", "shape": [len(rows_mm), 4], "datatype": "FP32",
                            "data": rows_mm}]}
        status, headers, raw = None, {}, b""
        while time.time() < deadline:  # the gateway may still be learning the routes
            status, headers, raw = self.post(conn, "/v2/models/iris/infer", body)
            if status == 200:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200, raw)
        self.assertEqual(headers.get("x-transformed-by"), "rescale")
        out = json.loads(raw)["outputs"][0]
        self.assertEqual(out["shape"], [len(rows_mm), 3])
        want = [p for row in self.expected["xgboost"] for p in row]
        self.assertEqual(len(out["data"]), len(want))
        for got, exp in zip(out["data"], want):
            self.assertAlmostEqual(got, exp, places=5)
        # Unscaled input gives other predictions: the transformer is really in the path.
        status, _, raw = self.post(conn, "/v2/models/iris/infer", {"inputs": [
            {"name": "input-0", "shape": [len(rows_cm), 4], "datatype": "FP32", "data": rows_cm}]})
        self.assertEqual(status, 200, raw)
        self.assertNotEqual([round(v, 5) for v in json.loads(raw)["outputs"][0]["data"]],
                            [round(v, 5) for v in want])
        # V1 likewise.
        status, headers, raw = self.post(conn, "/v1/models/iris:predict", {"instances": rows_mm})
        self.assertEqual(status, 200, raw)
        self.assertEqual(headers.get("x-transformed-by"), "rescale")
        preds = json.loads(raw)["predictions"]
        self.assertEqual(len(preds), len(rows_mm))
        for got, exp in zip(preds, self.expected["xgboost"]):
            for g, e in zip(got, exp):
                self.assertAlmostEqual(g, e, places=5)
        # The predictor alone, addressed by its host: the millimetres go in unscaled.
        conn.request("POST", "/v2/models/iris/infer", json.dumps(body),
                     {"Host": "iris-predictor.default.example.com", "Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        self.assertEqual(r.status, 200, raw)
        self.assertIsNone(r.getheader("X-Transformed-By"))
        self.assertNotEqual([round(v, 5) for v in json.loads(raw)["outputs"][0]["data"]],
                            [round(v, 5) for v in want])
        conn.close()


if __name__ == "__main__":
    unittest.main()
