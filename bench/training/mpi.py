#!/usr/bin/python3
"""All-reduce throughput inside an MPIJob vs a plain `mpirun` of the same program.

examples/training/mpi/allreduce.cc is compiled once (mpicxx -O2); then, ROUNDS times and
alternating so that the machine's load drifts alike on both sides:
  - raw:   mpirun --oversubscribe -n 2 ./allreduce --bench        (outside skiff)
  - skiff: `skiff run` of an MPIJob (launcher + 2 workers, slotsPerWorker 1) whose launcher runs
           the same command over the hostfile skiff provides (127.0.0.1 slots=2)
Each run prints the algorithm bandwidth (vector bytes / seconds per call) for 64 KiB, 1 MiB and
16 MiB float vectors and checks the sums. Prints, per size, the median GB/s on each side and
their ratio (target >= 95%).

    bench/training/mpi.py build/skiff [--rounds 3]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..", "examples", "training", "mpi", "allreduce.cc")
LINE = re.compile(r"allreduce bytes=(\d+) iters=\d+ seconds=[\d.]+ GB/s=([\d.]+)")

JOB = """apiVersion: kubeflow.org/v2beta1
kind: MPIJob
metadata: {name: allreduce-bench}
spec:
  slotsPerWorker: 1
  runPolicy: {cleanPodPolicy: Running}
  mpiReplicaSpecs:
    Launcher:
      replicas: 1
      template:
        spec:
          containers:
          - name: launcher
            image: mpioperator/openmpi
            resources: {requests: {cpu: 100m}}
            command: [mpirun, --oversubscribe, -n, "2", %s, --bench]
    Worker:
      replicas: 2
      template:
        spec:
          containers:
          - name: worker
            image: mpioperator/openmpi
            resources: {requests: {cpu: 100m}}
            command: [sleep, "3600"]
"""


def parse(text):
    out = {int(m.group(1)): float(m.group(2)) for m in LINE.finditer(text)}
    if len(out) != 3:
        raise SystemExit("no throughput lines in:\n" + text[-2000:])
    return out


def raw(binary, env):
    p = subprocess.run(["mpirun", "--oversubscribe", "-n", "2", binary, "--bench"], env=env,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("mpirun failed: %s%s" % (p.stdout, p.stderr))
    return parse(p.stdout)


def in_skiff(skiff, job_path, work):
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    env = dict(os.environ, SKIFF_HOME=home, SKIFF_NO_TTY="1")
    try:
        p = subprocess.run([skiff, "run", job_path], env=env, capture_output=True, text=True,
                           timeout=600)
        if p.returncode != 0:
            raise SystemExit("skiff run failed: %s%s" % (p.stdout, p.stderr))
        return parse(p.stdout)
    finally:
        pid_file = os.path.join(home, "run", "supervisor.pid")
        if os.path.exists(pid_file):
            try:
                with open(pid_file) as f:
                    os.kill(int(f.read().strip()), 9)
            except (OSError, ValueError):
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("skiff")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("mpicxx") or not shutil.which("mpirun"):
        print("MPI all-reduce: skipped (openmpi-bin / libopenmpi-dev not installed)")
        return
    skiff = os.path.abspath(args.skiff)
    # Not under /tmp: every Pod has a private /tmp.
    work = tempfile.mkdtemp(prefix="skiff-bench-mpi-", dir="/var/tmp")
    try:
        binary = os.path.join(work, "allreduce")
        subprocess.run(["mpicxx", "-O2", "-o", binary, SOURCE], check=True)
        job_path = os.path.join(work, "job.yaml")
        with open(job_path, "w") as f:
            f.write(JOB % binary)
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        samples = {"raw": [], "skiff": []}
        for _ in range(args.rounds):
            samples["raw"].append(raw(binary, env))
            samples["skiff"].append(in_skiff(skiff, job_path, work))
        print("MPI all-reduce, 2 ranks, algorithm bandwidth, median of %d runs each "
              "(target: MPIJob >= 95%% of plain mpirun):" % args.rounds)
        for size in sorted(samples["raw"][0]):
            r = statistics.median(s[size] for s in samples["raw"])
            k = statistics.median(s[size] for s in samples["skiff"])
            print("  %8d bytes: mpirun %.3f GB/s, MPIJob %.3f GB/s, ratio %.1f%%" %
                  (size, r, k, 100.0 * k / r))
        print("  load average: %s" % open("/proc/loadavg").read().split()[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
