// ExecuteTemplate and what it needs: template resolution, argument processing, memoization,
// parallelism limits, retries, Pod and suspend nodes (Argo's operator.go counterparts).
#include <algorithm>
#include <cmath>

#include "engine/dag/operation.h"
#include "engine/expr/expr.h"

namespace skiff::dag {

// ---------------------------------------------------------------------------------------------
// Template resolution

Result<std::pair<Json, TmplCtx>> Executor::Operation::ResolveHolder(const Json& holder,
                                                                    const TmplCtx& ctx) {
  if (const Json* inl = FindField(holder, "inline"); inl != nullptr && inl->is_object()) {
    return std::make_pair(*inl, ctx);
  }
  if (const Json* ref = FindField(holder, "templateRef"); ref != nullptr && ref->is_object()) {
    std::string wft = StringField(*ref, "name");
    std::string tmpl_name = StringField(*ref, "template");
    bool cluster = ref->value("clusterScope", false);
    TmplCtx next{cluster ? "cluster" : "namespaced", wft};
    std::string key = next.Scope();
    auto src = st_.template_sources.find(key);
    if (src == st_.template_sources.end()) {
      // Stored templates survive restarts in status.storedTemplates.
      Json& stored = st_.wf["status"]["storedTemplates"];
      std::string stored_key = key + "/" + tmpl_name;
      if (stored.is_object() && stored.contains(stored_key)) {
        return std::make_pair(stored[stored_key], next);
      }
      auto r = st_.env.GetWorkflowTemplate(st_.ns, wft, cluster);
      if (!r.ok()) {
        return NotFound(std::string(cluster ? "ClusterWorkflowTemplate" : "WorkflowTemplate") +
                        " \"" + wft + "\" not found");
      }
      src = st_.template_sources.emplace(key, r->value("spec", Json::object())).first;
      std::string text = DumpJson(src->second);
      if (text.find("parallelism") != std::string::npos || text.find("failFast") != std::string::npos) {
        EnableCounts();
      }
    }
    const Json* list = FindField(src->second, "templates");
    const Json* tmpl = list != nullptr ? FindByName(*list, tmpl_name) : nullptr;
    if (tmpl == nullptr) {
      return NotFound("template \"" + tmpl_name + "\" not found in " + key);
    }
    Json& stored = st_.wf["status"]["storedTemplates"];
    std::string stored_key = key + "/" + tmpl_name;
    if (!stored.is_object() || !stored.contains(stored_key)) {
      stored[stored_key] = *tmpl;
      st_.wf_dirty = true;
    }
    return std::make_pair(*tmpl, next);
  }
  std::string name = StringField(holder, "template");
  if (name.empty()) return InvalidArgument("template name is empty");
  const Json* templates = nullptr;
  if (ctx.kind == "local") {
    templates = FindField(st_.spec, "templates");
  } else {
    auto src = st_.template_sources.find(ctx.Scope());
    if (src == st_.template_sources.end()) {
      auto r = st_.env.GetWorkflowTemplate(st_.ns, ctx.name, ctx.kind == "cluster");
      if (!r.ok()) return NotFound(ctx.Scope() + " not found");
      src = st_.template_sources.emplace(ctx.Scope(), r->value("spec", Json::object())).first;
    }
    templates = FindField(src->second, "templates");
  }
  const Json* tmpl = templates != nullptr ? FindByName(*templates, name) : nullptr;
  if (tmpl == nullptr) return NotFound("template \"" + name + "\" not found");
  return std::make_pair(*tmpl, ctx);
}

// ---------------------------------------------------------------------------------------------
// Arguments and substitution

Result<Json> Executor::Operation::SubstituteParams(Json tmpl, const Vars& local) {
  SKIFF_RETURN_IF_ERROR(ReplaceTagsInPlace(tmpl, VarScope{&local, &globals_}, true));
  Vars io;
  static const Json kNone = Json::object();
  const Json* inputs = FindField(tmpl, "inputs");
  if (inputs == nullptr) inputs = &kNone;
  const Json* in_params = FindField(*inputs, "parameters");
  if (in_params != nullptr && in_params->is_array()) {
    for (const auto& p : *in_params) {
      if (p.contains("value") && !p["value"].is_null()) {
        io.Set("inputs.parameters." + StringField(p, "name"), ScalarToString(p["value"]));
      } else if (!p.contains("valueFrom")) {
        return Internal("inputs.parameters." + StringField(p, "name") + " had no value");
      }
    }
    io.Set("inputs.parameters", DumpJson(*in_params));
  } else {
    io.Set("inputs.parameters", "[]");
  }
  if (const Json* arts = FindField(*inputs, "artifacts"); arts != nullptr && arts->is_array()) {
    for (const auto& a : *arts) {
      std::string path = StringField(a, "path");
      if (!path.empty()) io.Set("inputs.artifacts." + StringField(a, "name") + ".path", path);
    }
  }
  const Json* outputs = FindField(tmpl, "outputs");
  if (outputs == nullptr) outputs = &kNone;
  if (const Json* arts = FindField(*outputs, "artifacts"); arts != nullptr && arts->is_array()) {
    for (const auto& a : *arts) {
      std::string path = StringField(a, "path");
      if (!path.empty()) io.Set("outputs.artifacts." + StringField(a, "name") + ".path", path);
    }
  }
  if (const Json* out_params = FindField(*outputs, "parameters");
      out_params != nullptr && out_params->is_array()) {
    for (const auto& p : *out_params) {
      const Json* vf = FindField(p, "valueFrom");
      if (vf != nullptr) {
        std::string path = StringField(*vf, "path");
        if (!path.empty()) io.Set("outputs.parameters." + StringField(p, "name") + ".path", path);
      }
    }
  }
  // Local variables stay available for expressions that mix them with inputs (searched first,
  // as a merge into `io` would let them win, without copying them).
  SKIFF_RETURN_IF_ERROR(ReplaceTagsInPlace(tmpl, VarScope{&local, &io}, true));
  return tmpl;
}

Result<Json> Executor::Operation::ProcessArgs(Json out, const Json& args, const Vars& local,
                                              bool validate_only) {
  static const Json kNoParams = Json::array();
  const Json* arg_params_field = FindField(args, "parameters");
  const Json& arg_params =
      arg_params_field != nullptr && arg_params_field->is_array() ? *arg_params_field : kNoParams;
  if (out.contains("inputs") && out["inputs"].contains("parameters")) {
    for (auto& p : out["inputs"]["parameters"]) {
      std::string name = StringField(p, "name");
      Json value;
      if (p.contains("value") && !p["value"].is_null()) {
        value = p["value"];
      } else if (p.contains("default") && !p["default"].is_null()) {
        value = p["default"];
      }
      if (const Json* ap = FindByName(arg_params, name)) {
        if (ap->contains("value") && !(*ap)["value"].is_null()) {
          value = (*ap)["value"];
        } else if (ap->contains("valueFrom")) {
          p["valueFrom"] = (*ap)["valueFrom"];
        }
      }
      const Json* vf = FindField(p, "valueFrom");
      const Json* cm = vf != nullptr ? FindField(*vf, "configMapKeyRef") : nullptr;
      if (cm != nullptr) {
        SKIFF_ASSIGN_OR_RETURN(std::string cm_name,
                               ReplaceTags(StringField(*cm, "name"), globals_, false));
        SKIFF_ASSIGN_OR_RETURN(std::string cm_key,
                               ReplaceTags(StringField(*cm, "key"), globals_, false));
        auto v = st_.env.GetConfigMapKey(st_.ns, cm_name, cm_key);
        if (v.ok()) {
          value = *v;
        } else if (vf->contains("default")) {
          value = (*vf)["default"];
        } else {
          return InvalidArgument("unable to retrieve inputs.parameters." + name +
                                 " from ConfigMap: " + v.status().message());
        }
      } else if (value.is_null()) {
        if (validate_only) continue;
        return InvalidArgument("inputs.parameters." + name + " was not supplied");
      }
      std::string sval = ScalarToString(value);
      if (const Json* en = FindField(p, "enum"); en != nullptr && en->is_array() && !en->empty()) {
        bool ok = false;
        for (const auto& e : *en) ok = ok || ScalarToString(e) == sval;
        if (!ok) {
          return InvalidArgument("inputs.parameters." + name + ": value \"" + sval +
                                 "\" is not in enum " + DumpJson(*en));
        }
      }
      p["value"] = sval;
    }
  }
  if (out.contains("inputs") && out["inputs"].contains("artifacts")) {
    const Json* arg_arts = FindField(args, "artifacts");
    for (auto& a : out["inputs"]["artifacts"]) {
      std::string name = StringField(a, "name");
      const Json* given = arg_arts != nullptr ? FindByName(*arg_arts, name) : nullptr;
      bool has_location = a.contains("s3") || a.contains("raw") || a.contains("http") ||
                          a.contains("git") || a.contains("gcs") || a.contains("artifactory") ||
                          a.contains("oss") || a.contains("hdfs") || a.contains("azure");
      bool optional = a.value("optional", false);
      if (!optional && !has_location && given == nullptr && !validate_only) {
        return InvalidArgument("inputs.artifacts." + name + " was not supplied");
      }
      if (given != nullptr) {
        Json merged = *given;
        if (a.contains("path")) merged["path"] = a["path"];
        if (a.contains("mode")) merged["mode"] = a["mode"];
        if (a.contains("optional") && !merged.contains("optional")) merged["optional"] = a["optional"];
        merged["name"] = name;
        a = merged;
      }
    }
  }
  return SubstituteParams(std::move(out), local);
}

// ---------------------------------------------------------------------------------------------
// Parallelism

ExecError Executor::Operation::CheckParallelism(const Json& tmpl, NodeStatus* node,
                                                const std::string& boundary_id) {
  if (node == nullptr && actions_.create_pods.size() >= kMaxNewPodsPerPass && IsPodTemplate(tmpl)) {
    actions_.more = true;
    return ExecError::kParallelismReached;
  }
  if (const Json* p = FindField(st_.spec, "parallelism"); p != nullptr && p->is_number()) {
    bool needs_new_pod = node == nullptr && IsPodTemplate(tmpl);
    if (needs_new_pod && active_pods_ >= p->get<int64_t>()) return ExecError::kParallelismReached;
  }
  std::string type = TemplateType(tmpl);
  if (node != nullptr && (type == "dag" || type == "steps")) {
    if (tmpl.value("failFast", false) && unsuccessful_children_[node->id] > 0) {
      MarkPhase(node->name, NodePhase::kFailed,
                "template has failed or errored children and failFast enabled");
      return ExecError::kParallelismReached;
    }
  }
  if (!boundary_id.empty() &&
      (node == nullptr ||
       (node->phase != NodePhase::kPending && node->phase != NodePhase::kRunning))) {
    auto bt = boundary_templates_.find(boundary_id);
    if (bt != boundary_templates_.end()) {
      const Json& btmpl = *bt->second;
      if (btmpl.value("failFast", false) && unsuccessful_children_[boundary_id] > 0) {
        if (NodeStatus* b = NodeByIdMutable(boundary_id)) {
          MarkPhase(b->name, NodePhase::kFailed,
                    "template has failed or errored children and failFast enabled");
        }
        return ExecError::kParallelismReached;
      }
      if (const Json* par = FindField(btmpl, "parallelism"); par != nullptr && !par->is_null()) {
        int64_t limit = par->is_number() ? par->get<int64_t>()
                                         : std::atoll(ScalarToString(*par).c_str());
        if (node == nullptr && active_children_[boundary_id] >= limit) {
          return ExecError::kParallelismReached;
        }
      }
    }
  }
  return ExecError::kNone;
}

// ---------------------------------------------------------------------------------------------
// ExecuteTemplate

NodeStatus* Executor::Operation::ExecuteTemplate(std::string node_name, const Json& holder,
                                                 const TmplCtx& ctx, const Json& args,
                                                 ExecOpts opts, ExecError* err) {
  *err = ExecError::kNone;
  NodeStatus* node = NodeByName(node_name);
  if (node != nullptr && Fulfilled(*node)) {
    MaybeSaveMemo(*node);
    if (node->outputs.is_object()) AddOutputsToGlobal(node->outputs);
    return node;
  }
  // A Pod that is already waiting or running only changes through its kubelet's reports.
  if (node != nullptr && node->type == NodeType::kPod) return node;
  std::string scope = ctx.Scope();

  auto error_node = [&](const std::string& message) -> NodeStatus* {
    *err = ExecError::kError;
    if (node == nullptr) {
      NodeStatus& n = InitNode(node_name, NodeType::kSkipped, scope, holder, opts.boundary_id,
                               NodePhase::kError, message);
      n.hooked = opts.hooked;
      return &n;
    }
    return MarkError(node_name, message);
  };

  // A Steps or DAG node that already exists reuses the template processed when it was created.
  if (node != nullptr && (node->type == NodeType::kSteps || node->type == NodeType::kDAG)) {
    auto cached = st_.processed.find(node->id);
    if (cached != st_.processed.end()) {
      std::shared_ptr<const State::Processed> p = cached->second;
      ExecError perr = CheckParallelism(p->tmpl, node, opts.boundary_id);
      if (perr != ExecError::kNone) {
        *err = perr;
        return node;
      }
      NodeStatus* r = node->type == NodeType::kSteps ? ExecuteSteps(node_name, p->ctx, p->tmpl, holder, opts)
                                                     : ExecuteDAG(node_name, p->ctx, p->tmpl, holder, opts);
      if (r != nullptr && r->Fulfilled()) {
        MaybeSaveMemo(*r);
        AddOutputsToGlobal(r->outputs);
      }
      return r;
    }
  }

  auto resolved = ResolveHolder(holder, ctx);
  if (!resolved.ok()) return error_node(resolved.status().message());
  Json tmpl = std::move(resolved->first);
  TmplCtx new_ctx = resolved->second;

  // templateDefaults are the base that the template overrides.
  if (const Json* defaults = FindField(st_.spec, "templateDefaults");
      defaults != nullptr && defaults->is_object()) {
    Json merged = *defaults;
    merged.merge_patch(tmpl);
    tmpl = std::move(merged);
  }

  const Json* retry_strategy = FindField(tmpl, "retryStrategy");
  if (retry_strategy != nullptr && retry_strategy->is_null()) retry_strategy = nullptr;
  if (retry_strategy == nullptr) {
    if (const Json* r = FindField(st_.spec, "retryStrategy"); r != nullptr && IsPodTemplate(tmpl)) {
      retry_strategy = r;
    }
  }
  Json strategy = retry_strategy != nullptr ? *retry_strategy : Json();

  Vars local;
  local.Set("node.name", node_name);
  {
    // The step's or task's own name ("steps.name" / "tasks.name").
    std::string own = node_name.substr(node_name.rfind('.') == std::string::npos ? 0 : node_name.rfind('.') + 1);
    local.Set("steps.name", own);
    local.Set("tasks.name", own);
  }
  if (IsPodTemplate(tmpl) && strategy.is_null()) {
    local.Set("pod.name", PodName(st_.name, node_name, StringField(tmpl, "name")));
  }
  auto processed = ProcessArgs(std::move(tmpl), args, local, false);
  if (!processed.ok()) return error_node(processed.status().message());
  Json ptmpl = std::move(*processed);

  // Memoization: consulted only when the node is about to be created.
  Json memo_miss;
  if (const Json* memo = FindField(ptmpl, "memoize"); memo != nullptr && node == nullptr) {
    std::string key = StringField(*memo, "key");
    const Json* cache_field = FindField(*memo, "cache");
    const Json* config_map = cache_field != nullptr ? FindField(*cache_field, "configMap") : nullptr;
    std::string cache = config_map != nullptr ? StringField(*config_map, "name") : std::string();
    std::optional<Json> entry = st_.env.GetCacheEntry(st_.ns, cache, key);
    bool hit = entry.has_value();
    Json outputs;
    if (hit) {
      if (auto o = entry->find("outputs"); o != entry->end()) {
        outputs = std::move(*o);
      } else {
        outputs = Json::object();
      }
      std::string max_age = StringField(*memo, "maxAge");
      if (!max_age.empty()) {
        auto age = ParseGoDuration(max_age);
        auto created = ParseRfc3339(StringField(*entry, "creationTimestamp"));
        if (!age.ok()) return error_node("invalid memoize.maxAge \"" + max_age + "\"");
        if (!created.ok() || now_ - *created > *age) hit = false;
      }
    }
    Json status = {{"hit", hit}, {"key", key}, {"cacheName", cache}};
    if (hit) {
      NodeType type = IsPodTemplate(ptmpl) ? NodeType::kPod
                      : TemplateType(ptmpl) == "steps" ? NodeType::kSteps
                      : TemplateType(ptmpl) == "dag"   ? NodeType::kDAG
                                                       : NodeType::kPod;
      NodeStatus& n = InitNode(node_name, type, scope, holder, opts.boundary_id,
                               NodePhase::kSucceeded);
      n.memoization_status = std::move(status);
      n.outputs = std::move(outputs);
      if (auto in = ptmpl.find("inputs"); in != ptmpl.end()) n.inputs = std::move(*in);
      n.hooked = opts.hooked;
      AddOutputsToGlobal(n.outputs);
      return &n;
    }
    // Miss: recorded on the node so that its result is saved when it succeeds.
    memo_miss = status;
  }

  ExecError perr = CheckParallelism(ptmpl, node, opts.boundary_id);
  if (perr != ExecError::kNone) {
    *err = perr;
    return node;
  }

  // Retries: the node becomes a Retry node whose children are the attempts.
  std::string retry_name;
  if (!strategy.is_null()) {
    retry_name = node_name;
    NodeStatus* retry = node;
    if (retry == nullptr) {
      NodeStatus& n = InitNode(retry_name, NodeType::kRetry, scope, holder, opts.boundary_id,
                               NodePhase::kRunning);
      n.hooked = opts.hooked;
      n.inputs = ptmpl.value("inputs", Json());
      retry = &n;
    }
    std::string retry_error;
    bool proceed = ProcessRetries(*retry, strategy, opts, &retry_error);
    retry = NodeByName(retry_name);
    if (!retry_error.empty()) return error_node(retry_error);
    if (retry->Fulfilled()) return retry;
    if (!proceed) return retry;
    NodeStatus* last = retry->children.empty() ? nullptr : NodeByIdMutable(retry->children.back());
    if (last != nullptr && !Fulfilled(*last)) {
      node_name = last->name;
      node = last;
    } else {
      int attempt = static_cast<int>(retry->children.size());
      node_name = retry_name + "(" + std::to_string(attempt) + ")";
      node = nullptr;
      Vars rlocal;
      if (IsPodTemplate(ptmpl)) {
        rlocal.Set("pod.name", PodName(st_.name, node_name, StringField(ptmpl, "name")));
      }
      rlocal.Set("retries", std::to_string(attempt));
      auto sub = SubstituteParams(ptmpl, rlocal);
      if (!sub.ok()) return error_node(sub.status().message());
      ptmpl = std::move(*sub);
    }
    opts.retried = true;
  }

  std::string type = TemplateType(ptmpl);
  NodeStatus* result = nullptr;
  if (type == "container" || type == "script" || type == "containerSet") {
    result = ExecutePod(node_name, scope, ptmpl, holder, opts);
  } else if (type == "steps" || type == "dag") {
    auto p = std::make_shared<const State::Processed>(State::Processed{std::move(ptmpl), new_ctx});
    result = type == "steps" ? ExecuteSteps(node_name, new_ctx, p->tmpl, holder, opts)
                             : ExecuteDAG(node_name, new_ctx, p->tmpl, holder, opts);
    if (result != nullptr && retry_name.empty()) st_.processed[result->id] = std::move(p);
  } else if (type == "suspend") {
    result = ExecuteSuspend(node_name, scope, ptmpl, holder, opts);
  } else if (type.empty()) {
    return error_node("template '" + StringField(ptmpl, "name") + "' missing specification");
  } else {
    return error_node("template type '" + type + "' is not supported by the local engine");
  }
  if (result == nullptr) return node;
  if (!retry_name.empty()) {
    AddChild(retry_name, result->name);
    NodeStatus* retry = NodeByName(retry_name);
    if (retry != nullptr && !retry->Fulfilled() && Fulfilled(*result)) {
      std::string retry_error;
      ProcessRetries(*retry, strategy, opts, &retry_error);
      retry = NodeByName(retry_name);
      if (!retry->Fulfilled()) {
        // Start the next attempt in this same pass (after its backoff).
        return ExecuteTemplate(retry_name, holder, ctx, args, opts, err);
      }
    }
    result = NodeByName(retry_name);
  }
  if (!memo_miss.is_null() && result->memoization_status.is_null()) {
    result->memoization_status = memo_miss;
    Touch(*result);
  }
  MaybeSaveMemo(*result);
  if (result->Fulfilled()) AddOutputsToGlobal(result->outputs);
  return result;
}

void Executor::Operation::MaybeSaveMemo(NodeStatus& n) {
  if (n.memo_saved || n.phase != NodePhase::kSucceeded || !n.memoization_status.is_object() ||
      n.memoization_status.value("hit", false)) {
    return;
  }
  n.memo_saved = true;
  Json entry = {{"nodeID", n.id},
                {"workflow", st_.name},  // where the node's Pod is (lineage links cache hits to it)
                {"pod", n.pod_name},
                {"outputs", n.outputs.is_null() ? Json::object() : n.outputs},
                {"creationTimestamp", FormatRfc3339(now_)},
                {"lastHitTimestamp", FormatRfc3339(now_)}};
  actions_.cache_writes.push_back({st_.ns, StringField(n.memoization_status, "cacheName"),
                                   StringField(n.memoization_status, "key"), std::move(entry)});
}

// ---------------------------------------------------------------------------------------------
// Retries

bool Executor::Operation::ProcessRetries(NodeStatus& retry, const Json& strategy,
                                         const ExecOpts& /*opts*/, std::string* error) {
  if (retry.Fulfilled()) return true;
  if (retry.children.empty()) return true;
  NodeStatus* last = NodeByIdMutable(retry.children.back());
  if (last == nullptr || !Fulfilled(*last)) return true;
  std::string retry_name = retry.name;
  if (last->phase == NodePhase::kSucceeded || last->phase == NodePhase::kSkipped ||
      last->daemoned) {
    NodeStatus* r = MarkPhase(retry_name, last->daemoned ? NodePhase::kRunning : NodePhase::kSucceeded);
    r->outputs = last->outputs;
    if (last->daemoned) r->daemoned = true;
    Touch(*r);
    return true;
  }
  // The attempt failed or errored: should we go again?
  std::string policy = StringField(strategy, "retryPolicy", "OnFailure");
  bool policy_allows = true;
  if (policy == "OnFailure") {
    policy_allows = last->phase == NodePhase::kFailed;
  } else if (policy == "OnError") {
    policy_allows = last->phase == NodePhase::kError;
  } else if (policy == "OnTransientError") {
    policy_allows = last->phase == NodePhase::kError;
  }
  std::string expression = StringField(strategy, "expression");
  if (policy_allows && !expression.empty()) {
    Json last_retry = {
        {"exitCode", last->outputs.is_object() ? StringField(last->outputs, "exitCode", "-1") : "-1"},
        {"status", std::string(PhaseName(last->phase))},
        {"duration", std::to_string(static_cast<int64_t>(
                         std::chrono::duration<double>(last->finished_at - last->started_at).count()))},
        {"message", last->message}};
    Json env = globals_.ExprEnv();
    env["lastRetry"] = last_retry;
    auto r = expr::Evaluate(expression, env);
    if (!r.ok()) {
      *error = "retryStrategy.expression: " + r.status().message();
      return false;
    }
    policy_allows = r->is_boolean() && r->get<bool>();
  }
  int64_t limit = -1;  // unlimited
  if (const Json* l = FindField(strategy, "limit"); l != nullptr && !l->is_null()) {
    auto s = ReplaceTags(ScalarToString(*l), globals_, true);
    limit = std::atoll(s.ok() ? s->c_str() : "0");
  }
  int attempts = static_cast<int>(retry.children.size());
  if (!policy_allows) {
    MarkPhase(retry_name, last->phase, last->message);
    NodeStatus* r = NodeByName(retry_name);
    r->outputs = last->outputs;
    return true;
  }
  if (limit >= 0 && attempts > limit) {
    MarkPhase(retry_name, last->phase, "No more retries left");
    NodeStatus* r = NodeByName(retry_name);
    r->outputs = last->outputs;
    return true;
  }
  // Backoff.
  if (const Json* backoff = FindField(strategy, "backoff"); backoff != nullptr && backoff->is_object()) {
    auto base = ParseGoDuration(ScalarToString(backoff->value("duration", Json("0"))));
    if (!base.ok()) {
      *error = "retryStrategy.backoff.duration: " + base.status().message();
      return false;
    }
    double factor = 1;
    if (const Json* f = FindField(*backoff, "factor"); f != nullptr && !f->is_null()) {
      factor = f->is_number() ? f->get<double>() : std::atof(ScalarToString(*f).c_str());
    }
    double wait_ns = static_cast<double>(base->count()) * std::pow(factor, attempts - 1);
    if (const Json* cap = FindField(*backoff, "cap"); cap != nullptr && !cap->is_null()) {
      auto c = ParseGoDuration(ScalarToString(*cap));
      if (c.ok()) wait_ns = std::min(wait_ns, static_cast<double>(c->count()));
    }
    if (const Json* md = FindField(*backoff, "maxDuration"); md != nullptr && !md->is_null()) {
      auto m = ParseGoDuration(ScalarToString(*md));
      NodeStatus* first = NodeByIdMutable(retry.children.front());
      if (m.ok() && first != nullptr &&
          now_ + Duration(static_cast<int64_t>(wait_ns)) - first->started_at > *m) {
        MarkPhase(retry_name, last->phase, "Max duration limit exceeded");
        return true;
      }
    }
    TimePoint resume = last->finished_at + std::chrono::duration_cast<TimePoint::duration>(
                                               Duration(static_cast<int64_t>(wait_ns)));
    if (now_ < resume) {
      NodeStatus* r = NodeByName(retry_name);
      std::string msg = "Backoff for " + FormatGoDuration(Duration(static_cast<int64_t>(wait_ns)));
      if (r->message != msg) {
        r->message = msg;
        Touch(*r);
      }
      RequeueAt(resume);
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pods

namespace {

Json MainContainer(const Json& tmpl) {
  std::string type = TemplateType(tmpl);
  Json c;
  if (type == "container") {
    c = tmpl["container"];
  } else if (type == "script") {
    c = tmpl["script"];
    c.erase("source");
    Json args = c.value("args", Json::array());
    args.push_back("/argo/staging/script");
    c["args"] = args;
    if (!c.contains("command")) c["command"] = Json::array({"sh"});
  }
  if (!c.contains("name") || StringField(c, "name").empty()) c["name"] = "main";
  return c;
}

}  // namespace

NodeStatus* Executor::Operation::ExecutePod(const std::string& node_name, const std::string& scope,
                                            const Json& tmpl, const Json& holder,
                                            const ExecOpts& opts) {
  NodeStatus* node = NodeByName(node_name);
  if (node != nullptr) {
    // Template-level timeout for a running Pod: kill it.
    return node;
  }
  NodeStatus& n = InitNode(node_name, NodeType::kPod, scope, holder, opts.boundary_id,
                           NodePhase::kPending);
  n.hooked = opts.hooked;
  n.retried = opts.retried;
  n.inputs = tmpl.value("inputs", Json());
  if (n.inputs.is_object() && n.inputs.empty()) n.inputs = Json();
  std::string tmpl_name = StringField(tmpl, "name");
  n.pod_name = PodName(st_.name, node_name, tmpl_name);

  Json pod = Json::object();
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  Json meta = Json::object();
  meta["name"] = n.pod_name;
  meta["namespace"] = st_.ns;
  Json labels = {{"workflows.argoproj.io/workflow", st_.name},
                 {"workflows.argoproj.io/completed", "false"}};
  Json annotations = {{"workflows.argoproj.io/node-id", n.id},
                      {"workflows.argoproj.io/node-name", node_name}};
  for (const Json* md : {FindField(st_.spec, "podMetadata"), FindField(tmpl, "metadata")}) {
    if (md == nullptr) continue;
    if (const Json* l = FindField(*md, "labels"); l != nullptr && l->is_object()) labels.update(*l);
    if (const Json* a = FindField(*md, "annotations"); a != nullptr && a->is_object()) annotations.update(*a);
  }
  if (tmpl.value("daemon", false)) labels["workflows.argoproj.io/daemon"] = "true";
  if (opts.rank > 0) annotations["skiff.dev/rank"] = std::to_string(opts.rank);
  Json exec_tmpl = tmpl;
  bool include_result = TemplateType(tmpl) == "script" || st_.include_results_for_containers;
  exec_tmpl["skiff.dev/includeResult"] = include_result;
  annotations["workflows.argoproj.io/template"] = DumpJson(exec_tmpl);
  meta["labels"] = labels;
  meta["annotations"] = annotations;
  meta["ownerReferences"] = Json::array({{{"apiVersion", "argoproj.io/v1alpha1"},
                                          {"kind", "Workflow"},
                                          {"name", st_.name},
                                          {"uid", st_.uid},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}});
  pod["metadata"] = meta;

  Json spec = Json::object();
  spec["restartPolicy"] = "Never";
  Json containers = Json::array();
  if (TemplateType(tmpl) == "containerSet") {
    for (const auto& c : tmpl["containerSet"].value("containers", Json::array())) containers.push_back(c);
  } else {
    containers.push_back(MainContainer(tmpl));
  }
  if (const Json* sidecars = FindField(tmpl, "sidecars"); sidecars != nullptr && sidecars->is_array()) {
    for (auto sc : *sidecars) {
      if (sc.value("mirrorVolumeMounts", false)) {
        sc["volumeMounts"] = containers[0].value("volumeMounts", Json::array());
      }
      sc.erase("mirrorVolumeMounts");
      containers.push_back(sc);
    }
  }
  spec["containers"] = containers;
  if (const Json* init = FindField(tmpl, "initContainers"); init != nullptr && init->is_array()) {
    Json inits = Json::array();
    for (auto ic : *init) {
      ic.erase("mirrorVolumeMounts");
      inits.push_back(ic);
    }
    spec["initContainers"] = inits;
  }
  Json volumes = Json::array();
  if (const Json* v = FindField(st_.spec, "volumes"); v != nullptr && v->is_array()) {
    for (const auto& e : *v) volumes.push_back(e);
  }
  if (const Json* vcts = FindField(st_.spec, "volumeClaimTemplates"); vcts != nullptr && vcts->is_array()) {
    for (const auto& vct : *vcts) {
      std::string vname = StringField(vct.value("metadata", Json::object()), "name");
      volumes.push_back({{"name", vname},
                         {"persistentVolumeClaim", {{"claimName", st_.name + "-" + vname}}}});
    }
  }
  if (const Json* v = FindField(tmpl, "volumes"); v != nullptr && v->is_array()) {
    for (const auto& e : *v) volumes.push_back(e);
  }
  if (!volumes.empty()) spec["volumes"] = volumes;
  // Deadlines: the template's activeDeadlineSeconds or timeout, capped by the workflow's.
  int64_t deadline = 0;
  if (const Json* ads = FindField(tmpl, "activeDeadlineSeconds"); ads != nullptr && !ads->is_null()) {
    deadline = ads->is_number() ? ads->get<int64_t>() : std::atoll(ScalarToString(*ads).c_str());
  }
  if (const Json* to = FindField(tmpl, "timeout"); to != nullptr && !to->is_null()) {
    auto d = ParseGoDuration(ScalarToString(*to));
    if (d.ok()) {
      int64_t secs = std::max<int64_t>(1, std::chrono::duration_cast<Seconds>(*d).count());
      deadline = deadline == 0 ? secs : std::min(deadline, secs);
    }
  }
  if (deadline > 0) spec["activeDeadlineSeconds"] = deadline;
  for (const char* k : {"nodeSelector", "affinity", "tolerations", "serviceAccountName",
                        "securityContext", "priorityClassName", "hostAliases", "dnsConfig"}) {
    if (const Json* v = FindField(tmpl, k)) spec[k] = *v;
  }
  pod["spec"] = spec;
  actions_.create_pods.push_back(std::move(pod));
  return &n;
}

// ---------------------------------------------------------------------------------------------
// Suspend

NodeStatus* Executor::Operation::ExecuteSuspend(const std::string& node_name,
                                                const std::string& scope, const Json& tmpl,
                                                const Json& holder, const ExecOpts& opts) {
  NodeStatus* node = NodeByName(node_name);
  if (node == nullptr) {
    NodeStatus& n = InitNode(node_name, NodeType::kSuspend, scope, holder, opts.boundary_id,
                             NodePhase::kRunning);
    n.hooked = opts.hooked;
    n.inputs = tmpl.value("inputs", Json());
    // Outputs that will be supplied at resume time.
    if (const Json* outs = FindField(tmpl, "outputs")) {
      Json params = ParamList(*outs);
      if (!params.empty()) n.outputs = {{"parameters", params}};
    }
    node = &n;
  }
  std::string duration = StringField(tmpl["suspend"], "duration");
  if (!duration.empty()) {
    auto d = ParseGoDuration(duration);
    if (d.ok()) {
      TimePoint until = node->started_at + std::chrono::duration_cast<TimePoint::duration>(*d);
      if (now_ >= until) {
        // Resumed by time: supplied outputs fall back to their defaults.
        if (node->outputs.is_object() && node->outputs.contains("parameters")) {
          for (auto& p : node->outputs["parameters"]) {
            const Json* vf = FindField(p, "valueFrom");
            if (!p.contains("value") && vf != nullptr && vf->contains("default")) {
              p["value"] = ScalarToString((*vf)["default"]);
            }
          }
        }
        return MarkPhase(node_name, NodePhase::kSucceeded);
      }
      RequeueAt(until);
    }
  }
  return node;
}

}  // namespace skiff::dag
