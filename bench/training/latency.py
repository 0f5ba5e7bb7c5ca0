#!/usr/bin/python3
"""apply -> all replicas Running, for a PyTorchJob of 1 master + 3 workers whose replicas sleep,
through a fresh `skiff server` (SQLite store; the training controller and the local kubelet run
in the server process). Each run POSTs the job through the Kubernetes API and follows a watch
on its Pods opened beforehand; the time from just before the POST to the event that shows the
fourth Pod Running is one sample. The job is deleted (untimed) and its Pods gone before the next
run. Prints the median, min and max of N runs and where the time went (the median of: POST
answered, all four Pods created by the controller, all four Running).

    bench/training/latency.py build/skiff [--runs 12]

BENCH_STDERR=FILE keeps the server's log there.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

NS = "default"
PODS = "/api/v1/namespaces/%s/pods" % NS
JOBS = "/apis/kubeflow.org/v1/namespaces/%s/pytorchjobs" % NS


def job(name):
    replica = {"template": {"spec": {"containers": [{
        "name": "pytorch", "image": "busybox", "command": ["sleep", "300"],
        "resources": {"requests": {"cpu": "100m"}}}]}}}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": name},
            "spec": {"runPolicy": {"cleanPodPolicy": "All"},
                     "pytorchReplicaSpecs": {"Master": dict(replica, replicas=1),
                                             "Worker": dict(replica, replicas=3)}}}


class Watch:
    """A watch on the Pods of one job: yields (arrival time, event) as they come."""

    def __init__(self, port, name):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", PODS + "?watch=true&labelSelector=training.kubeflow.org%2Fjob-name%3D" + name)
        self.resp = self.conn.getresponse()

    def events(self):
        while True:
            line = self.resp.readline()
            if not line:
                return
            line = line.strip()
            if line:
                yield time.monotonic(), json.loads(line)

    def close(self):
        self.conn.close()


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, json.dumps(body) if body is not None else None,
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def one_run(port, name):
    w = Watch(port, name)
    t0 = time.monotonic()
    status, data = request(port, "POST", JOBS, job(name))
    t_post = time.monotonic()
    if status != 201:
        raise SystemExit("POST %s: %d %s" % (name, status, data[:200]))
    created, running = {}, {}
    for t, ev in w.events():
        pod = ev["object"]
        pname = pod["metadata"]["name"]
        created.setdefault(pname, t)
        if pod.get("status", {}).get("phase") == "Running":
            running.setdefault(pname, t)
        if len(running) == 4:
            break
    w.close()
    sample = {"total": max(running.values()) - t0, "post": t_post - t0,
              "created": max(created.values()) - t0, "running": max(running.values()) - t0}
    # Clean up (untimed): delete the job, wait until its Pods are gone.
    request(port, "DELETE", JOBS + "/" + name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, data = request(port, "GET", PODS + "?labelSelector=training.kubeflow.org%2Fjob-name%3D" + name)
        if not json.loads(data)["items"]:
            break
        time.sleep(0.05)
    return sample


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("skiff")
    ap.add_argument("--runs", type=int, default=12)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="skiff-bench-training-", dir="/var/tmp")
    env = dict(os.environ, SKIFF_HOME=home)
    server = subprocess.Popen([args.skiff, "server", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=open(os.environ.get("BENCH_STDERR", "/dev/null"), "w"), text=True)
    try:
        port = int(re.search(r":(\d+) ", server.stdout.readline()).group(1))
        one_run(port, "warmup")  # starts the supervisor; not counted
        samples = [one_run(port, "lat-%02d" % i) for i in range(args.runs)]
    finally:
        server.terminate()
        server.wait()
        pid_file = os.path.join(home, "run", "supervisor.pid")
        if os.path.exists(pid_file):
            try:
                with open(pid_file) as f:
                    os.kill(int(f.read().strip()), 9)
            except (OSError, ValueError):
                pass
        shutil.rmtree(home, ignore_errors=True)
    totals = [s["total"] * 1000 for s in samples]
    med = lambda k: statistics.median(s[k] * 1000 for s in samples)
    print("PyTorchJob 1 master + 3 workers, apply -> 4 Running, %d runs: median %.1f ms "
          "(min %.1f, max %.1f); target <= 50 ms" % (len(samples), statistics.median(totals),
                                                     min(totals), max(totals)))
    print("  median time from before the POST to: POST answered %.1f ms, 4 Pods created %.1f ms, "
          "4 Running %.1f ms" % (med("post"), med("created"), med("running")))
    print("  load average while measuring: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
