"""The Kubeflow training kinds end to end: the examples under examples/training through
`skiff run`, fault handling (ExitCode retries, backoffLimit, activeDeadlineSeconds) and
suspend/resume through `skiff server` and the stock kubectl.

Replicas reach each other on 127.0.0.1 with a port allocated per replica (the default local
network). With SKIFF_TRAINING_HOSTNAMES=1 the injected addresses are the upstream host names,
resolved through `spec.hostAliases` (per-Pod /etc/hosts); the examples pass either way because
they only use the injected values (HostNamesTest runs one that way)."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest
import urllib.request

import yaml

from skiffenv import SKIFF, SkiffTestCase
from test_server import ServerTestCase

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "training")
CONFORMANCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "conformance", "training")
PY = "/usr/bin/python3"
SPECS_FIELD = {"PyTorchJob": "pytorchReplicaSpecs", "TFJob": "tfReplicaSpecs", "XGBoostJob": "xgbReplicaSpecs",
               "PaddleJob": "paddleReplicaSpecs", "MPIJob": "mpiReplicaSpecs"}


def has_module(name):
    return subprocess.run([PY, "-c", "import " + name], capture_output=True).returncode == 0


def condition(job, ctype):
    for c in job.get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return None


class ExamplesTest(SkiffTestCase):
    def run_example(self, name, timeout=600):
        p = self.skiff("run", os.path.join(EXAMPLES, name), timeout=timeout)
        self.assertEqual(p.returncode, 0, "stdout:%s\nstderr:%s" % (p.stdout, p.stderr))
        return p.stdout

    @unittest.skipUnless(has_module("torch") and has_module("sklearn"), "python3-torch/sklearn missing")
    def test_pytorch_ddp_on_digits(self):
        out = self.run_example("pytorch-ddp.yaml")
        for rank in range(3):
            self.assertIn("rank %d/3: loss" % rank, out)
        self.assertIn("PyTorchJob/pytorch-ddp Succeeded (PyTorchJobSucceeded", out)
        self.assertRegex(out, r"Master\s+active 0\s+succeeded 1")

    def test_tfjob_replicas_check_tf_config(self):
        out = self.run_example("tfjob-ps-worker.yaml")
        self.assertIn("worker 0 done", out)
        self.assertIn("worker 1 done", out)
        self.assertIn("TFJob/tf-config-check Succeeded", out)
        # TFJob's default cleanPodPolicy (Running) deleted the parameter server.
        pods = json.loads(self.skiff("get", "pods", "-o", "json", check=0).stdout)["items"]
        self.assertNotIn("tf-config-check-ps-0", [p["metadata"]["name"] for p in pods])

    def test_xgboost_replicas_check_their_environment(self):
        out = self.run_example("xgboost-env.yaml")
        self.assertIn("tracker heard ranks [1, 2]", out)
        self.assertIn("XGBoostJob/xgboost-env Succeeded", out)

    @unittest.skipUnless(shutil.which("mpirun") and shutil.which("mpicc"), "openmpi is not installed")
    def test_mpijob_launcher_runs_mpirun_over_the_hostfile(self):
        out = self.run_example("mpi-allreduce.yaml")
        self.assertIn("rank 0 of 2: allreduce sum 3", out)
        self.assertIn("rank 1 of 2: allreduce sum 3", out)
        self.assertIn("MPIJob/mpi-allreduce Succeeded", out)

    @unittest.skipUnless(shutil.which("mpirun") and shutil.which("mpicxx"), "openmpi is not installed")
    def test_mpijob_runs_the_cpp_allreduce_sgd_example(self):
        """examples/training/mpi/allreduce.cc (data-parallel SGD: gradients and sample counts
        summed with MPI_Allreduce) as an MPIJob's launcher over the hostfile skiff provides; each
        rank checks the summed count and that all ranks hold the same fitted weights."""
        binary = os.path.join(self.files, "allreduce")
        subprocess.run(["mpicxx", "-O2", "-o", binary, os.path.join(EXAMPLES, "mpi", "allreduce.cc")], check=True)
        job = """apiVersion: kubeflow.org/v2beta1
kind: MPIJob
metadata: {name: sgd}
spec:
  slotsPerWorker: 1
  runPolicy: {cleanPodPolicy: Running}
  mpiReplicaSpecs:
    Launcher:
      replicas: 1
      template:
        spec:
          containers:
          - {name: launcher, image: mpioperator/openmpi, resources: {requests: {cpu: 100m}},
             command: [sh, -c, 'cat "$OMPI_MCA_orte_default_hostfile"; exec mpirun --oversubscribe -n 2 %s']}
    Worker:
      replicas: 2
      template:
        spec:
          containers:
          - {name: worker, image: mpioperator/openmpi, resources: {requests: {cpu: 100m}}, command: [sleep, "3600"]}
""" % binary
        out = self.run_example(self.write("sgd.yaml", job))
        self.assertIn("127.0.0.1 slots=2", out)
        for rank in range(2):
            self.assertRegex(out, r"rank %d of 2: w=[\d.]+ b=-[\d.]+ loss [\d.]+ -> [\d.]+\n" % rank)
        self.assertNotIn("WRONG", out)
        self.assertIn("MPIJob/sgd Succeeded", out)

    def expected_pods(self, doc):
        """Pod names the upstream operators would create for `doc`."""
        name = doc["metadata"]["name"]
        field = SPECS_FIELD[doc["kind"]]
        pods = []
        for rtype, spec in doc["spec"][field].items():
            if doc["kind"] == "MPIJob" and rtype.lower() == "launcher":
                pods.append(name + "-launcher")
                continue
            default = 0 if doc["kind"] == "MPIJob" else 1
            pods += ["%s-%s-%d" % (name, rtype.lower(), i) for i in range(spec.get("replicas", default))]
        return pods

    def test_every_conformance_file_is_accepted_normalized_and_described(self):
        """Each file of ../shared/conformance/training: `skiff lint` and `skiff apply` accept it
        (stored, not run: apply starts no controller), and `skiff describe` shows its plan:
        the success rule, every replica's Pod name and the injected environment."""
        files = sorted(f for f in os.listdir(CONFORMANCE) if f.endswith(".yaml"))
        self.assertGreaterEqual(len(files), 6)
        for f in files:
            path = os.path.join(CONFORMANCE, f)
            with open(path) as fh:
                doc = yaml.safe_load(fh)
            self.skiff("lint", path, check=0)
            self.skiff("apply", "-f", path, check=0)
            ns = doc["metadata"].get("namespace", "default")
            out = self.skiff("describe", doc["kind"].lower(), doc["metadata"]["name"], "-n", ns, check=0).stdout
            self.assertIn("Kind:         " + doc["kind"], out, f)
            self.assertIn("Plan:\n  Success:      ", out, f)
            for pod in self.expected_pods(doc):
                self.assertIn(pod, out, f)
            env_marker = {"PyTorchJob": "PET_NNODES=", "TFJob": "TF_CONFIG=", "XGBoostJob": "MASTER_ADDR=",
                          "PaddleJob": "PADDLE_MASTER=", "MPIJob": "OMPI_MCA_orte_default_hostfile="}[doc["kind"]]
            self.assertIn(env_marker, out, f)
        # Stored, never run.
        pods = json.loads(self.skiff("get", "pods", "-A", "-o", "json", check=0).stdout)["items"]
        self.assertEqual(pods, [])

    def test_malformed_conformance_variants_are_rejected_with_the_field_path(self):
        for f in sorted(x for x in os.listdir(CONFORMANCE) if x.endswith(".yaml")):
            with open(os.path.join(CONFORMANCE, f)) as fh:
                doc = yaml.safe_load(fh)
            field = SPECS_FIELD[doc["kind"]]
            rtype = sorted(doc["spec"][field])[-1]
            prefix = "spec.%s.%s." % (field, rtype)
            for mutate, error in (
                    (lambda d: d["spec"][field][rtype].__setitem__("replicas", -1), prefix + "replicas: must be >= 0"),
                    (lambda d: d["spec"][field][rtype].pop("template"), prefix + "template: required"),
                    (lambda d: d["spec"][field][rtype].__setitem__("restartPolicy", "Sometimes"),
                     prefix + "restartPolicy: unsupported value"),
                    (lambda d: d["spec"].setdefault("runPolicy", {}).__setitem__("backoffLimit", -1),
                     "spec.runPolicy.backoffLimit: must be >= 0")):
                bad = json.loads(json.dumps(doc))
                mutate(bad)
                path = self.write("bad-" + f, yaml.safe_dump(bad))
                for cmd in (["lint", path], ["apply", "-f", path]):
                    p = self.skiff(*cmd)
                    self.assertNotEqual(p.returncode, 0, "%s %s accepted" % (f, error))
                    self.assertIn(error, p.stderr, f)

    def test_paddlejob_example_is_validated_planned_and_runs(self):
        """PaddlePaddle is not in Debian: examples/training/paddle-env.yaml checks the PADDLE_*
        variables with the standard library instead of paddle.distributed.launch."""
        path = os.path.join(EXAMPLES, "paddle-env.yaml")
        self.skiff("lint", path, check=0)
        self.skiff("apply", "-f", path, check=0)
        out = self.skiff("describe", "paddlejob", "paddle-env", check=0).stdout
        self.assertIn("PADDLE_NNODES=2", out)
        self.assertIn("paddle-env-worker-1", out)
        self.skiff("delete", "paddlejob", "paddle-env", check=0)
        out = self.run_example("paddle-env.yaml")
        self.assertIn("heard paddle-env 2", out)
        self.assertIn("PaddleJob/paddle-env Succeeded", out)

    def test_invalid_job_is_rejected_naming_the_field(self):
        bad = self.write("bad.yaml", """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: bad}
spec:
  pytorchReplicaSpecs:
    Worker: {replicas: -1, template: {spec: {containers: [{name: pytorch, image: x}]}}}
""")
        p = self.skiff("run", bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("spec.pytorchReplicaSpecs.Worker.replicas: must be >= 0", p.stderr)


class HostNamesTest(SkiffTestCase):
    """SKIFF_TRAINING_HOSTNAMES=1: the injected addresses are upstream's host names, resolved
    through each Pod's hostAliases (the kubelet's private /etc/hosts). Where the kubelet cannot
    apply them (no mount namespaces) the probe fails and the test skips."""

    def test_tfjob_with_host_names(self):
        self.env["SKIFF_TRAINING_HOSTNAMES"] = "1"
        probe = self.write("probe.yaml", worker_job(
            "probe", "getent hosts probe-worker-0.default.svc | grep -q 127.0.0.1", restart="Never",
            files=self.files))
        if self.skiff("run", probe, timeout=60).returncode != 0:
            self.skipTest("the local kubelet cannot apply spec.hostAliases here")
        p = self.skiff("run", os.path.join(EXAMPLES, "tfjob-ps-worker.yaml"), timeout=300)
        self.assertEqual(p.returncode, 0, "stdout:%s\nstderr:%s" % (p.stdout, p.stderr))
        self.assertIn("at tf-config-check-worker-0.default.svc:", p.stdout)

def worker_job(name, script, run_policy="{}", restart="ExitCode", workers=1, files="/var/tmp"):
    """A PyTorchJob of workers only (success = every worker succeeded) running `script` with
    sh; `files` is mounted at /shared so that attempts can leave marks."""
    return """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: %s}
spec:
  runPolicy: %s
  pytorchReplicaSpecs:
    Worker:
      replicas: %d
      restartPolicy: %s
      template:
        spec:
          volumes: [{name: shared, hostPath: {path: %s}}]
          containers:
          - name: pytorch
            image: busybox
            volumeMounts: [{name: shared, mountPath: /shared}]
            resources: {requests: {cpu: 200m}}
            command: [sh, -c, %s]
""" % (name, run_policy, workers, restart, files, json.dumps(script))


class FaultTest(SkiffTestCase):
    def job(self, name):
        return json.loads(self.skiff("get", "pytorchjob", name, "-o", "json", check=0).stdout)

    def test_exit_137_is_retried_and_counted(self):
        script = "echo attempt >> /shared/attempts; [ -e /shared/marked ] && exit 0; touch /shared/marked; exit 137"
        path = self.write("retry.yaml", worker_job("retry", script, files=self.files))
        self.skiff("run", path, check=0, timeout=180)
        with open(os.path.join(self.files, "attempts")) as f:
            self.assertEqual(len(f.read().split()), 2)
        pod = json.loads(self.skiff("get", "pod", "retry-worker-0", "-o", "json", check=0).stdout)
        self.assertEqual(pod["metadata"]["annotations"]["training.skiff.dev/restart"], "1")
        self.assertEqual(condition(self.job("retry"), "Succeeded")["status"], "True")

    @unittest.skipUnless(has_module("torch") and has_module("sklearn"), "python3-torch/sklearn missing")
    def test_sigkilled_worker_is_recreated_and_resumes_from_its_checkpoint(self):
        """examples/training/pytorch-checkpoint.yaml: worker 1 is SIGKILLed mid-training; the
        ExitCode policy recreates it (one restart recorded against backoffLimit 3), it resumes
        from the checkpoint in SKIFF_CHECKPOINT_DIR and the job completes with a falling loss."""
        run = subprocess.Popen([SKIFF, "run", os.path.join(EXAMPLES, "pytorch-checkpoint.yaml")],
                               env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ckdir = os.path.join(self.home, "jobs", "default", "pytorch-checkpoint", "checkpoints")
            pid_file = os.path.join(ckdir, "worker-1.pid")

            def trained_a_few_epochs():
                if not os.path.exists(pid_file):
                    return False
                log = self.skiff("logs", "pytorch-checkpoint-worker-1").stdout
                return re.search(r"^epoch=([3-9]|\d\d) ", log, re.M) is not None
            self.wait_until(trained_a_few_epochs, timeout=240, interval=0.2)
            with open(pid_file) as f:
                os.kill(int(f.read()), signal.SIGKILL)
            out, err = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
        self.assertEqual(run.returncode, 0, "stdout:%s\nstderr:%s" % (out, err))
        self.assertIn("PyTorchJob/pytorch-checkpoint Succeeded", out)
        # The recreated replica started from its last checkpoint, not from scratch.
        log = self.skiff("logs", "pytorch-checkpoint-worker-1", check=0).stdout
        resumed = re.search(r"^resumed at epoch=(\d+)", log, re.M)
        self.assertIsNotNone(resumed, log)
        self.assertGreater(int(resumed.group(1)), 0)
        first, last = map(float, re.search(r"loss ([\d.]+) -> ([\d.]+) over 40 epochs", log).groups())
        self.assertLess(last, 0.7 * first)
        # The untouched worker ran once, from epoch 0.
        self.assertIn("started at epoch=0", self.skiff("logs", "pytorch-checkpoint-worker-0", check=0).stdout)
        pod = json.loads(self.skiff("get", "pod", "pytorch-checkpoint-worker-1", "-o", "json", check=0).stdout)
        self.assertEqual(pod["metadata"]["annotations"]["training.skiff.dev/restart"], "1")
        self.assertTrue(os.path.exists(os.path.join(ckdir, "worker-1.pt")))

    def test_stalled_replica_is_killed_and_restarted(self):
        """training.skiff.dev/progress-deadline-seconds: 3. The first attempt prints one metrics
        line and hangs; 3 s later it is killed and recreated (OnFailure), and the second attempt
        finishes the job."""
        script = ("echo attempt >> /shared/attempts; [ -e /shared/hung ] && { echo epoch=2; exit 0; }; "
                  "touch /shared/hung; echo epoch=1; exec sleep 300")
        job = worker_job("stall", script, "{backoffLimit: 3}", restart="OnFailure", files=self.files)
        job = job.replace("metadata: {name: stall}", "metadata:\n  name: stall\n  annotations:\n"
                          "    training.skiff.dev/progress-deadline-seconds: \"3\"")
        path = self.write("stall.yaml", job)
        t0 = time.monotonic()
        p = self.skiff("run", path, timeout=180)
        elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, "stdout:%s\nstderr:%s" % (p.stdout, p.stderr))
        with open(os.path.join(self.files, "attempts")) as f:
            self.assertEqual(len(f.read().split()), 2)
        pod = json.loads(self.skiff("get", "pod", "stall-worker-0", "-o", "json", check=0).stdout)
        self.assertEqual(pod["metadata"]["annotations"]["training.skiff.dev/restart"], "1")
        self.assertIn("epoch=2", self.skiff("logs", "stall-worker-0", check=0).stdout)
        self.assertLess(elapsed, 150)  # not the 300 s the hung attempt would have slept

    def test_exit_1_fails_the_job_at_once(self):
        script = "echo attempt >> /shared/attempts; exit 1"
        path = self.write("perm.yaml", worker_job("perm", script, files=self.files))
        p = self.skiff("run", path, check=1, timeout=180)
        self.assertIn("has failed because 1 Worker replica(s) failed.", p.stdout)
        with open(os.path.join(self.files, "attempts")) as f:
            self.assertEqual(len(f.read().split()), 1)

    def test_backoff_limit_counts_every_recreated_pod(self):
        script = "echo attempt >> /shared/attempts; exit 137"
        path = self.write("backoff.yaml", worker_job("backoff", script, "{backoffLimit: 2}", files=self.files))
        p = self.skiff("run", path, check=1, timeout=180)
        self.assertIn("PyTorchJobFailed: Job backoff has failed because it has reached the specified backoff limit",
                      p.stdout)
        with open(os.path.join(self.files, "attempts")) as f:
            self.assertEqual(len(f.read().split()), 2)

    def test_active_deadline_fails_and_cleans_running_pods(self):
        path = self.write("deadline.yaml", worker_job(
            "deadline", "sleep 120", "{activeDeadlineSeconds: 2, cleanPodPolicy: Running}",
            restart="OnFailure", workers=2, files=self.files))
        p = self.skiff("run", path, check=1, timeout=100)
        self.assertIn("active longer than specified deadline", p.stdout)
        pods = json.loads(self.skiff("get", "pods", "-o", "json", check=0).stdout)["items"]
        self.assertEqual([p["metadata"]["name"] for p in pods], [])


@unittest.skipIf(shutil.which("kubectl") is None, "kubectl is not installed")
class ServerTrainingTest(ServerTestCase):
    def get(self, kind, name):
        return json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)

    def pods(self, job):
        return json.loads(self.kubectl("get", "pods", "-l", "training.kubeflow.org/job-name=" + job,
                                       "-o", "json").stdout)["items"]

    def test_suspend_and_resume(self):
        path = self.write("susp.yaml", worker_job("susp", "sleep 1", "{suspend: true}", restart="Never",
                                                  workers=2, files=self.files))
        self.kubectl("apply", "-f", path)
        self.kubectl("wait", "--for=condition=Suspended", "pytorchjob/susp", "--timeout=60s")
        self.assertEqual(self.pods("susp"), [])
        self.kubectl("patch", "pytorchjob", "susp", "--type=merge", "-p", '{"spec":{"runPolicy":{"suspend":false}}}')
        self.kubectl("wait", "--for=condition=Succeeded", "pytorchjob/susp", "--timeout=120s")
        job = self.get("pytorchjob", "susp")
        self.assertEqual(condition(job, "Suspended")["status"], "False")
        self.assertEqual(condition(job, "Suspended")["reason"], "PyTorchJobResumed")
        self.assertEqual(job["status"]["replicaStatuses"]["Worker"]["succeeded"], 2)

    def logs(self, pod):
        return self.kubectl("logs", pod, check=None).stdout

    @unittest.skipUnless(has_module("torch"), "python3-torch missing")
    def test_elastic_pytorchjob_scales_with_torchrun_rendezvous(self):
        """examples/training/pytorch-elastic.yaml: torchrun forms the group from the PET_*
        variables (c10d rendezvous on 127.0.0.1); scaling Worker.replicas 2 -> 3 -> 2 on the
        running job creates and deletes a worker and torchrun re-forms the group at each size;
        training resumes from rank 0's checkpoint and the job succeeds when a worker does."""
        job = "pytorch-elastic"
        # Train until told otherwise (the example reads <checkpoints>/epochs every epoch), so
        # that no phase of the test can race the end of training on a slow machine.
        ckdir = os.path.join(self.home, "jobs", "default", job, "checkpoints")
        os.makedirs(ckdir)
        with open(os.path.join(ckdir, "epochs"), "w") as f:
            f.write("100000")
        self.kubectl("apply", "-f", os.path.join(EXAMPLES, "pytorch-elastic.yaml"))

        def world(pod, size, after=0):
            log = self.logs(pod)
            return any(int(m.group(1)) >= after for m in
                       re.finditer(r"^group: rank \d+ world %d restart (\d+)" % size, log, re.M))
        self.wait_until(lambda: world(job + "-worker-0", 2) and "epoch=2 " in self.logs(job + "-worker-0"),
                        timeout=300, interval=1)
        w0 = self.get("pod", job + "-worker-0")
        env = {e["name"]: e.get("value") for e in w0["spec"]["containers"][0]["env"]}
        self.assertEqual(env["PET_NNODES"], "1:3")
        self.assertEqual(env["PET_RDZV_BACKEND"], "c10d")
        self.assertEqual(env["PET_MAX_RESTARTS"], "10")
        self.assertEqual(env["PET_RDZV_CONF"], "last_call_timeout=1")
        self.assertRegex(env["PET_RDZV_ENDPOINT"], r"^127\.0\.0\.1:\d+$")
        # Up: a third worker joins; every member re-forms the group with 3.
        self.kubectl("patch", "pytorchjob", job, "--type=merge",
                     "-p", '{"spec":{"pytorchReplicaSpecs":{"Worker":{"replicas":3}}}}')
        self.wait_until(lambda: world(job + "-worker-2", 3) and world(job + "-worker-0", 3),
                        timeout=300, interval=1)
        restarts = max(int(m.group(1)) for m in re.finditer(
            r"^group: rank \d+ world 3 restart (\d+)", self.logs(job + "-worker-0"), re.M))
        # Down: worker 2 is deleted; the other two re-form the group with 2.
        self.kubectl("patch", "pytorchjob", job, "--type=merge",
                     "-p", '{"spec":{"pytorchReplicaSpecs":{"Worker":{"replicas":2}}}}')
        self.wait_until(lambda: job + "-worker-2" not in [p["metadata"]["name"] for p in self.pods(job)],
                        timeout=60)
        self.wait_until(lambda: world(job + "-worker-0", 2, after=restarts + 1), timeout=300, interval=1)
        # Finish a few epochs from now.
        last = max(int(e) for e in re.findall(r"^epoch=(\d+) world=2", self.logs(job + "-worker-0"), re.M))
        with open(os.path.join(ckdir, "epochs"), "w") as f:
            f.write(str(last + 5))
        self.kubectl("wait", "--for=condition=Succeeded", "pytorchjob/" + job, "--timeout=300s", timeout=320)
        # Every epoch was done once, across three group sizes, from the checkpoints.
        logs = self.logs(job + "-worker-0") + self.logs(job + "-worker-1")
        self.assertIn("done: %d epochs" % (last + 5), logs)
        self.assertRegex(logs, r"group: rank \d+ world 2 restart \d+ from epoch [1-9]")

    def test_replicas_services_and_running_latency(self):
        """1 master + 3 workers: every replica Running; prints apply -> all Running."""
        job = """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: lat}
spec:
  runPolicy: {cleanPodPolicy: All}
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template: {spec: {containers: [{name: pytorch, image: busybox, command: [sh, -c, "sleep 30"],
                                       resources: {requests: {cpu: 100m}}}]}}
    Worker:
      replicas: 3
      template: {spec: {containers: [{name: pytorch, image: busybox, command: [sh, -c, "sleep 30"],
                                       resources: {requests: {cpu: 100m}}}]}}
"""
        path = self.write("lat.yaml", job)
        t0 = time.monotonic()
        self.kubectl("apply", "-f", path)
        t1 = time.monotonic()
        url = self.url + "/api/v1/namespaces/default/pods?labelSelector=training.kubeflow.org%2Fjob-name%3Dlat"

        def running():
            with urllib.request.urlopen(url) as r:
                items = json.load(r)["items"]
            return [p.get("status", {}).get("phase") for p in items].count("Running") == 4
        self.wait_until(running, timeout=60, interval=0.005)
        t2 = time.monotonic()
        print("\nkubectl apply -> 4 replicas Running: %.3f s (%.3f s after kubectl exited)" % (t2 - t0, t2 - t1))
        names = sorted(p["metadata"]["name"] for p in self.pods("lat"))
        self.assertEqual(names, ["lat-master-0", "lat-worker-0", "lat-worker-1", "lat-worker-2"])
        svcs = json.loads(self.kubectl("get", "services", "-o", "json").stdout)["items"]
        self.assertEqual(sorted(s["metadata"]["name"] for s in svcs), names)
        master = [p for p in self.pods("lat") if p["metadata"]["name"] == "lat-master-0"][0]
        env = {e["name"]: e.get("value") for e in master["spec"]["containers"][0]["env"]}
        self.assertEqual(env["WORLD_SIZE"], "4")
        self.assertEqual(env["RANK"], "0")
        self.wait_until(lambda: condition(self.get("pytorchjob", "lat"), "Running"), timeout=30)
        self.kubectl("delete", "pytorchjob", "lat")
        self.wait_until(lambda: self.pods("lat") == [], timeout=30)


if __name__ == "__main__":
    unittest.main()
