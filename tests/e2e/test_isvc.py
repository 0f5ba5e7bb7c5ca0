"""InferenceServices on a real `skiff server`: an XGBoost model trained here on scikit-learn's
digits data set, served by replica Pods the controller starts (real `skiff model-server`
processes run by the local kubelet), called directly at the replica's port with KServe's V1 and
V2 protocols; a spec change rolls out revision 2 as a canary; `minReplicas: 0` with no
traffic scales to zero. (The gateway is built elsewhere: activation from zero is covered by
the controller's unit tests through `RevisionStats`.)"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from skiffenv import SkiffTestCase

ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"

TRAIN = r"""
import json, sys
import numpy as np
import xgboost as xgb
from sklearn.datasets import load_digits
out = sys.argv[1]
X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)
booster = xgb.train({"objective": "multi:softprob", "num_class": 10, "max_depth": 4, "eta": 0.3,
                     "nthread": 1}, xgb.DMatrix(X[:1500], label=y[:1500]), num_boost_round=15)
booster.save_model(out + "/model.json")
rows = X[1500:1510]
json.dump({"x": rows.tolist(), "labels": y[1500:1510].tolist(),
           "proba": booster.predict(xgb.DMatrix(rows)).tolist()}, open(out + "/expected.json", "w"))
"""


def isvc(name, model_dir, predictor_extra="", annotations=None):
    predictor = {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": "file://" + model_dir}}
    predictor.update(predictor_extra or {})
    md = {"name": name, "namespace": "default"}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": md,
            "spec": {"predictor": predictor}}


class InferenceServiceTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.model_dir = os.path.join(self.files, "digits")
        os.makedirs(self.model_dir)
        subprocess.run(["/usr/bin/python3", "-c", TRAIN, self.model_dir], check=True, timeout=300)
        with open(os.path.join(self.model_dir, "expected.json")) as f:
            self.expected = json.load(f)
        self.start_server()

    def tearDown(self):
        self.stop_server_and_replicas()
        super().tearDown()

    def call(self, method, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def api(self, method, path, body=None):
        return self.call(method, self.url + path, body)

    def get_isvc(self, name):
        code, obj = self.api("GET", ISVC_PATH + "/" + name)
        self.assertEqual(code, 200, obj)
        return obj

    def update_isvc(self, obj):
        cur = self.get_isvc(obj["metadata"]["name"])
        obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        code, out = self.api("PUT", ISVC_PATH + "/" + obj["metadata"]["name"], obj)
        self.assertEqual(code, 200, out)

    def wait_for(self, what, fn, timeout=90):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.25)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))

    def condition(self, obj, type_):
        for c in obj.get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return c
        return {}

    def pods(self, name, revision=None):
        sel = "serving.kserve.io/inferenceservice=" + name
        if revision:
            sel += ",serving.knative.dev/revision=" + revision
        code, lst = self.api("GET", "/api/v1/namespaces/default/pods?labelSelector=" +
                             urllib.request.quote(sel))
        self.assertEqual(code, 200, lst)
        return lst["items"]

    def ready_port(self, name, revision):
        for p in self.pods(name, revision):
            conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}
            if p.get("status", {}).get("phase") == "Running" and conds.get("Ready") == "True":
                return int(p["metadata"]["annotations"]["serving.skiff.dev/port"])
        return None

    def test_serve_predict_canary_and_scale_to_zero(self):
        t0 = time.time()
        code, out = self.api("POST", ISVC_PATH, isvc("digits", self.model_dir))
        self.assertEqual(code, 201, out)
        obj = self.wait_for("digits Ready", lambda: (lambda o: o if self.condition(o, "Ready").get("status") == "True"
                                                     else None)(self.get_isvc("digits")))
        print("figure: apply to Ready (1 model-server replica): %.2f s" % (time.time() - t0))
        st = obj["status"]
        self.assertEqual(st["url"], "http://digits.default.example.com")
        self.assertEqual(st["components"]["predictor"]["latestReadyRevision"], "digits-predictor-00001")
        self.assertEqual(st["components"]["predictor"]["traffic"],
                         [{"revisionName": "digits-predictor-00001", "percent": 100, "latestRevision": True}])
        self.assertEqual(st["modelStatus"]["states"]["activeModelState"], "Loaded")
        self.assertEqual(self.condition(obj, "PredictorReady")["status"], "True")

        # Replicas per revision in /metrics.
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            metrics = r.read().decode()
        self.assertRegex(metrics, r'skiff_isvc_ready_replicas\{revision="default/digits/digits-predictor-00001"\} 1')
        self.assertRegex(metrics, r'skiff_isvc_desired_replicas\{revision="default/digits/digits-predictor-00001"\} 1')

        # Call the replica directly, at the port its Pod announces.
        port = self.ready_port("digits", "digits-predictor-00001")
        self.assertIsNotNone(port)
        base = "http://127.0.0.1:%d" % port
        code, v1 = self.call("POST", base + "/v1/models/digits:predict", {"instances": self.expected["x"]})
        self.assertEqual(code, 200, v1)
        for got, want, label in zip(v1["predictions"], self.expected["proba"], self.expected["labels"]):
            self.assertEqual(len(got), 10)
            for g, w in zip(got, want):
                self.assertAlmostEqual(g, w, places=5)
            self.assertEqual(max(range(10), key=lambda i: got[i]), max(range(10), key=lambda i: want[i]))
        accuracy = sum(max(range(10), key=lambda i: p[i]) == l
                       for p, l in zip(v1["predictions"], self.expected["labels"])) / len(self.expected["labels"])
        self.assertGreaterEqual(accuracy, 0.7)
        flat = [v for row in self.expected["x"] for v in row]
        code, v2 = self.call("POST", base + "/v2/models/digits/infer",
                             {"id": "e2e", "inputs": [{"name": "input-0", "datatype": "FP32",
                                                       "shape": [len(self.expected["x"]), 64], "data": flat}]})
        self.assertEqual(code, 200, v2)
        self.assertEqual(v2["id"], "e2e")
        out = v2["outputs"][0]
        self.assertEqual(out["shape"], [10, 10])
        want = [v for row in self.expected["proba"] for v in row]
        for g, w in zip(out["data"], want):
            self.assertAlmostEqual(g, w, places=5)

        # The CLI's table and plan.
        table = self.skiff("get", "inferenceservices", check=0).stdout
        self.assertRegex(table, r"NAME\s+URL\s+READY\s+PREV\s+LATEST\s+AGE")
        self.assertRegex(table, r"digits\s+http://digits\.default\.example\.com\s+True\s+100")
        described = self.skiff("describe", "inferenceservice", "digits", check=0).stdout
        self.assertIn("Plan:", described)
        self.assertIn("skiff model-server --format xgboost", described)

        # A spec change: revision 2 as a 20 % canary; both revisions keep replicas.
        self.update_isvc(isvc("digits", self.model_dir, {"canaryTrafficPercent": 20, "containerConcurrency": 4}))
        obj = self.wait_for("revision 2 ready", lambda: (lambda o: o if o["status"]["components"]["predictor"]
                                                         .get("latestReadyRevision") == "digits-predictor-00002"
                                                         else None)(self.get_isvc("digits")))
        p = obj["status"]["components"]["predictor"]
        self.assertEqual(p["latestCreatedRevision"], "digits-predictor-00002")
        self.assertEqual(p["latestRolledoutRevision"], "digits-predictor-00001")
        split = {t["revisionName"]: (t["percent"], t.get("tag")) for t in p["traffic"]}
        self.assertEqual(split, {"digits-predictor-00002": (20, "latest"), "digits-predictor-00001": (80, "prev")})
        port2 = self.ready_port("digits", "digits-predictor-00002")
        self.assertIsNotNone(port2)
        self.assertNotEqual(port2, port)
        pod2 = self.pods("digits", "digits-predictor-00002")[0]
        self.assertEqual(pod2["metadata"]["annotations"]["serving.skiff.dev/container-concurrency"], "4")
        self.assertTrue(self.ready_port("digits", "digits-predictor-00001"))
        table = self.skiff("get", "isvc", check=0).stdout
        self.assertRegex(table, r"digits\s+\S+\s+True\s+80\s+20")

        # Promote: the field removed, revision 2 takes everything and revision 1 goes away.
        self.update_isvc(isvc("digits", self.model_dir, {"containerConcurrency": 4}))
        self.wait_for("revision 1 retired", lambda: not self.pods("digits", "digits-predictor-00001"))
        p = self.get_isvc("digits")["status"]["components"]["predictor"]
        self.assertEqual(p["latestRolledoutRevision"], "digits-predictor-00002")
        self.assertEqual(p["previousRolledoutRevision"], "digits-predictor-00001")
        self.assertEqual([t["percent"] for t in p["traffic"]], [100])

        # minReplicas 0 and no traffic: a stable window (6 s) then the 30 s grace, then no Pods.
        code, out = self.api("POST", ISVC_PATH, isvc("idle", self.model_dir, {"minReplicas": 0},
                                                     {"autoscaling.knative.dev/window": "6s"}))
        self.assertEqual(code, 201, out)
        self.wait_for("idle Ready", lambda: self.condition(self.get_isvc("idle"), "Ready").get("status") == "True")
        t1 = time.time()
        self.wait_for("idle scaled to zero", lambda: not self.pods("idle"), timeout=120)
        print("figure: idle revision to zero Pods (window 6s, grace 30s): %.1f s" % (time.time() - t1))
        obj = self.get_isvc("idle")
        self.assertEqual(obj["status"]["modelStatus"]["states"]["activeModelState"], "Standby")
        self.assertEqual(self.condition(obj, "Ready")["status"], "True")

    def test_https_storage_uri_is_downloaded_into_the_model_cache(self):
        # A real HTTPS server with a certificate for 127.0.0.1 that the server trusts through
        # SSL_CERT_FILE (a private CA, as on a corporate network); the model is fetched once into
        # the content-keyed cache and served.
        certs = os.path.join(self.files, "tls")
        os.makedirs(certs)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", certs + "/key.pem", "-out", certs + "/cert.pem"],
                       check=True, capture_output=True, timeout=60)
        serve = ("import http.server, ssl, sys, functools\n"
                 "h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n"
                 "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\n"
                 "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[2], sys.argv[3])\n"
                 "s.socket = c.wrap_socket(s.socket, server_side=True)\n"
                 "print(s.server_address[1], flush=True); s.serve_forever()\n")
        https = subprocess.Popen(["/usr/bin/python3", "-c", serve, self.model_dir, certs + "/cert.pem",
                                  certs + "/key.pem"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(https.kill)
        port = int(https.stdout.readline())
        # The server (and so its serving controller) trusts the private certificate.
        self.stop_server()
        self.env["SSL_CERT_FILE"] = certs + "/cert.pem"
        self.start_server()
        spec = isvc("web", self.model_dir)
        spec["spec"]["predictor"]["model"]["storageUri"] = "https://127.0.0.1:%d/model.json" % port
        code, out = self.api("POST", ISVC_PATH, spec)
        self.assertEqual(code, 201, out)
        self.wait_for("web Ready", lambda: (lambda o: o if self.condition(o, "Ready").get("status") == "True"
                                            else None)(self.get_isvc("web")))
        rport = self.ready_port("web", "web-predictor-00001")
        code, v1 = self.call("POST", "http://127.0.0.1:%d/v1/models/web:predict" % rport,
                             {"instances": self.expected["x"][:2]})
        self.assertEqual(code, 200, v1)
        for g, w in zip(v1["predictions"][0], self.expected["proba"][0]):
            self.assertAlmostEqual(g, w, places=5)
        # An https:// model on a server the controller does not trust is refused, and says why.
        untrusted = isvc("stranger", self.model_dir)
        untrusted["spec"]["predictor"]["model"]["storageUri"] = "https://localhost:%d/model.json" % port
        code, out = self.api("POST", ISVC_PATH, untrusted)
        self.assertEqual(code, 201, out)
        status = self.wait_for("stranger's download error", lambda: (
            lambda st: st if "TLS handshake" in json.dumps(st) else None)(self.get_isvc("stranger").get("status", {})))
        self.assertIn("localhost", json.dumps(status))
        self.assertNotEqual(self.condition({"status": status}, "Ready").get("status"), "True")

    def test_transformer_pre_and_post_processes_through_the_gateway(self):
        # A custom transformer as KServe runs one: it gets --model_name, --predictor_host and
        # --http_port, calls http://<predictor_host>/v1/models/<name>:predict (the host resolves
        # to this machine inside its Pod), scales the pixels up before the model and turns the
        # probabilities into classes after it.
        transformer = (
            "import argparse, json, http.server, urllib.request\n"
            "p = argparse.ArgumentParser(); p.add_argument('--model_name'); p.add_argument('--predictor_host')\n"
            "p.add_argument('--http_port', type=int); a, _ = p.parse_known_args()\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def log_message(self, *x): pass\n"
            "    def do_POST(self):\n"
            "        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
            "        rows = [[v * 16 for v in r] for r in body['instances']]\n"
            "        req = urllib.request.Request('http://%s/v1/models/%s:predict' % (a.predictor_host, a.model_name),\n"
            "                                     data=json.dumps({'instances': rows}).encode(), method='POST')\n"
            "        with urllib.request.urlopen(req, timeout=30) as r:\n"
            "            probs = json.loads(r.read())['predictions']\n"
            "        out = json.dumps({'predictions': [max(range(len(p)), key=p.__getitem__) for p in probs],\n"
            "                          'via': a.predictor_host}).encode()\n"
            "        self.send_response(200); self.send_header('Content-Type', 'application/json')\n"
            "        self.send_header('Content-Length', str(len(out))); self.end_headers(); self.wfile.write(out)\n"
            "http.server.ThreadingHTTPServer(('127.0.0.1', a.http_port), H).serve_forever()\n")
        spec = isvc("digits", self.model_dir)
        spec["spec"]["transformer"] = {"containers": [{"name": "kserve-container", "image": "python:3.11",
                                                       "command": ["python3", "-c", transformer]}]}
        code, out = self.api("POST", ISVC_PATH, spec)
        self.assertEqual(code, 201, out)
        obj = self.wait_for("digits Ready", lambda: (lambda o: o if self.condition(o, "Ready").get("status") == "True"
                                                     else None)(self.get_isvc("digits")))
        self.assertEqual(self.condition(obj, "TransformerReady").get("status"), "True", obj["status"])
        scaled = [[v / 16 for v in row] for row in self.expected["x"]]
        want = [max(range(10), key=lambda i: p[i]) for p in self.expected["proba"]]
        # Plain requests reach the transformer first, by model name in the path ...
        code, got = self.api("POST", "/v1/models/digits:predict", {"instances": scaled})
        self.assertEqual(code, 200, got)
        self.assertEqual(got["predictions"], want)
        self.assertTrue(got["via"].startswith("digits-predictor.default.example.com:"), got)
        # ... and by KServe host name; "<isvc>-predictor" reaches the model itself.
        req = urllib.request.Request(self.url + "/v1/models/digits:predict", method="POST",
                                     data=json.dumps({"instances": self.expected["x"][:1]}).encode(),
                                     headers={"Host": "digits-predictor.default.example.com",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            direct = json.loads(r.read())
        for g, w in zip(direct["predictions"][0], self.expected["proba"][0]):
            self.assertAlmostEqual(g, w, places=5)

    def test_invalid_and_unrunnable_specs(self):
        bad = isvc("bad", self.model_dir, {"minReplicas": -1})
        code, out = self.api("POST", ISVC_PATH, bad)
        self.assertIn(code, (400, 422), out)
        self.assertIn("spec.predictor.minReplicas: must be >= 0", json.dumps(out))
        tf = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
              "metadata": {"name": "flowers", "namespace": "default"},
              "spec": {"predictor": {"tensorflow": {"storageUri": "gs://kfserving-examples/models/tensorflow/flowers"}}}}
        code, out = self.api("POST", ISVC_PATH, tf)
        self.assertEqual(code, 201, out)
        c = self.wait_for("NoSupportingRuntime", lambda: (lambda c: c if c.get("reason") == "NoSupportingRuntime"
                                                          else None)(self.condition(self.get_isvc("flowers"),
                                                                                    "PredictorReady")))
        self.assertIn("no host runtime for modelFormat tensorflow", c["message"])
        self.assertEqual(self.pods("flowers"), [])

    def test_kill_9_and_restart_adopts_the_replicas(self):
        code, out = self.api("POST", ISVC_PATH, isvc("digits", self.model_dir, {"minReplicas": 2}))
        self.assertEqual(code, 201, out)
        self.wait_for("digits Ready", lambda: self.condition(self.get_isvc("digits"), "Ready").get("status") == "True")
        self.wait_for("2 ready replicas", lambda: len([p for p in self.pods("digits")
                                                       if p.get("status", {}).get("phase") == "Running"]) == 2)
        before = sorted((p["metadata"]["name"], p["metadata"]["annotations"]["serving.skiff.dev/port"])
                        for p in self.pods("digits"))
        self.server.kill()  # SIGKILL: nothing is shut down cleanly
        self.stop_server()
        self.start_server()
        # Several passes and decisions later: the same replicas, no new revision, still Ready.
        time.sleep(5)
        after = sorted((p["metadata"]["name"], p["metadata"]["annotations"]["serving.skiff.dev/port"])
                       for p in self.pods("digits"))
        self.assertEqual(after, before)
        obj = self.get_isvc("digits")
        self.assertEqual(obj["status"]["components"]["predictor"]["latestCreatedRevision"], "digits-predictor-00001")
        self.assertEqual(self.condition(obj, "Ready")["status"], "True")
        port = self.ready_port("digits", "digits-predictor-00001")
        code, v1 = self.call("POST", "http://127.0.0.1:%d/v1/models/digits:predict" % port,
                             {"instances": self.expected["x"][:2]})
        self.assertEqual(code, 200, v1)
        self.assertEqual(len(v1["predictions"]), 2)
