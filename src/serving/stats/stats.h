// The in-process contract between the gateway (data plane) and the serving controller (control
// plane) inside `skiff server`. The gateway reports each request it forwards or holds; the
// controller takes one `autoscale::Sample` per revision per second for its autoscalers, and
// is woken at once when a request arrives for a revision that has no ready replica (activation
// from zero, which must not wait for the next 2 s decision).
//
// Keys:
//   revision key  "namespace/isvc/revision"   e.g. "default/digits/digits-predictor-00002"
//   service key   "namespace/isvc"
//
// Routing itself is not here: the controller publishes it through the store (the
// InferenceService's status.components.predictor.traffic and the replica Pods' labels and
// readiness), which the gateway watches; see docs/design/serving.md.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "engine/autoscale/autoscaler.h"

namespace skiff::serving {

class RevisionStats {
 public:
  explicit RevisionStats(const Clock& clock);

  // A request for the revision began (counted in requests/s and in-flight) / ended.
  // Requests held by the activator while no replica is ready count as in flight too, as
  // Knative's activator reports them.
  void RequestStarted(const std::string& revision_key);
  void RequestFinished(const std::string& revision_key);

  // Requests in flight now for the revision.
  int64_t InFlight(const std::string& revision_key) const;

  // For every revision seen since the last call (or still in flight): the time-weighted
  // average concurrency and the requests per second over the interval since the previous
  // call (the first call measures from the first request). Accumulators restart at `now`.
  // A revision that was idle for the whole interval is reported with zeros once and then
  // dropped until it sees traffic again.
  std::map<std::string, autoscale::Sample> TakeSamples();

  // Called by the gateway when a request for `service_key` found no ready replica of the
  // revision it was routed to. The handler (set by the controller) must be quick: it should
  // only enqueue a reconcile.
  void RequestActivation(const std::string& service_key, const std::string& revision_key);
  void SetActivationHandler(
      std::function<void(const std::string& service_key, const std::string& revision_key)>
          handler);

 private:
  struct Counter {
    int64_t in_flight = 0;
    int64_t started = 0;          // requests started since the interval began
    double busy_seconds = 0;      // integral of in_flight over the interval
    TimePoint last_change{};      // when in_flight last changed (or the interval began)
    TimePoint interval_start{};
  };
  void Accrue(Counter& c, TimePoint now);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Counter> counters_;
  std::function<void(const std::string&, const std::string&)> activation_;
};

}  // namespace skiff::serving
