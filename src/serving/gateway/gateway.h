// The serving gateway (data plane) of `skiff server`: an asynchronous reverse proxy that routes
// KServe V1/V2 requests to the ready replica Pods of the right InferenceService revision.
//
// One epoll loop owns every upstream socket, the routing table and the queues: on a thread of
// its own (`Start`), or driven by the HTTP server's I/O thread (`StartAttached`, as `skiff
// server` runs it, so that a proxied request is read, routed, forwarded and answered on one
// thread). `Handle` defers the response, so no thread waits on a request and tens of thousands
// may be in flight or held.
//
//   request ─▶ RouteTable::Select (Host / path / tag → revision)
//           ─▶ no ready replica: held (activator, bounded, deadline `activation_timeout`),
//              RevisionStats::RequestActivation; forwarded as soon as a replica is ready
//           ─▶ every replica at containerConcurrency: queued FIFO (bounded: `queue_depth_per_slot`
//              × concurrency × replicas); full → 503 + Retry-After: 1
//           ─▶ replica with the fewest outstanding requests, over a pooled keep-alive connection;
//              connect error → once more on another replica, then 502; past the revision's
//              timeout → 504
// Every routed request counts in RevisionStats (started/finished, held ones included) and in
// the `skiff_serving_*` metrics. Errors are KServe's `{"error": "..."}` bodies.
//
// Routing comes from the store alone (see route_table.h): the owner feeds store events of
// InferenceServices and Pods to `OnStoreEvent` (from an Informer) after `Seed` lists them.
//
// Thread-safety: `Handle`, `OnStoreEvent`, `Seed`, `Claims` and the accessors are thread-safe;
// `Start`/`Stop` from the owning thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "api/http_server.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "serving/stats/stats.h"
#include "store/store.h"

namespace skiff::serving {

struct GatewayOptions {
  RevisionStats* stats = nullptr;  // not owned; may be null
  Metrics* metrics = nullptr;      // not owned; may be null
  const Clock* clock = &SystemClock::Get();
  // How long a request waits for a replica of a revision that has none ready.
  Duration activation_timeout = std::chrono::seconds(60);
  // Requests held per revision while no replica is ready.
  size_t activation_queue_limit = 10000;
  // Requests queued per revision for busy replicas: this many per unit of containerConcurrency
  // per ready replica (Knative's queue-proxy allows 10 × containerConcurrency).
  size_t queue_depth_per_slot = 10;
  // Idle keep-alive connections kept per replica.
  size_t max_idle_per_replica = 64;
  // Hosts under this domain are the gateway's (KServe's default `example.com`).
  std::string domain = "example.com";
};

class Gateway {
 public:
  explicit Gateway(GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts the loop thread.
  Status Start();
  // Instead of `Start`: no thread of its own. The owner's event loop watches `poll_fd()` (an
  // epoll fd) and calls `Poll()`, always from one thread, whenever it is readable; requests
  // handed to `Handle` on that same thread are routed and forwarded at once. `skiff server`
  // attaches the gateway to its HTTP I/O thread (`api::HttpServerOptions::poll_fd`), so a
  // proxied request never crosses threads. `Stop` must then come after the owner's last `Poll`.
  Status StartAttached();
  int poll_fd() const;
  void Poll();
  // Answers what is pending with 503, closes upstream connections and joins the loop. Idempotent.
  void Stop();

  // Lists InferenceServices and Pods from `store` into the routing table.
  Status Seed(store::Store& store);
  // A store event of any kind (others are ignored).
  void OnStoreEvent(const store::WatchEvent& event);

  // True for requests the gateway serves rather than the Kubernetes API: paths `/v1/models…`
  // and `/v2…`, and Hosts `*.<domain>` or `<x>.<ns>.…` where `ns` holds an InferenceService;
  // never the Kubernetes API's `/api…`, `/apis…`, `/healthz`, `/metrics`, `/version`.
  bool Claims(const api::HttpRequest& req) const;
  // An `api::HttpHandler`: routes and proxies `req`, answering later through `ex.Defer()`.
  void Handle(const api::HttpRequest& req, api::HttpResponse& resp, api::HttpExchange& ex);

  // Requests held or queued for a revision now ("ns/isvc/revision").
  size_t QueueLength(const std::string& revision_key) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::serving
