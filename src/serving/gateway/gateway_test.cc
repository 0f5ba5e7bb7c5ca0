// gateway_test: the gateway in front of real replicas. A real SQLite store holds an
// InferenceService with a hand-written status (what the serving controller writes) and replica
// Pods registered as the local kubelet would report them; the replicas are real `skiff
// model-server` processes serving XGBoost models trained on sklearn's digits
// (testdata/train_digits.py, two revisions with different models), and, for the concurrency and
// timeout cases, a custom predictor whose requests can be held open (testdata/slow_replica.py).
// Clients speak HTTP to an `api::HttpServer` that mounts the gateway, as `skiff server` does.
#include "serving/gateway/gateway.h"

#include <gtest/gtest.h>
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
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "api/http_server.h"
#include "api/test_client.h"
#include "common/json.h"
#include "serving/protocol/v2.h"
#include "store/store.h"

namespace skiff::serving {
namespace {

namespace fs = std::filesystem;
using api::testing::Client;
using api::testing::Response;

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

bool WaitFor(const std::function<bool()>& cond, std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A child process that prints "... listening on http://127.0.0.1:PORT ..." first.
class Process {
 public:
  explicit Process(std::vector<std::string> argv) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  std::string Line() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
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
  int Port() {
    std::string l = Line();
    size_t at = l.find("http://");
    size_t colon = at == std::string::npos ? at : l.find(':', at + 7);
    return colon == std::string::npos ? -1 : std::atoi(l.c_str() + colon + 1);
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
};

// `skiff model-server` for one revision's model; ready when it returns a port > 0.
std::unique_ptr<Process> StartModelServer(const std::string& dir, const std::string& version, int* port) {
  auto p = std::make_unique<Process>(std::vector<std::string>{Binary(), "model-server", "--model-name", "digits",
                                                              "--model-dir", dir, "--model-version", version,
                                                              "--port", "0", "--workers", "2"});
  *port = p->Port();
  if (*port > 0 && p->Line().find("ready") == std::string::npos) *port = -1;
  return p;
}

// A request with an explicit Host (the test client always sends 127.0.0.1).
Response DoWithHost(Client& c, const std::string& method, const std::string& target, const std::string& host,
                    const std::string& body, const std::map<std::string, std::string>& headers = {}) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  Response r;
  if (c.SendRaw(req)) c.ReadHead(&r, 60000);
  return r;
}

Json Traffic(const std::vector<std::tuple<std::string, int, std::string>>& targets) {
  Json t = Json::array();
  bool first = true;
  for (const auto& [rev, percent, tag] : targets) {
    Json e = {{"revisionName", rev}, {"percent", percent}, {"latestRevision", first}};
    if (!tag.empty()) e["tag"] = tag;
    t.push_back(e);
    first = false;
  }
  return t;
}

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    models_ = new std::string(
        (fs::temp_directory_path() / ("skiff-gateway-models-" + std::to_string(::getpid()))).string());
    std::string cmd = "/usr/bin/python3 " + SourceDir() + "/src/serving/gateway/testdata/train_digits.py " + *models_;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    expected_ = new Json(Json::parse(ReadFile(*models_ + "/expected.json")));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*models_, ec);
  }

  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("skiff-gateway-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(dir_);
    auto st = store::OpenSqliteStore(dir_ + "/skiff.db");
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
    stats_ = std::make_unique<RevisionStats>(SystemClock::Get());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    watch_.reset();
    if (gateway_) gateway_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The gateway fed by the store's event stream, behind an HTTP server.
  // Attached to the HTTP server's I/O thread, as `skiff server` mounts it, unless `own_thread`.
  void StartGateway(GatewayOptions opts = {}, bool own_thread = false) {
    opts.stats = stats_.get();
    opts.metrics = &metrics_;
    gateway_ = std::make_unique<Gateway>(opts);
    ASSERT_TRUE((own_thread ? gateway_->Start() : gateway_->StartAttached()).ok());
    Gateway* g = gateway_.get();
    watch_ = store_->Watch({}, [g](const store::WatchEvent& ev) { g->OnStoreEvent(ev); });
    ASSERT_TRUE(gateway_->Seed(*store_).ok());
    api::HttpServerOptions ho{"127.0.0.1", 0, 2};
    ho.on_io_thread = [](const api::HttpRequest&) { return true; };  // as `skiff server` mounts it
    if (!own_thread) {
      ho.poll_fd = g->poll_fd();
      ho.on_poll = [g] { g->Poll(); };
    }
    server_ = std::make_unique<api::HttpServer>(
        ho,
        [g](const api::HttpRequest& q, api::HttpResponse& r, api::HttpExchange& e) { g->Handle(q, r, e); });
    ASSERT_TRUE(server_->Start().ok());
  }

  void PutIsvc(const std::string& name, const Json& traffic) {
    Json obj = {{"apiVersion", "serving.kserve.io/v1beta1"},
                {"kind", "InferenceService"},
                {"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"predictor", {{"model", {{"modelFormat", {{"name", "xgboost"}}}}}}}}},
                {"status",
                 {{"url", "http://" + name + ".default.example.com"},
                  {"address", {{"url", "http://" + name + ".default.example.com"}}},
                  {"components", {{"predictor", {{"traffic", traffic}}}}}}}};
    auto r = store_->Create(obj);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  void PutPod(const std::string& name, const std::string& isvc, const std::string& revision, int port, bool ready,
              int concurrency = 0, int timeout_seconds = 60) {
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", "default"},
                  {"labels", {{"serving.kserve.io/inferenceservice", isvc}, {"component", "predictor"},
                              {"serving.knative.dev/revision", revision}}},
                  {"annotations", {{"serving.skiff.dev/port", std::to_string(port)},
                                   {"serving.skiff.dev/container-concurrency", std::to_string(concurrency)},
                                   {"serving.skiff.dev/timeout-seconds", std::to_string(timeout_seconds)}}}}},
                {"spec", {{"containers", Json::array({{{"name", "kserve-container"}, {"image", "skiff"}}})}}},
                {"status", PodStatus(ready)}};
    auto r = store_->Create(pod);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  static Json PodStatus(bool ready) {
    std::string s = ready ? "True" : "False";
    return {{"phase", ready ? "Running" : "Pending"},
            {"conditions", Json::array({{{"type", "ContainersReady"}, {"status", s}}, {{"type", "Ready"}, {"status", s}}})}};
  }

  void SetPodReady(const std::string& name, bool ready) {
    auto pod = store_->Get({"Pod", "default", name});
    ASSERT_TRUE(pod.ok());
    (*pod)["status"] = PodStatus(ready);
    ASSERT_TRUE(store_->UpdateStatus(*pod).ok());
  }

  // Waits until the gateway routes `path` to a ready replica (it applies store events on its
  // own thread).
  bool WaitRoutable(const std::string& path, const std::string& body) {
    Client c(server_->port());
    Response last;
    bool ok = WaitFor([&] {
      last = c.Do("POST", path, body);
      return last.status == 200;
    }, std::chrono::seconds(20));
    if (!ok) std::fprintf(stderr, "last answer to %s: %d %s\n", path.c_str(), last.status, last.body.c_str());
    return ok;
  }

  // Waits until the gateway has applied the InferenceService `name` (an unknown tag is then
  // "not tagged" rather than "no such model").
  bool WaitKnown(const std::string& name) {
    Client c(server_->port());
    return WaitFor([&] {
      Response r = c.Do("GET", "/v2/models/" + name, "", "application/json", {{"Knative-Serving-Tag", "probe"}});
      return r.body.find("tagged") != std::string::npos;
    });
  }

  static std::string V2Body() {
    std::vector<double> flat;
    for (const auto& row : expected_->at("x")) {
      for (const auto& v : row) flat.push_back(v.get<double>());
    }
    InferRequest req;
    req.id = "gw-1";
    auto t = Tensor::FromDoubles(DataType::kFp32, {static_cast<int64_t>(expected_->at("x").size()), 64}, flat);
    EXPECT_TRUE(t.ok());
    req.inputs.push_back({"input-0", *t, Json::object()});
    return EncodeInferRequest(req).body;
  }

  // Which revision's model produced these probabilities ("rev1", "rev2", or "" if neither).
  static std::string WhichModel(const std::vector<double>& got) {
    for (const char* rev : {"rev1", "rev2"}) {
      const Json& want = expected_->at(rev);
      bool match = got.size() == want.size() * 10;
      for (size_t i = 0; match && i < want.size(); ++i) {
        for (size_t k = 0; k < 10; ++k) match = match && std::fabs(got[i * 10 + k] - want[i][k].get<double>()) < 1e-5;
      }
      if (match) return rev;
    }
    return "";
  }
  static std::string WhichModelV2(const std::string& body) {
    auto resp = ParseInferResponse(body);
    if (!resp.ok() || resp->outputs.size() != 1) return "";
    auto got = resp->outputs[0].tensor.ToDoubles();
    return got.ok() ? WhichModel(*got) : "";
  }
  static std::string WhichModelV1(const std::string& body) {
    auto j = ParseJson(body);
    if (!j.ok() || !j->contains("predictions")) return "";
    std::vector<double> flat;
    for (const auto& row : (*j)["predictions"]) {
      for (const auto& v : row) flat.push_back(v.get<double>());
    }
    return WhichModel(flat);
  }

  static std::string* models_;
  static Json* expected_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<RevisionStats> stats_;
  Metrics metrics_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<store::WatchHandle> watch_;
  std::unique_ptr<api::HttpServer> server_;
};
std::string* GatewayTest::models_ = nullptr;
Json* GatewayTest::expected_ = nullptr;

constexpr const char* kRev1 = "digits-predictor-00001";
constexpr const char* kRev2 = "digits-predictor-00002";

TEST_F(GatewayTest, PredictionsThroughTheGatewayAndATenPercentCanary) {
#ifdef SKIFF_TEST_NO_XGBOOST
  GTEST_SKIP() << "built without libxgboost-dev: no XGBoost runtime";
#endif
  int port1 = 0, port2 = 0;
  auto s1 = StartModelServer(*models_ + "/rev1", "1", &port1);
  auto s2 = StartModelServer(*models_ + "/rev2", "2", &port2);
  ASSERT_GT(port1, 0);
  ASSERT_GT(port2, 0);
  StartGateway();
  PutPod("digits-predictor-00001-a", "digits", kRev1, port1, true);
  PutPod("digits-predictor-00002-a", "digits", kRev2, port2, true);
  PutIsvc("digits", Traffic({{kRev2, 10, "latest"}, {kRev1, 90, "prev"}}));
  const std::string body = V2Body();
  ASSERT_TRUE(WaitRoutable("/v2/models/digits/infer", body));

  Client c(server_->port());
  // Tags pin a revision: V2 and V1 answers are each revision's own predictions.
  for (const auto& [tag, model] : std::map<std::string, std::string>{{"prev", "rev1"}, {"latest", "rev2"}}) {
    Response r = c.Do("POST", "/v2/models/digits/infer", body, "application/json", {{"Knative-Serving-Tag", tag}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(WhichModelV2(r.body), model) << tag;
    EXPECT_EQ(Json::parse(r.body)["model_version"], model == "rev1" ? "1" : "2");
    EXPECT_EQ(Json::parse(r.body)["id"], "gw-1");
    r = c.Do("POST", "/v1/models/digits:predict", Json{{"instances", expected_->at("x")}}.dump(), "application/json",
             {{"Knative-Serving-Tag", tag}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(WhichModelV1(r.body), model) << tag;
    // The tag as a host prefix, KServe/Knative style.
    r = DoWithHost(c, "POST", "/v2/models/digits/infer", tag + "-digits.default.example.com", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(WhichModelV2(r.body), model) << tag;
  }
  // Metadata and readiness pass through too.
  EXPECT_EQ(c.Do("GET", "/v2/models/digits/ready").status, 200);
  EXPECT_EQ(Json::parse(c.Do("GET", "/v1/models/digits").body)["ready"], true);

  // 2,000 plain requests: 10% ± 3% on the canary (the split is exact: 200).
  std::map<std::string, int> served;
  for (int i = 0; i < 2000; ++i) {
    Response r = (i % 2 == 0) ? c.Do("POST", "/v2/models/digits/infer", body)
                              : DoWithHost(c, "POST", "/v2/models/digits/infer", "digits.default.example.com", body);
    ASSERT_EQ(r.status, 200) << r.body;
    served[WhichModelV2(r.body)]++;
  }
  EXPECT_EQ(served[""], 0);
  EXPECT_GE(served["rev2"], 140);
  EXPECT_LE(served["rev2"], 260);
  EXPECT_EQ(served["rev1"] + served["rev2"], 2000);
  std::printf("canary split over 2000 requests: rev1 %d, rev2 %d\n", served["rev1"], served["rev2"]);

  // Unknown model: KServe's 404.
  Response r = c.Do("POST", "/v2/models/nope/infer", body);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["error"], "Model with name nope does not exist.");
  r = c.Do("POST", "/v2/models/digits/infer", body, "application/json", {{"Knative-Serving-Tag", "missing"}});
  EXPECT_EQ(r.status, 404);

  // Everything was counted: nothing in flight, per-revision counters and latency in /metrics.
  EXPECT_EQ(stats_->InFlight("default/digits/" + std::string(kRev1)), 0);
  EXPECT_EQ(stats_->InFlight("default/digits/" + std::string(kRev2)), 0);
  auto samples = stats_->TakeSamples();
  EXPECT_GT(samples["default/digits/" + std::string(kRev2)].rps, 0);
  std::string text = metrics_.Expose();
  EXPECT_NE(text.find("skiff_serving_requests_total{namespace=\"default\",inferenceservice=\"digits\",revision=\"" +
                      std::string(kRev2) + "\",code=\"200\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("skiff_serving_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(text.find("skiff_serving_requests_in_flight"), std::string::npos);
}

TEST_F(GatewayTest, ContainerConcurrencyQueuesAndAFullQueueGets503WithRetryAfter) {
  Process slow({"/usr/bin/python3", SourceDir() + "/src/serving/gateway/testdata/slow_replica.py"});
  int port = slow.Port();
  ASSERT_GT(port, 0);
  GatewayOptions opts;
  opts.queue_depth_per_slot = 3;  // containerConcurrency 1 × 1 replica × 3
  StartGateway(opts);
  PutPod("slow-predictor-00001-a", "slow", "slow-predictor-00001", port, true, /*concurrency=*/1);
  PutIsvc("slow", Traffic({{"slow-predictor-00001", 100, ""}}));
  ASSERT_TRUE(WaitRoutable("/v1/models/slow:predict", "{\"instances\": []}"));
  const std::string rev = "default/slow/slow-predictor-00001";

  Client holder(server_->port());
  ASSERT_TRUE(holder.Send("POST", "/v1/models/slow:predict", "{\"hold\": 1}"));
  ASSERT_TRUE(WaitFor([&] { return stats_->InFlight(rev) == 1; }));
  std::vector<std::unique_ptr<Client>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(queued.back()->Send("POST", "/v1/models/slow:predict", "{\"n\": " + std::to_string(i) + "}"));
    ASSERT_TRUE(WaitFor([&] { return gateway_->QueueLength(rev) == static_cast<size_t>(i + 1); }));
  }
  EXPECT_EQ(stats_->InFlight(rev), 4);  // queued requests count as in flight for the autoscaler
  EXPECT_NE(metrics_.Expose().find("skiff_serving_queue_length{namespace=\"default\",inferenceservice=\"slow\","
                                   "revision=\"slow-predictor-00001\"} 3"),
            std::string::npos);
  Client refused(server_->port());
  Response r = refused.Do("POST", "/v1/models/slow:predict", "{\"n\": 99}");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_NE(Json::parse(r.body)["error"].get<std::string>().find("at capacity"), std::string::npos) << r.body;

  Client direct(port);
  ASSERT_EQ(direct.Do("POST", "/release", "{}").status, 200);
  Response held;
  ASSERT_TRUE(holder.ReadHead(&held, 60000));
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(Json::parse(held.body)["held"], true);
  for (int i = 0; i < 3; ++i) {
    Response q;
    ASSERT_TRUE(queued[static_cast<size_t>(i)]->ReadHead(&q, 60000));
    EXPECT_EQ(q.status, 200);
    EXPECT_EQ(Json::parse(q.body)["echo"], "{\"n\": " + std::to_string(i) + "}");
  }
  EXPECT_EQ(gateway_->QueueLength(rev), 0u);
  EXPECT_TRUE(WaitFor([&] { return stats_->InFlight(rev) == 0; }));
}

TEST_F(GatewayTest, TenTimesCapacityIsRefusedWithBoundedQueueAndServiceRecovers) {
  Process slow({"/usr/bin/python3", SourceDir() + "/src/serving/gateway/testdata/slow_replica.py"});
  int port = slow.Port();
  ASSERT_GT(port, 0);
  StartGateway();  // default queue: 10 per unit of concurrency
  PutPod("slow-predictor-00001-a", "slow", "slow-predictor-00001", port, true, /*concurrency=*/1);
  PutIsvc("slow", Traffic({{"slow-predictor-00001", 100, ""}}));
  ASSERT_TRUE(WaitRoutable("/v1/models/slow:predict", "{}"));
  const std::string rev = "default/slow/slow-predictor-00001";
  // Capacity: 1 in progress + 10 queued. Send 110 requests that each hold the replica.
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 110; ++i) {
    clients.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(clients.back()->Send("POST", "/v1/models/slow:predict", "{\"hold\": " + std::to_string(i) + "}"));
  }
  // Every request has been answered or is waiting once 99 refusals are counted.
  ASSERT_TRUE(WaitFor([&] {
    return metrics_.Expose().find("revision=\"slow-predictor-00001\",code=\"503\"} 99") != std::string::npos;
  }));
  EXPECT_EQ(stats_->InFlight(rev), 11);
  int refused = 0;
  std::vector<Client*> waiting;
  for (auto& c : clients) {
    Response r;
    if (c->ReadHead(&r, 200)) {
      EXPECT_EQ(r.status, 503);
      EXPECT_EQ(r.headers["retry-after"], "1");
      ++refused;
    } else {
      waiting.push_back(c.get());
    }
  }
  EXPECT_EQ(refused, 99);
  EXPECT_EQ(waiting.size(), 11u);
  EXPECT_EQ(gateway_->QueueLength(rev), 10u);  // never more than the bound
  Client direct(port);
  ASSERT_EQ(direct.Do("POST", "/release", "{}").status, 200);
  for (Client* c : waiting) {
    Response r;
    ASSERT_TRUE(c->ReadHead(&r, 60000));
    EXPECT_EQ(r.status, 200);
  }
  // Recovered: nothing in flight, new requests served.
  EXPECT_TRUE(WaitFor([&] { return stats_->InFlight(rev) == 0; }));
  Client after(server_->port());
  EXPECT_EQ(after.Do("POST", "/v1/models/slow:predict", "{\"n\": 1}").status, 200);
  std::string text = metrics_.Expose();
  EXPECT_NE(text.find("revision=\"slow-predictor-00001\",code=\"503\"} 99\n"), std::string::npos) << text;
}

TEST_F(GatewayTest, ActivatorHoldsRequestsUntilAReplicaIsReadyThenForwardsThem) {
#ifdef SKIFF_TEST_NO_XGBOOST
  GTEST_SKIP() << "built without libxgboost-dev: no XGBoost runtime";
#endif
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> activations;
  stats_->SetActivationHandler([&](const std::string& svc, const std::string& rev) {
    std::lock_guard<std::mutex> l(mu);
    activations.emplace_back(svc, rev);
  });
  StartGateway();
  PutIsvc("digits", Traffic({{kRev2, 100, ""}}));
  const std::string rev = "default/digits/" + std::string(kRev2);
  const std::string body = V2Body();
  ASSERT_TRUE(WaitKnown("digits"));
  // The revision is scaled to zero: no Pod at all.
  Client first(server_->port());
  ASSERT_TRUE(first.Send("POST", "/v2/models/digits/infer", body));
  ASSERT_TRUE(WaitFor([&] { return gateway_->QueueLength(rev) == 1; }));
  Client second(server_->port());
  ASSERT_TRUE(second.Send("POST", "/v1/models/digits:predict", Json{{"instances", expected_->at("x")}}.dump()));
  ASSERT_TRUE(WaitFor([&] { return gateway_->QueueLength(rev) == 2; }));
  EXPECT_EQ(stats_->InFlight(rev), 2);
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_GE(activations.size(), 2u);
    EXPECT_EQ(activations[0], std::make_pair(std::string("default/digits"), rev));
  }

  // A replica starts (the controller's job) and becomes ready: the held requests go at once.
  int port = 0;
  auto replica = StartModelServer(*models_ + "/rev2", "2", &port);
  ASSERT_GT(port, 0);
  PutPod("digits-predictor-00002-a", "digits", kRev2, port, false);
  SetPodReady("digits-predictor-00002-a", true);
  Response r;
  ASSERT_TRUE(first.ReadHead(&r, 60000));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(WhichModelV2(r.body), "rev2");
  ASSERT_TRUE(second.ReadHead(&r, 60000));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(WhichModelV1(r.body), "rev2");
  EXPECT_EQ(gateway_->QueueLength(rev), 0u);
  EXPECT_TRUE(WaitFor([&] { return stats_->InFlight(rev) == 0; }));
}

TEST_F(GatewayTest, ActivatorAnswers503AfterTheDeadlineOrWhenItsQueueIsFull) {
  GatewayOptions opts;
  opts.activation_timeout = std::chrono::milliseconds(500);
  opts.activation_queue_limit = 2;
  StartGateway(opts);
  PutIsvc("digits", Traffic({{kRev1, 100, ""}}));
  const std::string rev = "default/digits/" + std::string(kRev1);
  ASSERT_TRUE(WaitKnown("digits"));
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(held.back()->Send("POST", "/v2/models/digits/infer", "{}"));
    ASSERT_TRUE(WaitFor([&] { return gateway_->QueueLength(rev) == static_cast<size_t>(i + 1); }));
  }
  Client third(server_->port());
  Response r = third.Do("POST", "/v2/models/digits/infer", "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["retry-after"], "1");
  for (auto& c : held) {
    Response h;
    ASSERT_TRUE(c->ReadHead(&h, 60000));
    EXPECT_EQ(h.status, 503);
    EXPECT_EQ(h.headers["retry-after"], "1");
    EXPECT_NE(Json::parse(h.body)["error"].get<std::string>().find("became ready"), std::string::npos) << h.body;
  }
  EXPECT_TRUE(WaitFor([&] { return stats_->InFlight(rev) == 0; }));
}

TEST_F(GatewayTest, RefusedConnectionIsRetriedOnAnotherReplicaThen502) {
  Process replica({"/usr/bin/python3", SourceDir() + "/src/serving/gateway/testdata/slow_replica.py"});
  int live = replica.Port();
  ASSERT_GT(live, 0);
  // A port nobody listens on: bound, then closed.
  int dead = 0;
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    dead = ntohs(a.sin_port);
    ::close(fd);
  }
  StartGateway();
  PutPod("echo-predictor-00001-a", "echo", "echo-predictor-00001", dead, true);
  PutPod("echo-predictor-00001-b", "echo", "echo-predictor-00001", live, true);
  PutIsvc("echo", Traffic({{"echo-predictor-00001", 100, ""}}));
  ASSERT_TRUE(WaitRoutable("/v1/models/echo:predict", "{}"));
  Client c(server_->port());
  for (int i = 0; i < 10; ++i) {
    Response r = c.Do("POST", "/v1/models/echo:predict", "{\"i\": 1}");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // Only the dead replica left: one retry has nowhere to go, so 502.
  ASSERT_TRUE(store_->Delete({"Pod", "default", "echo-predictor-00001-b"}).ok());
  ASSERT_TRUE(WaitFor([&] { return c.Do("POST", "/v1/models/echo:predict", "{}").status == 502; }));
  Response r = c.Do("POST", "/v1/models/echo:predict", "{}");
  EXPECT_EQ(r.status, 502);
  EXPECT_TRUE(Json::parse(r.body).contains("error"));
}

TEST_F(GatewayTest, RequestPastTheRevisionTimeoutGets504) {
  Process replica({"/usr/bin/python3", SourceDir() + "/src/serving/gateway/testdata/slow_replica.py"});
  int port = replica.Port();
  ASSERT_GT(port, 0);
  StartGateway();
  PutPod("slow-predictor-00001-a", "slow", "slow-predictor-00001", port, true, 0, /*timeout_seconds=*/1);
  PutIsvc("slow", Traffic({{"slow-predictor-00001", 100, ""}}));
  ASSERT_TRUE(WaitRoutable("/v1/models/slow:predict", "{}"));
  Client c(server_->port());
  Response r = c.Do("POST", "/v1/models/slow:predict", "{\"hold\": 1}");
  EXPECT_EQ(r.status, 504);
  EXPECT_TRUE(Json::parse(r.body).contains("error"));
  Client direct(port);
  EXPECT_EQ(direct.Do("POST", "/release", "{}").status, 200);
  // The connection the timed-out request used was dropped; the next request gets a fresh one.
  EXPECT_EQ(c.Do("POST", "/v1/models/slow:predict", "{\"after\": 1}").status, 200);
  // A chunked answer comes back whole, with a Content-Length, on a kept-alive connection.
  for (int i = 0; i < 3; ++i) {
    r = c.Do("POST", "/v1/models/slow:predict", "{\"chunked\": 1}");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"chunked\": true}");
    EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
    EXPECT_EQ(r.headers["content-type"], "application/json");
  }
}

// The gateway on a thread of its own (`Start`) instead of the HTTP server's I/O thread: the
// same routing, forwarding and deadlines.
TEST_F(GatewayTest, OnItsOwnThreadTheGatewayForwardsAndTimesOutAlike) {
  Process replica({"/usr/bin/python3", SourceDir() + "/src/serving/gateway/testdata/slow_replica.py"});
  int port = replica.Port();
  ASSERT_GT(port, 0);
  StartGateway({}, /*own_thread=*/true);
  PutPod("slow-predictor-00001-a", "slow", "slow-predictor-00001", port, true, 0, /*timeout_seconds=*/1);
  PutIsvc("slow", Traffic({{"slow-predictor-00001", 100, ""}}));
  ASSERT_TRUE(WaitRoutable("/v1/models/slow:predict", "{}"));
  Client c(server_->port());
  EXPECT_EQ(c.Do("POST", "/v1/models/slow:predict", "{\"hold\": 1}").status, 504);
  Client direct(port);
  EXPECT_EQ(direct.Do("POST", "/release", "{}").status, 200);
  Response r = c.Do("POST", "/v1/models/slow:predict", "{\"chunked\": 1}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"chunked\": true}");
}

}  // namespace
}  // namespace skiff::serving
