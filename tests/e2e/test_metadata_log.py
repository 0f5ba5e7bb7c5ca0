"""Metrics and artifacts logged from user code inside a workflow step, with `skiff log` and the
`skiff` Python module: offline (`skiff run`, the Pod's metadata log collected when it ends) and
through `skiff server` (recorded while the step still runs)."""

import glob
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args

PYTHON_SDK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
MIB = 1 << 20


def vm_hwm_kb(pid):
    """The peak resident set size of process `pid` so far (VmHWM), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def write_big_file(path, mib, seed):
    """`mib` MiB that do not compress or deduplicate (each MiB differs), and their digest."""
    h = hashlib.sha256()
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(mib):
            chunk = (b"%d-%d|" % (seed, i)).ljust(16, b".") + block[16:]
            f.write(chunk)
            h.update(chunk)
    return "sha256:" + h.hexdigest()

# Both front-ends in one step: the CLI from the shell, the module from python3.
STEP = """
set -e
echo "model from the shell" > /tmp/model.txt
skiff log metric accuracy=0.97 loss=0.25
skiff log artifact /tmp/model.txt --type Model --name cli-model
python3 - <<'PY'
from skiff import log_metric, log_artifact
log_metric("f1", 0.8, step=2)
with open("/tmp/weights.bin", "wb") as f:
    f.write(b"weights from python")
print("digest", log_artifact("/tmp/weights.bin", type="Model", name="py-model"))
try:
    log_metric("bad", "high")
except TypeError as e:
    print("refused:", e)
PY
%(wait)s
"""

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: %(name)s, namespace: default}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: python:3
      command: [sh, -c]
      args:
      - |
%(script)s
      env: %(env)s
"""


def workflow(name, wait="", env="[]"):
    script = STEP % {"wait": wait}
    return WORKFLOW % {"name": name, "env": env,
                       "script": "\n".join("        " + line for line in script.splitlines())}


class LogOfflineTest(SkiffTestCase):
    def test_step_logs_metrics_and_artifacts_that_are_recorded_when_it_ends(self):
        wf = self.run_json(self.write("wf.yaml", workflow("logged")))
        self.assertEqual(wf["status"]["phase"], "Succeeded")
        pod = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"][0]
        execs = json.loads(self.skiff("metrics", "-o", "json", check=0).stdout)
        self.assertEqual(len({e["execution"] for e in execs}), 1, execs)
        step = execs[0]["execution"]
        got = {m["name"]: m for m in execs}
        self.assertEqual(set(got), {"accuracy", "loss", "f1"})
        self.assertEqual(got["accuracy"]["value"], 0.97)
        self.assertEqual(got["f1"]["step"], 2)
        # Both artifacts are outputs of the step, with their bytes in the artifact store.
        models = json.loads(self.skiff("artifacts", "ls", "--type", "Model", "-o", "json",
                                       check=0).stdout)
        by_name = {a["name"]: a for a in models}
        self.assertEqual(set(by_name), {"cli-model", "py-model"})
        out = os.path.join(self.files, "w.bin")
        self.skiff("artifacts", "get", by_name["py-model"]["digest"], "-o", out, check=0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"weights from python")
        logs = self.skiff("logs", "logged", check=0).stdout
        self.assertIn("digest " + by_name["py-model"]["digest"], logs)
        self.assertIn("refused:", logs)
        up = json.loads(self.skiff("lineage", "artifact", by_name["cli-model"]["digest"], "-o",
                                   "json", check=0).stdout)
        self.assertEqual([e["name"] for e in up["executions"]], [step])
        self.assertEqual(up["executions"][0]["type"], "argo.Step")
        self.assertEqual(up["executions"][0]["properties"]["node"], pod["name"])
        # The table view has the three columns.
        table = self.skiff("metrics", "--context", "skiff.WorkflowRun/logged", check=0).stdout
        self.assertRegex(table.splitlines()[0], r"EXECUTION\s+accuracy\s+loss\s+f1")

    def test_bad_values_and_use_outside_a_pod_are_clear_errors(self):
        p = self.skiff("log", "metric", "accuracy=high")
        self.assertEqual(p.returncode, 2)
        self.assertIn("metric accuracy", p.stderr)
        env = {k: v for k, v in self.env.items() if not k.startswith("SKIFF_")}
        env["SKIFF_HOME"] = self.home
        p = subprocess.run([SKIFF, "log", "metric", "accuracy=0.5"], env=env, capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("SKIFF_METADATA_FILE is not set", p.stderr)


class LogServerTest(SkiffTestCase):
    def start_server(self, *extra):
        super().start_server(*extra)
        self.api = self.url + "/apis/metadata.skiff.dev/v1/namespaces/default"

    def get(self, path):
        with urllib.request.urlopen(self.api + path) as r:
            return json.loads(r.read())

    def post(self, path, body, content_type="application/json"):
        req = urllib.request.Request(self.api + path, data=body, method="POST",
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_phase(self, name):
        def done():
            wf = json.loads(self.remote("get", "workflow", name, "-o", "json").stdout)
            return wf if wf.get("status", {}).get("phase") in ("Succeeded", "Failed") else None
        return self.wait_until(done, timeout=120, interval=0.2)

    def test_step_logs_through_the_server_while_it_runs(self):
        self.start_server()
        go = os.path.join(self.files, "go")
        wait = "for i in $(seq 1200); do [ -f %s ] && break; sleep 0.05; done" % go
        self.remote("apply", "-f", self.write("wf.yaml", workflow("online", wait=wait)))
        pods = {}

        def logged():
            items = json.loads(self.remote("get", "pods", "-o", "json").stdout)["items"]
            if not items:
                return None
            pods["pod"] = items[0]
            got = self.get("/executions/%s/metrics" % items[0]["metadata"]["name"])["metrics"]
            return got if {m["name"] for m in got} == {"accuracy", "loss", "f1"} else None

        # Recorded while the step still waits: the server took them, not the offline log.
        metrics = self.wait_until(logged, timeout=60, interval=0.2)
        name = pods["pod"]["metadata"]["name"]
        running = self.get("/executions?state=RUNNING")["items"]
        self.assertEqual([e["name"] for e in running], [name])
        mdir = os.path.join(self.home, "metadata", "pods", pods["pod"]["metadata"]["uid"])
        self.assertFalse(os.path.exists(os.path.join(mdir, "log.jsonl")))
        self.assertEqual({m["name"]: m["value"] for m in metrics}["loss"], 0.25)
        with open(go, "w"):
            pass
        self.assertEqual(self.wait_phase("online")["status"]["phase"], "Succeeded")

        def complete():
            e = self.get("/executions?state=COMPLETE")["items"]
            return e if e else None
        done = self.wait_until(complete, timeout=30)
        self.assertEqual(done[0]["type"], "argo.Step")
        self.assertEqual(len(self.get("/executions/%s/metrics" % name)["metrics"]), 3)
        models = self.get("/artifacts?type=Model")["items"]
        self.assertEqual(sorted(a["name"] for a in models), ["cli-model", "py-model"])
        with urllib.request.urlopen(self.api + "/artifacts/" + [
                a for a in models if a["name"] == "py-model"][0]["digest"]) as r:
            self.assertEqual(r.read(), b"weights from python")
        lineage = self.get("/lineage?artifact=%s&direction=upstream" % models[0]["digest"])
        self.assertEqual([e["name"] for e in lineage["executions"]], [name])

    def test_step_without_a_server_in_its_env_logs_offline_under_a_server(self):
        self.start_server()
        env = '[{name: SKIFF_SERVER, value: ""}]'
        self.remote("apply", "-f", self.write("wf.yaml", workflow("offline", env=env)))
        self.assertEqual(self.wait_phase("offline")["status"]["phase"], "Succeeded")

        def recorded():
            got = self.get("/artifacts?type=Model")["items"]
            return got if len(got) == 2 else None
        self.wait_until(recorded, timeout=30)
        execs = self.get("/executions?context=skiff.WorkflowRun/offline")["items"]
        self.assertEqual(len(execs), 1)
        got = self.get("/executions/%s/metrics" % execs[0]["name"])["metrics"]
        self.assertEqual(sorted(m["name"] for m in got), ["accuracy", "f1", "loss"])

    def staged_files(self):
        return glob.glob(os.path.join(self.home, "artifacts", "tmp", "upload-*"))

    def test_large_uploads_and_downloads_stream_without_growing_the_server(self):
        # The in-memory body limit is 1 MiB; artifacts may be 256 MiB and never sit in memory.
        self.start_server("--max-upload-bytes", str(256 * MIB), "--max-request-bytes", str(MIB))
        self.get("/artifacts")  # warm up: the server's own peak before any upload
        before = vm_hwm_kb(self.server.pid)
        big = os.path.join(self.files, "big.bin")
        digest = write_big_file(big, 96, seed=1)
        env = dict(self.env, SKIFF_SERVER=self.url, SKIFF_POD_NAMESPACE="default",
                   SKIFF_EXECUTION="uploader", SKIFF_METADATA_FILE=os.path.join(self.files, "m.jsonl"),
                   SKIFF_METADATA_DIR=os.path.join(self.files, "mdir"))
        # `skiff log artifact`: Content-Length, sent from disk.
        p = subprocess.run([SKIFF, "log", "artifact", big, "--type", "Model", "--name", "big"],
                           env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), digest)
        # A chunked upload of different content, straight from a generator.
        chunked_hash = hashlib.sha256()

        def blocks():
            block = os.urandom(MIB)
            for i in range(64):
                chunk = (b"chunked-%d|" % i).ljust(16, b".") + block[16:]
                chunked_hash.update(chunk)
                yield chunk
        conn = http.client.HTTPConnection("127.0.0.1", int(self.url.rsplit(":", 1)[1]), timeout=300)
        conn.request("POST", "/apis/metadata.skiff.dev/v1/namespaces/default/executions/uploader/artifacts"
                     "?type=Model&name=chunked", body=blocks(), encode_chunked=True,
                     headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        self.assertEqual(resp.status, 201, body)
        self.assertEqual(body["digest"], "sha256:" + chunked_hash.hexdigest())
        self.assertEqual(body["size"], 64 * MIB)
        # The Python module, streamed too.
        p = subprocess.run([sys.executable, "-c", "import sys; from skiff import log_artifact; "
                            "print(log_artifact(sys.argv[1], type='Model', name='py-big'))", big],
                           env=dict(env, PYTHONPATH=PYTHON_SDK), capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), digest)
        # Downloads: `skiff artifacts get` through the server, the Python module, and a range.
        out = os.path.join(self.files, "out.bin")
        self.remote("artifacts", "get", digest, "-o", out)
        self.assertFalse(os.path.exists(out + ".part"))
        h = hashlib.sha256()
        with open(out, "rb") as f:
            for block in iter(lambda: f.read(MIB), b""):
                h.update(block)
        self.assertEqual("sha256:" + h.hexdigest(), digest)
        os.unlink(out)
        py_out = os.path.join(self.files, "py-out.bin")
        p = subprocess.run([sys.executable, "-c", "import sys; from skiff import get_artifact; "
                            "get_artifact(sys.argv[1], sys.argv[2])", digest, py_out],
                           env=dict(env, PYTHONPATH=PYTHON_SDK), capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.path.getsize(py_out), 96 * MIB)
        os.unlink(py_out)
        req = urllib.request.Request(self.api + "/artifacts/" + digest, headers={"Range": "bytes=%d-%d" % (MIB, MIB + 9)})
        with urllib.request.urlopen(req) as r:
            self.assertEqual(r.status, 206)
            self.assertEqual(r.headers["Content-Range"], "bytes %d-%d/%d" % (MIB, MIB + 9, 96 * MIB))
            with open(big, "rb") as f:
                f.seek(MIB)
                self.assertEqual(r.read(), f.read(10))
        after = vm_hwm_kb(self.server.pid)
        # 96 + 64 + 96 MiB went in and 96 + 96 MiB came out; buffered, the peak would have grown
        # by at least the largest body (96 MiB). Streamed, it stays within a generous margin.
        print("server VmHWM: %d KiB before, %d KiB after (+%d KiB)" % (before, after, after - before))
        self.assertLess(after - before, 32 * 1024, "the server's peak RSS grew by the body size")
        self.assertEqual(self.staged_files(), [])
        # The module's upload had the same content as the CLI's: one artifact (content-addressed).
        names = sorted(a["name"] for a in self.get("/artifacts?type=Model")["items"])
        self.assertEqual(names, ["big", "chunked"])

    def test_oversize_and_abandoned_streamed_uploads_leave_nothing_behind(self):
        self.start_server("--max-upload-bytes", str(MIB))
        port = int(self.url.rsplit(":", 1)[1])
        path = "/apis/metadata.skiff.dev/v1/namespaces/default/executions/some-pod/artifacts?type=Model"
        # Chunked, over the limit: 413 as soon as it is crossed, read by a client still sending.
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path.encode())
        chunk = b"%x\r\n%s\r\n" % (256 * 1024, b"y" * 256 * 1024)
        try:
            for _ in range(8):  # 2 MiB
                s.sendall(chunk)
        except OSError:
            pass  # the server may stop reading once it has answered
        reply = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            reply += data
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply[:200])
        self.assertIn(b"over the limit of %d" % MIB, reply)
        # `skiff log artifact` streaming a file over the limit hears the 413 and says so.
        big = os.path.join(self.files, "big.bin")
        write_big_file(big, 3, seed=2)
        env = dict(self.env, SKIFF_SERVER=self.url, SKIFF_POD_NAMESPACE="default", SKIFF_EXECUTION="some-pod",
                   SKIFF_METADATA_FILE=os.path.join(self.files, "m.jsonl"),
                   SKIFF_METADATA_DIR=os.path.join(self.files, "mdir"))
        p = subprocess.run([SKIFF, "log", "artifact", big, "--type", "Model"], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("refused it (413)", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.files, "m.jsonl")), "logged offline instead")
        p = subprocess.run([sys.executable, "-c", "import sys; from skiff import log_artifact, SkiffError\n"
                            "try:\n    log_artifact(sys.argv[1])\nexcept SkiffError as e:\n    print(e)", big],
                           env=dict(env, PYTHONPATH=PYTHON_SDK), capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("refused it (413)", p.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.files, "m.jsonl")), "logged offline instead")
        # A client that leaves mid-body: its partial file is removed.
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n" % path.encode()
                  + b"z" * 400000)
        self.wait_until(lambda: self.staged_files() or None, timeout=30)
        s.close()
        self.wait_until(lambda: not self.staged_files(), timeout=30)
        self.assertEqual(self.get("/artifacts")["items"], [])

    def test_oversize_uploads_and_bad_metrics_are_refused(self):
        self.start_server("--max-upload-bytes", "1000")
        code, body = self.post("/executions/some-pod/artifacts?type=Model", b"x" * 5000,
                               "application/octet-stream")
        self.assertEqual(code, 413, body)
        self.assertIn("over the limit of 1000", body["message"])
        code, body = self.post("/executions/some-pod/artifacts?type=Model", b"x" * 500,
                               "application/octet-stream")
        self.assertEqual(code, 201, body)
        self.assertEqual(body["size"], 500)
        code, body = self.post("/executions/some-pod/metrics",
                               json.dumps({"metrics": {"loss": "low"}}).encode())
        self.assertEqual(code, 400)
        self.assertIn("metrics.loss", body["message"])
        code, body = self.post("/executions/some-pod/artifacts?direction=input&digest=sha256:zz",
                               b"", "application/octet-stream")
        self.assertEqual(code, 400)
        self.assertIn("digest", body["message"])
        code, body = self.post("/executions/..%2Fetc/metrics",
                               json.dumps({"metrics": {"loss": 1}}).encode())
        self.assertIn(code, (400, 404))


if __name__ == "__main__":
    unittest.main()
