#!/usr/bin/python3
"""Per-trial platform overhead of Katib Experiments on `skiff server`: an Experiment whose
trials do nothing but print the objective (`/bin/echo loss=<x>`, a batch/v1 Job each), run one
trial at a time, while three watch streams (Trials, Jobs, Pods) timestamp every event as it arrives.

Per trial it reports the time from the Trial's creation (its ADDED event) to its Pod Running,
to the Pod Succeeded, and to the Trial Succeeded with its metrics recorded (the same write),
plus the gap from one Trial's end to the next Trial's creation (the Experiment's pass);
median and p90 over the trials after the first (warm-up).

    bench/tuning/overhead.py build/skiff [--trials 60] [--collector StdOut|Push|File]
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

TRIALS = "/apis/kubeflow.org/v1beta1/namespaces/default/trials"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
PODS = "/api/v1/namespaces/default/pods"
EXPERIMENTS = "/apis/kubeflow.org/v1beta1/namespaces/default/experiments"


def experiment(n, collector):
    command = ["/bin/echo", "loss=${trialParameters.x}"]
    mc = {"collector": {"kind": "StdOut"}}
    if collector == "Push":
        command = ["sh", "-c", 'curl -sf -o /dev/null -d "{\\"loss\\": $0}" "$KATIB_METRICS_URL"',
                   "${trialParameters.x}"]
        mc = {"collector": {"kind": "Push"}}
    elif collector == "File":
        command = ["sh", "-c", 'echo "loss=$0" > /tmp/m.log', "${trialParameters.x}"]
        mc = {"collector": {"kind": "File"},
              "source": {"fileSystemPath": {"path": "/tmp/m.log", "kind": "File"}}}
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "overhead", "namespace": "default"},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 1, "maxTrialCount": n,
            "metricsCollectorSpec": mc,
            "parameters": [{"name": "x", "parameterType": "double",
                            "feasibleSpace": {"min": "0", "max": "1"}}],
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": [{"name": "x", "reference": "x"}],
                "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "training-container", "command": command}]}}}}}}}


def watch(port, path, on_event, stop):
    try:
        watch_stream(port, path, on_event, stop)
    except (http.client.HTTPException, OSError):
        pass  # the server went away at the end


def watch_stream(port, path, on_event, stop):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path + "?watch=true")
    resp = conn.getresponse()
    buf = b""
    while not stop.is_set():
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
        if not chunk:
            break
        now = time.perf_counter()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                on_event(now, json.loads(line))


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def bare_process_ms(n=60):
    """Spawn-to-reaped times of a bare `/bin/echo` started straight from here (posix_spawn, no
    server): the floor under the Pod stage on this machine at this moment, so that a run on a
    loaded machine can be read (what the platform adds is the rest)."""
    times = []
    with open(os.devnull, "wb") as null:
        for _ in range(n):
            start = time.perf_counter()
            pid = os.posix_spawn("/bin/echo", ["/bin/echo", "loss=0.5"], os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, null.fileno(), 1)])
            os.waitpid(pid, 0)
            times.append(time.perf_counter() - start)
    return times


def true_condition(obj, kind):
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in obj.get("status", {}).get("conditions", []))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("skiff")
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--collector", default="StdOut", choices=["StdOut", "Push", "File"])
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="skiff-bench-overhead-", dir="/var/tmp")
    env = dict(os.environ, SKIFF_HOME=home)
    server = subprocess.Popen([args.skiff, "server", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        m = re.search(r":(\d+) ", server.stdout.readline())
        port = int(m.group(1))
        t = {}  # trial -> {stage: time}
        pod_trial = {}
        lock = threading.Lock()
        done = threading.Event()
        stop = threading.Event()

        def on_trial(now, ev):
            obj = ev["object"]
            name = obj["metadata"]["name"]
            with lock:
                d = t.setdefault(name, {})
                if ev["type"] == "ADDED":
                    d.setdefault("created", now)
                if true_condition(obj, "Succeeded") or true_condition(obj, "MetricsUnavailable") \
                        or true_condition(obj, "Failed"):
                    d.setdefault("succeeded", now)
                    d["ok"] = true_condition(obj, "Succeeded")
                    if len([x for x in t.values() if "succeeded" in x]) >= args.trials:
                        done.set()

        def on_pod(now, ev):
            obj = ev["object"]
            owner = obj["metadata"].get("labels", {}).get("job-name", "")
            phase = obj.get("status", {}).get("phase", "")
            with lock:
                d = t.setdefault(owner, {})
                d.setdefault("pod_created", now)
                if phase == "Running":
                    d.setdefault("running", now)
                elif phase == "Succeeded":
                    d.setdefault("running", now)  # too quick to be seen Running
                    d.setdefault("pod_done", now)

        def on_job(now, ev):
            obj = ev["object"]
            with lock:
                d = t.setdefault(obj["metadata"]["name"], {})
                d.setdefault("job_created", now)
                if true_condition(obj, "Complete"):
                    d.setdefault("job_done", now)

        threads = [threading.Thread(target=watch, args=(port, p, f, stop), daemon=True)
                   for p, f in ((TRIALS, on_trial), (PODS, on_pod), (JOBS, on_job))]
        for th in threads:
            th.start()
        time.sleep(0.3)  # both watches are open
        conn = http.client.HTTPConnection("127.0.0.1", port)
        started = time.perf_counter()
        conn.request("POST", EXPERIMENTS, json.dumps(experiment(args.trials, args.collector)),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status in (200, 201), r.status
        if not done.wait(timeout=60 + args.trials * 5):
            raise SystemExit("timed out: %d of %d trials finished" % (
                len([x for x in t.values() if "succeeded" in x]), args.trials))
        total = time.perf_counter() - started
        stop.set()
        with open("/proc/%d/stat" % server.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        server_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        names = sorted((n for n in t if n.startswith("overhead-")), key=lambda n: int(n.split("-")[1]))
        rows = [t[n] for n in names]
        failed = [n for n in names if not t[n].get("ok")]
        stages = {"Trial created -> Job created": [], "Job created -> Pod created": [],
                  "Pod created -> Pod Running (or done)": [], "Pod Running -> Pod Succeeded": [],
                  "Pod Succeeded -> Job Complete": [],
                  "Job Complete -> Trial Succeeded (metrics)": [],
                  "created -> Trial Succeeded (total)": [], "Trial Succeeded -> next created": []}
        keys = ("created", "job_created", "pod_created", "running", "pod_done", "job_done", "succeeded")
        for i, d in enumerate(rows[1:], start=1):
            if not all(k in d for k in keys):
                continue
            stages["Trial created -> Job created"].append(d["job_created"] - d["created"])
            stages["Job created -> Pod created"].append(d["pod_created"] - d["job_created"])
            stages["Pod created -> Pod Running (or done)"].append(d["running"] - d["pod_created"])
            stages["Pod Running -> Pod Succeeded"].append(d["pod_done"] - d["running"])
            stages["Pod Succeeded -> Job Complete"].append(d["job_done"] - d["pod_done"])
            stages["Job Complete -> Trial Succeeded (metrics)"].append(d["succeeded"] - d["job_done"])
            stages["created -> Trial Succeeded (total)"].append(d["succeeded"] - d["created"])
            if i + 1 < len(rows) and "created" in rows[i + 1]:
                stages["Trial Succeeded -> next created"].append(rows[i + 1]["created"] - d["succeeded"])
        print("Katib per-trial overhead (%s collector, %d trials one at a time, /bin/echo objective)"
              % (args.collector, len(rows)))
        print("  %-44s %9s %9s" % ("stage", "median", "p90"))
        for k, v in stages.items():
            print("  %-44s %7.2fms %7.2fms" % (k, 1000 * percentile(v, 50), 1000 * percentile(v, 90)))
        print("  experiment wall time %.2fs = %.1f ms per trial end to end; %d failed"
              % (total, 1000 * total / max(1, len(rows)), len(failed)))
        print("  skiff server CPU %.1f ms per trial (user+system; trial processes not included)"
              % (1000 * server_cpu / max(1, len(rows))))
        bare = bare_process_ms()
        print("  bare /bin/echo spawned and reaped from the benchmark: median %.2fms, p90 %.2fms; "
              "load average %s" % (1000 * percentile(bare, 50), 1000 * percentile(bare, 90),
                                   " ".join(open("/proc/loadavg").read().split()[:3])))
        total_median = 1000 * percentile(stages["created -> Trial Succeeded (total)"], 50)
        print("  target <= 20 ms created -> Succeeded: %s" % ("met" if total_median <= 20 else "MISSED"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
