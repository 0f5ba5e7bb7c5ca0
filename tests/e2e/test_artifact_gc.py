"""Garbage collection of the artifact store while workflows run: `skiff artifacts gc` runs over
and over beside a server running several workflows at once (each passing an Argo artifact
between steps and logging one with `skiff log`). Every run succeeds, every recorded artifact
keeps its bytes, and only blobs nothing references (and older than the grace period) go. User
keys that would escape the store are refused."""

import hashlib
import json
import os
import re
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: %(name)s, namespace: default}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: make
        template: make
    - - name: use
        template: use
        arguments:
          artifacts: [{name: data, from: "{{steps.make.outputs.artifacts.data}}"}]
  - name: make
    container:
      image: busybox
      command: [sh, -c]
      args: ["head -c 20000 /dev/urandom > /tmp/data.bin; echo %(name)s > /tmp/l.txt; skiff log artifact /tmp/l.txt --type Model"]
    outputs:
      artifacts: [{name: data, path: /tmp/data.bin}]
  - name: use
    inputs:
      artifacts: [{name: data, path: /tmp/in.bin}]
    container:
      image: busybox
      command: [sh, -c]
      args: ["test $(wc -c < /tmp/in.bin) -eq 20000"]
"""


class ArtifactGcTest(SkiffTestCase):
    def setUp(self):
        super().setUp()
        # On the suite's store: SQLite, or PostgreSQL under artifact_gc_postgres_e2e, where the
        # lineage that roots the collection lives in the server's database.
        store = store_args()
        if store:  # `skiff artifacts` reads the lineage where the server keeps it
            self.env["SKIFF_STORE"] = store[1]
        self.start_server(store=store)
        self.api = self.url + "/apis/metadata.skiff.dev/v1/namespaces/default"

    def remote(self, *args, check=None):
        return super().remote(*args, check=check)

    def orphan(self, text, age_s):
        """A blob nothing references, `age_s` seconds old."""
        hexd = hashlib.sha256(text.encode()).hexdigest()
        path = os.path.join(self.home, "artifacts", "blobs", "sha256", hexd[:2], hexd[2:])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        t = time.time() - age_s
        os.utime(path, (t, t))
        return path

    def test_gc_during_concurrent_runs_keeps_everything_referenced(self):
        old = [self.orphan("orphan %d" % i, 3600) for i in range(3)]
        young = self.orphan("young orphan", 0)
        names = ["gc-%d" % i for i in range(6)]
        for n in names:
            p = self.remote("apply", "-f", self.write(n + ".yaml", WORKFLOW % {"name": n}))
            self.assertEqual(p.returncode, 0, p.stderr)
        stop = threading.Event()
        passes = []

        def collect():
            while not stop.is_set():
                p = self.skiff("artifacts", "gc", "--grace", "30s", "-o", "json")
                self.assertEqual(p.returncode, 0, p.stderr)
                passes.append(json.loads(p.stdout))
        gc = threading.Thread(target=collect)
        gc.start()
        try:
            def phases():
                got = {}
                for n in names:
                    wf = json.loads(self.remote("get", "workflow", n, "-o", "json").stdout)
                    got[n] = wf.get("status", {}).get("phase")
                return got if all(p in ("Succeeded", "Failed", "Error") for p in got.values()) else None
            done = self.wait_until(phases, timeout=180, interval=0.3)
        finally:
            stop.set()
            gc.join()
        self.assertEqual(set(done.values()), {"Succeeded"}, done)
        self.assertGreater(len(passes), 1)
        removed = {b["digest"] for p in passes for b in p["removed"]}
        # The old orphans went in some pass; the young one stays within its grace.
        for path in old:
            self.assertFalse(os.path.exists(path))
        self.assertTrue(os.path.exists(young))
        self.assertEqual(len(removed), 3)
        # Every artifact the runs recorded (the passed data and the logged files) is whole.
        def recorded():
            arts = json.loads(self.skiff("artifacts", "ls", "-o", "json", check=0).stdout)
            return arts if len(arts) == 12 else None
        arts = self.wait_until(recorded, timeout=30)
        for a in arts:
            self.assertNotIn(a["digest"], removed)
            out = os.path.join(self.files, "got")
            self.skiff("artifacts", "get", a["digest"], "-o", out, check=0)
            self.assertEqual(os.path.getsize(out), a["size"])
        # A last pass with no grace still keeps them: they are referenced, not just young.
        last = json.loads(self.skiff("artifacts", "gc", "--grace", "0s", "-o", "json", check=0).stdout)
        self.assertEqual([b["digest"] for b in last["removed"]],
                         ["sha256:" + hashlib.sha256(b"young orphan").hexdigest()])

    def test_keys_that_escape_the_store_are_refused(self):
        for key in ("../../etc/passwd", "/abs/key", "a//b", "a/./b"):
            req = urllib.request.Request(
                self.api + "/executions/p/artifacts?type=Model&key=" + urllib.request.quote(key, safe=""),
                data=b"bytes", method="POST", headers={"Content-Type": "application/octet-stream"})
            with self.assertRaises(urllib.error.HTTPError) as ctx:
                urllib.request.urlopen(req)
            self.assertEqual(ctx.exception.code, 400, key)
            self.assertIn("key", json.loads(ctx.exception.read())["message"])
        self.assertFalse(os.path.exists(os.path.join(self.home, "etc")))
        req = urllib.request.Request(self.api + "/executions/p/artifacts?type=Model&key=models/m.bin",
                                     data=b"bytes", method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req) as r:
            self.assertEqual(json.loads(r.read())["uri"], "skiff-artifacts://models/m.bin")


if __name__ == "__main__":
    unittest.main()
