#include "engine/dag/nodes.h"

#include "common/ids.h"

namespace skiff::dag {
namespace {

constexpr std::string_view kPhaseNames[] = {"Pending", "Running", "Succeeded", "Skipped",
                                            "Failed",  "Error",   "Omitted"};
constexpr std::string_view kTypeNames[] = {"Pod",     "Container", "Steps",   "StepGroup",
                                           "DAG",     "TaskGroup", "Retry",   "Skipped",
                                           "Suspend", "HTTP",      "Plugin"};

std::string TimeString(TimePoint t) {
  return t == TimePoint{} ? std::string() : FormatRfc3339(t);
}

TimePoint ParseTimeOrZero(const Json& j, std::string_view key) {
  const Json* v = FindField(j, key);
  if (v == nullptr || !v->is_string()) return TimePoint{};
  auto t = ParseRfc3339(v->get<std::string>());
  return t.ok() ? *t : TimePoint{};
}

std::vector<std::string> StringList(const Json& j, std::string_view key) {
  std::vector<std::string> out;
  const Json* v = FindField(j, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : *v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

std::string_view PhaseName(NodePhase p) { return kPhaseNames[static_cast<int>(p)]; }

Result<NodePhase> ParsePhase(std::string_view s) {
  for (size_t i = 0; i < std::size(kPhaseNames); ++i) {
    if (kPhaseNames[i] == s) return static_cast<NodePhase>(i);
  }
  return InvalidArgument("unknown node phase \"" + std::string(s) + "\"");
}

std::string_view TypeName(NodeType t) { return kTypeNames[static_cast<int>(t)]; }

Result<NodeType> ParseType(std::string_view s) {
  for (size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (kTypeNames[i] == s) return static_cast<NodeType>(i);
  }
  return InvalidArgument("unknown node type \"" + std::string(s) + "\"");
}

Json NodeStatus::ToJson() const {
  Json j = Json::object();
  j["id"] = id;
  j["name"] = name;
  j["displayName"] = display_name;
  j["type"] = std::string(TypeName(type));
  if (!template_name.empty()) j["templateName"] = template_name;
  if (!template_ref.is_null()) j["templateRef"] = template_ref;
  if (!template_scope.empty()) j["templateScope"] = template_scope;
  j["phase"] = std::string(PhaseName(phase));
  if (!boundary_id.empty()) j["boundaryID"] = boundary_id;
  if (!message.empty()) j["message"] = message;
  std::string s = TimeString(started_at);
  if (!s.empty()) j["startedAt"] = s;
  std::string f = TimeString(finished_at);
  j["finishedAt"] = f.empty() ? Json(nullptr) : Json(f);
  if (!children.empty()) j["children"] = children;
  if (!outbound_nodes.empty()) j["outboundNodes"] = outbound_nodes;
  if (!inputs.is_null()) j["inputs"] = inputs;
  if (!outputs.is_null()) j["outputs"] = outputs;
  if (!host_node_name.empty()) j["hostNodeName"] = host_node_name;
  if (!memoization_status.is_null()) j["memoizationStatus"] = memoization_status;
  if (daemoned) j["daemoned"] = true;
  if (hooked || retried) {
    Json flag = Json::object();
    if (hooked) flag["hooked"] = true;
    if (retried) flag["retried"] = true;
    j["nodeFlag"] = flag;
  }
  if (!resources_duration.is_null()) j["resourcesDuration"] = resources_duration;
  if (!progress.empty()) j["progress"] = progress;
  if (!pod_name.empty()) j["podName"] = pod_name;
  return j;
}

namespace {

// Appends `s` as a JSON string exactly as `DumpJson` writes it: plain text is copied, anything
// that needs escaping or UTF-8 checking goes through the JSON library.
void AppendString(std::string& out, std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (!plain) {
    out += DumpJson(Json(std::string(s)));
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

// Appends `"key":` (keys are plain ASCII) after a comma unless it is the first field.
void AppendKey(std::string& out, std::string_view key) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += key;
  out += "\":";
}

void AppendStringField(std::string& out, std::string_view key, std::string_view value) {
  AppendKey(out, key);
  AppendString(out, value);
}

// Appends `value` as DumpJson writes it. Strings, integers, booleans, null and their objects and
// arrays (a node's inputs, outputs and memoization status) are written here; anything else
// (floating-point numbers, binary) goes through the JSON library.
void AppendJson(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out += ',';
        first = false;
        AppendString(out, it.key());
        out += ':';
        AppendJson(out, it.value());
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out += ',';
        AppendJson(out, value[i]);
      }
      out += ']';
      return;
    }
    case Json::value_t::string:
      AppendString(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::number_integer:
      out += std::to_string(value.get<int64_t>());
      return;
    case Json::value_t::number_unsigned:
      out += std::to_string(value.get<uint64_t>());
      return;
    default:
      out += DumpJson(value);
      return;
  }
}

void AppendJsonField(std::string& out, std::string_view key, const Json& value) {
  AppendKey(out, key);
  AppendJson(out, value);
}

// FormatRfc3339 (a gmtime and a printf) for the times of a pass's nodes, which mostly fall in
// the same second: the last second's text is kept.
const std::string& TimeText(TimePoint t) {
  thread_local int64_t last_secs = 0;
  thread_local std::string last_text;
  int64_t secs = std::chrono::time_point_cast<std::chrono::seconds>(t).time_since_epoch().count();
  if (last_text.empty() || secs != last_secs) {
    last_text = FormatRfc3339(t);
    last_secs = secs;
  }
  return last_text;
}

void AppendStringList(std::string& out, std::string_view key, const std::vector<std::string>& list) {
  AppendKey(out, key);
  out += '[';
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ',';
    AppendString(out, list[i]);
  }
  out += ']';
}

}  // namespace

std::string NodeStatus::ToJsonText() const {
  // The fields in the order `Json` keeps object keys (sorted), so the text is the same as
  // DumpJson(ToJson()).
  std::string out;
  out.reserve(512);
  out += '{';
  if (!boundary_id.empty()) AppendStringField(out, "boundaryID", boundary_id);
  if (!children.empty()) AppendStringList(out, "children", children);
  if (daemoned) {
    AppendKey(out, "daemoned");
    out += "true";
  }
  AppendStringField(out, "displayName", display_name);
  AppendKey(out, "finishedAt");
  if (finished_at == TimePoint{}) {
    out += "null";
  } else {
    AppendString(out, TimeText(finished_at));
  }
  if (!host_node_name.empty()) AppendStringField(out, "hostNodeName", host_node_name);
  AppendStringField(out, "id", id);
  if (!inputs.is_null()) AppendJsonField(out, "inputs", inputs);
  if (!memoization_status.is_null()) AppendJsonField(out, "memoizationStatus", memoization_status);
  if (!message.empty()) AppendStringField(out, "message", message);
  AppendStringField(out, "name", name);
  if (hooked || retried) {
    AppendKey(out, "nodeFlag");
    out += hooked && retried ? "{\"hooked\":true,\"retried\":true}"
           : hooked          ? "{\"hooked\":true}"
                             : "{\"retried\":true}";
  }
  if (!outbound_nodes.empty()) AppendStringList(out, "outboundNodes", outbound_nodes);
  if (!outputs.is_null()) AppendJsonField(out, "outputs", outputs);
  AppendStringField(out, "phase", PhaseName(phase));
  if (!pod_name.empty()) AppendStringField(out, "podName", pod_name);
  if (!progress.empty()) AppendStringField(out, "progress", progress);
  if (!resources_duration.is_null()) AppendJsonField(out, "resourcesDuration", resources_duration);
  if (started_at != TimePoint{}) AppendStringField(out, "startedAt", TimeText(started_at));
  if (!template_name.empty()) AppendStringField(out, "templateName", template_name);
  if (!template_ref.is_null()) AppendJsonField(out, "templateRef", template_ref);
  if (!template_scope.empty()) AppendStringField(out, "templateScope", template_scope);
  AppendStringField(out, "type", TypeName(type));
  out += '}';
  return out;
}

Result<NodeStatus> NodeStatus::FromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgument("node status must be an object");
  NodeStatus n;
  n.id = StringField(j, "id");
  n.name = StringField(j, "name");
  n.display_name = StringField(j, "displayName");
  SKIFF_ASSIGN_OR_RETURN(n.type, ParseType(StringField(j, "type", "Pod")));
  n.template_name = StringField(j, "templateName");
  if (const Json* r = FindField(j, "templateRef")) n.template_ref = *r;
  n.template_scope = StringField(j, "templateScope");
  SKIFF_ASSIGN_OR_RETURN(n.phase, ParsePhase(StringField(j, "phase", "Pending")));
  n.boundary_id = StringField(j, "boundaryID");
  n.message = StringField(j, "message");
  n.started_at = ParseTimeOrZero(j, "startedAt");
  n.finished_at = ParseTimeOrZero(j, "finishedAt");
  n.children = StringList(j, "children");
  n.outbound_nodes = StringList(j, "outboundNodes");
  if (const Json* v = FindField(j, "inputs")) n.inputs = *v;
  if (const Json* v = FindField(j, "outputs")) n.outputs = *v;
  n.host_node_name = StringField(j, "hostNodeName");
  if (const Json* v = FindField(j, "memoizationStatus")) n.memoization_status = *v;
  if (const Json* v = FindField(j, "daemoned")) n.daemoned = v->is_boolean() && v->get<bool>();
  if (const Json* flag = FindField(j, "nodeFlag")) {
    if (const Json* h = FindField(*flag, "hooked")) n.hooked = h->is_boolean() && h->get<bool>();
    if (const Json* r = FindField(*flag, "retried")) n.retried = r->is_boolean() && r->get<bool>();
  }
  if (const Json* v = FindField(j, "resourcesDuration")) n.resources_duration = *v;
  n.progress = StringField(j, "progress");
  n.pod_name = StringField(j, "podName");
  return n;
}

std::string NodeId(std::string_view workflow_name, std::string_view node_name) {
  if (node_name == workflow_name) return std::string(workflow_name);
  return std::string(workflow_name) + "-" + std::to_string(Fnv32a(node_name));
}

std::string PodName(std::string_view workflow_name, std::string_view node_name,
                    std::string_view template_name) {
  std::string prefix(workflow_name);
  if (!template_name.empty()) {
    prefix += "-";
    prefix += template_name;
  }
  // Kubernetes names are at most 253 characters, but a Pod's host name is limited to 63; Argo
  // trims the prefix to keep "<prefix>-<hash>" within that.
  constexpr size_t kMaxPrefix = 63 - 1 - 10;
  if (prefix.size() > kMaxPrefix) prefix = prefix.substr(0, kMaxPrefix);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + "-" + std::to_string(Fnv32a(node_name));
}

}  // namespace skiff::dag
