"""`skiff server` driven by clients nobody here wrote: the stock kubectl and Debian's
python3-kubernetes. A real server process on loopback, real workflows, real pods."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from skiffenv import SKIFF, SkiffTestCase, store_args

CONFORMANCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "conformance")
STEPS = os.path.join(CONFORMANCE, "argo", "steps.yaml")


class ServerTestCase(SkiffTestCase):
    def setUp(self):
        super().setUp()
        self.start_server()
        self.kube_home = tempfile.mkdtemp(prefix="skiff-kubectl-", dir="/var/tmp")

    def tearDown(self):
        self.stop_server()
        shutil.rmtree(self.kube_home, ignore_errors=True)
        super().tearDown()

    def kubectl(self, *args, check=0, timeout=60):
        env = dict(os.environ, HOME=self.kube_home, KUBECONFIG=os.path.join(self.kube_home, "none"))
        p = subprocess.run(["kubectl", "--server", self.url] + list(args), env=env,
                           capture_output=True, text=True, timeout=timeout)
        if check is not None:
            self.assertEqual(p.returncode, check, "kubectl %s: rc=%d\nstdout:%s\nstderr:%s" %
                             (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p


@unittest.skipIf(shutil.which("kubectl") is None, "kubectl is not installed")
class KubectlTest(ServerTestCase):
    def test_create_wait_get_logs_describe_delete(self):
        out = self.kubectl("create", "-f", STEPS).stdout
        name = re.search(r"workflow.argoproj.io/(\S+) created", out).group(1)
        self.kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "workflow/" + name,
                     "--timeout=60s")
        table = self.kubectl("get", "workflows").stdout
        self.assertRegex(table, r"NAME\s+STATUS\s+AGE")
        self.assertRegex(table, name + r"\s+Succeeded")
        pods = self.kubectl("get", "pods", "-l", "workflows.argoproj.io/workflow=" + name,
                            "-o", "json").stdout
        items = json.loads(pods)["items"]
        self.assertEqual(len(items), 3)
        logs = sorted(self.kubectl("logs", p["metadata"]["name"]).stdout.strip() for p in items)
        self.assertEqual(logs, ["hello1", "hello2a", "hello2b"])
        described = self.kubectl("describe", "workflow", name).stdout
        self.assertIn("Entrypoint:  hello-hello-hello", described)
        self.assertIn("Succeeded", described)
        wf = json.loads(self.kubectl("get", "wf", name, "-o", "json").stdout)
        self.assertEqual(len([n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]), 3)
        self.assertIn("deleted", self.kubectl("delete", "workflow", name).stdout)
        missing = self.kubectl("get", "workflow", name, check=1)
        self.assertIn('workflows.argoproj.io "%s" not found' % name, missing.stderr)
        # Its pods went with it (owner references, cascading delete).
        self.assertIn("No resources found", self.kubectl("get", "pods").stderr)

    def test_apply_twice_configures_and_get_w_streams_changes(self):
        cm = self.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
                                   "data:\n  a: \"1\"\n")
        self.assertIn("configmap/cfg created", self.kubectl("apply", "-f", cm).stdout)
        env = dict(os.environ, HOME=self.kube_home, KUBECONFIG=os.path.join(self.kube_home, "none"))
        watch = subprocess.Popen(["kubectl", "--server", self.url, "get", "configmaps", "-w",
                                  "-o", "jsonpath={.data.a}{\"\\n\"}"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(watch.stdout.readline().strip(), "1")
            with open(cm, "w") as f:
                f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"2\"\n")
            self.assertIn("configmap/cfg configured", self.kubectl("apply", "-f", cm).stdout)
            self.assertEqual(watch.stdout.readline().strip(), "2")
        finally:
            watch.kill()
            watch.communicate()
        got = json.loads(self.kubectl("get", "cm", "cfg", "-o", "json").stdout)
        self.assertEqual(got["data"], {"a": "2"})
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration",
                      got["metadata"]["annotations"])

    def test_batch_job_completes_with_kubectl_wait(self):
        job = self.write("job.yaml", """apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, "echo done-$JOB_COMPLETION_INDEX"]}
""")
        self.kubectl("apply", "-f", job)
        self.kubectl("wait", "--for=condition=Complete", "job/pi", "--timeout=60s")
        self.assertRegex(self.kubectl("get", "jobs").stdout, r"pi\s+3/3")
        pods = json.loads(self.kubectl("get", "pods", "-l", "job-name=pi", "-o", "json").stdout)["items"]
        self.assertEqual(len(pods), 3)
        self.assertTrue(all(p["status"]["phase"] == "Succeeded" for p in pods))

    def test_pod_host_aliases_and_readiness_probe_with_kubectl_wait_ready(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        pod = self.write("web.yaml", """apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  hostAliases: [{ip: 127.0.0.1, hostnames: [myjob-master-0, myjob-worker-0]}]
  containers:
  - name: main
    image: python:3.11
    command: [python3, -c, "import socket, http.server as h; print(socket.gethostbyname('myjob-master-0'), flush=True); h.test(HandlerClass=h.SimpleHTTPRequestHandler, port=%d, bind='127.0.0.1')"]
    ports: [{name: http, containerPort: %d}]
    readinessProbe: {httpGet: {port: http}, periodSeconds: 1}
""" % (port, port))
        self.kubectl("apply", "-f", pod)
        self.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
        got = json.loads(self.kubectl("get", "pod", "web", "-o", "json").stdout)
        self.assertTrue(got["status"]["containerStatuses"][0]["ready"])
        self.assertEqual(self.kubectl("logs", "web").stdout.splitlines()[0], "127.0.0.1")
        # The server never ends on its own: stop it (its supervisor outlives the skiff server).
        self.kubectl("delete", "pod", "web", "--timeout=60s")
        self.assertFalse(json.loads(self.kubectl("get", "pods", "-o", "json").stdout)["items"])

    def test_cron_workflow_starts_workflows_on_schedule_and_keeps_history(self):
        cron = self.write("cron.yaml", """apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: tick}
spec:
  schedule: "@every 1s"
  successfulJobsHistoryLimit: 2
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container: {image: busybox, command: [echo, "{{workflow.scheduledTime}}"]}
""")
        self.kubectl("apply", "-f", cron)
        deadline = time.time() + 60
        while time.time() < deadline:
            wfs = json.loads(self.kubectl("get", "wf", "-l", "workflows.argoproj.io/cron-workflow=tick",
                                          "-o", "json").stdout)["items"]
            done = [w for w in wfs if w.get("status", {}).get("phase") == "Succeeded"]
            cron_obj = json.loads(self.kubectl("get", "cronwf", "tick", "-o", "json").stdout)
            if len(done) >= 2 and cron_obj.get("status", {}).get("lastScheduledTime"):
                break
            time.sleep(0.5)
        self.assertGreaterEqual(len(done), 2)
        # Older successful runs are deleted beyond the history limit. Stop the schedule first, so
        # that a run that just finished (not yet pruned) cannot be counted.
        self.kubectl("patch", "cronwf", "tick", "--type=merge", "-p", '{"spec":{"suspend":true}}')
        seen = set()
        deadline = time.time() + 30
        while time.time() < deadline:
            wfs = json.loads(self.kubectl("get", "wf", "-o", "json").stdout)["items"]
            seen.update(w["metadata"]["name"] for w in wfs)
            finished = [w for w in wfs if w.get("status", {}).get("phase") == "Succeeded"]
            running = [w for w in wfs if w.get("status", {}).get("phase") not in ("Succeeded", "Failed", "Error")]
            if len(finished) <= 2 and not running:
                break
            time.sleep(0.5)
        self.assertLessEqual(len(finished), 2)
        self.kubectl("delete", "cronwf", "tick")

    def test_invalid_workflow_is_rejected_naming_the_field(self):
        bad = self.write("bad.yaml", """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: bad}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: main2, depends: trian}
  - name: main2
    container: {image: alpine, command: ["true"]}
""")
        p = self.kubectl("create", "-f", bad, check=1)
        self.assertIn("is invalid", p.stderr)
        self.assertIn('spec.templates[0].dag.tasks[0].depends', p.stderr)
        self.kubectl("get", "workflow", "bad", check=1)


class CliClientTest(ServerTestCase):
    """`skiff apply/get/describe/logs/wait/delete` as clients of the server."""

    def test_apply_wait_get_logs_describe_delete_through_the_server(self):
        out = self.remote("apply", "-f", STEPS).stdout
        name = re.search(r"workflow.argoproj.io/(\S+) created", out).group(1)
        self.assertEqual(self.remote("wait", name).stdout.strip(), name + " Succeeded")
        self.assertRegex(self.remote("get", "wf").stdout, name + r"\s+Succeeded")
        self.assertEqual(self.remote("get", "wf", name, "-o", "name").stdout.strip(),
                         "workflow.argoproj.io/" + name)
        got = json.loads(self.remote("get", "wf", name, "-o", "json").stdout)
        self.assertEqual(got["status"]["phase"], "Succeeded")
        self.assertEqual(self.remote("logs", name, "hello2a").stdout, "hello2a\n")
        logs = self.remote("logs", name).stdout
        self.assertEqual(sorted(l.split(": ")[1] for l in logs.splitlines()),
                         ["hello1", "hello2a", "hello2b"])
        described = self.remote("describe", "workflow", name).stdout
        self.assertRegex(described, r"Normal\s+WorkflowRunning")
        self.assertRegex(described, r"Normal\s+WorkflowSucceeded")
        self.assertIn(name + "[1].hello2b", described)
        self.assertIn('"%s" deleted' % name, self.remote("delete", "wf", name).stdout)
        missing = self.remote("get", "wf", name, check=1)
        self.assertIn("Error from server (NotFound)", missing.stderr)
        # The events went with the workflow.
        self.assertEqual(json.loads(self.kubectl("get", "events", "-o", "json").stdout)["items"], [])

    def test_failed_workflow_wait_exits_non_zero_and_config_file_names_the_server(self):
        wf = self.write("fail.yaml", """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: fails}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "exit 3"]}
""")
        cfg = self.write("config.yaml", "server: %s\n" % self.url)
        env = dict(self.env, SKIFF_CONFIG=cfg, SKIFF_HOME=os.path.join(self.files, "unused"))
        run = lambda *a: subprocess.run([SKIFF] + list(a), env=env, capture_output=True, text=True,
                                        timeout=120)
        self.assertEqual(run("create", "-f", wf).returncode, 0)
        p = run("wait", "fails")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout.strip(), "fails Failed")
        self.assertRegex(run("describe", "wf", "fails").stdout, r"Warning\s+WorkflowFailed")
        self.assertEqual(run("create", "-f", wf).returncode, 1)  # exists already


class MetricsTest(ServerTestCase):
    @unittest.skipIf(shutil.which("promtool") is None, "promtool is not installed")
    def test_metrics_are_valid_prometheus_exposition(self):
        out = self.kubectl("create", "-f", STEPS).stdout
        name = re.search(r"workflow.argoproj.io/(\S+) created", out).group(1)
        self.kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "workflow/" + name,
                     "--timeout=60s")
        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn('skiff_pods{phase="Succeeded"} 3\n', text)
        self.assertIn('skiff_workflows{phase="Succeeded"} 1\n', text)
        self.assertRegex(text, r'skiff_api_requests_total\{code="201",method="POST"\} 1\n')
        passes = re.search(r"skiff_workflow_reconcile_duration_seconds_count (\d+)", text)
        self.assertGreater(int(passes.group(1)), 1)
        self.assertIn("skiff_workflow_queue_depth 0\n", text)


class PythonClientTest(ServerTestCase):
    def test_custom_objects_watch_and_pod_logs(self):
        from kubernetes import client, watch
        from kubernetes.client.rest import ApiException
        cfg = client.Configuration()
        cfg.host = self.url
        api = client.ApiClient(cfg)
        custom = client.CustomObjectsApi(api)
        core = client.CoreV1Api(api)
        body = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "py-"},
            "spec": {"entrypoint": "main", "templates": [{
                "name": "main", "container": {"image": "alpine", "command": ["sh", "-c", "echo from-python"]}}]},
        }
        created = custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default",
                                                         "workflows", body)
        name = created["metadata"]["name"]
        self.assertTrue(name.startswith("py-"))
        phase = None
        w = watch.Watch()
        for ev in w.stream(custom.list_namespaced_custom_object, "argoproj.io", "v1alpha1",
                           "default", "workflows", timeout_seconds=60):
            if ev["object"]["metadata"]["name"] != name:
                continue
            phase = ev["object"].get("status", {}).get("phase")
            if phase in ("Succeeded", "Failed", "Error"):
                w.stop()
        self.assertEqual(phase, "Succeeded")
        listed = custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows")
        self.assertIn(name, [i["metadata"]["name"] for i in listed["items"]])
        pods = core.list_namespaced_pod("default", label_selector="workflows.argoproj.io/workflow=" + name)
        self.assertEqual(len(pods.items), 1)
        self.assertEqual(pods.items[0].status.phase, "Succeeded")
        log = core.read_namespaced_pod_log(pods.items[0].metadata.name, "default")
        self.assertEqual(log.strip(), "from-python")
        with self.assertRaises(ApiException) as e:
            custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows", "nope")
        self.assertEqual(e.exception.status, 404)
        body["metadata"] = {"name": name}
        with self.assertRaises(ApiException) as e:
            custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows", body)
        self.assertEqual(e.exception.status, 409)
        self.assertEqual(json.loads(e.exception.body)["reason"], "AlreadyExists")


class AuthTest(SkiffTestCase):
    """Tokens bound to namespaces and roles. (kubectl sends bearer tokens only over TLS, which the
    server does not speak yet, so the clients here are python-kubernetes and plain HTTP.)"""

    def test_tokens_bind_namespaces_and_roles(self):
        from kubernetes import client
        from kubernetes.client.rest import ApiException
        store = store_args()
        editor = self.skiff("token", "create", "team-a-ci", "--namespace", "team-a", "--role", "edit",
                            *store, check=0).stdout.strip()
        viewer = self.skiff("token", "create", "team-a-viewer", "-n", "team-a", "--role", "view",
                            *store, check=0).stdout.strip()
        self.assertTrue(editor.startswith("skiff_"))
        listed = self.skiff("token", "list", *store, check=0).stdout
        self.assertRegex(listed, r"team-a-ci\s+edit\s+team-a")
        self.assertNotIn(editor, listed)
        server = subprocess.Popen([SKIFF, "server", "--port", "0", "--auth"] + store, env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            url = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)

            def core(token):
                cfg = client.Configuration()
                cfg.host = url
                if token:
                    cfg.api_key = {"authorization": "Bearer " + token}
                return client.CoreV1Api(client.ApiClient(cfg))

            cm = {"metadata": {"name": "c"}, "data": {"k": "v"}}
            core(editor).create_namespaced_config_map("team-a", cm)
            self.assertEqual(core(viewer).read_namespaced_config_map("c", "team-a").data, {"k": "v"})
            for api, call, code in [
                (core(None), lambda a: a.list_namespaced_config_map("team-a"), 401),
                (core("skiff_" + "0" * 64), lambda a: a.list_namespaced_config_map("team-a"), 401),
                (core(editor), lambda a: a.create_namespaced_config_map("team-b", cm), 403),
                (core(editor), lambda a: a.list_config_map_for_all_namespaces(), 403),
                (core(viewer), lambda a: a.delete_namespaced_config_map("c", "team-a"), 403),
            ]:
                with self.assertRaises(ApiException) as e:
                    call(api)
                self.assertEqual(e.exception.status, code)
            self.assertEqual(urllib.request.urlopen(url + "/healthz").read(), b"ok")
            self.skiff("token", "delete", "team-a-ci", *store, check=0)
            with self.assertRaises(ApiException) as e:
                core(editor).list_namespaced_config_map("team-a")
            self.assertEqual(e.exception.status, 401)
        finally:
            server.terminate()
            server.communicate(timeout=10)


class ServerFlagsTest(SkiffTestCase):
    def test_non_loopback_bind_is_refused_without_auth(self):
        p = self.skiff("server", "--host", "0.0.0.0", "--port", "0", check=2)
        self.assertIn("refusing to listen beyond loopback", p.stderr)

    def test_second_server_on_one_data_dir_says_who_holds_it(self):
        first = subprocess.Popen([SKIFF, "server", "--port", "0"], env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertIn("listening", first.stdout.readline())
            p = self.skiff("server", "--port", "0", check=1)
            self.assertIn("controller.lock", p.stderr)
        finally:
            first.terminate()
            first.communicate(timeout=10)


if __name__ == "__main__":
    unittest.main()
