#include "serving/protocol/routes.h"

#include <vector>

namespace skiff::serving {

namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    if (next > pos) parts.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

Status WrongMethod(std::string_view method, std::string_view path) {
  return InvalidArgument("method " + std::string(method) + " is not allowed on " +
                         std::string(path));
}

Result<Route> Expect(std::string_view want, std::string_view method, std::string_view path,
                     Route route) {
  if (method != want) return WrongMethod(method, path);
  return route;
}

}  // namespace

Result<Route> ParseRoute(std::string_view method, std::string_view path) {
  auto p = SplitPath(path);
  const Status not_found = NotFound("no route for " + std::string(method) + " " + std::string(path));
  if (p.empty()) return Expect("GET", method, path, {RouteKind::kRootLive, "", ""});
  if (p[0] == "v1" && p.size() >= 2 && p[1] == "models") {
    if (p.size() == 2) return Expect("GET", method, path, {RouteKind::kV1ListModels, "", ""});
    if (p.size() != 3) return not_found;
    std::string_view m = p[2];
    if (auto colon = m.rfind(':'); colon != std::string_view::npos) {
      std::string_view verb = m.substr(colon + 1);
      std::string model(m.substr(0, colon));
      if (verb == "predict") return Expect("POST", method, path, {RouteKind::kV1Predict, model, ""});
      if (verb == "explain") return Expect("POST", method, path, {RouteKind::kV1Explain, model, ""});
      return not_found;
    }
    return Expect("GET", method, path, {RouteKind::kV1ModelStatus, std::string(m), ""});
  }
  if (p[0] != "v2") return not_found;
  if (p.size() == 1) return Expect("GET", method, path, {RouteKind::kV2ServerMetadata, "", ""});
  if (p[1] == "health" && p.size() == 3) {
    if (p[2] == "live") return Expect("GET", method, path, {RouteKind::kV2ServerLive, "", ""});
    if (p[2] == "ready") return Expect("GET", method, path, {RouteKind::kV2ServerReady, "", ""});
    return not_found;
  }
  if (p[1] != "models" || p.size() < 3) return not_found;
  Route r;
  r.model = std::string(p[2]);
  size_t i = 3;
  if (p.size() >= 5 && p[3] == "versions") {
    r.version = std::string(p[4]);
    i = 5;
  }
  if (i == p.size()) {
    r.kind = RouteKind::kV2ModelMetadata;
    return Expect("GET", method, path, r);
  }
  if (i + 1 != p.size()) return not_found;
  if (p[i] == "ready") {
    r.kind = RouteKind::kV2ModelReady;
    return Expect("GET", method, path, r);
  }
  if (p[i] == "infer") {
    r.kind = RouteKind::kV2Infer;
    return Expect("POST", method, path, r);
  }
  return not_found;
}

HealthAnswer ServerLiveAnswer(bool live) {
  if (live) return {200, Json{{"live", true}}};
  return {503, Json{{"error", "Server is not live."}}};
}

HealthAnswer ServerReadyAnswer(bool ready) {
  if (ready) return {200, Json{{"ready", true}}};
  return {503, Json{{"error", "Server is not ready."}}};
}

HealthAnswer ModelReadyAnswer(std::string_view model, bool ready) {
  if (ready) return {200, Json{{"name", model}, {"ready", true}}};
  return {503, Json{{"error", "Model with name " + std::string(model) + " is not ready."}}};
}

Json V1ModelStatus(std::string_view model, bool ready) {
  return Json{{"name", model}, {"ready", ready}};
}

}  // namespace skiff::serving
