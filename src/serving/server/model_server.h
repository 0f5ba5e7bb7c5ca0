// The HTTP face of `skiff model-server`: one model, KServe's V1 and V2 REST protocols (JSON and
// the binary tensor extension) over the project's HTTP server (api/http_server.h), using the
// codecs in serving/protocol. The server answers before the model is loaded: liveness is 200,
// readiness 503 until `SetRuntime` is called.
//
// Thread-safety: `Handle` runs on the HTTP workers and I/O threads concurrently; `SetRuntime`
// may be called once from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "api/http_server.h"
#include "serving/runtime/runtime.h"
#include "serving/server/batcher.h"

namespace skiff::serving {

class ModelServer {
 public:
  // `version` is the one version the model answers to under /versions/{v}.
  ModelServer(std::string model_name, std::string version = "1");

  // Before `SetRuntime`: V1 `instances` requests are batched (KServe's batcher).
  void EnableBatching(BatcherOptions options) { batching_ = options; }
  // Installs the loaded model; from now on the model (and the server) are ready.
  void SetRuntime(std::unique_ptr<Runtime> runtime);
  // Null unless batching is enabled and the model is loaded.
  const Batcher* batcher() const { return batcher_.get(); }
  bool ready() const { return runtime_.load() != nullptr; }

  void Handle(const api::HttpRequest& req, api::HttpResponse& resp);
  // Whether `req` may be answered on an HTTP I/O thread (`api::HttpServerOptions::on_io_thread`):
  // everything but predictions that wait, on the batcher or on a runtime that `blocks()`.
  // Small XGBoost models predict in microseconds, so inline is cheaper than any hand-off.
  bool AnswersInline(const api::HttpRequest& req) const;

 private:
  Status CheckModel(const std::string& model, const std::string& version) const;
  Status V1Predict(const api::HttpRequest& req, api::HttpResponse& resp);
  Status V2Infer(const api::HttpRequest& req, api::HttpResponse& resp);
  Json Metadata() const;

  std::string name_;
  std::string version_;
  std::unique_ptr<Runtime> owned_;
  std::optional<BatcherOptions> batching_;
  std::unique_ptr<Batcher> batcher_;
  std::atomic<Runtime*> runtime_{nullptr};
};

}  // namespace skiff::serving
