"""Crash safety: `skiff run` is killed with SIGKILL at several points of a workflow, then
`skiff wait` takes over. Every step must run exactly once: finished steps are not re-run and a
step that was running is adopted through the supervisor, not started a second time."""

import json
import os
import signal
import subprocess
import time
import unittest

from skiffenv import SKIFF, SkiffTestCase


class CrashRecoveryTest(SkiffTestCase):
    def workflow(self):
        return self.write("wf.yaml", """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: crashy}
spec:
  entrypoint: main
  volumes:
  - name: shared
    hostPath: {path: %s}
  templates:
  - name: main
    steps:
    - - {name: s1, template: work, arguments: {parameters: [{name: id, value: s1}, {name: secs, value: "1"}]}}
    - - {name: s2, template: work, arguments: {parameters: [{name: id, value: s2}, {name: secs, value: "2"}]}}
    - - name: s3
        template: work
        arguments: {parameters: [{name: id, value: "s3-{{item}}"}, {name: secs, value: "1"}]}
        withItems: [a, b, c]
    - - {name: s4, template: work, arguments: {parameters: [{name: id, value: s4}, {name: secs, value: "0"}]}}
  - name: work
    inputs: {parameters: [{name: id}, {name: secs}]}
    container:
      image: busybox
      command: [sh, -c, "echo start {{inputs.parameters.id}} >> /shared/log; sleep {{inputs.parameters.secs}}; echo end {{inputs.parameters.id}} >> /shared/log"]
      volumeMounts: [{name: shared, mountPath: /shared}]
""" % self.files)

    def nodes(self):
        p = self.skiff("get", "workflow", "crashy", "-o", "json")
        if p.returncode != 0:
            return {}
        return {n["displayName"]: n for n in json.loads(p.stdout).get("status", {}).get("nodes", {}).values()}

    def start(self, *args, capture=False):
        if capture:
            return subprocess.Popen([SKIFF] + list(args), env=self.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        # Kept for the failure message: what the killed process said.
        self.stderr_path = os.path.join(self.files, "stderr-%d" % time.monotonic_ns())
        with open(self.stderr_path, "w") as err:
            return subprocess.Popen([SKIFF] + list(args), env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=err, text=True)

    def kill_when(self, proc, predicate, what):
        deadline = time.time() + 90
        nodes = {}
        while time.time() < deadline:
            nodes = self.nodes()
            if predicate(nodes):
                break
            time.sleep(0.05)
        else:
            with open(self.stderr_path) as f:
                said = f.read()[-3000:]
            pods = self.skiff("get", "pods").stdout
            self.fail("waited 90s for %s; nodes: %s\npods:\n%s\nskiff said:\n%s" % (
                what, {k: v.get("phase") for k, v in nodes.items()}, pods, said))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return what

    def test_sigkill_at_several_points_runs_every_step_once(self):
        self.env["SKIFF_DEFAULT_CPU_MILLIS"] = "100"
        path = self.workflow()
        proc = self.start("run", path, "--quiet")
        # 1: while the first step runs.
        self.kill_when(proc, lambda n: n.get("s1", {}).get("phase") == "Running", "s1 running")
        proc = self.start("wait", "crashy", "--quiet")
        # 2: while the second step runs.
        self.kill_when(proc, lambda n: n.get("s2", {}).get("phase") == "Running", "s2 running")
        proc = self.start("wait", "crashy", "--quiet")
        # 3: as soon as the loop's pods exist.
        self.kill_when(proc, lambda n: any(k.startswith("s3(") for k in n), "s3 created")
        proc = self.start("wait", "crashy", "-o", "json", "--quiet", capture=True)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        wf = json.loads(out)
        self.assertEqual(wf["status"]["phase"], "Succeeded")
        with open(os.path.join(self.files, "log")) as f:
            lines = [l.strip() for l in f if l.strip()]
        for step in ["s1", "s2", "s3-a", "s3-b", "s3-c", "s4"]:
            self.assertEqual(lines.count("start " + step), 1, "%s started %d times: %s" % (
                step, lines.count("start " + step), lines))
            self.assertEqual(lines.count("end " + step), 1, lines)
        # The Pods are the same ones: one per step.
        pods = self.skiff("get", "pods", "-o", "name", check=0).stdout.split()
        self.assertEqual(len(pods), 6, pods)

    def test_killed_while_waiting_for_slots_starts_nothing_twice(self):
        # One slot: the loop's pods queue in the supervisor while the controller dies.
        self.env["SKIFF_DEFAULT_CPU_MILLIS"] = "2000"
        path = self.workflow()
        proc = self.start("run", path, "--quiet")
        self.kill_when(proc, lambda n: sum(1 for k in n if k.startswith("s3(")) == 3, "s3 queued")
        time.sleep(0.5)
        proc = self.start("wait", "crashy", "-o", "json", "--quiet", capture=True)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        with open(os.path.join(self.files, "log")) as f:
            lines = [l.strip() for l in f if l.strip()]
        for step in ["s1", "s2", "s3-a", "s3-b", "s3-c", "s4"]:
            self.assertEqual(lines.count("start " + step), 1, lines)


if __name__ == "__main__":
    unittest.main()
