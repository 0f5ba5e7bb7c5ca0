"""Crash safety of `skiff server`: while clients keep submitting workflows through the API, the
server is killed with SIGKILL at many moments and restarted. Every request that was answered
201 (or 409 on a retry) must exist afterwards, every workflow must finish, and every step must
have run exactly once: finished steps are not re-run and running ones are adopted through the
supervisor, not started again. Runs on SQLite, and on PostgreSQL when a test server is given."""

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args


class ServerCrashTest(SkiffTestCase):
    def start_server(self, port, store):
        args = [SKIFF, "server", "--port", str(port)] + store
        proc = subprocess.Popen(args, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        self.assertIn("listening", line)
        return proc

    def workflow(self, name):
        step = lambda sid, deps: {"name": sid, "template": "work", "dependencies": deps,
                                  "arguments": {"parameters": [{"name": "id", "value": sid}]}}
        return {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {
                "entrypoint": "main",
                "volumes": [{"name": "shared", "hostPath": {"path": self.files}}],
                "templates": [
                    {"name": "main", "dag": {"tasks": [step("a", []), step("b", ["a"]),
                                                       step("c", ["a"]), step("d", ["b", "c"])]}},
                    {"name": "work", "inputs": {"parameters": [{"name": "id"}]},
                     "container": {"image": "busybox", "command": ["sh", "-c",
                         "echo start {{workflow.name}}-{{inputs.parameters.id}} >> /shared/log; "
                         "sleep 0.2; echo end {{workflow.name}}-{{inputs.parameters.id}} >> /shared/log"],
                         "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}},
                ],
            },
        }

    def request(self, method, path, body=None, timeout=5):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def test_sigkill_at_many_moments_loses_no_request_and_runs_no_step_twice(self):
        self.env["SKIFF_DEFAULT_CPU_MILLIS"] = "100"
        port = 20000 + os.getpid() % 20000
        self.url = "http://127.0.0.1:%d" % port
        store = store_args()
        server = self.start_server(port, store)
        accepted, stop = [], threading.Event()
        path = "/apis/argoproj.io/v1alpha1/namespaces/default/workflows"

        def submit():
            i = 0
            while not stop.is_set() and i < 24:
                name = "crash-%02d" % i
                try:
                    code, _ = self.request("POST", path, self.workflow(name))
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    time.sleep(0.05)
                    continue  # the server is down: retry the same name
                if code in (201, 409):
                    accepted.append(name)
                    i += 1
                time.sleep(0.1)

        submitter = threading.Thread(target=submit)
        submitter.start()
        rng = random.Random(7)
        kills = 0
        try:
            for _ in range(8):
                time.sleep(rng.uniform(0.2, 1.2))
                server.send_signal(signal.SIGKILL)
                server.wait()
                server.stdout.close()
                kills += 1
                server = self.start_server(port, store)
            submitter.join(timeout=120)
            self.assertFalse(submitter.is_alive())
            deadline = time.time() + 180
            phases = {}
            while time.time() < deadline:
                code, body = self.request("GET", path)
                self.assertEqual(code, 200)
                phases = {i["metadata"]["name"]: i.get("status", {}).get("phase") for i in body["items"]}
                if all(phases.get(n) == "Succeeded" for n in accepted):
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            submitter.join(timeout=30)
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=20)
        self.assertEqual(kills, 8)
        self.assertEqual(sorted(set(accepted)), ["crash-%02d" % i for i in range(24)])
        self.assertEqual({n: phases.get(n) for n in accepted}, {n: "Succeeded" for n in accepted})
        with open(os.path.join(self.files, "log")) as f:
            lines = f.read().split()
        counts = {}
        for kind, sid in zip(lines[0::2], lines[1::2]):
            counts[(kind, sid)] = counts.get((kind, sid), 0) + 1
        expected = {(k, "%s-%s" % (n, s)) for n in accepted for s in "abcd" for k in ("start", "end")}
        self.assertEqual(set(counts), expected)
        twice = {k: v for k, v in counts.items() if v != 1}
        self.assertEqual(twice, {}, "steps that ran more than once")


if __name__ == "__main__":
    unittest.main()
