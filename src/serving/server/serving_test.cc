// serving_test: real `skiff model-server` processes answering real HTTP on loopback. The setup
// trains an XGBoost and a scikit-learn model on iris with Debian's /usr/bin/python3
// (testdata/train_models.py), which also records the models' own predictions; the tests compare
// the server's answers (V1, V2 JSON, V2 binary) with them.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "api/test_client.h"
#include "common/json.h"
#include "serving/protocol/v2.h"

namespace skiff::serving {
namespace {

namespace fs = std::filesystem;
using api::testing::Client;

std::string SourceDir() {
  const char* s = std::getenv("SKIFF_SOURCE_DIR");
  return s != nullptr ? s : SKIFF_SOURCE_DIR_DEFAULT;
}
std::string Binary() {
  const char* s = std::getenv("SKIFF_BINARY");
  return s != nullptr ? s : SKIFF_BINARY_DEFAULT;
}
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A running `skiff model-server`.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& args, int load_delay_ms = 0) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      if (load_delay_ms > 0) ::setenv("SKIFF_MODEL_SERVER_LOAD_DELAY_MS", std::to_string(load_delay_ms).c_str(), 1);
      std::vector<char*> argv;
      std::string bin = Binary();
      argv.push_back(bin.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  // The next stdout line ("" on EOF or after 60 s).
  std::string Line() {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      char tmp[4096];
      ssize_t n = ::read(out_, tmp, sizeof tmp);
      if (n <= 0) return "";
      buf_.append(tmp, static_cast<size_t>(n));
    }
    return "";
  }
  // Reads the "listening on http://host:PORT" line.
  int Port() {
    std::string l = Line();
    size_t colon = l.find(':', l.find("http://") + 7);
    if (l.find("listening") == std::string::npos || colon == std::string::npos) return -1;
    return std::atoi(l.c_str() + colon + 1);
  }
  // Waits for the "model ... ready" line.
  bool WaitReady() { return Line().find("ready") != std::string::npos; }
  // Waits for the process to exit; its exit code.
  int Wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
};

class ServingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((fs::temp_directory_path() / ("skiff-serving-test-" + std::to_string(::getpid()))).string());
    std::string cmd = "/usr/bin/python3 " + SourceDir() + "/src/serving/server/testdata/train_models.py " + *dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    expected_ = new Json(Json::parse(ReadFile(*dir_ + "/expected.json")));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
  }
  static std::string Payload(const std::string& name) {
    return ReadFile(SourceDir() + "/src/serving/protocol/testdata/" + name);
  }

  static std::string* dir_;
  static Json* expected_;
};
std::string* ServingTest::dir_ = nullptr;
Json* ServingTest::expected_ = nullptr;

InferRequest RowsRequest(const Json& rows, DataType dt = DataType::kFp32) {
  std::vector<double> flat;
  for (const auto& r : rows) {
    for (const auto& v : r) flat.push_back(v.get<double>());
  }
  InferRequest req;
  req.id = "req-1";
  auto t = Tensor::FromDoubles(dt, {static_cast<int64_t>(rows.size()), 4}, flat);
  EXPECT_TRUE(t.ok());
  req.inputs.push_back({"input-0", *t, Json::object()});
  return req;
}

TEST_F(ServingTest, XGBoostReadinessV1V2JsonAndBinary) {
#ifdef SKIFF_TEST_NO_XGBOOST
  GTEST_SKIP() << "built without libxgboost-dev: no XGBoost runtime";
#endif
  ServerProcess p({"model-server", "--model-name", "iris", "--model-dir", *dir_ + "/xgboost", "--port", "0"},
                  /*load_delay_ms=*/3000);
  int port = p.Port();
  ASSERT_GT(port, 0);
  Client c(port);
  ASSERT_TRUE(c.connected());
  // Before the model is loaded: live, not ready.
  EXPECT_EQ(c.Do("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(c.Do("GET", "/v2/health/ready").status, 503);
  auto r = c.Do("GET", "/v2/models/iris/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("is not ready"), std::string::npos) << r.body;
  EXPECT_EQ(Json::parse(c.Do("GET", "/v1/models/iris").body)["ready"], false);
  EXPECT_EQ(c.Do("POST", "/v2/models/iris/infer", EncodeInferRequest(RowsRequest(expected_->at("x"))).body).status,
            503);

  ASSERT_TRUE(p.WaitReady());
  EXPECT_EQ(c.Do("GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(c.Do("GET", "/v2/models/iris/ready").status, 200);
  EXPECT_EQ(c.Do("GET", "/v2/models/iris/versions/1/ready").status, 200);
  EXPECT_EQ(Json::parse(c.Do("GET", "/v1/models/iris").body)["ready"], true);
  EXPECT_EQ(Json::parse(c.Do("GET", "/v1/models").body)["models"], Json::array({"iris"}));
  Json meta = Json::parse(c.Do("GET", "/v2/models/iris").body);
  EXPECT_EQ(meta["platform"], "xgboost");
  EXPECT_EQ(meta["inputs"][0]["shape"], Json::array({-1, 4}));
  EXPECT_EQ(Json::parse(c.Do("GET", "/v2").body)["name"], "skiff");

  const Json& want = expected_->at("xgboost");
  // V2 JSON.
  r = c.Do("POST", "/v2/models/iris/infer", EncodeInferRequest(RowsRequest(expected_->at("x"))).body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto resp = ParseInferResponse(r.body);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->model_name, "iris");
  EXPECT_EQ(resp->id, "req-1");
  ASSERT_EQ(resp->outputs.size(), 1u);
  EXPECT_EQ(resp->outputs[0].tensor.shape(), (std::vector<int64_t>{static_cast<int64_t>(want.size()), 3}));
  auto got = resp->outputs[0].tensor.ToDoubles();
  ASSERT_TRUE(got.ok());
  for (size_t i = 0; i < want.size(); ++i) {
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR((*got)[i * 3 + k], want[i][k].get<double>(), 1e-5) << i << "," << k;
  }

  // V2 binary in and out (FP64 input is converted).
  InferRequest breq = RowsRequest(expected_->at("x"), DataType::kFp64);
  breq.binary_data_output = true;
  EncodedBody enc = EncodeInferRequest(breq, /*binary_inputs=*/true);
  ASSERT_TRUE(enc.header_length.has_value());
  r = c.Do("POST", "/v2/models/iris/versions/1/infer", enc.body, "application/octet-stream",
           {{"Inference-Header-Content-Length", std::to_string(*enc.header_length)}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.headers.count("inference-header-content-length"));
  resp = ParseInferResponse(r.body, std::stoul(r.headers["inference-header-content-length"]));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  auto bin = resp->outputs[0].tensor.values<float>();
  ASSERT_EQ(bin.size(), want.size() * 3);
  for (size_t i = 0; i < want.size(); ++i) {
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(bin[i * 3 + k], want[i][k].get<double>(), 1e-5);
  }

  // V1.
  r = c.Do("POST", "/v1/models/iris:predict", Json{{"instances", expected_->at("x")}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json preds = Json::parse(r.body)["predictions"];
  ASSERT_EQ(preds.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(preds[i][k].get<double>(), want[i][k].get<double>(), 1e-5);
  }

  // The conformance payloads (iris: 4 features): two rows of three class probabilities.
  r = c.Do("POST", "/v1/models/iris:predict", Payload("v1-sklearn-iris-input.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  preds = Json::parse(r.body)["predictions"];
  ASSERT_EQ(preds.size(), 2u);
  EXPECT_EQ(preds[0].size(), 3u);
  r = c.Do("POST", "/v2/models/iris/infer", Payload("v2-sklearn-iris-input.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["outputs"][0]["shape"], Json::array({2, 3}));

  // Errors.
  r = c.Do("POST", "/v2/models/nope/infer", Payload("v2-sklearn-iris-input.json"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["error"], "Model with name nope does not exist.");
  EXPECT_EQ(c.Do("POST", "/v1/models/nope:predict", Payload("v1-sklearn-iris-input.json")).status, 404);
  EXPECT_EQ(c.Do("GET", "/v2/models/nope/ready").status, 404);
  EXPECT_EQ(c.Do("GET", "/v2/models/iris/versions/7").status, 404);
  EXPECT_EQ(c.Do("GET", "/v3/whatever").status, 404);
  r = c.Do("POST", "/v1/models/iris:predict", R"({"instances": [[1, 2, 3], [4, 5, 6]]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("expects 4"), std::string::npos) << r.body;
  r = c.Do("POST", "/v2/models/iris/infer",
           R"({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(Json::parse(r.body).contains("error"));
  EXPECT_EQ(c.Do("POST", "/v2/models/iris/infer", "{not json").status, 400);
}

// POSTs `n` bodies (`body(i)`) to `path` at once, one connection each; the status codes and
// bodies, by index.
std::pair<std::vector<int>, std::vector<std::string>> SendAtOnce(int port, const std::string& path, size_t n,
                                                                 const char* what,
                                                                 const std::function<Json(size_t)>& body) {
  std::vector<std::string> bodies(n);
  std::vector<int> codes(n, 0);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto r = Client(port).Do("POST", path, body(i).dump());
      codes[i] = r.status;
      bodies[i] = r.body;
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("figure: %zu concurrent one-row %s requests through the batcher: %.1f ms\n", n, what, secs * 1000);
  return {codes, bodies};
}

TEST_F(ServingTest, BatcherServesConcurrentV1RequestsSplitByIndex) {
#ifdef SKIFF_TEST_NO_XGBOOST
  GTEST_SKIP() << "built without libxgboost-dev: no XGBoost runtime";
#endif
  const Json& rows = expected_->at("x");
  const Json& want = expected_->at("xgboost");
  const size_t n = rows.size();
  // A batch closes when it holds every row sent at once, long before the latency.
  ServerProcess p({"model-server", "--model-name", "iris", "--model-dir", *dir_ + "/xgboost", "--port", "0",
                   "--max-batch-size", std::to_string(n), "--max-latency-ms", "20000"});
  int port = p.Port();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(p.WaitReady());
  auto [codes, bodies] = SendAtOnce(port, "/v1/models/iris:predict", n, "V1", [&](size_t i) {
    return Json{{"instances", Json::array({rows[i]})}};
  });
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(codes[i], 200) << bodies[i];
    Json pred = Json::parse(bodies[i])["predictions"];
    ASSERT_EQ(pred.size(), 1u);
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(pred[0][k].get<double>(), want[i][k].get<double>(), 1e-5) << i;
  }
}

// V2 requests are batched the same way (Open Inference Protocol tensors of [n, features]), in
// FP64 and FP32 alike, and each answer keeps its own id and rows.
TEST_F(ServingTest, BatcherServesConcurrentV2RequestsSplitByIndex) {
#ifdef SKIFF_TEST_NO_XGBOOST
  GTEST_SKIP() << "built without libxgboost-dev: no XGBoost runtime";
#endif
  const Json& rows = expected_->at("x");
  const Json& want = expected_->at("xgboost");
  const size_t n = rows.size();
  ServerProcess p({"model-server", "--model-name", "iris", "--model-dir", *dir_ + "/xgboost", "--port", "0",
                   "--max-batch-size", std::to_string(n), "--max-latency-ms", "20000",
                   "--workers", std::to_string(n + 2)});
  int port = p.Port();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(p.WaitReady());
  auto [codes, bodies] = SendAtOnce(port, "/v2/models/iris/infer", n, "V2", [&](size_t i) {
    Json in = {{"name", "x"}, {"shape", {1, rows[i].size()}}, {"datatype", i % 2 ? "FP32" : "FP64"},
               {"data", rows[i]}};
    return Json{{"id", "req-" + std::to_string(i)}, {"inputs", Json::array({in})}};
  });
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(codes[i], 200) << bodies[i];
    Json out = Json::parse(bodies[i]);
    EXPECT_EQ(out["id"], "req-" + std::to_string(i));
    const Json& o = out["outputs"][0];
    ASSERT_EQ(o["shape"][0], 1) << o.dump();
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(o["data"][k].get<double>(), want[i][k].get<double>(), 1e-5) << i;
  }
  // They went through the batcher, in fewer runtime calls than requests.
  std::string metrics = Client(port).Do("GET", "/metrics").body;
  EXPECT_NE(metrics.find("skiff_model_batched_requests_total{model=\"iris\"} " + std::to_string(n)), std::string::npos)
      << metrics;
  auto at = metrics.find("skiff_model_batch_calls_total{model=\"iris\"} ");
  ASSERT_NE(at, std::string::npos) << metrics;
  int64_t calls = std::atoll(metrics.c_str() + at + std::string("skiff_model_batch_calls_total{model=\"iris\"} ").size());
  EXPECT_GE(calls, 1);
  EXPECT_LT(calls, static_cast<int64_t>(n)) << metrics;
}

// TorchScript (KServe's "pytorch" format) through libtorch: a small network trained here with
// Debian's python3-torch on the iris rows, scripted and saved as model.pt; the model server's
// V1 and V2 answers must equal PyTorch's own. Without the build option the format is refused
// with the reason.
TEST_F(ServingTest, TorchScriptModelThroughLibtorchOrAClearRefusal) {
  const std::string dir = *dir_ + "/torch";
  fs::create_directories(dir);
  const std::string train = R"py(
import json, sys
import torch
from sklearn.datasets import load_iris
out = sys.argv[1]
x, y = load_iris(return_X_y=True)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3), torch.nn.Softmax(dim=1))
opt = torch.optim.Adam(net.parameters(), lr=0.05)
xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
for _ in range(200):
    opt.zero_grad(); loss = torch.nn.functional.nll_loss(torch.log(net(xt)), yt); loss.backward(); opt.step()
torch.jit.script(net.eval()).save(out + "/model.pt")
rows = x[[0, 60, 120]].tolist()
with torch.no_grad():
    probs = net(torch.tensor(rows, dtype=torch.float32)).tolist()
json.dump({"x": rows, "probs": probs, "labels": [int(y[i]) for i in (0, 60, 120)]}, open(out + "/expected.json", "w"))
)py";
  std::string script = dir + "/train.py";
  std::ofstream(script) << train;
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + dir).c_str()), 0);
  Json want = Json::parse(ReadFile(dir + "/expected.json"));
#ifndef SKIFF_TEST_HAVE_TORCH
  std::string said = dir + "/refused.txt";
  int rc = std::system((Binary() + " model-server --model-name flowers --model-dir " + dir + " --port 0 >" + said +
                        " 2>&1").c_str());
  EXPECT_NE(rc, 0);
  EXPECT_NE(ReadFile(said).find("SKIFF_WITH_TORCH"), std::string::npos) << ReadFile(said);
  GTEST_SKIP() << "built without -DSKIFF_WITH_TORCH=ON: the refusal was checked, not the runtime";
#endif
  ServerProcess p({"model-server", "--model-name", "flowers", "--model-dir", dir, "--port", "0"});
  int port = p.Port();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(p.WaitReady());
  Client c(port);
  auto r = c.Do("POST", "/v1/models/flowers:predict", Json{{"instances", want["x"]}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json pred = Json::parse(r.body)["predictions"];
  ASSERT_EQ(pred.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(pred[i][k].get<double>(), want["probs"][i][k].get<double>(), 1e-5);
    size_t best = 0;
    for (size_t k = 1; k < 3; ++k) best = pred[i][k] > pred[i][best] ? k : best;
    EXPECT_EQ(static_cast<int>(best), want["labels"][i].get<int>()) << i;
  }
  std::vector<double> flat;
  for (const auto& row : want["x"]) {
    for (const auto& v : row) flat.push_back(v.get<double>());
  }
  r = c.Do("POST", "/v2/models/flowers/infer",
           Json{{"inputs", {{{"name", "x"}, {"shape", {3, 4}}, {"datatype", "FP64"}, {"data", flat}}}}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json out = Json::parse(r.body)["outputs"][0];
  EXPECT_EQ(out["shape"], Json::array({3, 3}));
  EXPECT_NEAR(out["data"][0].get<double>(), want["probs"][0][0].get<double>(), 1e-5);
  // A row the network cannot take is the caller's error.
  r = c.Do("POST", "/v1/models/flowers:predict", R"({"instances": [[1, 2, 3]]})");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(ServingTest, SklearnThroughPythonHelper) {
  ServerProcess p({"model-server", "--model-name", "iris-lr", "--model-dir", *dir_ + "/sklearn", "--port", "0",
                   "--format", "sklearn"});
  int port = p.Port();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(p.WaitReady());
  Client c(port);
  EXPECT_EQ(c.Do("GET", "/v2/models/iris-lr/ready").status, 200);
  EXPECT_EQ(Json::parse(c.Do("GET", "/v2/models/iris-lr").body)["platform"], "sklearn");
  const Json& want = expected_->at("sklearn");

  auto r = c.Do("POST", "/v1/models/iris-lr:predict", Json{{"instances", expected_->at("x")}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["predictions"], want);

  r = c.Do("POST", "/v2/models/iris-lr/infer", EncodeInferRequest(RowsRequest(expected_->at("x"))).body);
  ASSERT_EQ(r.status, 200) << r.body;
  Json out = Json::parse(r.body)["outputs"][0];
  EXPECT_EQ(out["datatype"], "INT64");
  EXPECT_EQ(out["data"], want);

  InferRequest breq = RowsRequest(expected_->at("x"));
  breq.binary_data_output = true;
  EncodedBody enc = EncodeInferRequest(breq, true);
  r = c.Do("POST", "/v2/models/iris-lr/infer", enc.body, "application/octet-stream",
           {{"Inference-Header-Content-Length", std::to_string(*enc.header_length)}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto resp = ParseInferResponse(r.body, std::stoul(r.headers["inference-header-content-length"]));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  auto labels = resp->outputs[0].tensor.values<int64_t>();
  ASSERT_EQ(labels.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(labels[i], want[i].get<int64_t>());

  r = c.Do("POST", "/v1/models/iris-lr:predict", Payload("v1-sklearn-iris-input.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["predictions"].size(), 2u);
  r = c.Do("POST", "/v2/models/iris-lr/infer", Payload("v2-sklearn-iris-input.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["outputs"][0]["shape"], Json::array({2}));

  EXPECT_EQ(c.Do("POST", "/v2/models/other/infer", Payload("v2-sklearn-iris-input.json")).status, 404);
  EXPECT_EQ(c.Do("POST", "/v1/models/iris-lr:predict", R"({"instances": [[1, 2]]})").status, 400);
  // The helper survives a bad request.
  EXPECT_EQ(c.Do("POST", "/v1/models/iris-lr:predict", Payload("v1-sklearn-iris-input.json")).status, 200);
}

TEST_F(ServingTest, BadModelPathFailsFast) {
  ServerProcess p({"model-server", "--model-name", "x", "--model-dir", *dir_ + "/missing", "--port", "0"});
  EXPECT_EQ(p.Wait(), 2);
  std::error_code ec;
  fs::create_directories(*dir_ + "/broken", ec);
  std::ofstream(*dir_ + "/broken/model.joblib") << "not a pickle";
  ServerProcess q({"model-server", "--model-name", "x", "--model-dir", *dir_ + "/broken", "--port", "0"});
  EXPECT_GT(q.Port(), 0);
  EXPECT_EQ(q.Wait(), 1);
}

}  // namespace
}  // namespace skiff::serving
