#!/usr/bin/python3
"""Server load benchmark: N workflows of 10 trivial steps each (a 2-wide, 5-deep DAG) submitted
concurrently through the Kubernetes API of a fresh `skiff server`, while a probe measures the
latency of single-object GETs. Prints submit and completion throughput, GET p50/p99, errors and
the server's peak RSS, for the SQLite store and (with --postgres URL) the PostgreSQL store.

    bench/server/run.py build/skiff [--workflows 1000] [--postgres postgresql://...]
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

PATH = "/apis/argoproj.io/v1alpha1/namespaces/default/workflows"


def workflow(name):
    tasks = []
    for level in range(5):
        for lane in range(2):
            t = {"name": "s%d%d" % (level, lane), "template": "t"}
            if level:
                t["dependencies"] = ["s%d%d" % (level - 1, lane)]
            tasks.append(t)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "t", "container": {"image": "busybox", "command": ["true"]}}]}}


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def peak_rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        return int(m.group(1)) / 1024.0 if m else float("nan")
    except OSError:
        return float("nan")


def run(skiff, n, store, label, clients):
    home = tempfile.mkdtemp(prefix="skiff-bench-server-", dir="/var/tmp")
    env = dict(os.environ, SKIFF_HOME=home, SKIFF_DEFAULT_CPU_MILLIS="100")
    server = subprocess.Popen([skiff, "server", "--port", "0"] + store, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r":(\d+) ", server.stdout.readline()).group(1))
    errors, get_ms, lock = [], [], threading.Lock()
    names = ["bench-%04d" % i for i in range(n)]
    done_submitting = threading.Event()
    finished = threading.Event()

    def submitter(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for name in chunk:
            body = json.dumps(workflow(name))
            conn.request("POST", PATH, body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                with lock:
                    errors.append("POST %s: %d" % (name, r.status))
        conn.close()

    def prober():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        while not finished.is_set():
            name = names[i % n]
            i += 7
            t0 = time.perf_counter()
            conn.request("GET", PATH + "/" + name, headers={"Accept": "application/json"})
            r = conn.getresponse()
            r.read()
            ms = (time.perf_counter() - t0) * 1000
            if r.status in (200, 404):
                with lock:
                    get_ms.append(ms)
            else:
                with lock:
                    errors.append("GET %s: %d" % (name, r.status))
            time.sleep(0.01)
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=submitter, args=(names[i::clients],)) for i in range(clients)]
    probe = threading.Thread(target=prober)
    probe.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitted = time.perf_counter() - start
    done_submitting.set()
    status = {}
    last_print = 0
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        status = {m.group(1): int(float(m.group(2)))
                  for m in re.finditer(r'skiff_workflows\{phase="(\w+)"\} (\S+)', text)}
        ended = status.get("Succeeded", 0) + status.get("Failed", 0) + status.get("Error", 0)
        now = time.perf_counter() - start
        if now - last_print > 5:
            print("  %s: %.0fs, %d/%d workflows done" % (label, now, ended, n), flush=True)
            last_print = now
        if ended >= n or now > 3600:
            break
        time.sleep(0.5)
    total = time.perf_counter() - start
    finished.set()
    probe.join()
    rss = peak_rss_mb(server.pid)
    server.terminate()
    server.communicate(timeout=30)
    pid_file = os.path.join(home, "run", "supervisor.pid")
    if os.path.exists(pid_file):
        try:
            os.kill(int(open(pid_file).read().strip()), 9)
        except (ValueError, OSError):
            pass
    shutil.rmtree(home, ignore_errors=True)
    failed = n - status.get("Succeeded", 0)
    return {"store": label, "workflows": n, "steps": n * 10, "submit_s": submitted, "total_s": total,
            "submit_per_s": n / submitted, "workflows_per_s": n / total, "steps_per_s": n * 10 / total,
            "get_p50_ms": percentile(get_ms, 50), "get_p99_ms": percentile(get_ms, 99),
            "gets": len(get_ms), "errors": len(errors) + failed, "rss_mb": rss,
            "first_errors": errors[:5]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("skiff")
    ap.add_argument("--workflows", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--postgres", help="a PostgreSQL URL; also runs the benchmark on it")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    results = [run(args.skiff, args.workflows, [], "sqlite", args.clients)]
    if args.postgres:
        store = ["--store", "%s?schema=bench_%d" % (args.postgres, int(time.time()))]
        results.append(run(args.skiff, args.workflows, store, "postgresql", args.clients))
    print("\n%-11s %9s %8s %10s %10s %10s %9s %9s %7s %8s" % (
        "store", "workflows", "steps", "submit/s", "wf/s", "steps/s", "GET p50", "GET p99", "errors", "RSS MB"))
    for r in results:
        print("%-11s %9d %8d %10.1f %10.2f %10.1f %7.2fms %7.2fms %7d %8.1f" % (
            r["store"], r["workflows"], r["steps"], r["submit_per_s"], r["workflows_per_s"],
            r["steps_per_s"], r["get_p50_ms"], r["get_p99_ms"], r["errors"], r["rss_mb"]))
        for e in r["first_errors"]:
            print("   ", e)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
