// Steps and DAG templates, loops, scopes, outputs and exit hooks (Argo's steps.go, dag.go and
// the scope helpers of operator.go).
#include <algorithm>
#include <set>

#include "engine/dag/operation.h"
#include "engine/expr/expr.h"

namespace skiff::dag {
namespace {

bool ContinuesOn(const Json& step, NodePhase phase) {
  const Json* c = FindField(step, "continueOn");
  if (c == nullptr || !c->is_object()) return false;
  if (phase == NodePhase::kFailed) return c->value("failed", false);
  if (phase == NodePhase::kError) return c->value("error", false);
  return false;
}

bool ShouldExpand(const Json& step) {
  const Json* items = FindField(step, "withItems");
  if (items != nullptr && !items->is_null()) return true;
  const Json* param = FindField(step, "withParam");
  if (param != nullptr && !param->is_null() && !ScalarToString(*param).empty()) return true;
  const Json* seq = FindField(step, "withSequence");
  return seq != nullptr && !seq->is_null();
}

// Whether LoopItemsOf finds a loop field (withItems, withParam or withSequence, not null).
bool HasLoopFields(const Json& step) {
  for (const char* field : {"withItems", "withParam", "withSequence"}) {
    if (const Json* v = FindField(step, field); v != nullptr && !v->is_null()) return true;
  }
  return false;
}

// The exit hook of a step or task: `hooks.exit`, else the older `onExit: <template>`.
Json ExitHookOf(const Json& step) {
  if (const Json* hooks = FindField(step, "hooks"); hooks != nullptr && hooks->contains("exit")) {
    return (*hooks)["exit"];
  }
  std::string on_exit = StringField(step, "onExit");
  if (!on_exit.empty()) return Json{{"template", on_exit}};
  return Json();
}

// Index embedded in a loop node name "x(12:foo)".
int LoopIndex(const std::string& name) {
  size_t open = name.rfind('(');
  while (open != std::string::npos) {
    size_t colon = name.find(':', open);
    if (colon != std::string::npos) {
      bool digits = colon > open + 1;
      for (size_t i = open + 1; i < colon; ++i) digits = digits && std::isdigit(static_cast<unsigned char>(name[i]));
      if (digits) return std::atoi(name.c_str() + open + 1);
    }
    if (open == 0) break;
    open = name.rfind('(', open - 1);
  }
  return 0;
}

std::string ItemDescription(const Json& item) {
  if (item.is_object()) {
    std::vector<std::string> vals;
    for (auto it = item.begin(); it != item.end(); ++it) {
      vals.push_back(it.key() + ":" + GoFormatV(it.value()));
    }
    std::sort(vals.begin(), vals.end());
    std::string out;
    for (size_t i = 0; i < vals.size(); ++i) out += (i ? "," : "") + vals[i];
    return out;
  }
  return GoFormatV(item);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Scopes

VarScope Scope::Params(const Vars* globals) const {
  std::vector<const Vars*> chain;
  chain.reserve(layers.size() + 2);
  chain.push_back(&params);
  for (const auto& l : layers) chain.push_back(&l->params);
  if (globals != nullptr) chain.push_back(globals);
  return VarScope(std::move(chain));
}

const Json* Scope::FindParam(std::string_view key) const {
  if (const Json* v = params.Find(key)) return v;
  for (const auto& l : layers) {
    if (const Json* v = l->params.Find(key)) return v;
  }
  return nullptr;
}

const Json* Scope::FindArtifact(const std::string& key) const {
  auto it = artifacts.find(key);
  if (it != artifacts.end()) return &it->second;
  for (const auto& l : layers) {
    auto lit = l->artifacts.find(key);
    if (lit != l->artifacts.end()) return &lit->second;
  }
  return nullptr;
}

Vars Scope::Flatten() const {
  Vars out;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    out.Merge((*it)->params);
    for (const auto& [k, v] : (*it)->artifacts) out.SetJson(k, v);
  }
  out.Merge(params);
  for (const auto& [k, v] : artifacts) out.SetJson(k, v);
  return out;
}

void Executor::Operation::AddOutputsToScope(Scope& scope, const std::string& prefix,
                                            const Json& outputs) {
  if (!outputs.is_object()) return;
  if (prefix != "workflow") {
    if (const Json* r = FindField(outputs, "result"); r != nullptr && r->is_string()) {
      scope.params.Set(prefix + ".outputs.result", r->get<std::string>());
    }
    if (const Json* e = FindField(outputs, "exitCode"); e != nullptr && !e->is_null()) {
      scope.params.Set(prefix + ".exitCode", ScalarToString(*e));
    }
  }
  for (const auto& p : ParamList(outputs)) {
    if (p.contains("value") && !p["value"].is_null()) {
      scope.params.Set(prefix + ".outputs.parameters." + StringField(p, "name"),
                       ScalarToString(p["value"]));
    } else if (p.contains("value")) {
      // Declared but never produced (a skipped step without a default): nil for expressions.
      scope.params.SetJson(prefix + ".outputs.parameters." + StringField(p, "name"), Json());
    }
  }
  if (const Json* arts = FindField(outputs, "artifacts"); arts != nullptr && arts->is_array()) {
    for (const auto& a : *arts) {
      scope.artifacts[prefix + ".outputs.artifacts." + StringField(a, "name")] = a;
    }
  }
}

void Executor::Operation::AddNodeToScope(Scope& scope, const std::string& prefix,
                                         const NodeStatus& in) {
  const NodeStatus* node = &in;
  if (node->type == NodeType::kRetry && !node->children.empty()) {
    if (NodeStatus* last = NodeByIdMutable(node->children.back())) node = last;
  }
  scope.params.Set(prefix + ".id", node->id);
  if (node->started_at != TimePoint{}) scope.params.Set(prefix + ".startedAt", FormatRfc3339(node->started_at));
  if (node->finished_at != TimePoint{}) scope.params.Set(prefix + ".finishedAt", FormatRfc3339(node->finished_at));
  scope.params.Set(prefix + ".status", std::string(PhaseName(in.phase)));
  if (!node->host_node_name.empty()) scope.params.Set(prefix + ".hostNodeName", node->host_node_name);
  if (node->type == NodeType::kPod) scope.params.Set(prefix + ".ip", "127.0.0.1");
  AddOutputsToScope(scope, prefix, node->outputs);
}

void Executor::Operation::AddAggregateOutputs(Scope& scope, const std::string& prefix,
                                              std::vector<const NodeStatus*> children) {
  std::vector<const NodeStatus*> kept;
  for (const NodeStatus* c : children) {
    if (!c->hooked) kept.push_back(c);
  }
  std::stable_sort(kept.begin(), kept.end(), [](const NodeStatus* a, const NodeStatus* b) {
    return LoopIndex(a->name) < LoopIndex(b->name);
  });
  Json param_list = Json::array();
  std::map<std::string, Json> values_by_name;
  std::vector<std::string> name_order;
  Json results = Json::array();
  for (const NodeStatus* c : kept) {
    const NodeStatus* n = c;
    if (n->type == NodeType::kRetry && !n->children.empty()) {
      if (NodeStatus* last = NodeByIdMutable(n->children.back())) n = last;
    }
    if (!n->outputs.is_object() || c->phase != NodePhase::kSucceeded) continue;
    Json params = ParamList(n->outputs);
    if (!params.empty()) {
      Json m = Json::object();
      for (const auto& p : params) {
        std::string pname = StringField(p, "name");
        std::string v = StringField(p, "value");
        m[pname] = v;
        if (!values_by_name.count(pname)) {
          values_by_name[pname] = Json::array();
          name_order.push_back(pname);
        }
        values_by_name[pname].push_back(v);
      }
      param_list.push_back(m);
    }
    if (const Json* r = FindField(n->outputs, "result"); r != nullptr && r->is_string()) {
      auto parsed = ParseJson(r->get<std::string>());
      results.push_back(parsed.ok() ? *parsed : Json(r->get<std::string>()));
    }
  }
  scope.params.Set(prefix + ".outputs.result", expr::MarshalGoJson(results));
  scope.params.Set(prefix + ".outputs.parameters", expr::MarshalGoJson(param_list));
  for (const auto& name : name_order) {
    // Each value is kept as JSON when it parses as JSON, like Argo's aggregatedJsonValueList.
    Json list = Json::array();
    for (const auto& v : values_by_name[name]) {
      auto parsed = ParseJson(v.get<std::string>());
      list.push_back(parsed.ok() && (parsed->is_object() || parsed->is_array()) ? *parsed : v);
    }
    scope.params.Set(prefix + ".outputs.parameters." + name, expr::MarshalGoJson(list));
  }
}

Result<Json> Executor::Operation::ResolveArtifactRef(const Json& art, const Scope& scope) {
  std::string from = StringField(art, "from");
  std::string from_expr = StringField(art, "fromExpression");
  Json resolved;
  if (!from_expr.empty()) {
    Vars env = scope.Flatten();
    auto r = expr::Evaluate(from_expr, env.ExprEnv());
    if (!r.ok()) return InvalidArgument("unable to evaluate fromExpression: " + r.status().message());
    if (!r->is_object()) return NotFound("Unable to resolve: " + from_expr);
    resolved = *r;
  } else {
    std::string key = from;
    if (key.rfind("{{", 0) == 0) key = key.substr(2);
    if (key.size() >= 2 && key.compare(key.size() - 2, 2, "}}") == 0) key.resize(key.size() - 2);
    while (!key.empty() && key.front() == ' ') key.erase(0, 1);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    const Json* found = scope.FindArtifact(key);
    if (found == nullptr) return NotFound("Unable to resolve: {{" + key + "}}");
    resolved = *found;
  }
  std::string sub_path = StringField(art, "subPath");
  if (!sub_path.empty()) resolved["subPath"] = sub_path;
  resolved["name"] = StringField(art, "name");
  resolved.erase("path");
  resolved.erase("globalName");
  return resolved;
}

Result<Json> Executor::Operation::OutputsFromScope(const Json& tmpl, const Scope& scope) {
  const Json* outs = FindField(tmpl, "outputs");
  if (outs == nullptr || !outs->is_object()) return Json();
  Json params = ParamList(*outs);
  const Json* arts = FindField(*outs, "artifacts");
  if (params.empty() && (arts == nullptr || arts->empty())) return Json();
  Json out = Json::object();
  if (!params.empty()) {
    Json list = Json::array();
    for (const auto& p : params) {
      const Json* vf = FindField(p, "valueFrom");
      if (vf == nullptr) return InvalidArgument("output parameters must have a valueFrom specified");
      Json value;
      Status err = OkStatus();
      std::string parameter = StringField(*vf, "parameter");
      std::string expression = StringField(*vf, "expression");
      if (!expression.empty()) {
        auto r = expr::Evaluate(expression, scope.Params(nullptr).ExprEnv());
        if (r.ok()) {
          value = Json(GoFormatV(*r));
        } else {
          err = r.status();
        }
      } else if (!parameter.empty()) {
        std::string key = parameter;
        if (key.rfind("{{", 0) == 0) key = key.substr(2);
        if (key.size() >= 2 && key.compare(key.size() - 2, 2, "}}") == 0) key.resize(key.size() - 2);
        const Json* v = scope.FindParam(key);
        if (v != nullptr) {
          value = *v;
        } else {
          err = InvalidArgument("Unable to resolve: {{" + key + "}}");
        }
      }
      if (value.is_null()) {
        if (vf->contains("default")) {
          value = Json(ScalarToString((*vf)["default"]));
        } else if (!err.ok()) {
          return err;
        } else {
          continue;
        }
      }
      Json op = p;
      op["value"] = ScalarToString(value);
      op.erase("valueFrom");
      list.push_back(op);
    }
    out["parameters"] = list;
  }
  if (arts != nullptr && arts->is_array() && !arts->empty()) {
    Json list = Json::array();
    for (const auto& a : *arts) {
      auto r = ResolveArtifactRef(a, scope);
      if (!r.ok()) {
        if (a.value("optional", false)) continue;
        return InvalidArgument("unable to resolve outputs from scope: " + r.status().message());
      }
      Json ra = *r;
      ra["name"] = StringField(a, "name");
      if (a.contains("globalName")) ra["globalName"] = a["globalName"];
      list.push_back(ra);
    }
    out["artifacts"] = list;
  }
  return out;
}

// The template's own input parameters, for output expressions ("asInt(inputs.parameters.n)").
void Executor::Operation::AddInputsToScope(Scope& scope, const Json& tmpl) {
  const Json* inputs = FindField(tmpl, "inputs");
  if (inputs == nullptr) return;
  for (const auto& p : ParamList(*inputs)) {
    if (p.contains("value") && !p["value"].is_null()) {
      scope.params.Set("inputs.parameters." + StringField(p, "name"), ScalarToString(p["value"]));
    }
  }
}

// A skipped or omitted node still exposes the defaults of its template's output parameters,
// so that consumers of an optional producer see a value.
void Executor::Operation::SkippedOutputs(NodeStatus& node, const Json& holder, const TmplCtx& ctx) {
  auto resolved = ResolveHolder(holder, ctx);
  if (!resolved.ok()) return;
  const Json* outs = FindField(resolved->first, "outputs");
  if (outs == nullptr) return;
  Json list = Json::array();
  for (const auto& p : ParamList(*outs)) {
    const Json* vf = FindField(p, "valueFrom");
    if (vf != nullptr && vf->contains("default")) {
      list.push_back({{"name", StringField(p, "name")}, {"value", ScalarToString((*vf)["default"])}});
    } else {
      list.push_back({{"name", StringField(p, "name")}, {"value", nullptr}});
    }
  }
  if (!list.empty()) {
    node.outputs = {{"parameters", list}};
    Touch(node);
  }
}

// ---------------------------------------------------------------------------------------------
// Loops

Result<LoopItems> Executor::Operation::LoopItemsOf(const Json& step) {
  Json items;
  if (const Json* wi = FindField(step, "withItems"); wi != nullptr && !wi->is_null()) {
    items = *wi;
  } else if (const Json* wp = FindField(step, "withParam"); wp != nullptr && !wp->is_null()) {
    std::string text = wp->is_string() ? wp->get<std::string>() : DumpJson(*wp);
    auto parsed = ParseJson(text);
    if (!parsed.ok() || !parsed->is_array()) {
      std::string t = text;
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
      return InvalidArgument("withParam value could not be parsed as a JSON list: " + t);
    }
    items = *parsed;
  } else if (const Json* seq = FindField(step, "withSequence"); seq != nullptr && !seq->is_null()) {
    auto num = [&](const char* k, int64_t* out) -> Status {
      const Json* v = FindField(*seq, k);
      if (v == nullptr || v->is_null()) return NotFound(k);
      std::string s = ScalarToString(*v);
      char* end = nullptr;
      *out = std::strtoll(s.c_str(), &end, 10);
      if (end == s.c_str() || *end != '\0') {
        return InvalidArgument(std::string("withSequence.") + k + ": \"" + s + "\" is not an integer");
      }
      return OkStatus();
    };
    int64_t count = 0, start = 0, end = 0;
    Status cs = num("count", &count);
    Status ss = num("start", &start);
    if (!ss.ok() && ss.code() != StatusCode::kNotFound) return ss;
    if (cs.ok()) {
      if (count == 0) return LoopItems{Json(), StringField(step, "name"), Json::array()};
      end = start + count - 1;
    } else if (cs.code() != StatusCode::kNotFound) {
      return cs;
    } else {
      Status es = num("end", &end);
      if (!es.ok()) return InvalidArgument("withSequence: either count or end must be set");
    }
    std::string format = StringField(*seq, "format", "%d");
    items = Json::array();
    auto fmt = [&](int64_t i) {
      char buf[128];
      std::string f = format;
      // Go's %d on an int; translate to the C length modifier for int64.
      size_t pos = f.find_first_of("dxXo", f.find('%'));
      if (pos != std::string::npos) f.insert(pos, "ll");
      std::snprintf(buf, sizeof buf, f.c_str(), static_cast<long long>(i));
      return std::string(buf);
    };
    if (start <= end) {
      for (int64_t i = start; i <= end; ++i) items.push_back(fmt(i));
    } else {
      for (int64_t i = start; i >= end; --i) items.push_back(fmt(i));
    }
  } else {
    return LoopItems{step, StringField(step, "name"), Json()};
  }
  if (!items.is_array()) return InvalidArgument("withItems must be a list");
  Json base = step;
  base.erase("withItems");
  base.erase("withParam");
  base.erase("withSequence");
  return LoopItems{std::move(base), StringField(step, "name"), std::move(items)};
}

Result<std::pair<std::string, Json>> Executor::Operation::ExpandItem(const LoopItems& loop,
                                                                    size_t i, const VarScope& vars) {
  if (loop.items.is_null()) return std::pair<std::string, Json>{loop.name, loop.base};
  {
    const Json& item = loop.items[i];
    Vars iv;
    if (item.is_object()) {
      for (auto it = item.begin(); it != item.end(); ++it) {
        iv.Set("item." + it.key(), it.value().is_string() ? it.value().get<std::string>()
                                                           : GoFormatV(it.value()));
      }
      iv.Set("item", expr::MarshalGoJson(item));
    } else if (item.is_array()) {
      iv.Set("item", expr::MarshalGoJson(item));
    } else if (item.is_string() || item.is_number() || item.is_boolean()) {
      iv.Set("item", GoFormatV(item));
    } else {
      return InvalidArgument("withItems[" + std::to_string(i) +
                             "] expected string, number, list, or map. received: " + DumpJson(item));
    }
    auto sub = ReplaceTagsInJson(loop.base, vars.With(&iv), true);
    if (!sub.ok()) return sub.status();
    std::string new_name = loop.name + "(" + std::to_string(i) + ":" + ItemDescription(item) + ")";
    (*sub)["name"] = new_name;
    return std::pair<std::string, Json>{new_name, std::move(*sub)};
  }
}

Result<std::vector<std::pair<std::string, Json>>> Executor::Operation::ExpandItems(
    const Json& step, const VarScope& vars) {
  SKIFF_ASSIGN_OR_RETURN(LoopItems loop, LoopItemsOf(step));
  std::vector<std::pair<std::string, Json>> out;
  size_t n = loop.items.is_null() ? 1 : loop.items.size();
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    SKIFF_ASSIGN_OR_RETURN(auto one, ExpandItem(loop, i, vars));
    out.push_back(std::move(one));
  }
  return out;
}


// Substitutes the scope into a step or task and resolves its artifact arguments.
Result<Json> Executor::Operation::ResolveStepReferences(const Json& step, const Scope& scope) {
  VarScope vars = scope.Params(&globals_);
  // Loop fields are expanded later with `item`; substitute only the parts that need the scope.
  SKIFF_ASSIGN_OR_RETURN(Json out, ReplaceTagsInJson(step, vars, true));
  std::string when = StringField(out, "when");
  bool proceed = true;
  if (!when.empty() && !HasTags(when)) {
    auto r = expr::EvaluateWhen(when);
    if (r.ok()) proceed = *r;
  }
  if (!proceed) return out;
  if (out.contains("arguments") && out["arguments"].contains("artifacts")) {
    for (auto& a : out["arguments"]["artifacts"]) {
      if (StringField(a, "from").empty() && StringField(a, "fromExpression").empty()) continue;
      auto r = ResolveArtifactRef(a, scope);
      if (!r.ok()) {
        if (a.value("optional", false)) continue;
        if (ShouldExpand(out) && StringField(a, "from").find("item") != std::string::npos) continue;
        return InvalidArgument("unable to resolve references: " + r.status().message());
      }
      a = *r;
    }
  }
  // A reference to an output that a skipped or omitted step never produced leaves the argument
  // unset, so that the input's own default applies.
  if (out.contains("arguments") && out["arguments"].contains("parameters")) {
    Json kept = Json::array();
    for (const auto& p : out["arguments"]["parameters"]) {
      std::string v = StringField(p, "value");
      bool drop = false;
      for (const std::string& tag : SimpleTagNames(v)) {
        size_t dot1 = tag.find('.');
        size_t dot2 = dot1 == std::string::npos ? std::string::npos : tag.find('.', dot1 + 1);
        std::string head = tag.substr(0, dot1);
        if ((head == "tasks" || head == "steps") && dot2 != std::string::npos) {
          std::string status_key = tag.substr(0, dot2) + ".status";
          const Json* st = scope.FindParam(status_key);
          if (st != nullptr && (st->get<std::string>() == "Skipped" || st->get<std::string>() == "Omitted")) {
            drop = true;
          }
        }
      }
      if (!drop) kept.push_back(p);
    }
    out["arguments"]["parameters"] = kept;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Exit hooks

bool Executor::Operation::RunOnExitNode(const Json& hook, const NodeStatus& parent,
                                        const std::string& boundary_id, const TmplCtx& ctx,
                                        const std::string& prefix, const Scope* scope, bool* done) {
  *done = true;
  if (hook.is_null()) return false;
  if (st_.terminate_requested) return false;
  std::string exit_name = parent.name + ".onExit";
  Json args = hook.value("arguments", Json::object());
  if (!args.empty() && scope != nullptr) {
    // Arguments may refer to the parent's own outputs ("{{steps.x.outputs...}}").
    Scope s = *scope;
    AddNodeToScope(s, prefix, parent);
    auto r = ReplaceTagsInJson(args, s.Params(&globals_), true);
    if (r.ok()) args = *r;
    if (args.contains("artifacts")) {
      for (auto& a : args["artifacts"]) {
        if (StringField(a, "from").empty() && StringField(a, "fromExpression").empty()) continue;
        auto ra = ResolveArtifactRef(a, s);
        if (ra.ok()) a = *ra;
      }
    }
  }
  Json holder = hook;
  holder.erase("arguments");
  holder.erase("expression");
  ExecOpts opts;
  opts.boundary_id = boundary_id;
  opts.on_exit_template = true;
  opts.hooked = true;
  ExecError err = ExecError::kNone;
  NodeStatus* n = ExecuteTemplate(exit_name, holder, ctx, args, opts, &err);
  AddChild(parent.name, exit_name);
  *done = n != nullptr && Fulfilled(*n);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Steps

NodeStatus* Executor::Operation::ExecuteSteps(const std::string& node_name, const TmplCtx& ctx,
                                              const Json& tmpl, const Json& holder,
                                              const ExecOpts& opts) {
  NodeStatus* node = NodeByName(node_name);
  if (node == nullptr) {
    NodeStatus& n = InitNode(node_name, NodeType::kSteps, ctx.Scope(), holder, opts.boundary_id,
                             NodePhase::kRunning);
    n.hooked = opts.hooked;
    n.retried = opts.retried;
    n.inputs = tmpl.value("inputs", Json());
    if (n.inputs.is_object() && n.inputs.empty()) n.inputs = Json();
    node = &n;
  }
  std::string id = node->id;
  boundary_templates_[id] = &tmpl;
  struct Forget {
    std::unordered_map<std::string, const Json*>& m;
    std::string id;
    ~Forget() { m.erase(id); }
  } forget{boundary_templates_, id};
  Scope scope;
  if (const Json* wo = FindField(st_.wf["status"], "outputs")) AddOutputsToScope(scope, "workflow", *wo);
  if (const Json* in = FindField(tmpl, "inputs")) {
    if (const Json* arts = FindField(*in, "artifacts"); arts != nullptr && arts->is_array()) {
      for (const auto& a : *arts) scope.artifacts["inputs.artifacts." + StringField(a, "name")] = a;
    }
  }
  AddInputsToScope(scope, tmpl);
  const Json& groups = tmpl["steps"];
  std::string last_sg;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string sg_name = node_name + "[" + std::to_string(i) + "]";
    NodeStatus* sg = NodeByName(sg_name);
    if (sg == nullptr) {
      InitNode(sg_name, NodeType::kStepGroup, ctx.Scope(), Json(), id, NodePhase::kRunning);
    }
    if (i == 0) {
      AddChild(node_name, sg_name);
    } else {
      std::string prev = node_name + "[" + std::to_string(i - 1) + "]";
      NodeStatus* prev_node = NodeByName(prev);
      if (prev_node->children.empty()) {
        AddChild(prev, sg_name);
      } else {
        std::vector<std::string> children = prev_node->children;
        for (const auto& c : children) {
          for (const auto& out : OutboundNodes(c)) {
            if (NodeStatus* o = NodeByIdMutable(out)) AddChild(o->name, sg_name);
          }
        }
      }
    }
    last_sg = sg_name;
    const Json& group = groups[i];
    // (Not a conditional expression: that would copy a large group on every pass.)
    Json single;
    if (!group.is_array()) single = Json::array({group});
    sg = ExecuteStepGroup(group.is_array() ? group : single, sg_name, ctx, id, scope,
                          opts.on_exit_template,
                          opts.rank + static_cast<int64_t>(groups.size() - i - 1));
    if (sg == nullptr || !Fulfilled(*sg)) return NodeByName(node_name);
    if (sg->FailedOrError()) {
      std::string msg = sg->message;
      NodeStatus* n = NodeByName(node_name);
      std::vector<std::string> outbound;
      for (const auto& c : sg->children) {
        auto o = OutboundNodes(c);
        outbound.insert(outbound.end(), o.begin(), o.end());
      }
      n->outbound_nodes = outbound;
      return MarkPhase(node_name, NodePhase::kFailed, msg);
    }
    // Outputs that earlier groups published globally (globalName) are visible from now on.
    if (const Json* wo = FindField(st_.wf["status"], "outputs")) AddOutputsToScope(scope, "workflow", *wo);
    for (const auto& step : group.is_array() ? group : single) {
      std::string step_name = StringField(step, "name");
      std::string child_name = sg_name + "." + step_name;
      std::string prefix = "steps." + step_name;
      NodeStatus* child = NodeByName(child_name);
      if (child != nullptr) {
        AddNodeToScope(scope, prefix, *child);
        continue;
      }
      std::vector<const NodeStatus*> loop_children;
      std::string loop_prefix = child_name + "(";
      for (const auto& cid : sg->children) {
        NodeStatus* c = NodeByIdMutable(cid);
        if (c != nullptr && c->type != NodeType::kSkipped && c->name.rfind(loop_prefix, 0) == 0) {
          loop_children.push_back(c);
        }
      }
      if (!loop_children.empty()) AddAggregateOutputs(scope, prefix, loop_children);
    }
  }
  NodeStatus* n = NodeByName(node_name);
  if (!last_sg.empty()) {
    std::vector<std::string> outbound;
    std::vector<std::string> children = NodeByName(last_sg)->children;
    for (const auto& c : children) {
      auto o = OutboundNodes(c);
      outbound.insert(outbound.end(), o.begin(), o.end());
    }
    n = NodeByName(node_name);
    if (n->outbound_nodes != outbound) {
      n->outbound_nodes = outbound;
      Touch(*n);
    }
  }
  auto outputs = OutputsFromScope(tmpl, scope);
  if (!outputs.ok()) return MarkError(node_name, outputs.status().message());
  if (!outputs->is_null()) {
    n = NodeByName(node_name);
    n->outputs = *outputs;
    Touch(*n);
    AddOutputsToGlobal(*outputs);
  }
  return MarkPhase(node_name, NodePhase::kSucceeded);
}

NodeStatus* Executor::Operation::ExecuteStepGroup(const Json& group, const std::string& sg_name,
                                                  const TmplCtx& ctx,
                                                  const std::string& boundary_id, Scope& scope,
                                                  bool on_exit, int64_t rank) {
  NodeStatus* sg = NodeByName(sg_name);
  if (Fulfilled(*sg)) return sg;
  std::string tscope = ctx.Scope();
  std::shared_ptr<StepGroupInfo>& slot = st_.groups[sg->id];
  if (!slot) {
    // Resolve references to earlier steps and list each loop's items; a child's own step is
    // made when it is needed.
    auto info = std::make_shared<StepGroupInfo>();
    for (const auto& raw : group) {
      auto step = ResolveStepReferences(raw, scope);
      if (!step.ok()) return MarkError(sg_name, step.status().message());
      auto loop = LoopItemsOf(*step);
      if (!loop.ok()) return MarkError(sg_name, loop.status().message());
      if (loop->items.is_array() && loop->items.empty()) {
        std::string child_name = sg_name + "." + StringField(*step, "name");
        if (NodeByName(child_name) == nullptr) {
          InitNode(child_name, NodeType::kSkipped, tscope, *step, boundary_id, NodePhase::kSkipped,
                   "Skipped, empty params");
          AddChild(sg_name, child_name);
        }
        continue;
      }
      const Json* hooks = FindField(*step, "hooks");
      bool has_hooks = (hooks != nullptr && hooks->is_object() && !hooks->empty()) ||
                       !ExitHookOf(*step).is_null();
      size_t k = info->steps.size();
      size_t n = loop->items.is_null() ? 1 : loop->items.size();
      for (size_t item = 0; item < n; ++item) {
        StepGroupInfo::Child c;
        c.step = k;
        c.item = item;
        c.has_hooks = has_hooks;
        if (loop->items.is_null()) {
          c.name = sg_name + "." + loop->name;
        } else {
          const Json& v = loop->items[item];
          if (!v.is_object() && !v.is_array() && !v.is_string() && !v.is_number() && !v.is_boolean()) {
            return MarkError(sg_name, "withItems[" + std::to_string(item) +
                                          "] expected string, number, list, or map. received: " +
                                          DumpJson(v));
          }
          c.name = sg_name + "." + loop->name + "(" + std::to_string(item) + ":" +
                   ItemDescription(v) + ")";
        }
        info->index.emplace(c.name, info->children.size());
        info->children.push_back(std::move(c));
      }
      info->steps.push_back(std::move(*loop));
    }
    info->unsettled = info->children.size();
    slot = std::move(info);
  }
  StepGroupInfo& g = *slot;
  // The child's step, expanded for its item now if it was not kept.
  auto step_of = [&](StepGroupInfo::Child& c) -> Result<const Json*> {
    if (c.expanded.is_null()) {
      SKIFF_ASSIGN_OR_RETURN(auto one, ExpandItem(g.steps[c.step], c.item, scope.Params(&globals_)));
      c.expanded = std::move(one.second);
    }
    return &c.expanded;
  };

  bool parallelism_reached = false;
  for (auto& c : g.children) {
    if (c.settled) continue;
    NodeStatus* existing = c.node;
    // A Pod still waiting or running changes only through its kubelet's report; one that
    // finished has had its results published at the start of this pass.
    if (existing != nullptr && existing->type == NodeType::kPod && !c.has_hooks) continue;
    const std::string& child_name = c.name;
    if (existing == nullptr) existing = c.node = NodeByName(child_name);
    if (existing == nullptr && parallelism_reached) continue;  // no room this pass
    if (existing != nullptr && Fulfilled(*existing) &&
        (existing->type == NodeType::kSkipped || existing->phase == NodePhase::kSkipped)) {
      continue;
    }
    auto made = step_of(c);
    if (!made.ok()) return MarkError(sg_name, made.status().message());
    const Json& step = **made;
    std::string when = StringField(step, "when");
    if (!when.empty() && existing == nullptr) {
      auto proceed = HasTags(when) ? Result<bool>(InvalidArgument("failed to resolve " + when))
                                   : expr::EvaluateWhen(when);
      if (!proceed.ok()) {
        std::string msg = "Invalid 'when' expression '" + when + "': " + proceed.status().message();
        c.node = &InitNode(child_name, NodeType::kSkipped, tscope, step, boundary_id, NodePhase::kError, msg);
        AddChild(sg_name, child_name);
        return MarkError(sg_name, msg);
      }
      if (!*proceed) {
        NodeStatus& skipped = InitNode(child_name, NodeType::kSkipped, tscope, step, boundary_id,
                                       NodePhase::kSkipped, "when '" + when + "' evaluated false");
        SkippedOutputs(skipped, step, ctx);
        c.node = &skipped;
        AddChild(sg_name, child_name);
        continue;
      }
    }
    ExecOpts opts;
    opts.boundary_id = boundary_id;
    opts.on_exit_template = on_exit;
    opts.rank = rank;
    ExecError err = ExecError::kNone;
    NodeStatus* child = ExecuteTemplate(child_name, step, ctx, step.value("arguments", Json::object()),
                                        opts, &err);
    if (child != nullptr && child->name == child_name) c.node = child;
    if (err == ExecError::kDeadlineExceeded) return NodeByName(sg_name);
    if (err == ExecError::kParallelismReached && child == nullptr) parallelism_reached = true;
    if (err == ExecError::kTimeout) {
      return MarkPhase(sg_name, NodePhase::kFailed, "child '" + child_name + "' timedout");
    }
    if (child != nullptr) AddChild(sg_name, child_name);
    if (err == ExecError::kError && child != nullptr && child->phase == NodePhase::kError &&
        child->type == NodeType::kSkipped) {
      return MarkError(sg_name, "step group deemed errored due to child " + child_name +
                                    " error: " + child->message);
    }
    // Lifecycle hooks other than exit, triggered by expressions over the step's status.
    if (child != nullptr) {
      if (const Json* hooks = FindField(step, "hooks"); hooks != nullptr && hooks->is_object()) {
        for (auto it = hooks->begin(); it != hooks->end(); ++it) {
          if (it.key() == "exit") continue;
          std::string hook_name = child->name + ".hooks." + it.key();
          bool execute = NodeByName(hook_name) != nullptr;
          if (!execute) {
            Scope s = scope;
            AddNodeToScope(s, "steps." + StringField(step, "name"), *child);
            VarScope vars = s.Params(&globals_);
            auto r = expr::Evaluate(StringField(it.value(), "expression"), vars.ExprEnv());
            execute = r.ok() && r->is_boolean() && r->get<bool>();
          }
          if (!execute) continue;
          Json hholder = it.value();
          hholder.erase("expression");
          ExecOpts hopts;
          hopts.boundary_id = boundary_id;
          hopts.hooked = true;
          ExecError herr = ExecError::kNone;
          std::string parent_name = child->name;
          ExecuteTemplate(hook_name, hholder, ctx, it.value().value("arguments", Json::object()), hopts, &herr);
          AddChild(parent_name, hook_name);
          child = NodeByName(child_name);
        }
      }
    }
    // A plain Pod needs its step no more; a 10,000-item loop keeps only names and items.
    if (c.node != nullptr && c.node->type == NodeType::kPod && !c.has_hooks) c.expanded = Json();
  }
  // Settle what finished: fulfilled, its exit hook run, its other hooks finished.
  for (auto& c : g.children) {
    if (c.settled) continue;
    NodeStatus* n = c.node;
    if (n == nullptr || !Fulfilled(*n)) continue;
    if (c.has_hooks) {
      if (n->Completed()) {
        auto made = step_of(c);
        if (!made.ok()) return MarkError(sg_name, made.status().message());
        bool done = true;
        const std::string& step_name = g.steps[c.step].name;
        if (RunOnExitNode(ExitHookOf(**made), *n, boundary_id, ctx, "steps." + step_name, &scope,
                          &done) &&
            !done) {
          continue;
        }
        n = c.node = NodeByName(c.name);
      }
      bool hooks_done = true;
      for (const auto& hid : n->children) {
        NodeStatus* h = NodeByIdMutable(hid);
        if (h != nullptr && h->hooked && !Fulfilled(*h)) hooks_done = false;
      }
      if (!hooks_done) continue;
    }
    c.settled = true;
    c.expanded = Json();
    --g.unsettled;
  }
  if (g.unsettled > 0) return NodeByName(sg_name);
  sg = NodeByName(sg_name);
  std::vector<std::string> children = sg->children;
  for (const auto& cid : children) {
    NodeStatus* c = NodeByIdMutable(cid);
    if (c == nullptr) continue;
    if (!Fulfilled(*c)) return NodeByName(sg_name);
  }
  for (const auto& cid : children) {
    NodeStatus* c = NodeByIdMutable(cid);
    if (c == nullptr || !c->FailedOrError()) continue;
    auto st = g.index.find(c->name);
    if (st != g.index.end() && ContinuesOn(g.steps[g.children[st->second].step].base, c->phase)) continue;
    return MarkPhase(sg_name, NodePhase::kFailed, "child '" + cid + "' failed");
  }
  return MarkPhase(sg_name, NodePhase::kSucceeded);
}

// ---------------------------------------------------------------------------------------------
// DAG

namespace {

struct DagCtx {
  std::string boundary_name;
  std::string boundary_id;
  const Json* tmpl = nullptr;
  TmplCtx ctx;
  bool on_exit = false;
  std::unordered_set<std::string> visited;
  DagInfo* info = nullptr;
  std::map<std::string, const Json*>& tasks() { return info->tasks; }
  std::map<std::string, std::vector<std::string>>& deps() { return info->deps; }
  std::map<std::string, std::string>& logic() { return info->logic; }
};

// The task names in a `depends` expression, as Argo finds them with the regular expression
// `([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)` (scanned by hand:
// std::regex cost ~10K instructions per task of a 700-task DAG): `name.Result` or a bare
// `name`, each with the position of its name.
struct DependsToken {
  size_t start = 0, end = 0;  // [start, end) of the task name
  bool with_result = false;   // followed by `.Result`
};

std::vector<DependsToken> ScanDepends(std::string_view s) {
  auto name_start = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  auto name_char = [&](char c) { return c == '-' || name_start(c); };
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  std::vector<DependsToken> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!name_start(s[i])) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && name_char(s[j])) ++j;
    if (j + 2 < s.size() && s[j] == '.' && upper(s[j + 1]) && lower(s[j + 2])) {
      size_t k = j + 3;
      while (k < s.size() && lower(s[k])) ++k;
      out.push_back({i, j, true});
      i = k;
    } else {
      out.push_back({i, j, false});
      i = j;
    }
  }
  return out;
}

std::string ExpandDependency(const std::string& dep, const Json* dep_task) {
  std::vector<std::string> parts = {dep + ".Succeeded", dep + ".Skipped", dep + ".Daemoned"};
  if (dep_task != nullptr) {
    if (const Json* c = FindField(*dep_task, "continueOn"); c != nullptr && c->is_object()) {
      if (c->value("error", false)) parts.push_back(dep + ".Errored");
      if (c->value("failed", false)) parts.push_back(dep + ".Failed");
    }
  }
  std::string out = "(";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " || " : "") + parts[i];
  return out + ")";
}

void ResolveDeps(DagCtx& d, const std::string& task_name) {
  if (d.deps().count(task_name)) return;
  const Json* task = d.tasks().count(task_name) ? d.tasks()[task_name] : nullptr;
  std::string depends = task != nullptr ? StringField(*task, "depends") : "";
  if (depends.empty() && task != nullptr) {
    if (const Json* list = FindField(*task, "dependencies"); list != nullptr && list->is_array()) {
      std::string joined;
      for (const auto& dep : *list) {
        std::string name = ScalarToString(dep);
        const Json* dt = d.tasks().count(name) ? d.tasks()[name] : nullptr;
        if (!joined.empty()) joined += " && ";
        joined += ExpandDependency(name, dt);
      }
      std::vector<std::string> names;
      for (const auto& dep : *list) names.push_back(ScalarToString(dep));
      d.deps()[task_name] = names;
      d.logic()[task_name] = joined;
      return;
    }
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  struct Expansion {
    size_t start, end;
    std::string name;
  };
  std::vector<Expansion> expansions;
  for (const DependsToken& tok : ScanDepends(depends)) {
    std::string name = depends.substr(tok.start, tok.end - tok.start);
    if (seen.insert(name).second) names.push_back(name);
    if (!tok.with_result) expansions.push_back({tok.start, tok.end, name});
  }
  std::sort(expansions.begin(), expansions.end(),
            [](const Expansion& a, const Expansion& b) { return a.start > b.start; });
  for (const auto& e : expansions) {
    const Json* dt = d.tasks().count(e.name) ? d.tasks()[e.name] : nullptr;
    depends = depends.substr(0, e.start) + ExpandDependency(e.name, dt) + depends.substr(e.end);
  }
  d.deps()[task_name] = names;
  d.logic()[task_name] = depends;
}

// Transitive dependencies of a task, in a stable order.
const std::vector<std::string>& Ancestors(DagCtx& d, const std::string& task_name) {
  auto it = d.info->ancestors.find(task_name);
  if (it != d.info->ancestors.end()) return it->second;
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::vector<std::string> stack = {task_name};
  while (!stack.empty()) {
    std::string t = stack.back();
    stack.pop_back();
    ResolveDeps(d, t);
    for (const auto& dep : d.deps()[t]) {
      if (seen.insert(dep).second) {
        out.push_back(dep);
        stack.push_back(dep);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return d.info->ancestors.emplace(task_name, std::move(out)).first->second;
}

}  // namespace

NodeStatus* Executor::Operation::ExecuteDAG(const std::string& node_name, const TmplCtx& ctx,
                                            const Json& tmpl, const Json& holder,
                                            const ExecOpts& opts) {
  NodeStatus* node = NodeByName(node_name);
  if (node == nullptr) {
    NodeStatus& n = InitNode(node_name, NodeType::kDAG, ctx.Scope(), holder, opts.boundary_id,
                             NodePhase::kRunning);
    n.hooked = opts.hooked;
    n.retried = opts.retried;
    n.inputs = tmpl.value("inputs", Json());
    if (n.inputs.is_object() && n.inputs.empty()) n.inputs = Json();
    node = &n;
  }
  std::string id = node->id;
  boundary_templates_[id] = &tmpl;
  struct Forget {
    std::unordered_map<std::string, const Json*>& m;
    std::string id;
    ~Forget() { m.erase(id); }
  } forget{boundary_templates_, id};
  const Json& dag = tmpl["dag"];
  DagCtx d;
  d.boundary_name = node_name;
  d.boundary_id = id;
  d.tmpl = &tmpl;
  d.ctx = ctx;
  d.on_exit = opts.on_exit_template;
  static const Json kNoTasks = Json::array();
  const Json* tasks_field = FindField(dag, "tasks");
  const Json& tasks = tasks_field != nullptr ? *tasks_field : kNoTasks;

  auto& info_slot = st_.dags[id];
  if (!info_slot) info_slot = std::make_shared<DagInfo>();
  d.info = info_slot.get();
  // The task index points into the template; it is kept across passes only when the template
  // is the one cached for this node (stable), else rebuilt.
  auto cached = st_.processed.find(id);
  bool stable = cached != st_.processed.end() && &cached->second->tmpl == &tmpl;
  if (!stable || d.info->tasks_source != &tasks) {
    d.info->tasks.clear();
    for (const auto& t : tasks) d.info->tasks[StringField(t, "name")] = &t;
    d.info->tasks_source = &tasks;
  }
  if (!d.info->analyzed) {
    std::vector<std::string>& targets = d.info->targets;
    std::string target = StringField(dag, "target");
    if (target.empty()) {
      std::map<std::string, bool> leaf;
      for (const auto& t : tasks) {
        std::string name = StringField(t, "name");
        if (!leaf.count(name)) leaf[name] = true;
        ResolveDeps(d, name);
        for (const auto& dep : d.deps()[name]) leaf[dep] = false;
      }
      for (const auto& [name, is_leaf] : leaf) {
        if (is_leaf && d.tasks().count(name)) targets.push_back(name);
      }
    } else {
      size_t start = 0;
      while (start < target.size()) {
        size_t sp = target.find(' ', start);
        std::string t = target.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
        if (!t.empty()) targets.push_back(t);
        if (sp == std::string::npos) break;
        start = sp + 1;
      }
    }
    // Ranks: the longest chain of dependents after each task, from the leaves up.
    {
      std::unordered_map<std::string, std::vector<std::string>> dependents;
      std::unordered_map<std::string, size_t> pending;  // dependents not ranked yet
      for (const auto& [name, tjson] : d.tasks()) {
        ResolveDeps(d, name);
        pending.try_emplace(name, 0);
        for (const auto& dep : d.deps()[name]) {
          if (!d.tasks().count(dep)) continue;
          dependents[dep].push_back(name);
          ++pending[dep];
        }
      }
      std::vector<std::string> ready;
      for (const auto& [name, n] : pending) {
        if (n == 0) ready.push_back(name);
      }
      auto& rank = d.info->rank;
      while (!ready.empty()) {
        std::string t = std::move(ready.back());
        ready.pop_back();
        int64_t r = 0;
        for (const auto& child : dependents[t]) r = std::max(r, rank[child] + 1);
        rank[t] = r;
        for (const auto& dep : d.deps()[t]) {
          auto p = pending.find(dep);
          if (p != pending.end() && p->second > 0 && --p->second == 0) ready.push_back(dep);
        }
      }
    }
    d.info->analyzed = true;
  }
  const std::vector<std::string>& targets = d.info->targets;

  // Scope with the outputs of all tasks finished so far (a superset of each task's ancestry).
  std::function<void(const std::string&)> execute_task;
  // Task nodes are looked up many times per pass: their ids are computed once per DAG node.
  auto task_node = [&](const std::string& name) -> NodeStatus* {
    auto& ids = d.info->node_ids;
    auto it = ids.find(name);
    if (it == ids.end()) it = ids.emplace(name, NodeId(st_.name, node_name + "." + name)).first;
    return NodeByIdMutable(it->second);
  };
  // The scope a task sees: its ancestors' outputs (as Argo builds it), or every task's for the
  // DAG's own outputs (`for_task` empty).
  auto build_scope = [&](const std::string& for_task) {
    Scope scope;
    if (const Json* wo = FindField(st_.wf["status"], "outputs")) AddOutputsToScope(scope, "workflow", *wo);
    if (const Json* in = FindField(tmpl, "inputs")) {
      if (const Json* arts = FindField(*in, "artifacts"); arts != nullptr && arts->is_array()) {
        for (const auto& a : *arts) scope.artifacts["inputs.artifacts." + StringField(a, "name")] = a;
      }
    }
    AddInputsToScope(scope, tmpl);
    std::vector<std::string> all;
    if (for_task.empty()) {
      for (const auto& [tname, tjson] : d.tasks()) all.push_back(tname);
    }
    const std::vector<std::string>& names = for_task.empty() ? all : Ancestors(d, for_task);
    for (const auto& tname : names) {
      auto cached = d.info->layers.find(tname);
      if (cached != d.info->layers.end()) {
        scope.layers.push_back(cached->second);
        continue;
      }
      NodeStatus* tn = task_node(tname);
      if (tn == nullptr) continue;
      std::string prefix = "tasks." + tname;
      Scope layer;
      if (tn->type == NodeType::kTaskGroup) {
        std::vector<const NodeStatus*> children;
        for (const auto& cid : tn->children) {
          if (NodeStatus* c = NodeByIdMutable(cid)) children.push_back(c);
        }
        AddAggregateOutputs(layer, prefix, children);
        layer.params.Set(prefix + ".status", std::string(PhaseName(tn->phase)));
        layer.params.Set(prefix + ".id", tn->id);
      } else {
        AddNodeToScope(layer, prefix, *tn);
      }
      auto shared = std::make_shared<const ScopeLayer>(static_cast<ScopeLayer&&>(std::move(layer)));
      // A finished task's entries never change again: keep them for its descendants.
      if (d.info->done.count(tname)) d.info->layers.emplace(tname, shared);
      scope.layers.push_back(std::move(shared));
    }
    return scope;
  };
  bool fail_fast = dag.value("failFast", true);
  auto scope_ref = [&](const std::string& for_task) -> std::shared_ptr<const Scope> {
    return std::make_shared<const Scope>(build_scope(for_task));
  };

  execute_task = [&](const std::string& task_name) {
    if (d.info->done.count(task_name)) return;
    if (!d.visited.insert(task_name).second) return;
    auto tit = d.tasks().find(task_name);
    if (tit == d.tasks().end()) return;
    const Json& task = *tit->second;
    std::string tnode_name = node_name + "." + task_name;
    NodeStatus* tn = task_node(task_name);
    if (tn != nullptr && Fulfilled(*tn)) {
      Json hook = ExitHookOf(task);
      bool done = true;
      if (tn->Completed() && !hook.is_null()) {
        auto s = scope_ref(task_name);
        RunOnExitNode(hook, *tn, id, ctx, "tasks." + task_name, s.get(), &done);
      }
      if (done && !tn->daemoned) d.info->done.insert(task_name);
      return;
    }
    // A Pod that is waiting or running changes only through its kubelet's report: nothing to
    // resolve or expand again (ExecuteTemplate would return it as it is).
    if (tn != nullptr && tn->type == NodeType::kPod) return;
    if (tn == nullptr) {
      auto b = d.info->blocker.find(task_name);
      if (b != d.info->blocker.end()) {
        NodeStatus* bn = task_node(b->second);
        if (bn != nullptr && !Fulfilled(*bn)) return;  // still waiting for the same task
        d.info->blocker.erase(b);
      }
    }
    ResolveDeps(d, task_name);
    const std::vector<std::string>& deps = d.deps()[task_name];
    NodeStatus* group = tn != nullptr && tn->type == NodeType::kTaskGroup ? tn : nullptr;
    auto connect = [&](const std::string& name) {
      if (deps.empty() || group != nullptr) {
        AddChild(group == nullptr ? node_name : group->name, name);
        return;
      }
      for (const auto& dep : deps) {
        NodeStatus* dn = task_node(dep);
        if (dn == nullptr) continue;
        for (const auto& out : OutboundNodes(dn->id)) {
          if (NodeStatus* o = NodeByIdMutable(out)) AddChild(o->name, name);
        }
      }
    };
    if (!d.logic()[task_name].empty() && tn == nullptr) {
      for (const auto& dep : deps) execute_task(dep);
      // Depends: all dependencies (and their exit hooks) must be finished.
      Json env = Json::object();
      for (const auto& dep : deps) {
        NodeStatus* dn = task_node(dep);
        if (dn == nullptr || !Fulfilled(*dn)) {
          if (dn != nullptr) {
            d.info->blocker[task_name] = dep;
          } else if (auto b = d.info->blocker.find(dep); b != d.info->blocker.end()) {
            d.info->blocker[task_name] = b->second;
          }
          return;
        }
        NodeStatus* exit = NodeByName(dn->name + ".onExit");
        if (exit != nullptr && !Fulfilled(*exit)) return;
        bool any_succeeded = false, all_failed = false;
        if (dn->type == NodeType::kTaskGroup) {
          all_failed = !dn->children.empty();
          for (const auto& cid : dn->children) {
            NodeStatus* c = NodeByIdMutable(cid);
            NodePhase p = c != nullptr ? c->phase : NodePhase::kPending;
            any_succeeded = any_succeeded || p == NodePhase::kSucceeded;
            all_failed = all_failed && p == NodePhase::kFailed;
          }
        }
        std::string key = dep;
        std::replace(key.begin(), key.end(), '-', '_');
        env[key] = {{"Succeeded", dn->phase == NodePhase::kSucceeded},
                    {"Failed", dn->phase == NodePhase::kFailed},
                    {"Errored", dn->phase == NodePhase::kError},
                    {"Skipped", dn->phase == NodePhase::kSkipped},
                    {"Omitted", dn->phase == NodePhase::kOmitted},
                    {"Daemoned", dn->daemoned && dn->phase != NodePhase::kPending},
                    {"AnySucceeded", any_succeeded},
                    {"AllFailed", all_failed}};
      }
      std::string logic = d.logic()[task_name];
      std::replace(logic.begin(), logic.end(), '-', '_');
      auto r = expr::Evaluate(logic, env);
      if (!r.ok() || !r->is_boolean()) {
        std::string msg = "unable to evaluate expression '" + logic + "': " +
                          (r.ok() ? std::string("not a boolean") : r.status().message());
        InitNode(tnode_name, NodeType::kSkipped, ctx.Scope(), task, id, NodePhase::kError, msg);
        connect(tnode_name);
        return;
      }
      if (!r->get<bool>()) {
        NodeStatus& om = InitNode(tnode_name, NodeType::kSkipped, ctx.Scope(), task, id,
                                  NodePhase::kOmitted, "omitted: depends condition not met");
        SkippedOutputs(om, task, ctx);
        connect(tnode_name);
        return;
      }
    }
    // A task without tags or artifact arguments takes nothing from the scope: building it walks
    // every ancestor, which a long chain's last tasks would pay for all the tasks before them.
    const Json* task_args = FindField(task, "arguments");
    bool needs_scope = ContainsTagOpen(task) ||
                       (task_args != nullptr && FindField(*task_args, "artifacts") != nullptr);
    // The task as it runs: one (name, task) per loop item, or the task itself. A task with no
    // tags, no artifact arguments and no loop resolves to itself (nothing to substitute, expand
    // or drop), so it is used as it is instead of being copied twice.
    std::vector<std::pair<std::string, Json>> expanded_copies;
    std::vector<std::pair<std::string, const Json*>> expanded;
    bool loops = false;
    if (!needs_scope && !HasLoopFields(task)) {
      expanded.emplace_back(task_name, &task);
    } else {
      auto scope_ptr = needs_scope ? scope_ref(task_name) : std::make_shared<const Scope>();
      const Scope& scope = *scope_ptr;
      auto resolved = ResolveStepReferences(task, scope);
      if (!resolved.ok()) {
        if (tn == nullptr) {
          InitNode(tnode_name, NodeType::kSkipped, ctx.Scope(), task, id, NodePhase::kError,
                   resolved.status().message());
          connect(tnode_name);
        }
        return;
      }
      auto items = ExpandItems(*resolved, scope.Params(&globals_));
      if (!items.ok()) {
        if (tn == nullptr) {
          InitNode(tnode_name, NodeType::kSkipped, ctx.Scope(), task, id, NodePhase::kError,
                   items.status().message());
          connect(tnode_name);
        }
        return;
      }
      expanded_copies = std::move(*items);
      expanded.reserve(expanded_copies.size());
      for (const auto& [ename, t] : expanded_copies) expanded.emplace_back(ename, &t);
      loops = ShouldExpand(*resolved);
    }
    if (loops) {
      if (expanded.empty()) {
        if (tn == nullptr) {
          InitNode(tnode_name, NodeType::kSkipped, ctx.Scope(), task, id, NodePhase::kSkipped,
                   "Skipped, empty params");
          connect(tnode_name);
        }
        return;
      }
      if (group == nullptr) {
        connect(tnode_name);
        group = &InitNode(tnode_name, NodeType::kTaskGroup, ctx.Scope(), task, id, NodePhase::kRunning);
      }
    }
    std::string group_name = loops ? tnode_name : "";
    static const Json kNoArguments = Json::object();
    for (const auto& [ename, tp] : expanded) {
      const Json& t = *tp;
      std::string en = node_name + "." + ename;
      NodeStatus* existing = NodeByName(en);
      if (existing == nullptr) {
        if (loops) {
          AddChild(group_name, en);
        } else {
          connect(en);
        }
        std::string when = StringField(t, "when");
        if (!when.empty()) {
          auto proceed = HasTags(when) ? Result<bool>(InvalidArgument("failed to resolve " + when))
                                       : expr::EvaluateWhen(when);
          if (!proceed.ok()) {
            InitNode(en, NodeType::kSkipped, ctx.Scope(), t, id, NodePhase::kError,
                     "Invalid 'when' expression '" + when + "': " + proceed.status().message());
            continue;
          }
          if (!*proceed) {
            NodeStatus& sk = InitNode(en, NodeType::kSkipped, ctx.Scope(), t, id, NodePhase::kSkipped,
                                      "when '" + when + "' evaluated false");
            SkippedOutputs(sk, t, ctx);
            continue;
          }
        }
      } else if (existing->type == NodeType::kSkipped && Fulfilled(*existing)) {
        continue;
      }
      ExecOpts topts;
      topts.boundary_id = id;
      topts.on_exit_template = d.on_exit;
      if (auto r = d.info->rank.find(task_name); r != d.info->rank.end()) topts.rank = opts.rank + r->second;
      ExecError err = ExecError::kNone;
      auto targs = t.find("arguments");
      NodeStatus* child = ExecuteTemplate(en, t, ctx, targs != t.end() ? *targs : kNoArguments, topts, &err);
      if (err == ExecError::kDeadlineExceeded) return;
      if (err == ExecError::kTimeout) {
        MarkPhase(en, NodePhase::kFailed, "timeout");
        return;
      }
      Json hook = ExitHookOf(task);
      if (child != nullptr && child->Completed() && !hook.is_null()) {
        bool done = true;
        auto s = scope_ref(task_name);
        RunOnExitNode(hook, *child, id, ctx, "tasks." + task_name, s.get(), &done);
      } else if (!loops && child != nullptr && hook.is_null() && Fulfilled(*child) && !child->daemoned) {
        // Finished within this pass (memoized, skipped): descendants can share its entries now.
        d.info->done.insert(task_name);
      }
    }
    if (loops) {
      NodePhase phase = NodePhase::kSucceeded;
      for (const auto& [ename, tp] : expanded) {
        NodeStatus* c = NodeByName(node_name + "." + ename);
        if (c == nullptr || !Fulfilled(*c)) return;
        if (c->FailedOrError() && !ContinuesOn(task, c->phase)) phase = c->phase;
      }
      MarkPhase(tnode_name, phase);
    }
  };

  for (const auto& t : targets) execute_task(t);
  // The walk from the targets stops at a task still blocked on the same dependency, so a running
  // task behind it (a nested DAG, steps or retry node that must be re-entered to progress) may
  // not have been reached: re-enter every started, unfinished task that was not visited.
  bool unfinished = false;
  for (const auto& [tname, tjson] : d.tasks()) {
    if (d.info->done.count(tname)) continue;
    NodeStatus* tn = task_node(tname);
    if (tn == nullptr || Fulfilled(*tn)) continue;
    if (!d.visited.count(tname)) {
      execute_task(tname);
      tn = task_node(tname);
      if (tn != nullptr && Fulfilled(*tn)) continue;
    }
    unfinished = true;
  }
  // While any task is unfinished the DAG is running: no need to walk the graph.
  if (unfinished) return NodeByName(node_name);
  // Assess the DAG (Argo's assessDAGPhase): a breadth-first walk that carries each branch's
  // last completed phase down to omitted nodes.
  std::map<std::string, std::string> target_phase;  // node id -> phase name ("" = unseen)
  for (const auto& t : targets) target_phase[NodeId(st_.name, node_name + "." + t)] = "";
  std::vector<std::pair<std::string, NodePhase>> queue;
  std::set<std::pair<std::string, NodePhase>> seen;
  node = NodeByName(node_name);
  for (const auto& c : node->children) queue.emplace_back(c, NodePhase::kSucceeded);
  bool running = false;
  for (size_t qi = 0; qi < queue.size() && !running; ++qi) {
    auto [cid, branch] = queue[qi];
    if (!seen.insert(queue[qi]).second) continue;
    NodeStatus* c = NodeByIdMutable(cid);
    if (c == nullptr) continue;
    if (!Fulfilled(*c)) {
      running = true;
      break;
    }
    if (c->Completed()) branch = c->phase;
    auto tp = target_phase.find(cid);
    if (tp != target_phase.end()) {
      bool prev_failed = tp->second == "Failed" || tp->second == "Error";
      if (!prev_failed) tp->second = std::string(PhaseName(branch));
    }
    const NodeStatus* walk = c;
    if (c->type == NodeType::kRetry && !c->children.empty()) {
      if (NodeStatus* last = NodeByIdMutable(c->children.back())) walk = last;
    }
    for (const auto& gc : walk->children) queue.emplace_back(gc, branch);
  }
  if (running) return NodeByName(node_name);
  NodePhase result = NodePhase::kSucceeded;
  for (const auto& t : targets) {
    const std::string& p = target_phase[NodeId(st_.name, node_name + "." + t)];
    if (p.empty()) {
      result = NodePhase::kRunning;
      if (!fail_fast) break;
    } else if (p == "Failed" || p == "Error") {
      NodePhase bp = p == "Failed" ? NodePhase::kFailed : NodePhase::kError;
      auto tt = d.tasks().find(t);
      if (tt != d.tasks().end() && ContinuesOn(*tt->second, bp)) continue;
      result = bp;
      if (fail_fast) break;
    }
  }
  // Exit hooks of the targets must be done too.
  for (const auto& t : targets) {
    NodeStatus* tn = task_node(t);
    if (tn == nullptr) continue;
    NodeStatus* exit = NodeByName(tn->name + ".onExit");
    if (exit != nullptr && !Fulfilled(*exit)) return NodeByName(node_name);
  }
  if (result == NodePhase::kRunning) return NodeByName(node_name);
  std::vector<std::string> outbound;
  for (const auto& t : targets) {
    NodeStatus* tn = task_node(t);
    if (tn == nullptr) continue;
    auto o = OutboundNodes(tn->id);
    outbound.insert(outbound.end(), o.begin(), o.end());
  }
  node = NodeByName(node_name);
  if (node->outbound_nodes != outbound) {
    node->outbound_nodes = outbound;
    Touch(*node);
  }
  if (IsFailedOrError(result)) return MarkPhase(node_name, result);
  // Every task's entries: built only for a DAG that declares outputs.
  const Json* declared = FindField(tmpl, "outputs");
  auto outputs = declared != nullptr && declared->is_object() ? OutputsFromScope(tmpl, *scope_ref(""))
                                                              : Result<Json>(Json());
  if (!outputs.ok()) return MarkError(node_name, outputs.status().message());
  if (!outputs->is_null()) {
    node = NodeByName(node_name);
    node->outputs = *outputs;
    Touch(*node);
    AddOutputsToGlobal(*outputs);
  }
  return MarkPhase(node_name, NodePhase::kSucceeded);
}

}  // namespace skiff::dag
