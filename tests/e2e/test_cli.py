"""The `skiff` command line, end to end: real processes, real SQLite, real mount namespaces."""

import json
import os
import unittest

from skiffenv import SkiffTestCase

HEADER = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: t-\n"


class BadInputTest(SkiffTestCase):
    """Bad input: one clear error naming the field, exit code 2, nothing started or written."""

    def assert_rejected(self, text, expected):
        path = self.write("bad.yaml", text)
        p = self.skiff("run", path)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(expected, p.stderr)
        # Nothing was written: no workflow, no pod, no step process.
        if os.path.exists(os.path.join(self.home, "skiff.db")):
            listing = self.skiff("get", "workflows", check=0)
            self.assertNotIn("t-", listing.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.home, "pods")))

    def test_malformed_yaml_names_the_line(self):
        self.assert_rejected(HEADER + "spec:\n  entrypoint: [a\n  templates: {}\n", "line 7")

    def test_unknown_kind(self):
        self.assert_rejected("apiVersion: argoproj.io/v1alpha1\nkind: Workflo\nmetadata: {name: x}\n",
                             'kind: unknown kind "Workflo"')

    def test_unknown_template(self):
        self.assert_rejected(HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: nope}
""", 'spec.templates[0].steps[0][0].template: template "nope" not found')

    def test_unknown_task_in_depends(self):
        self.assert_rejected(HEADER + """spec:
  entrypoint: main
  templates:
  - name: t
    container: {image: busybox, command: ["true"]}
  - name: main
    dag:
      tasks:
      - {name: prepare, template: t}
      - {name: train, template: t, depends: prepare}
      - {name: evaluate, template: t, depends: trian}
""", 'spec.templates[1].dag.tasks[2].depends: unknown task "trian"')

    def test_dependency_cycle(self):
        self.assert_rejected(HEADER + """spec:
  entrypoint: main
  templates:
  - name: t
    container: {image: busybox, command: ["true"]}
  - name: main
    dag:
      tasks:
      - {name: a, template: t, depends: b}
      - {name: b, template: t, depends: a}
""", "dependency cycle")

    def test_missing_required_parameter(self):
        self.assert_rejected(HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    inputs: {parameters: [{name: lr}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.lr}}"]}
""", 'missing required parameter "lr"')

    def test_unresolvable_reference(self):
        self.assert_rejected(HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox, command: [echo, "{{inputs.parameters.typo}}"]}
""", "unresolvable {{inputs.parameters.typo}}")


class RunTest(SkiffTestCase):
    def test_parameters_outputs_logs_and_get(self):
        path = self.write("wf.yaml", HEADER + """spec:
  entrypoint: main
  arguments: {parameters: [{name: lr, value: "0.01"}]}
  templates:
  - name: main
    steps:
    - - {name: train, template: train, arguments: {parameters: [{name: lr, value: "{{workflow.parameters.lr}}"}]}}
  - name: train
    inputs: {parameters: [{name: lr}]}
    outputs: {parameters: [{name: score, valueFrom: {path: /tmp/score}}]}
    script:
      image: python:3.11
      command: [python3]
      source: |
        lr = float("{{inputs.parameters.lr}}")
        print("training with lr", lr)
        open("/tmp/score", "w").write(str(lr * 10))
""")
        wf = self.run_json(path, "-p", "lr=0.1")
        self.assertEqual(wf["status"]["phase"], "Succeeded")
        train = self.node(wf, "train")
        self.assertEqual(train["outputs"]["parameters"][0]["value"], "1.0")
        self.assertEqual(train["outputs"]["result"], "training with lr 0.1")
        name = wf["metadata"]["name"]
        listing = self.skiff("get", "workflows", check=0).stdout
        self.assertIn(name, listing)
        self.assertIn("Succeeded", listing)
        logs = self.skiff("logs", name, "train", check=0).stdout
        self.assertIn("training with lr 0.1", logs)
        yaml_text = self.skiff("get", "workflow", name, "-o", "yaml", check=0).stdout
        self.assertIn("phase: Succeeded", yaml_text)
        self.assertIn("nodes:", yaml_text)
        # Deleting the workflow takes its pods' logs and directories along.
        logs_dir = os.path.join(self.home, "logs")
        self.assertTrue([f for f in os.listdir(logs_dir) if f.endswith(".main.stdout")])
        self.skiff("delete", "workflow", name, check=0)
        self.assertEqual(os.listdir(logs_dir), [])
        self.assertEqual([d for d in os.listdir(os.path.join(self.home, "pods")) if d != ".free"], [])
        self.assertNotEqual(self.skiff("logs", name, "train").returncode, 0)

    def test_failing_workflow_exits_non_zero(self):
        path = self.write("fail.yaml", HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox, command: [sh, -c, "echo oops >&2; exit 3"]}
""")
        wf = self.run_json(path, rc=1)
        self.assertEqual(wf["status"]["phase"], "Failed")
        self.assertEqual(wf["status"]["message"], "Error (exit code 3)")

    def test_parallel_steps_have_private_tmp(self):
        path = self.write("tmp.yaml", HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: w, arguments: {parameters: [{name: v, value: alpha}]}}
      - {name: b, template: w, arguments: {parameters: [{name: v, value: beta}]}}
  - name: w
    inputs: {parameters: [{name: v}]}
    container:
      image: busybox
      command: [sh, -c, "echo {{inputs.parameters.v}} > /tmp/hello_world.txt; sleep 1; cat /tmp/hello_world.txt"]
""")
        self.env["SKIFF_DEFAULT_CPU_MILLIS"] = "100"  # let both run at once
        wf = self.run_json(path)
        self.assertEqual(wf["status"]["phase"], "Succeeded")
        name = wf["metadata"]["name"]
        self.assertEqual(self.skiff("logs", name, "a", check=0).stdout.strip(), "alpha")
        self.assertEqual(self.skiff("logs", name, "b", check=0).stdout.strip(), "beta")

    def test_usage_is_recorded_in_pod_status(self):
        path = self.write("mem.yaml", HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    script:
      image: python:3.11
      command: [python3]
      source: |
        x = bytearray(60 * 1024 * 1024)
        for i in range(0, len(x), 4096): x[i] = 1
        s = 0
        for i in range(3000000): s += i
""")
        wf = self.run_json(path)
        pod_name = wf["status"]["nodes"][wf["metadata"]["name"]]["podName"]
        pod = self.get_json("pod", pod_name)
        usage = pod["status"]["usage"]
        self.assertGreater(usage["maxRSSBytes"], 60 * 1024 * 1024)
        self.assertGreater(usage["cpuSeconds"], 0.05)
        self.assertEqual(pod["status"]["phase"], "Succeeded")

    def test_pod_that_can_never_fit_is_rejected_clearly(self):
        path = self.write("big.yaml", HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: busybox
      command: ["true"]
      resources: {requests: {cpu: "512"}}
""")
        wf = self.run_json(path, rc=1)
        node = wf["status"]["nodes"][wf["metadata"]["name"]]
        self.assertEqual(node["phase"], "Error")
        self.assertIn("cpu", node["message"])

    def test_artifacts_pass_between_steps(self):
        path = self.write("art.yaml", HEADER + """spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: use
        template: use
        arguments: {artifacts: [{name: data, from: "{{steps.gen.outputs.artifacts.out}}"}]}
  - name: gen
    container: {image: busybox, command: [sh, -c, "mkdir -p /tmp/d && echo payload > /tmp/d/f.txt"]}
    outputs: {artifacts: [{name: out, path: /tmp/d}]}
  - name: use
    inputs: {artifacts: [{name: data, path: /in/data}]}
    container: {image: busybox, command: [cat, /in/data/f.txt]}
""")
        wf = self.run_json(path)
        self.assertEqual(wf["status"]["phase"], "Succeeded")
        art = self.node(wf, "gen")["outputs"]["artifacts"][0]
        self.assertTrue(art["s3"]["key"].endswith("/out.tgz"))
        self.assertEqual(self.skiff("logs", wf["metadata"]["name"], "use", check=0).stdout.strip(), "payload")
        # Content-addressed: the key points at a sha256 blob.
        key_file = os.path.join(self.home, "artifacts", "keys")
        self.assertTrue(os.path.isdir(key_file))


if __name__ == "__main__":
    unittest.main()
