"""Log metrics and artifacts from inside a Skiff step, trial or training replica.

    from skiff import log_metric, log_artifact
    log_metric("accuracy", 0.97)
    log_artifact("model.ubj", type="Model")
    log_artifact("/data/raw.csv", type="Dataset", input=True)
    get_artifact("sha256:ab12...", "model.ubj")     # through the server, streamed to the file

Standard library only. The local kubelet puts this module on every Pod's PYTHONPATH and tells it
which execution it belongs to (SKIFF_EXECUTION, SKIFF_POD_NAMESPACE) and where the server is
(SKIFF_SERVER). With a server, each call is one HTTP request to the metadata API; without one
(`skiff run`), or when the server cannot be reached, calls append JSON lines to
SKIFF_METADATA_FILE, which Skiff records when the Pod ends. `skiff log` is the same from a shell.
"""

import hashlib
import json
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["log_metric", "log_metrics", "log_artifact", "get_artifact", "output_dir"]

_API = "/apis/metadata.skiff.dev/v1/namespaces/%s/executions/%s/%s"
_TIMEOUT = 30


class SkiffError(RuntimeError):
    """The server refused what was logged (a bad name or value, an upload over the limit)."""


def _env(name):
    value = os.environ.get(name, "")
    if not value:
        raise SkiffError("%s is not set: skiff logging works inside a Pod that Skiff runs" % name)
    return value


def _now_ms():
    return int(time.time() * 1000)


def _post(what, query, body, content_type, length=None):
    """POSTs to the execution's metadata API; None when there is no server to reach (the
    caller then logs offline), the decoded reply otherwise. `body` is bytes, or an open file
    of `length` bytes that is sent block by block as the socket takes it."""
    server = os.environ.get("SKIFF_SERVER", "")
    if not server:
        return None
    path = _API % (urllib.parse.quote(_env("SKIFF_POD_NAMESPACE")),
                   urllib.parse.quote(_env("SKIFF_EXECUTION")), what)
    if query:
        path += "?" + urllib.parse.urlencode(query)
    headers = {"Content-Type": content_type}
    if length is not None:
        headers["Content-Length"] = str(length)
    req = urllib.request.Request(server.rstrip("/") + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        if e.code in (400, 404, 413, 422):
            try:
                message = json.loads(e.read()).get("message", "")
            except ValueError:
                message = ""
            raise SkiffError("skiff server refused it (%d): %s" % (e.code, message)) from None
        return None  # 401/403 (a server with tokens), 5xx: keep it in the file instead
    except (urllib.error.URLError, OSError):
        return None


def _append(entry):
    path = _env("SKIFF_METADATA_FILE")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    entry.setdefault("ms", _now_ms())
    line = json.dumps(entry, separators=(",", ":")) + "\n"
    # One write(2) with O_APPEND: lines from concurrent writers never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("metric %r: value must be a number, not %r" % (name, value))
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("metric %r: value must be finite" % name)
    return value


def log_metrics(metrics, step=None):
    """Records several metrics at once, e.g. log_metrics({"loss": 0.1, "accuracy": 0.97})."""
    if not metrics:
        raise ValueError("log_metrics: no metrics given")
    values = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ValueError("metric names must be non-empty strings")
        values[name] = _number(name, value)
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise TypeError("step must be an integer")
    body = {"metrics": values}
    if step is not None:
        body["step"] = step
    if _post("metrics", None, json.dumps(body).encode(), "application/json") is not None:
        return
    ms = _now_ms()
    for name, value in values.items():
        _append({"kind": "metric", "name": name, "value": value, "step": step or 0, "ms": ms})


def log_metric(name, value, step=None):
    """Records one metric observation on this execution, e.g. log_metric("accuracy", 0.97)."""
    log_metrics({name: value}, step=step)


def _sha256(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return "sha256:" + h.hexdigest(), size


def log_artifact(path, type="Artifact", name=None, input=False):
    """Records the file at `path` as an output of this execution (stored in Skiff's
    content-addressed artifact store), or with input=True as something it read (known by its
    digest; the bytes are not copied). Returns the artifact's digest."""
    if not os.path.isfile(path):
        raise FileNotFoundError("log_artifact: %s is not a file" % path)
    name = name or os.path.basename(path)
    digest, size = _sha256(path)
    if input:
        query = {"direction": "input", "digest": digest, "size": size, "type": type, "name": name,
                 "uri": "file://" + os.path.abspath(path)}
        if _post("artifacts", query, b"", "application/octet-stream") is None:
            _append({"kind": "artifact", "direction": "input", "digest": digest, "size": size,
                     "uri": query["uri"], "type": type, "name": name})
        return digest
    # Streamed: the file is never read into memory whole, here or in the server.
    with open(path, "rb") as f:
        sent = _post("artifacts", {"type": type, "name": name}, f, "application/octet-stream", length=size)
    if sent is not None:
        return digest
    # Offline: keep a copy where Skiff finds it once the Pod (and its private /tmp) is gone.
    files = os.path.join(_env("SKIFF_METADATA_DIR"), "files")
    os.makedirs(files, exist_ok=True)
    copy = os.path.join(files, "%d-%s" % (time.time_ns(), os.path.basename(path)))
    shutil.copyfile(path, copy)
    _append({"kind": "artifact", "direction": "output", "file": copy, "type": type, "name": name})
    return digest


def get_artifact(digest, path, namespace=None):
    """Downloads the artifact with `digest` ("sha256:...") from the server into the file `path`,
    block by block (written to `path`.part and renamed once whole). Returns `path`."""
    server = _env("SKIFF_SERVER")
    ns = namespace or os.environ.get("SKIFF_POD_NAMESPACE", "") or "default"
    url = "%s/apis/metadata.skiff.dev/v1/namespaces/%s/artifacts/%s" % (
        server.rstrip("/"), urllib.parse.quote(ns), urllib.parse.quote(digest))
    headers = {}
    if os.environ.get("SKIFF_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["SKIFF_TOKEN"]
    part = path + ".part"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT) as resp:
            expected = int(resp.headers.get("Content-Length", "-1"))
            with open(part, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
                got = out.tell()
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("message", "")
        except ValueError:
            message = ""
        raise SkiffError("skiff server refused it (%d): %s" % (e.code, message)) from None
    except BaseException:
        if os.path.exists(part):
            os.unlink(part)
        raise
    if expected >= 0 and got != expected:
        os.unlink(part)
        raise SkiffError("download of %s ended after %d of %d bytes" % (digest, got, expected))
    os.replace(part, path)
    return path


def output_dir():
    """A directory whose files Skiff records as this Pod's outputs when it ends (checkpoints
    and models of training replicas); created on first use."""
    path = _env("SKIFF_OUTPUT_DIR")
    os.makedirs(path, exist_ok=True)
    return path
