"""Shared helpers for the end-to-end tests: a private SKIFF_HOME per test, and `skiff` runs."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

SKIFF = os.environ.get("SKIFF_BINARY") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "skiff")


def store_args():
    """`--store URL` for `skiff server` when the tests run against PostgreSQL (CTest's
    `postgres_server` fixture writes its URL to the file named by SKIFF_TEST_STORE_URL_FILE);
    each call gets a fresh schema. Empty for the default SQLite store."""
    url_file = os.environ.get("SKIFF_TEST_STORE_URL_FILE")
    if not url_file:
        return []
    with open(url_file) as f:
        url = f.read().strip()
    return ["--store", "%s?schema=t_%d_%d" % (url, os.getpid(), time.monotonic_ns())]


class SkiffTestCase(unittest.TestCase):
    """Each test gets a fresh data dir (outside /tmp, which every step sees privately)."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="skiff-e2e-", dir="/var/tmp")
        self.env = dict(os.environ)
        self.env["SKIFF_HOME"] = self.home
        self.env["SKIFF_NO_TTY"] = "1"
        self.files = tempfile.mkdtemp(prefix="skiff-e2e-files-", dir="/var/tmp")

    def start_server(self, *extra, store=None):
        """Starts `skiff server` on a free loopback port with this test's data dir (and the
        PostgreSQL store when the suite runs on it, unless `store` gives the arguments) and sets
        `self.server` and `self.url`; tearDown stops it."""
        store = store_args() if store is None else list(store)
        self.server = subprocess.Popen([SKIFF, "server", "--port", "0"] + list(extra) + store,
                                       env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
        line = self.server.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if m is None:
            err = self.server.stderr.read() if self.server.poll() is not None else ""
            self.fail("server did not start: %r %s" % (line, err))
        self.url = "http://127.0.0.1:%s" % m.group(1)
        return self.url

    def stop_server(self):
        server = getattr(self, "server", None)
        if server is None:
            return
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()
        server.stderr.close()
        self.server = None

    def stop_server_and_replicas(self, isvc_path="/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"):
        """Deletes every InferenceService through the API and waits (up to 30 s) for its Pods to
        go, then stops the server: replicas outlive the server by design (their supervisor adopts
        them), so a test must have the kubelet stop them first."""
        server = getattr(self, "server", None)
        if server is not None and server.poll() is None:
            def get(path):
                with urllib.request.urlopen(self.url + path, timeout=30) as r:
                    return json.loads(r.read())
            try:
                for item in get(isvc_path).get("items", []):
                    req = urllib.request.Request(self.url + isvc_path + "/" + item["metadata"]["name"],
                                                 method="DELETE")
                    urllib.request.urlopen(req, timeout=30).close()
                deadline = time.time() + 30
                while time.time() < deadline and get("/api/v1/namespaces/default/pods").get("items"):
                    time.sleep(0.1)
            except OSError:
                pass
        self.stop_server()

    def remote(self, *args, check=0):
        """`skiff ARGS --server URL` as a client of this test's server (with a data dir of its
        own, so that nothing is read locally); asserts the exit status unless `check` is None."""
        env = dict(self.env, SKIFF_HOME=os.path.join(self.files, "unused-home"))
        p = subprocess.run([SKIFF] + list(args) + ["--server", self.url], env=env,
                           capture_output=True, text=True, timeout=120)
        if check is not None:
            self.assertEqual(p.returncode, check, "skiff %s: rc=%d\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def tearDown(self):
        self.stop_server()
        # Stop this test's supervisor so that nothing outlives the test.
        pid_file = os.path.join(self.home, "run", "supervisor.pid")
        if os.path.exists(pid_file):
            try:
                with open(pid_file) as f:
                    pid = int(f.read().strip())
                os.kill(pid, 9)
            except (ValueError, OSError):
                pass
        shutil.rmtree(self.home, ignore_errors=True)
        # The supervisor's records live on tmpfs, in a folder named after the data dir.
        digest = hashlib.sha256(self.home.encode()).hexdigest()[:16]
        shutil.rmtree("/dev/shm/skiff-" + digest, ignore_errors=True)
        shutil.rmtree(self.files, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.files, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def skiff(self, *args, timeout=120, check=None):
        p = subprocess.run([SKIFF] + list(args), env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check is not None:
            self.assertEqual(p.returncode, check,
                             "skiff %s: rc=%d\nstdout:%s\nstderr:%s" % (" ".join(args), p.returncode,
                                                                        p.stdout, p.stderr))
        return p

    def run_json(self, path, *extra, rc=0):
        p = self.skiff("run", path, "-o", "json", "--quiet", *extra, check=rc)
        return json.loads(p.stdout)

    def get_json(self, kind, name):
        p = self.skiff("get", kind, name, "-o", "json", check=0)
        return json.loads(p.stdout)

    @staticmethod
    def node(wf, display_name):
        for n in wf["status"]["nodes"].values():
            if n.get("displayName") == display_name:
                return n
        raise AssertionError("no node %r in %s" % (display_name, list(
            n.get("displayName") for n in wf["status"]["nodes"].values())))

    def wait_until(self, predicate, timeout=60, interval=0.1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        self.fail("condition not met within %ss" % timeout)
