// Executor: the public face, the workflow-level pass (Argo's `operate`) and node bookkeeping.
#include "engine/dag/executor.h"

#include <algorithm>

#include "engine/dag/operation.h"
#include "engine/expr/expr.h"

namespace skiff::dag {

// ---------------------------------------------------------------------------------------------
// Helpers

Json ParamList(const Json& io) {
  const Json* p = FindField(io, "parameters");
  return p != nullptr && p->is_array() ? *p : Json::array();
}

const Json* FindByName(const Json& list, std::string_view name) {
  if (!list.is_array()) return nullptr;
  for (const auto& e : list) {
    if (e.is_object() && StringField(e, "name") == name) return &e;
  }
  return nullptr;
}

std::string TemplateType(const Json& tmpl) {
  static const char* kTypes[] = {"container", "script", "containerSet", "steps", "dag",
                                 "suspend",   "resource", "data",       "http",  "plugin"};
  for (const char* t : kTypes) {
    const Json* v = FindField(tmpl, t);
    if (v != nullptr && !v->is_null()) return t;
  }
  return "";
}

bool IsPodTemplate(const Json& tmpl) {
  std::string t = TemplateType(tmpl);
  return t == "container" || t == "script" || t == "containerSet" || t == "resource" ||
         t == "data";
}

std::string IntOrStringToString(const Json& v) { return ScalarToString(v); }

// ---------------------------------------------------------------------------------------------
// Executor

Executor::Executor(Json workflow, std::vector<NodeStatus> nodes, ExecutorEnv& env)
    : state_(std::make_unique<State>(std::move(workflow), env)) {
  State& st = *state_;
  const Json& meta = st.wf["metadata"];
  st.name = StringField(meta, "name");
  st.ns = StringField(meta, "namespace", "default");
  st.uid = StringField(meta, "uid");
  if (!st.wf.contains("status") || !st.wf["status"].is_object()) st.wf["status"] = Json::object();
  for (auto& n : nodes) {
    std::string id = n.id;
    st.nodes.emplace(std::move(id), std::move(n));
  }
  // The effective spec: a workflowTemplateRef is resolved once and kept in the status, so a
  // later change of the template does not change a running workflow.
  const Json& status = st.wf["status"];
  if (const Json* stored = FindField(status, "storedWorkflowTemplateSpec")) {
    st.spec = *stored;
  } else {
    st.spec = st.wf.value("spec", Json::object());
  }
  // Whether these words occur anywhere in the spec (a key or a string), without dumping it.
  std::function<void(const Json&)> scan = [&](const Json& v) {
    auto look = [&](std::string_view text) {
      if (text.find("outputs.result") != std::string_view::npos) {
        st.include_results_for_containers = true;
      }
      if (text.find("parallelism") != std::string_view::npos ||
          text.find("failFast") != std::string_view::npos) {
        st.needs_counts = true;
      }
    };
    if (v.is_string()) {
      look(v.get_ref<const std::string&>());
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        look(it.key());
        scan(it.value());
      }
    } else if (v.is_array()) {
      for (const auto& e : v) scan(e);
    }
  };
  scan(st.spec);
}

Executor::~Executor() = default;

Actions Executor::Reconcile() {
  Actions actions;
  Operation op(*state_, actions);
  op.Run();
  return actions;
}

void Executor::ApplyPodResult(const PodResult& r) {
  State& st = *state_;
  auto it = st.nodes.find(r.node_id);
  if (it == st.nodes.end()) return;
  NodeStatus& n = it->second;
  if (n.Fulfilled() && !(n.daemoned && r.phase != NodePhase::kRunning)) return;
  bool changed = false;
  if (r.started_at != TimePoint{} && n.started_at == TimePoint{}) {
    n.started_at = r.started_at;
    changed = true;
  }
  if (!r.host_node_name.empty() && n.host_node_name != r.host_node_name) {
    n.host_node_name = r.host_node_name;
    changed = true;
  }
  if (r.daemoned && !n.daemoned && r.phase == NodePhase::kRunning) {
    n.daemoned = true;
    changed = true;
  }
  if (n.daemoned && IsFulfilled(r.phase)) {
    // A daemon is only ever stopped by us once its scope has finished.
    n.phase = NodePhase::kSucceeded;
    n.daemoned = false;
    n.finished_at = r.finished_at != TimePoint{} ? r.finished_at : st.env.clock().Now();
    changed = true;
  } else if (r.phase != n.phase) {
    n.phase = r.phase;
    if (!r.message.empty()) n.message = r.message;
    if (IsFulfilled(r.phase)) {
      n.finished_at = r.finished_at != TimePoint{} ? r.finished_at : st.env.clock().Now();
    }
    changed = true;
  }
  if (!r.outputs.is_null() && r.outputs != n.outputs && IsFulfilled(r.phase)) {
    n.outputs = r.outputs;
    changed = true;
  }
  if (changed && IsFulfilled(n.phase)) st.finished_since_pass.push_back(n.id);
  if (IsFulfilled(r.phase) && (r.cpu_seconds > 0 || r.memory_mib_seconds > 0)) {
    n.resources_duration = Json{{"cpu", static_cast<int64_t>(r.cpu_seconds + 0.5)},
                                {"memory", static_cast<int64_t>(r.memory_mib_seconds + 0.5)}};
    changed = true;
  }
  if (changed) st.dirty.insert(n.id);
}

int Executor::Resume(std::string_view node,
                     const std::vector<std::pair<std::string, std::string>>& params) {
  State& st = *state_;
  int resumed = 0;
  for (auto& [id, n] : st.nodes) {
    if (n.type != NodeType::kSuspend || n.Fulfilled()) continue;
    if (!node.empty() && n.display_name != node && n.name != node) continue;
    // Outputs supplied at resume time: fill `valueFrom.supplied` parameters (already listed in
    // the node's outputs with no value).
    if (n.outputs.is_object() && n.outputs.contains("parameters")) {
      for (auto& p : n.outputs["parameters"]) {
        std::string pname = StringField(p, "name");
        for (const auto& [k, v] : params) {
          if (k == pname) {
            p["value"] = v;
            p.erase("valueFrom");
          }
        }
        if (!p.contains("value")) {
          const Json* vf = FindField(p, "valueFrom");
          if (vf != nullptr && vf->contains("default")) p["value"] = ScalarToString((*vf)["default"]);
        }
      }
    }
    n.phase = NodePhase::kSucceeded;
    n.message.clear();
    n.finished_at = st.env.clock().Now();
    st.dirty.insert(id);
    ++resumed;
  }
  return resumed;
}

void Executor::Terminate(std::string message) {
  state_->terminate_requested = true;
  state_->terminate_message = std::move(message);
}

const Json& Executor::workflow() const { return state_->wf; }

std::string Executor::Phase() const { return StringField(state_->wf["status"], "phase"); }

bool Executor::Finished() const {
  std::string p = Phase();
  return p == "Succeeded" || p == "Failed" || p == "Error";
}

const std::unordered_map<std::string, NodeStatus>& Executor::nodes() const {
  return state_->nodes;
}

const NodeStatus* Executor::FindNode(std::string_view id) const {
  auto it = state_->nodes.find(std::string(id));
  return it == state_->nodes.end() ? nullptr : &it->second;
}

std::vector<std::string> Executor::TakeDirtyNodes() {
  std::vector<std::string> out(state_->dirty.begin(), state_->dirty.end());
  state_->dirty.clear();
  return out;
}

bool Executor::TakeWorkflowDirty() {
  bool d = state_->wf_dirty;
  state_->wf_dirty = false;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Operation: node bookkeeping

Executor::Operation::Operation(Executor::State& st, Actions& actions)
    : st_(st), actions_(actions), now_(st.env.clock().Now()) {
  if (st_.needs_counts) {
    for (const auto& [id, n] : st_.nodes) CountNodeStart(n);
  }
}

void Executor::Operation::EnableCounts() {
  if (st_.needs_counts) return;
  st_.needs_counts = true;
  for (const auto& [id, n] : st_.nodes) CountNodeStart(n);
}

void Executor::Operation::CountNodeStart(const NodeStatus& n) {
  bool active = (n.phase == NodePhase::kPending || n.phase == NodePhase::kRunning) && !n.daemoned;
  if (active && n.type == NodeType::kPod) ++active_pods_;
  if (active && (n.type == NodeType::kPod || n.type == NodeType::kSteps ||
                 n.type == NodeType::kDAG || n.type == NodeType::kSuspend)) {
    ++active_children_[n.boundary_id];
  }
  if (n.FailedOrError() && n.type != NodeType::kStepGroup && n.type != NodeType::kTaskGroup &&
      n.type != NodeType::kRetry && !n.retried) {
    ++unsuccessful_children_[n.boundary_id];
  }
}

bool Executor::Operation::Fulfilled(const NodeStatus& n) const {
  return n.Fulfilled() || (n.daemoned && n.phase != NodePhase::kPending);
}

NodeStatus* Executor::Operation::NodeByName(const std::string& name) {
  return NodeByIdMutable(NodeId(st_.name, name));
}

NodeStatus* Executor::Operation::NodeByIdMutable(const std::string& id) {
  auto it = st_.nodes.find(id);
  return it == st_.nodes.end() ? nullptr : &it->second;
}

void Executor::Operation::Touch(NodeStatus& n) { st_.dirty.insert(n.id); }

NodeStatus& Executor::Operation::InitNode(const std::string& name, NodeType type,
                                          const std::string& scope, const Json& holder,
                                          const std::string& boundary_id, NodePhase phase,
                                          const std::string& message) {
  NodeStatus n;
  n.id = NodeId(st_.name, name);
  n.name = name;
  n.type = type;
  n.template_scope = scope;
  if (holder.is_object()) {
    n.template_name = StringField(holder, "template");
    if (const Json* ref = FindField(holder, "templateRef")) n.template_ref = *ref;
  }
  n.boundary_id = boundary_id;
  n.phase = phase;
  n.message = message.substr(0, message.find('\n'));
  n.started_at = now_;
  if (IsFulfilled(phase)) {
    n.finished_at = now_;
    ++scope_version_;
  }
  // Display name: the name relative to the boundary node, without a leading "[i]." or ".".
  auto b = st_.nodes.find(boundary_id);
  if (!boundary_id.empty() && b != st_.nodes.end() && name.rfind(b->second.name, 0) == 0) {
    std::string rest = name.substr(b->second.name.size());
    if (!rest.empty() && rest[0] == '[') {
      size_t close = rest.find(']');
      if (close != std::string::npos && close + 1 < rest.size() && rest[close + 1] == '.') {
        rest = rest.substr(close + 2);
      }
    } else if (!rest.empty() && rest[0] == '.') {
      rest = rest.substr(1);
    }
    n.display_name = rest;
  } else {
    n.display_name = name;
  }
  CountNodeStart(n);
  auto [it, inserted] = st_.nodes.insert_or_assign(n.id, std::move(n));
  (void)inserted;
  st_.dirty.insert(it->first);
  return it->second;
}

NodeStatus* Executor::Operation::MarkPhase(const std::string& name, NodePhase phase,
                                           const std::string& message) {
  NodeStatus* n = NodeByName(name);
  if (n == nullptr) return nullptr;
  bool changed = false;
  if (n->phase != phase) {
    bool was_active = (n->phase == NodePhase::kPending || n->phase == NodePhase::kRunning);
    if (was_active && IsFulfilled(phase)) {
      if (n->type == NodeType::kPod) --active_pods_;
      if (n->type == NodeType::kPod || n->type == NodeType::kSteps || n->type == NodeType::kDAG ||
          n->type == NodeType::kSuspend) {
        --active_children_[n->boundary_id];
      }
      if (IsFailedOrError(phase) && n->type != NodeType::kStepGroup &&
          n->type != NodeType::kTaskGroup && n->type != NodeType::kRetry && !n->retried) {
        ++unsuccessful_children_[n->boundary_id];
      }
    }
    n->phase = phase;
    if (IsFulfilled(phase)) ++scope_version_;
    changed = true;
  }
  std::string first_line = message.substr(0, message.find('\n'));
  if (!first_line.empty() && n->message != first_line) {
    n->message = first_line;
    changed = true;
  }
  if (IsFulfilled(phase) && n->finished_at == TimePoint{}) {
    n->finished_at = now_;
    changed = true;
  }
  if (changed) Touch(*n);
  return n;
}

NodeStatus* Executor::Operation::MarkError(const std::string& name, const std::string& message) {
  return MarkPhase(name, NodePhase::kError, message);
}

void Executor::Operation::AddChild(const std::string& parent_name, const std::string& child_name) {
  NodeStatus* parent = NodeByName(parent_name);
  if (parent == nullptr) return;
  std::string child_id = NodeId(st_.name, child_name);
  // Membership: a scan for a few children, an index for a large loop's (10,000 would make
  // adding them quadratic).
  constexpr size_t kIndexFrom = 32;
  if (parent->children.size() < kIndexFrom) {
    if (std::find(parent->children.begin(), parent->children.end(), child_id) !=
        parent->children.end()) {
      return;
    }
  } else {
    auto& index = st_.child_index[parent->id];
    if (index.empty()) index.insert(parent->children.begin(), parent->children.end());
    if (!index.insert(child_id).second) return;
  }
  parent->children.push_back(child_id);
  Touch(*parent);
}

// The nodes that a following node should hang off: a Pod's own id; for Steps/DAG the outbound
// nodes recorded on them; for a Retry its last attempt; for groups their children's.
std::vector<std::string> Executor::Operation::OutboundNodes(const std::string& id) {
  NodeStatus* n = NodeByIdMutable(id);
  if (n == nullptr) return {};
  switch (n->type) {
    case NodeType::kSkipped:
    case NodeType::kSuspend:
    case NodeType::kPod:
    case NodeType::kContainer:
    case NodeType::kHTTP:
    case NodeType::kPlugin:
      return {id};
    case NodeType::kRetry: {
      if (n->children.empty()) return {id};
      return OutboundNodes(n->children.back());
    }
    case NodeType::kTaskGroup:
    case NodeType::kStepGroup: {
      std::vector<std::string> out;
      for (const auto& c : n->children) {
        auto sub = OutboundNodes(c);
        out.insert(out.end(), sub.begin(), sub.end());
      }
      if (out.empty()) out.push_back(id);
      return out;
    }
    default: {
      if (n->outbound_nodes.empty()) return {id};
      std::vector<std::string> out;
      for (const auto& o : n->outbound_nodes) {
        auto sub = OutboundNodes(o);
        out.insert(out.end(), sub.begin(), sub.end());
      }
      return out;
    }
  }
}

void Executor::Operation::RequeueAt(TimePoint t) {
  if (!actions_.requeue_at || t < *actions_.requeue_at) actions_.requeue_at = t;
}

// ---------------------------------------------------------------------------------------------
// Operation: the workflow-level pass

namespace {

std::string WorkflowPhaseFor(NodePhase p) {
  switch (p) {
    case NodePhase::kPending: return "Pending";
    case NodePhase::kRunning: return "Running";
    case NodePhase::kSucceeded:
    case NodePhase::kSkipped:
    case NodePhase::kOmitted: return "Succeeded";
    case NodePhase::kFailed: return "Failed";
    case NodePhase::kError: return "Error";
  }
  return "Error";
}

// strftime conversions Argo exposes as `workflow.creationTimestamp.<c>`.
constexpr const char* kStrftimeChars = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ";

}  // namespace

void Executor::Operation::Run() {
  Json& status = st_.wf["status"];
  std::string phase = StringField(status, "phase");
  if (phase == "Succeeded" || phase == "Failed" || phase == "Error") return;
  if (phase.empty() || phase == "Pending") {
    status["phase"] = "Running";
    if (!status.contains("startedAt") || status["startedAt"].is_null()) {
      status["startedAt"] = FormatRfc3339(now_);
    }
    st_.wf_dirty = true;
  }
  TimePoint started = now_;
  if (auto t = ParseRfc3339(StringField(status, "startedAt")); t.ok()) started = *t;

  // workflowTemplateRef: the template's spec, overlaid with the Workflow's own fields, is
  // resolved once and kept in the status (so later template edits do not change this run).
  if (const Json* ref = FindField(st_.spec, "workflowTemplateRef"); ref != nullptr && ref->is_object()) {
    std::string tname = StringField(*ref, "name");
    bool cluster = ref->value("clusterScope", false);
    auto tmpl = st_.env.GetWorkflowTemplate(st_.ns, tname, cluster);
    if (!tmpl.ok()) {
      status["phase"] = "Error";
      status["message"] = std::string(cluster ? "ClusterWorkflowTemplate" : "WorkflowTemplate") +
                          " \"" + tname + "\" not found";
      status["finishedAt"] = FormatRfc3339(now_);
      st_.wf_dirty = true;
      return;
    }
    Json merged = tmpl->value("spec", Json::object());
    for (auto it = st_.spec.begin(); it != st_.spec.end(); ++it) {
      if (it.key() == "workflowTemplateRef") continue;
      if (it.key() == "arguments" && it.value().is_object()) {
        Json params = ParamList(merged.value("arguments", Json::object()));
        for (const auto& p : ParamList(it.value())) {
          bool replaced = false;
          for (auto& q : params) {
            if (StringField(q, "name") == StringField(p, "name")) {
              q = p;
              replaced = true;
            }
          }
          if (!replaced) params.push_back(p);
        }
        merged["arguments"]["parameters"] = params;
        if (it.value().contains("artifacts")) merged["arguments"]["artifacts"] = it.value()["artifacts"];
        continue;
      }
      merged[it.key()] = it.value();
    }
    st_.spec = merged;
    status["storedWorkflowTemplateSpec"] = merged;
    st_.wf_dirty = true;
  }

  // Global variables (Argo's setGlobalParameters).
  const Json& meta = st_.wf["metadata"];
  globals_.Set("workflow.name", st_.name);
  globals_.Set("workflow.namespace", st_.ns);
  globals_.Set("workflow.uid", st_.uid);
  globals_.Set("workflow.mainEntrypoint", StringField(st_.spec, "entrypoint"));
  globals_.Set("workflow.serviceAccountName", StringField(st_.spec, "serviceAccountName"));
  std::string created = StringField(meta, "creationTimestamp", FormatRfc3339(started));
  globals_.Set("workflow.creationTimestamp", created);
  if (auto ct = ParseRfc3339(created); ct.ok()) {
    std::time_t secs = std::chrono::system_clock::to_time_t(*ct);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    for (const char* c = kStrftimeChars; *c != '\0'; ++c) {
      char fmt[3] = {'%', *c, '\0'};
      char buf[64];
      size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
      globals_.Set(std::string("workflow.creationTimestamp.") + *c, std::string(buf, n));
    }
    globals_.Set("workflow.creationTimestamp.RFC3339", created);
    globals_.Set("workflow.creationTimestamp.s", std::to_string(secs));
  }
  if (const Json* p = FindField(st_.spec, "priority")) globals_.Set("workflow.priority", ScalarToString(*p));
  globals_.Set("workflow.duration",
               GoFormatV(Json(std::chrono::duration<double>(now_ - started).count())));
  const Json* annotations = FindField(meta, "annotations");
  const Json* labels = FindField(meta, "labels");
  if (annotations != nullptr && annotations->is_object()) {
    for (auto it = annotations->begin(); it != annotations->end(); ++it) {
      globals_.Set("workflow.annotations." + it.key(), ScalarToString(it.value()));
    }
    globals_.Set("workflow.annotations", DumpJson(*annotations));
    std::string sched = StringField(*annotations, "workflows.argoproj.io/scheduled-time");
    globals_.Set("workflow.scheduledTime", sched.empty() ? created : sched);
  } else {
    globals_.Set("workflow.scheduledTime", created);
  }
  if (labels != nullptr && labels->is_object()) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      globals_.Set("workflow.labels." + it.key(), ScalarToString(it.value()));
    }
    globals_.Set("workflow.labels", DumpJson(*labels));
  }
  globals_.Set("workflow.status", StringField(status, "phase"));
  // Workflow arguments.
  Json args = st_.spec.value("arguments", Json::object());
  Json params = ParamList(args);
  Json resolved_params = Json::array();
  for (auto& p : params) {
    std::string pname = StringField(p, "name");
    std::string value;
    bool have = false;
    if (p.contains("value") && !p["value"].is_null()) {
      value = ScalarToString(p["value"]);
      have = true;
    } else if (const Json* vf = FindField(p, "valueFrom")) {
      if (const Json* cm = FindField(*vf, "configMapKeyRef")) {
        auto v = st_.env.GetConfigMapKey(st_.ns, StringField(*cm, "name"), StringField(*cm, "key"));
        if (v.ok()) {
          value = *v;
          have = true;
        } else if (vf->contains("default")) {
          value = ScalarToString((*vf)["default"]);
          have = true;
        }
      } else if (vf->contains("default")) {
        value = ScalarToString((*vf)["default"]);
        have = true;
      }
    } else if (p.contains("default")) {
      value = ScalarToString(p["default"]);
      have = true;
    }
    if (have) {
      globals_.Set("workflow.parameters." + pname, value);
      Json rp = p;
      rp["value"] = value;
      rp.erase("valueFrom");
      resolved_params.push_back(rp);
    }
  }
  globals_.Set("workflow.parameters", DumpJson(resolved_params));
  globals_.Set("workflow.parameters.json", DumpJson(resolved_params));
  // Global outputs recorded so far.
  if (const Json* outs = FindField(status, "outputs")) {
    for (const auto& p : ParamList(*outs)) {
      globals_.Set("workflow.outputs.parameters." + StringField(p, "name"),
                   StringField(p, "value"));
    }
  }

  // Workflow deadline.
  if (const Json* ads = FindField(st_.spec, "activeDeadlineSeconds")) {
    if (ads->is_number()) {
      TimePoint deadline = started + std::chrono::seconds(ads->get<int64_t>());
      if (now_ >= deadline && !st_.terminate_requested) {
        st_.terminate_requested = true;
        st_.terminate_message = "Max duration limit exceeded";
      } else if (!st_.terminate_requested) {
        RequeueAt(deadline);
      }
    }
  }
  if (st_.terminate_requested) {
    for (auto& [id, n] : st_.nodes) {
      if (n.Fulfilled() && !n.daemoned) continue;
      if (n.type == NodeType::kPod) {
        if (!n.pod_name.empty()) actions_.kill_pods.push_back({n.pod_name, st_.terminate_message});
        MarkPhase(n.name, NodePhase::kFailed,
                  st_.terminate_message == "Max duration limit exceeded"
                      ? "Step exceeded its deadline"
                      : st_.terminate_message);
      } else if (n.type == NodeType::kSuspend) {
        MarkPhase(n.name, NodePhase::kFailed, st_.terminate_message);
      }
    }
  }

  // Results of Pods that finished since the last pass.
  for (const auto& id : st_.finished_since_pass) {
    NodeStatus* n = NodeByIdMutable(id);
    if (n == nullptr || !n->Fulfilled()) continue;
    MaybeSaveMemo(*n);
    if (n->outputs.is_object()) AddOutputsToGlobal(n->outputs);
  }
  st_.finished_since_pass.clear();

  TmplCtx ctx{"local", st_.name};
  Json holder = {{"template", StringField(st_.spec, "entrypoint")}};
  ExecError err = ExecError::kNone;
  NodeStatus* node = ExecuteTemplate(st_.name, holder, ctx, args, ExecOpts{}, &err);

  // Workflow-level lifecycle hooks other than exit (expression-triggered).
  bool hooks_done = true;
  if (const Json* hooks = FindField(st_.spec, "hooks"); hooks != nullptr && hooks->is_object()) {
    for (auto it = hooks->begin(); it != hooks->end(); ++it) {
      if (it.key() == "exit") continue;
      std::string hook_name = st_.name + ".hooks." + it.key();
      NodeStatus* existing = NodeByName(hook_name);
      bool execute = existing != nullptr;
      if (!execute) {
        std::string expression = StringField(it.value(), "expression");
        if (expression.empty()) continue;
        auto r = expr::Evaluate(expression, globals_.ExprEnv());
        execute = r.ok() && r->is_boolean() && r->get<bool>();
      }
      if (!execute) continue;
      ExecOpts hopts;
      hopts.hooked = true;
      Json hholder = it.value();
      hholder.erase("expression");
      ExecError herr = ExecError::kNone;
      NodeStatus* hn = ExecuteTemplate(hook_name, hholder, ctx, it.value().value("arguments", Json::object()), hopts, &herr);
      AddChild(st_.name, hook_name);
      if (hn == nullptr || !Fulfilled(*hn)) hooks_done = false;
    }
  }

  if (node == nullptr || !Fulfilled(*node)) return;
  node = NodeByName(st_.name);

  std::string wf_status = WorkflowPhaseFor(node->phase);
  globals_.Set("workflow.status", wf_status);
  Json failures = Json::array();
  for (const auto& [id, n] : st_.nodes) {
    if (n.FailedOrError()) {
      failures.push_back({{"displayName", n.display_name},
                          {"message", n.message},
                          {"templateName", n.template_name},
                          {"phase", std::string(PhaseName(n.phase))},
                          {"podName", n.pod_name},
                          {"finishedAt", FormatRfc3339(n.finished_at)}});
    }
  }
  globals_.Set("workflow.failures", DumpJson(failures));

  NodeStatus* exit_node = nullptr;
  Json exit_holder;
  Json exit_args = args;
  if (const Json* hooks = FindField(st_.spec, "hooks"); hooks != nullptr && hooks->contains("exit")) {
    exit_holder = (*hooks)["exit"];
    if (exit_holder.contains("arguments")) exit_args = exit_holder["arguments"];
  } else if (std::string on_exit = StringField(st_.spec, "onExit"); !on_exit.empty()) {
    exit_holder = {{"template", on_exit}};
  }
  if (!exit_holder.is_null()) {
    ExecOpts eopts;
    eopts.on_exit_template = true;
    eopts.hooked = true;
    ExecError eerr = ExecError::kNone;
    std::string exit_name = st_.name + ".onExit";
    exit_node = ExecuteTemplate(exit_name, exit_holder, ctx, exit_args, eopts, &eerr);
    if (exit_node == nullptr || !Fulfilled(*exit_node)) return;
  }
  if (!hooks_done) return;
  node = NodeByName(st_.name);

  std::string message = node->message;
  if (node->FailedOrError() && st_.terminate_requested) message = st_.terminate_message;
  std::string final_phase = wf_status;
  if (wf_status == "Succeeded" && exit_node != nullptr && exit_node->FailedOrError()) {
    final_phase = exit_node->phase == NodePhase::kFailed ? "Failed" : "Error";
    message = exit_node->message;
  }
  status["phase"] = final_phase;
  if (!message.empty()) {
    status["message"] = message;
  } else {
    status.erase("message");
  }
  status["finishedAt"] = FormatRfc3339(now_);
  // Progress: completed Pods / all Pods.
  int pods = 0, done = 0;
  for (const auto& [id, n] : st_.nodes) {
    if (n.type != NodeType::kPod) continue;
    ++pods;
    if (n.Fulfilled()) ++done;
  }
  status["progress"] = std::to_string(done) + "/" + std::to_string(pods);
  // Nodes that will never finish now (groups stopped by failFast, a shutdown, a deadline) end
  // with the workflow, so that no node of a finished workflow still claims to be running.
  if (final_phase != "Succeeded") {
    for (auto& [id, n] : st_.nodes) {
      if (n.Fulfilled() || n.daemoned || n.type == NodeType::kPod) continue;
      n.phase = NodePhase::kFailed;
      if (n.message.empty()) n.message = "workflow " + final_phase;
      if (n.finished_at == TimePoint{}) n.finished_at = now_;
      st_.dirty.insert(id);
    }
  }
  st_.wf_dirty = true;
  // Stop whatever still runs (daemons, sidecars of finished steps).
  for (auto& [id, n] : st_.nodes) {
    if (n.type == NodeType::kPod && !n.Fulfilled() && !n.pod_name.empty()) {
      actions_.kill_pods.push_back({n.pod_name, "workflow finished"});
    }
  }
}

void Executor::Operation::AddOutputsToGlobal(const Json& outputs) {
  if (!outputs.is_object()) return;
  Json& status = st_.wf["status"];
  bool changed = false;
  for (const auto& p : ParamList(outputs)) {
    std::string global = StringField(p, "globalName");
    if (global.empty() || !p.contains("value")) continue;
    std::string value = ScalarToString(p["value"]);
    globals_.Set("workflow.outputs.parameters." + global, value);
    Json& outs = status["outputs"];
    if (!outs.is_object()) outs = Json::object();
    Json& list = outs["parameters"];
    if (!list.is_array()) list = Json::array();
    bool found = false;
    for (auto& e : list) {
      if (StringField(e, "name") == global) {
        if (e["value"] != value) {
          e["value"] = value;
          changed = true;
        }
        found = true;
      }
    }
    if (!found) {
      list.push_back({{"name", global}, {"value", value}});
      changed = true;
    }
  }
  if (const Json* arts = FindField(outputs, "artifacts"); arts != nullptr && arts->is_array()) {
    for (const auto& a : *arts) {
      std::string global = StringField(a, "globalName");
      if (global.empty()) continue;
      Json& outs = status["outputs"];
      if (!outs.is_object()) outs = Json::object();
      Json& list = outs["artifacts"];
      if (!list.is_array()) list = Json::array();
      Json art = a;
      art["name"] = global;
      bool found = false;
      for (auto& e : list) {
        if (StringField(e, "name") == global) {
          if (e != art) {
            e = art;
            changed = true;
          }
          found = true;
        }
      }
      if (!found) {
        list.push_back(art);
        changed = true;
      }
    }
  }
  if (changed) st_.wf_dirty = true;
}

}  // namespace skiff::dag
