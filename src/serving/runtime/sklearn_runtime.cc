// The scikit-learn runtime: a long-lived Python helper process per model.
//
// The model server starts `python3 -c <kHelper> MODEL_PATH` with pipes on its stdin and stdout
// (stderr is the server's, so Python tracebacks reach the log). The helper loads the model with
// joblib (falling back to pickle), as KServe's sklearn server does, and writes one JSON line:
// {"n_features": N, "type": "SVC"} or {"error": "..."}. Then, for each request line
// {"shape": [n, f], "data": [...]} it answers one line {"shape": [...], "datatype": "INT64" |
// "FP64" | "BYTES", "data": [...]} or {"error": "..."} with `model.predict(x)`.
//
// Thread-safety: one request is in flight on the pipe at a time (a mutex); the helper is
// single-threaded anyway. The helper dies with the server (PR_SET_PDEATHSIG, and EOF on stdin).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>

#include "common/json.h"
#include "serving/runtime/runtime.h"

namespace skiff::serving {

namespace {

constexpr const char* kHelper = R"PY(
import json, sys
def main():
    path = sys.argv[1]
    out = sys.stdout
    try:
        import numpy as np
        try:
            import joblib
            model = joblib.load(path)
        except ImportError:
            import pickle
            with open(path, "rb") as f:
                model = pickle.load(f)
        nf = getattr(model, "n_features_in_", None)
        out.write(json.dumps({"n_features": int(nf) if nf is not None else -1,
                              "type": type(model).__name__}) + "\n")
        out.flush()
    except Exception as e:
        out.write(json.dumps({"error": "loading %s: %s: %s" % (path, type(e).__name__, e)}) + "\n")
        out.flush()
        return 1
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        try:
            req = json.loads(line)
            x = np.asarray(req["data"], dtype=np.float64).reshape(req["shape"])
            y = np.asarray(model.predict(x))
            if y.dtype.kind in "iub":
                resp = {"datatype": "INT64", "data": [int(v) for v in y.ravel().tolist()]}
            elif y.dtype.kind == "f":
                resp = {"datatype": "FP64", "data": y.ravel().tolist()}
            else:
                resp = {"datatype": "BYTES", "data": [str(v) for v in y.ravel().tolist()]}
            resp["shape"] = list(y.shape)
        except Exception as e:
            resp = {"error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(resp) + "\n")
        out.flush()
sys.exit(main())
)PY";

class SklearnRuntime : public Runtime {
 public:
  ~SklearnRuntime() override {
    if (to_ != nullptr) std::fclose(to_);
    if (from_ != nullptr) std::fclose(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  Status Start(const std::string& path, const std::string& python) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return Internal("pipe failed");
    pid_t pid = ::fork();
    if (pid < 0) return Internal("fork failed");
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      sigset_t all;
      sigemptyset(&all);
      ::sigprocmask(SIG_SETMASK, &all, nullptr);  // the server blocks SIGTERM for sigwait
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execl(python.c_str(), python.c_str(), "-c", kHelper, path.c_str(), static_cast<char*>(nullptr));
      std::fprintf(stderr, "model-server: cannot run %s\n", python.c_str());
      ::_exit(127);
    }
    pid_ = pid;
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
    SKIFF_ASSIGN_OR_RETURN(Json hello, ReadLine());
    if (hello.contains("error")) return FailedPrecondition(hello["error"].get<std::string>());
    num_features_ = hello.value("n_features", int64_t{-1});
    return OkStatus();
  }

  Result<Tensor> Predict(const Tensor& batch) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, BatchRows(batch, num_features_));
    SKIFF_ASSIGN_OR_RETURN(std::vector<double> values, batch.ToDoubles());
    Json req = {{"shape", {rows.rows, rows.cols}}, {"data", std::move(values)}};
    std::string line = req.dump() + "\n";
    Json resp;
    {
      std::lock_guard lock(mu_);
      if (std::fwrite(line.data(), 1, line.size(), to_) != line.size() || std::fflush(to_) != 0) {
        return Unavailable("the sklearn helper process is gone");
      }
      SKIFF_ASSIGN_OR_RETURN(resp, ReadLine());
    }
    if (resp.contains("error")) return InvalidArgument(resp["error"].get<std::string>());
    std::vector<int64_t> shape = resp.at("shape").get<std::vector<int64_t>>();
    std::string dt = resp.value("datatype", "FP64");
    if (dt == "BYTES") return Tensor::FromStrings(shape, resp.at("data").get<std::vector<std::string>>());
    if (dt == "INT64") return Tensor::FromValues<int64_t>(shape, resp.at("data").get<std::vector<int64_t>>());
    return Tensor::FromValues<double>(shape, resp.at("data").get<std::vector<double>>());
  }

  int64_t num_features() const override { return num_features_; }
  std::string platform() const override { return "sklearn"; }
  bool blocks() const override { return true; }

 private:
  Result<Json> ReadLine() {
    std::string line;
    int c;
    while ((c = std::fgetc(from_)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
    if (c == EOF && line.empty()) return Unavailable("the sklearn helper process exited");
    auto j = ParseJson(line);
    if (!j.ok()) return Internal("the sklearn helper answered garbage: " + line.substr(0, 200));
    return *j;
  }

  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  std::mutex mu_;
  int64_t num_features_ = -1;
};

}  // namespace

Result<std::unique_ptr<Runtime>> LoadSklearnRuntime(const std::string& path, const std::string& python) {
  auto rt = std::make_unique<SklearnRuntime>();
  SKIFF_RETURN_IF_ERROR(rt->Start(path, python));
  return std::unique_ptr<Runtime>(std::move(rt));
}

}  // namespace skiff::serving
