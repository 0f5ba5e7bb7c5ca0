#include "serving/gateway/route_table.h"

#include <cstdlib>

#include "serving/protocol/routes.h"
#include "serving/protocol/v2.h"

namespace skiff::serving {

namespace {

int64_t VersionOf(const Json& obj) {
  std::string rv = StringField(obj.value("metadata", Json::object()), "resourceVersion");
  return rv.empty() ? 0 : std::strtoll(rv.c_str(), nullptr, 10);
}

std::string KeyOf(const Json& obj) {
  const Json meta = obj.value("metadata", Json::object());
  return StringField(meta, "namespace", "default") + "/" + StringField(meta, "name");
}

// A non-negative integer annotation, or `fallback`.
int IntAnnotation(const Json& annotations, std::string_view key, int fallback) {
  std::string v = StringField(annotations, key);
  if (v.empty()) return fallback;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n < 0 || n > 1000000) return fallback;
  return static_cast<int>(n);
}

bool PodIsReady(const Json& pod) {
  const Json status = pod.value("status", Json::object());
  if (StringField(status, "phase") != "Running") return false;
  for (const Json& c : status.value("conditions", Json::array())) {
    if (c.is_object() && StringField(c, "type") == "Ready") return StringField(c, "status") == "True";
  }
  return false;
}

bool IsIpv4(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
}

}  // namespace

std::vector<TrafficTarget> ParseTraffic(const Json& traffic) {
  std::vector<TrafficTarget> out;
  if (!traffic.is_array()) return out;
  for (const Json& t : traffic) {
    if (!t.is_object()) continue;
    TrafficTarget target;
    target.revision = StringField(t, "revisionName");
    if (target.revision.empty()) continue;
    target.percent = static_cast<int>(IntField(t, "percent", 0));
    if (target.percent < 0) target.percent = 0;
    target.tag = StringField(t, "tag");
    const Json* latest = FindField(t, "latestRevision");
    target.latest = latest != nullptr && latest->is_boolean() && latest->get<bool>();
    out.push_back(std::move(target));
  }
  return out;
}

void RouteTable::ApplyInferenceService(const Json& isvc, bool deleted) {
  std::string key = KeyOf(isvc);
  int64_t version = VersionOf(isvc);
  auto it = services_.find(key);
  if (it != services_.end() && version != 0 && version < it->second.version) return;
  if (deleted) {
    services_.erase(key);
    return;
  }
  Service& svc = services_[key];
  svc.version = version;
  const Json components = isvc.value("status", Json::object()).value("components", Json::object());
  for (const char* name : {"predictor", "transformer"}) {
    const Json* c = FindField(components, name);
    std::vector<TrafficTarget> traffic =
        c != nullptr && c->is_object() ? ParseTraffic(c->value("traffic", Json::array()))
                                       : std::vector<TrafficTarget>{};
    if (traffic.empty()) {
      svc.components.erase(name);
      continue;
    }
    Component& comp = svc.components[name];
    bool same = comp.traffic.size() == traffic.size();
    for (size_t i = 0; same && i < traffic.size(); ++i) {
      same = comp.traffic[i].revision == traffic[i].revision &&
             comp.traffic[i].percent == traffic[i].percent && comp.traffic[i].tag == traffic[i].tag;
    }
    if (same) continue;  // keep the round-robin position
    comp.traffic = std::move(traffic);
    comp.current.assign(comp.traffic.size(), 0);
  }
}

void RouteTable::ApplyPod(const Json& pod, bool deleted) {
  std::string key = KeyOf(pod);
  int64_t version = VersionOf(pod);
  auto it = pods_.find(key);
  if (it != pods_.end() && version != 0 && version < it->second.version) return;
  std::string old_revision = it != pods_.end() ? it->second.revision_key : "";
  const Json meta = pod.value("metadata", Json::object());
  const Json labels = meta.value("labels", Json::object());
  std::string isvc = StringField(labels, kIsvcLabel);
  std::string revision = StringField(labels, kRevisionLabel);
  if (deleted || isvc.empty() || revision.empty()) {
    if (it != pods_.end()) {
      pods_.erase(it);
      RebuildRevision(old_revision);
    }
    return;
  }
  const Json annotations = meta.value("annotations", Json::object());
  Pod p;
  p.version = version;
  p.revision_key = StringField(meta, "namespace", "default") + "/" + isvc + "/" + revision;
  p.replica.pod = key;
  p.replica.port = IntAnnotation(annotations, kPortAnnotation, 0);
  p.ready = PodIsReady(pod) && p.replica.port > 0 && p.replica.port < 65536;
  p.container_concurrency = IntAnnotation(annotations, kConcurrencyAnnotation, 0);
  p.timeout_seconds = IntAnnotation(annotations, kTimeoutAnnotation, kDefaultTimeoutSeconds);
  if (p.timeout_seconds == 0) p.timeout_seconds = kDefaultTimeoutSeconds;
  std::string new_revision = p.revision_key;
  pods_[key] = std::move(p);
  if (!old_revision.empty() && old_revision != new_revision) RebuildRevision(old_revision);
  RebuildRevision(new_revision);
}

void RouteTable::RebuildRevision(const std::string& revision_key) {
  RevisionRoute route;
  route.key = revision_key;
  bool any = false;
  for (const auto& [key, pod] : pods_) {  // few Pods per server: a scan is cheaper than an index
    if (pod.revision_key != revision_key) continue;
    if (!any || pod.ready) {
      route.container_concurrency = pod.container_concurrency;
      route.timeout = std::chrono::seconds(pod.timeout_seconds);
    }
    any = true;
    if (pod.ready) route.ready.push_back(pod.replica);
  }
  if (any) {
    revisions_[revision_key] = std::move(route);
  } else {
    revisions_.erase(revision_key);
  }
}

const RevisionRoute* RouteTable::Revision(const std::string& revision_key) const {
  auto it = revisions_.find(revision_key);
  return it == revisions_.end() ? nullptr : &it->second;
}

bool RouteTable::HasService(const std::string& ns, const std::string& name) const {
  return services_.count(ns + "/" + name) > 0;
}

Result<Selection> RouteTable::Select(std::string_view host, std::string_view tag_header,
                                     std::string_view method, std::string_view path) {
  std::string tag(tag_header);
  // Host: "<label>.<ns>.<domain...>[:port]", not an IP address.
  std::string_view h = host.substr(0, host.find(':'));
  size_t dot1 = h.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : h.find('.', dot1 + 1);
  if (dot2 != std::string_view::npos && !IsIpv4(h)) {
    std::string first(h.substr(0, dot1));
    std::string ns(h.substr(dot1 + 1, dot2 - dot1 - 1));
    if (HasService(ns, first)) return Pick(ns, first, "", tag);
    for (const char* component : {"predictor", "transformer"}) {
      std::string suffix = std::string("-") + component;
      if (first.size() > suffix.size() && first.compare(first.size() - suffix.size(), suffix.size(), suffix) == 0) {
        std::string isvc = first.substr(0, first.size() - suffix.size());
        if (HasService(ns, isvc)) return Pick(ns, isvc, component, tag);
      }
    }
    // "<tag>-<isvc>": the tag is the shortest prefix that leaves a known service.
    for (size_t dash = first.find('-'); dash != std::string::npos; dash = first.find('-', dash + 1)) {
      std::string isvc = first.substr(dash + 1);
      if (HasService(ns, isvc)) return Pick(ns, isvc, "", first.substr(0, dash));
    }
  }
  auto route = ParseRoute(method, path);
  if (!route.ok()) {
    if (route.status().code() == StatusCode::kNotFound) {
      return NotFound("no InferenceService serves host \"" + std::string(host) + "\" and path \"" +
                      std::string(path) + "\"");
    }
    return route.status();
  }
  if (route->model.empty()) {
    return NotFound("no InferenceService serves host \"" + std::string(host) + "\" (path \"" +
                    std::string(path) + "\" names no model)");
  }
  if (!HasService("default", route->model)) return ModelNotFound(route->model);
  return Pick("default", route->model, "", tag);
}

Result<Selection> RouteTable::Pick(const std::string& ns, const std::string& isvc, std::string component,
                                   const std::string& tag) {
  Service& svc = services_[ns + "/" + isvc];
  if (component.empty()) component = svc.components.count("transformer") ? "transformer" : "predictor";
  auto cit = svc.components.find(component);
  if (cit == svc.components.end() || cit->second.traffic.empty()) {
    return Unavailable("InferenceService " + ns + "/" + isvc + " has no " + component +
                       " traffic yet (status.components." + component + ".traffic is empty)");
  }
  Component& comp = cit->second;
  Selection sel;
  sel.service_key = ns + "/" + isvc;
  sel.component = component;
  if (!tag.empty()) {
    for (const TrafficTarget& t : comp.traffic) {
      if (t.tag == tag) {
        sel.revision_key = sel.service_key + "/" + t.revision;
        return sel;
      }
    }
    return NotFound("InferenceService " + sel.service_key + " has no traffic target tagged \"" + tag + "\"");
  }
  // Smooth weighted round-robin: every target gains its weight, the largest is chosen and pays
  // back the total.
  int64_t total = 0;
  int best = -1;
  for (size_t i = 0; i < comp.traffic.size(); ++i) {
    int64_t w = comp.traffic[i].percent;
    if (w <= 0) continue;
    total += w;
    comp.current[i] += w;
    if (best < 0 || comp.current[i] > comp.current[static_cast<size_t>(best)]) best = static_cast<int>(i);
  }
  if (best < 0) {
    // No percents (e.g. only tagged targets): the latest revision takes the plain traffic.
    for (const TrafficTarget& t : comp.traffic) {
      if (t.latest) {
        sel.revision_key = sel.service_key + "/" + t.revision;
        return sel;
      }
    }
    return Unavailable("InferenceService " + sel.service_key + " routes no percent of its " + component +
                       " traffic to any revision");
  }
  comp.current[static_cast<size_t>(best)] -= total;
  sel.revision_key = sel.service_key + "/" + comp.traffic[static_cast<size_t>(best)].revision;
  return sel;
}

}  // namespace skiff::serving
