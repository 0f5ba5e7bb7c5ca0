// The gateway's routing state, built from store objects alone (no I/O, no threads): which
// InferenceServices exist and how their traffic is split (`status.components.<c>.traffic`, written
// by the serving controller), and which replica Pods of each revision are ready and on which port
// (labels and annotations of the contract in docs/design/serving.md).
//
// `Select` maps one request to a revision, KServe/Knative style:
//   1. the InferenceService: by Host `<isvc>.<ns>.<anything>` (`<isvc>-predictor.<ns>...` picks
//      the predictor even when a transformer exists; `<tag>-<isvc>.<ns>...` picks a tag), else
//      by the model name in a V1/V2 path (`/v2/models/<m>/infer`) as `<m>` in namespace
//      `default`;
//   2. the component: the transformer when the service has one, else the predictor;
//   3. the revision: the traffic target with the request's tag (header `Knative-Serving-Tag`),
//      else a smooth weighted round-robin over the targets' percents (nginx's algorithm: exact
//      shares over every window of 100 requests, no RNG, so a 10% canary gets 10%).
// Replica choice (least outstanding requests) is the gateway's: it knows what is in flight.
//
// Thread-compatible: the gateway owns one and uses it from its loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::serving {

// Labels and annotations of replica Pods (the contract with the serving controller).
inline constexpr std::string_view kIsvcLabel = "serving.kserve.io/inferenceservice";
inline constexpr std::string_view kComponentLabel = "component";
inline constexpr std::string_view kRevisionLabel = "serving.knative.dev/revision";
inline constexpr std::string_view kPortAnnotation = "serving.skiff.dev/port";
inline constexpr std::string_view kConcurrencyAnnotation = "serving.skiff.dev/container-concurrency";
inline constexpr std::string_view kTimeoutAnnotation = "serving.skiff.dev/timeout-seconds";
// Knative's default revision timeout.
inline constexpr int kDefaultTimeoutSeconds = 300;

struct Replica {
  std::string pod;  // "ns/name"
  int port = 0;     // on 127.0.0.1
};

struct RevisionRoute {
  std::string key;               // "ns/isvc/revision"
  int container_concurrency = 0;  // 0: unlimited
  Duration timeout = std::chrono::seconds(kDefaultTimeoutSeconds);
  std::vector<Replica> ready;    // routable replicas, by Pod name
};

struct TrafficTarget {
  std::string revision;
  int percent = 0;
  std::string tag;
  bool latest = false;
};

// Where one request goes.
struct Selection {
  std::string service_key;   // "ns/isvc"
  std::string revision_key;  // "ns/isvc/revision"
  std::string component;     // "predictor" | "transformer"
};

// Parses KServe's `traffic` list; entries without a revisionName are skipped.
std::vector<TrafficTarget> ParseTraffic(const Json& traffic);

class RouteTable {
 public:
  // Store objects, as listed or watched. An object older than the one held (by
  // `metadata.resourceVersion`) is ignored, so a list and a watch may overlap.
  void ApplyInferenceService(const Json& isvc, bool deleted);
  void ApplyPod(const Json& pod, bool deleted);

  // Routes a request. Errors carry KServe's messages: NotFound (`Model with name x does not
  // exist.`, unknown tag) and Unavailable (the service has no traffic yet).
  Result<Selection> Select(std::string_view host, std::string_view tag_header, std::string_view method,
                           std::string_view path);

  // The revision's replicas and settings; null for a revision with no Pods at all (no ready
  // replica). Valid until the next `Apply*`.
  const RevisionRoute* Revision(const std::string& revision_key) const;
  // True if any InferenceService is known at `ns/name`.
  bool HasService(const std::string& ns, const std::string& name) const;

 private:
  struct Component {
    std::vector<TrafficTarget> traffic;
    std::vector<int64_t> current;  // smooth weighted round-robin state, one per target
  };
  struct Service {
    int64_t version = 0;
    std::map<std::string, Component> components;  // "predictor", "transformer"
  };
  struct Pod {
    int64_t version = 0;
    std::string revision_key;
    bool ready = false;
    Replica replica;
    int container_concurrency = 0;
    int timeout_seconds = kDefaultTimeoutSeconds;
  };
  Result<Selection> Pick(const std::string& ns, const std::string& isvc, std::string component,
                         const std::string& tag);
  void RebuildRevision(const std::string& revision_key);

  std::map<std::string, Service> services_;        // by "ns/name"
  std::map<std::string, Pod> pods_;                // by "ns/name"
  std::map<std::string, RevisionRoute> revisions_;  // by revision key, from `pods_`
};

}  // namespace skiff::serving
