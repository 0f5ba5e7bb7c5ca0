#include "api/kube_schema.h"

#include <map>
#include <set>

#include "kinds/serving/inference_service.h"

namespace skiff::api {

namespace {

// Group versions in a stable order: core first, then groups by name.
std::map<std::string, std::set<std::string>> GroupVersions() {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& k : kinds::AllKinds()) out[k.group].insert(k.version);
  return out;
}

Json GroupDoc(const std::string& group, const std::set<std::string>& versions) {
  Json g = {{"name", group}, {"versions", Json::array()}};
  for (const auto& v : versions) {
    g["versions"].push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  }
  // The newest version is preferred (lexically last works for v1beta1 < v1 < v2beta1 here).
  const std::string& preferred = *versions.rbegin();
  g["preferredVersion"] = {{"groupVersion", group + "/" + preferred}, {"version", preferred}};
  return g;
}

const Json kAllVerbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};

}  // namespace

Json ApiVersionsDoc(std::string_view server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", std::string(server_address)}}}}};
}

Json ApiGroupListDoc() {
  Json groups = Json::array();
  for (const auto& [group, versions] : GroupVersions()) {
    if (!group.empty()) groups.push_back(GroupDoc(group, versions));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

Json ApiGroupDoc(std::string_view group) {
  auto gv = GroupVersions();
  auto it = gv.find(std::string(group));
  if (group.empty() || it == gv.end()) return nullptr;
  Json g = GroupDoc(it->first, it->second);
  g["kind"] = "APIGroup";
  g["apiVersion"] = "v1";
  return g;
}

Json ApiResourceListDoc(std::string_view group, std::string_view version) {
  Json resources = Json::array();
  for (const auto& k : kinds::AllKinds()) {
    if (k.group != group || k.version != version) continue;
    Json r = {{"name", k.plural},
              {"singularName", k.singular},
              {"namespaced", k.namespaced},
              {"kind", k.kind},
              {"verbs", kAllVerbs}};
    if (!k.short_names.empty()) r["shortNames"] = k.short_names;
    if (!k.categories.empty()) r["categories"] = k.categories;
    resources.push_back(r);
    if (k.has_status) {
      resources.push_back({{"name", k.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", k.namespaced},
                           {"kind", k.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (k.kind == "Pod") {
      resources.push_back({{"name", "pods/log"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"kind", "Pod"},
                           {"verbs", {"get"}}});
    }
  }
  if (resources.empty()) return nullptr;
  std::string gv = group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv},
          {"resources", resources}};
}

namespace {

std::string GvPath(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : "apis/" + group + "/" + version;
}

// A short, stable hash of the registry, for the `?hash=` clients cache OpenAPI documents by.
std::string RegistryHash() {
  uint64_t h = 1469598103934665603ull;
  for (const auto& k : kinds::AllKinds()) {
    for (char c : k.api_version() + "/" + k.kind) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

Json OpenApiRootDoc() {
  Json paths = Json::object();
  for (const auto& [group, versions] : GroupVersions()) {
    for (const auto& v : versions) {
      std::string p = GvPath(group, v);
      paths[p] = {{"serverRelativeURL", "/openapi/v3/" + p + "?hash=" + RegistryHash()}};
    }
  }
  return {{"paths", paths}};
}

Json OpenApiGroupVersionDoc(std::string_view path) {
  Json paths = Json::object();
  Json schemas = Json::object();
  for (const auto& k : kinds::AllKinds()) {
    if (GvPath(k.group, k.version) != path) continue;
    Json gvk = {{"group", k.group}, {"version", k.version}, {"kind", k.kind}};
    std::string schema_name = (k.group.empty() ? "io.k8s.api.core" : k.group) + "." + k.version + "." + k.kind;
    schemas[schema_name] = {{"type", "object"},
                            {"x-kubernetes-preserve-unknown-fields", true},
                            {"x-kubernetes-group-version-kind", Json::array({gvk})}};
    Json ref = {{"$ref", "#/components/schemas/" + schema_name}};
    Json body = {{"content", {{"application/json", {{"schema", ref}}}}}};
    Json ok = {{"200", {{"description", "OK"}, {"content", {{"application/json", {{"schema", ref}}}}}}}};
    Json query = Json::array();
    for (const char* q : {"dryRun", "fieldManager", "fieldValidation"}) {
      query.push_back({{"name", q}, {"in", "query"}, {"schema", {{"type", "string"}}}});
    }
    std::string base = "/" + std::string(path) + (k.namespaced ? "/namespaces/{namespace}/" : "/") + k.plural;
    Json op = {{"x-kubernetes-group-version-kind", gvk}, {"parameters", query}, {"responses", ok}};
    Json post = op;
    post["requestBody"] = body;
    post["operationId"] = "create" + k.kind;
    paths[base] = {{"post", post}};
    Json put = op, patch = op;
    put["requestBody"] = body;
    put["operationId"] = "replace" + k.kind;
    patch["operationId"] = "patch" + k.kind;
    patch["requestBody"] = {{"content", {{"application/merge-patch+json", {{"schema", {{"type", "object"}}}}}}}};
    paths[base + "/{name}"] = {{"put", put}, {"patch", patch}};
  }
  if (paths.empty()) return nullptr;
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Skiff"}, {"version", std::string(path)}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

bool WantsTable(std::string_view accept) { return accept.find("as=Table") != std::string_view::npos; }

namespace {

std::string Age(const Json& obj, TimePoint now) {
  auto t = ParseRfc3339(StringField(obj.value("metadata", Json::object()), "creationTimestamp"));
  if (!t.ok()) return "<unknown>";
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(now - *t).count();
  if (s < 0) s = 0;
  char buf[32];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  } else if (s < 48 * 3600) {
    std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(s / 3600));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(s / 86400));
  }
  return buf;
}

struct Column {
  std::string name, type, description;
  int priority = 0;
  std::function<Json(const Json&, TimePoint)> cell;
};

const Json& Status(const Json& obj) {
  static const Json empty = Json::object();
  const Json* s = FindField(obj, "status");
  return s != nullptr && s->is_object() ? *s : empty;
}

std::string LastCondition(const Json& obj) {
  const Json* conds = FindField(Status(obj), "conditions");
  if (conds == nullptr || !conds->is_array()) return "";
  std::string last;
  for (const auto& c : *conds) {
    if (StringField(c, "status") == "True") last = StringField(c, "type");
  }
  return last;
}

std::vector<Column> ColumnsFor(const kinds::KindInfo& k) {
  std::vector<Column> cols;
  cols.push_back({"Name", "string", "Name of the resource", 0,
                  [](const Json& o, TimePoint) { return Json(StringField(o["metadata"], "name")); }});
  auto age = Column{"Age", "string", "Time since creation", 0,
                    [](const Json& o, TimePoint now) { return Json(Age(o, now)); }};
  if (k.kind == "Pod") {
    cols.push_back({"Ready", "string", "Ready containers", 0, [](const Json& o, TimePoint) {
                      const Json* cs = FindField(Status(o), "containerStatuses");
                      size_t total = o.value("spec", Json::object()).value("containers", Json::array()).size();
                      size_t ready = 0;
                      if (cs != nullptr && cs->is_array()) {
                        for (const auto& c : *cs) ready += c.value("ready", false) ? 1 : 0;
                      }
                      return Json(std::to_string(ready) + "/" + std::to_string(total));
                    }});
    cols.push_back({"Status", "string", "Phase or reason", 0, [](const Json& o, TimePoint) {
                      // As kubectl shows it: the reason if any, "Completed"/"Error" once done.
                      std::string reason = StringField(Status(o), "reason");
                      std::string phase = StringField(Status(o), "phase", "Pending");
                      if (reason.empty() && phase == "Succeeded") reason = "Completed";
                      if (reason.empty() && phase == "Failed") reason = "Error";
                      return Json(reason.empty() ? phase : reason);
                    }});
    cols.push_back({"Restarts", "integer", "Container restarts", 0, [](const Json& o, TimePoint) {
                      int64_t n = 0;
                      const Json* cs = FindField(Status(o), "containerStatuses");
                      if (cs != nullptr && cs->is_array()) {
                        for (const auto& c : *cs) n += c.value("restartCount", 0);
                      }
                      return Json(n);
                    }});
    cols.push_back(age);
  } else if (k.kind == "Workflow") {
    cols.push_back({"Status", "string", "Workflow phase", 0, [](const Json& o, TimePoint) {
                      return Json(StringField(Status(o), "phase", "Pending"));
                    }});
    cols.push_back(age);
    cols.push_back({"Message", "string", "Why it ended as it did", 1, [](const Json& o, TimePoint) {
                      return Json(StringField(Status(o), "message"));
                    }});
  } else if (k.kind == "Job") {
    cols.push_back({"Completions", "string", "Succeeded of desired", 0, [](const Json& o, TimePoint) {
                      int64_t want = o.value("spec", Json::object()).value("completions", 1);
                      return Json(std::to_string(Status(o).value("succeeded", 0)) + "/" + std::to_string(want));
                    }});
    cols.push_back({"Status", "string", "Last true condition", 0,
                    [](const Json& o, TimePoint) { return Json(LastCondition(o)); }});
    cols.push_back(age);
  } else if (k.kind == "InferenceService") {
    // KServe's additionalPrinterColumns.
    auto col = [](const char* name, const char* desc, int priority, std::string kserve::PrinterRow::*field) {
      return Column{name, "string", desc, priority,
                    [field](const Json& o, TimePoint) { return Json(kserve::PrinterColumns(o).*field); }};
    };
    cols.push_back(col("URL", "The InferenceService's URL", 0, &kserve::PrinterRow::url));
    cols.push_back(col("Ready", "The Ready condition", 0, &kserve::PrinterRow::ready));
    cols.push_back(col("Prev", "Percent of traffic on the previous revision", 0, &kserve::PrinterRow::prev));
    cols.push_back(col("Latest", "Percent of traffic on the latest revision", 0, &kserve::PrinterRow::latest));
    cols.push_back(col("PrevRolledoutRevision", "", 1, &kserve::PrinterRow::previous_rolledout_revision));
    cols.push_back(col("LatestReadyRevision", "", 1, &kserve::PrinterRow::latest_ready_revision));
    cols.push_back(age);
  } else if (k.kind == "Namespace") {
    cols.push_back({"Status", "string", "Phase", 0, [](const Json& o, TimePoint) {
                      return Json(StringField(Status(o), "phase", "Active"));
                    }});
    cols.push_back(age);
  } else if (k.kind == "Event") {
    cols = {};
    cols.push_back({"Last Seen", "string", "", 0, [](const Json& o, TimePoint now) {
                      Json copy = o;
                      std::string t = StringField(o, "lastTimestamp");
                      if (!t.empty()) copy["metadata"]["creationTimestamp"] = t;
                      return Json(Age(copy, now));
                    }});
    cols.push_back({"Type", "string", "", 0, [](const Json& o, TimePoint) { return Json(StringField(o, "type")); }});
    cols.push_back({"Reason", "string", "", 0, [](const Json& o, TimePoint) { return Json(StringField(o, "reason")); }});
    cols.push_back({"Object", "string", "", 0, [](const Json& o, TimePoint) {
                      const Json& io = o.value("involvedObject", Json::object());
                      std::string kind = StringField(io, "kind");
                      for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                      return Json(kind + "/" + StringField(io, "name"));
                    }});
    cols.push_back({"Message", "string", "", 0, [](const Json& o, TimePoint) { return Json(StringField(o, "message")); }});
  } else if (k.has_status && k.kind != "Service" && k.kind != "PersistentVolumeClaim") {
    cols.push_back({"State", "string", "Phase or last true condition", 0, [](const Json& o, TimePoint) {
                      std::string phase = StringField(Status(o), "phase");
                      return Json(phase.empty() ? LastCondition(o) : phase);
                    }});
    cols.push_back(age);
  } else {
    cols.push_back(age);
  }
  return cols;
}

}  // namespace

Json ToTable(const kinds::KindInfo& kind, const std::vector<Json>& items, TableObjects objects,
             bool with_columns, TimePoint now) {
  std::vector<Column> cols = ColumnsFor(kind);
  Json defs = Json::array();
  if (with_columns) {
    for (const auto& c : cols) {
      Json d = {{"name", c.name}, {"type", c.type}, {"format", c.name == "Name" ? "name" : ""},
                {"description", c.description}, {"priority", c.priority}};
      defs.push_back(d);
    }
  }
  Json rows = Json::array();
  for (const auto& item : items) {
    Json cells = Json::array();
    for (const auto& c : cols) cells.push_back(c.cell(item, now));
    Json row = {{"cells", cells}};
    if (objects == TableObjects::kMetadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", item.value("metadata", Json::object())}};
    } else if (objects == TableObjects::kObject) {
      row["object"] = item;
    }
    rows.push_back(row);
  }
  return {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", Json::object()},
          {"columnDefinitions", defs}, {"rows", rows}};
}

}  // namespace skiff::api
