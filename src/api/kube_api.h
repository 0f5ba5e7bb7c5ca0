// The Kubernetes API subset Skiff serves, so that kubectl and Kubeflow's Python clients (which
// are Kubernetes clients) work against `skiff server`:
//
//   /api, /apis, /api/v1, /apis/{group}[/{version}]   discovery (kinds/registry.h)
//   /openapi/v3[/...]                                  enough OpenAPI for kubectl's validation
//   .../{plural}            GET (list, ?watch), POST, DELETE (collection)
//   .../{plural}/{name}     GET, PUT, PATCH (merge, strategic merge, JSON patch), DELETE
//   .../{name}/status       GET, PUT, PATCH: only `status` changes
//   /api/v1/namespaces/{ns}/pods/{name}/log            `?container=&follow=&tailLines=`
//   /version, /healthz, /readyz, /livez
//
// Errors are `Status` objects with Kubernetes' reasons and HTTP codes; `kubectl get` receives
// `Table`s when it asks for them (`Accept: ...;as=Table`).
//
// Thread-safety: `Handle` is called concurrently from the HTTP server's workers; the store is
// thread-safe and the rest is immutable or guarded. Watches and `logs -f` keep running on the
// API's own timer thread until their client goes away.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/auth.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/status.h"
#include "store/store.h"

namespace skiff::api {

struct KubeApiOptions {
  store::Store* store = nullptr;
  // Bearer-token authentication and authorization; null serves everyone (loopback only). With
  // tokens, a request without a valid one gets 401 (health endpoints excepted) and one outside
  // its token's namespaces or role gets 403.
  TokenStore* tokens = nullptr;
  // Request counts and latencies go here, and `/metrics` exposes it; null serves no metrics.
  Metrics* metrics = nullptr;
  // Checks a resource before it is stored (create and update); the error's message starts with
  // the field path ("spec.templates[1]...: ...") and becomes a 422 Invalid.
  std::function<Status(const Json& obj)> validate;
  // The host paths of a container's log files ({stdout, stderr}); empty strings when unknown.
  std::function<std::pair<std::string, std::string>(const Json& pod, const std::string& container)>
      log_paths;
  // Completes an object read from the store before GET or LIST returns it: a Workflow's node
  // statuses are stored beside it (offloaded, as Argo does) and put back here. Watch events
  // carry objects as stored, like Argo's watches of offloaded workflows.
  std::function<Json(Json obj)> expand;
  std::string version = "v1.30.0-skiff";
  Duration bookmark_interval = std::chrono::seconds(60);
  Duration log_poll_interval = std::chrono::milliseconds(100);
};

class KubeApi {
 public:
  explicit KubeApi(KubeApiOptions options);
  ~KubeApi();
  KubeApi(const KubeApi&) = delete;
  KubeApi& operator=(const KubeApi&) = delete;

  // Serves one request (an `HttpHandler`).
  void Handle(const HttpRequest& req, HttpResponse& resp, HttpExchange& ex);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Kubernetes-style `Status` object for an error, with the HTTP code it goes out with.
Json StatusBody(const Status& status, int* http_code);

}  // namespace skiff::api
