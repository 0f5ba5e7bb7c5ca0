// The REST paths of KServe's V1 and V2 protocols, parsed into what they ask for, and the health
// bodies. The gateway and the model server route with this; it does no I/O.
//
//   GET  /                                   liveness ({"status": "alive"})
//   GET  /v1/models                          model list
//   GET  /v1/models/{m}                      V1 model status ({"name", "ready"})
//   POST /v1/models/{m}:predict | :explain   V1 inference
//   GET  /v2                                 server metadata
//   GET  /v2/health/live | /v2/health/ready  server health
//   GET  /v2/models/{m}[/versions/{v}]       model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready model readiness
//   POST /v2/models/{m}[/versions/{v}]/infer V2 inference
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace skiff::serving {

enum class RouteKind {
  kRootLive,
  kV1ListModels,
  kV1ModelStatus,
  kV1Predict,
  kV1Explain,
  kV2ServerMetadata,
  kV2ServerLive,
  kV2ServerReady,
  kV2ModelMetadata,
  kV2ModelReady,
  kV2Infer,
};

struct Route {
  RouteKind kind = RouteKind::kRootLive;
  std::string model;
  std::string version;  // empty: the server picks
};

// NotFound for an unknown path; InvalidArgument for a known path with the wrong method.
Result<Route> ParseRoute(std::string_view method, std::string_view path);

// A health answer: 200 with a small JSON body when true, else 503 with KServe's error body.
struct HealthAnswer {
  int status = 200;
  Json body;
};
HealthAnswer ServerLiveAnswer(bool live);
HealthAnswer ServerReadyAnswer(bool ready);
HealthAnswer ModelReadyAnswer(std::string_view model, bool ready);
// V1 `GET /v1/models/{m}`: 200 with {"name", "ready"} either way, as KServe answers.
Json V1ModelStatus(std::string_view model, bool ready);

}  // namespace skiff::serving
