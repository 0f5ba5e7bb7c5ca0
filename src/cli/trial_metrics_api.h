// The Push metrics collector's endpoint, served by `skiff server` (and by `skiff run` for an
// Experiment) in front of the Kubernetes API:
//
//   POST /apis/kubeflow.org/v1beta1/namespaces/{ns}/trials/{name}/metrics
//        {"metrics": [{"name": "accuracy", "value": "0.93"}], "timestamp": "RFC3339"}
//        (or Katib's ReportObservationLog body, or a flat {"accuracy": 0.93})
//   GET  the same URL: the observation logs recorded so far, oldest first
//
// The Trial is found by name; each report becomes one observation-log record owned by the
// Trial's uid, committed to the store before the 200 goes out, so a report that was
// acknowledged is never lost. Errors: 404 (no such Trial), 409 (the Trial has finished),
// 400 naming the field. With tokens, a report needs a token that may update Trials in `ns`.
//
// Thread-safety: `Handle` runs on the HTTP server's worker threads; the store is thread-safe.
#pragma once

#include <functional>
#include <string>

#include "api/auth.h"
#include "api/http_server.h"
#include "controllers/tuning/experiment_controller.h"
#include "store/store.h"

namespace skiff::cli {

class TrialMetricsApi {
 public:
  TrialMetricsApi(store::Store& store, api::TokenStore* tokens) : store_(store), tokens_(tokens) {}

  // Serves the request and returns true if it is for this endpoint; false leaves it alone.
  bool Handle(const api::HttpRequest& req, api::HttpResponse& resp);

 private:
  store::Store& store_;
  api::TokenStore* tokens_;
};

// The Experiment controller's options for the data dir `home`, wired to the local kubelet:
// logs and Pod files where the kubelet keeps them (`isolate` as the kubelet runs Pods), the
// Push endpoint at `server_url()`, and Prometheus scrapes over loopback with a 1 s timeout.
controllers::ExperimentControllerOptions KatibControllerOptions(const std::string& home, bool isolate,
                                                                std::function<std::string()> server_url);

}  // namespace skiff::cli
