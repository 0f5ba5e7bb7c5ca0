// Submit-time validation of Argo Workflows: everything that can be known to be wrong before a
// single step runs is reported with the path of the offending field.
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "engine/dag/executor.h"
#include "engine/dag/operation.h"

namespace skiff::dag {
namespace {

const char* kTemplateTypes[] = {"container", "script",   "containerSet", "steps", "dag",
                                "suspend",   "resource", "data",         "http",  "plugin"};

Status FieldError(const std::string& path, const std::string& message) {
  return InvalidArgument(path + ": " + message);
}

class Validator {
 public:
  Validator(const Json& wf, const TemplateLookup& lookup) : wf_(wf), lookup_(lookup) {}

  Status Run() {
    if (!wf_.is_object()) return InvalidArgument("a Workflow must be a YAML/JSON object");
    std::string kind = StringField(wf_, "kind");
    const Json* meta = FindField(wf_, "metadata");
    if (meta == nullptr || !meta->is_object()) return FieldError("metadata", "required");
    if (StringField(*meta, "name").empty() && StringField(*meta, "generateName").empty()) {
      return FieldError("metadata.name", "name or generateName is required");
    }
    std::string spec_path = "spec";
    const Json* spec = FindField(wf_, "spec");
    if (kind == "CronWorkflow") {
      if (spec == nullptr || !spec->is_object()) return FieldError("spec", "required");
      spec = FindField(*spec, "workflowSpec");
      spec_path = "spec.workflowSpec";
    }
    if (spec == nullptr || !spec->is_object()) return FieldError(spec_path, "required");
    spec_ = spec;
    spec_path_ = spec_path;
    bool template_kind = kind == "WorkflowTemplate" || kind == "ClusterWorkflowTemplate";
    // Templates get their workflow parameters from whoever submits them (events, -p).
    check_workflow_params_ = !template_kind;

    // Arguments.
    const Json* args = FindField(*spec, "arguments");
    if (args != nullptr && !args->is_object()) return FieldError(spec_path + ".arguments", "must be an object");
    if (args != nullptr) {
      const Json* params = FindField(*args, "parameters");
      if (params != nullptr && !params->is_array()) {
        return FieldError(spec_path + ".arguments.parameters", "must be a list");
      }
      if (params != nullptr) {
        for (size_t i = 0; i < params->size(); ++i) {
          const Json& p = (*params)[i];
          std::string path = spec_path + ".arguments.parameters[" + std::to_string(i) + "]";
          if (!p.is_object() || StringField(p, "name").empty()) return FieldError(path + ".name", "required");
          wf_params_.insert(StringField(p, "name"));
        }
      }
    }

    const Json* ref = FindField(*spec, "workflowTemplateRef");
    const Json* templates = FindField(*spec, "templates");
    if (templates != nullptr && !templates->is_array()) {
      return FieldError(spec_path + ".templates", "must be a list");
    }
    if (ref != nullptr) {
      std::string name = StringField(*ref, "name");
      if (name.empty()) return FieldError(spec_path + ".workflowTemplateRef.name", "required");
      auto t = lookup_(name, ref->value("clusterScope", false));
      if (!t.ok()) {
        return FieldError(spec_path + ".workflowTemplateRef",
                          std::string(ref->value("clusterScope", false) ? "ClusterWorkflowTemplate"
                                                                       : "WorkflowTemplate") +
                              " \"" + name + "\" not found");
      }
      return OkStatus();
    }
    if (templates == nullptr || templates->empty()) {
      return FieldError(spec_path + ".templates", "at least one template is required");
    }
    for (size_t i = 0; i < templates->size(); ++i) {
      const Json& t = (*templates)[i];
      std::string path = spec_path + ".templates[" + std::to_string(i) + "]";
      if (!t.is_object()) return FieldError(path, "must be an object");
      std::string name = StringField(t, "name");
      if (name.empty()) return FieldError(path + ".name", "required");
      if (!local_.emplace(name, &t).second) {
        return FieldError(path + ".name", "template name \"" + name + "\" is not unique");
      }
      paths_[name] = path;
    }
    std::string entry = StringField(*spec, "entrypoint");
    if (entry.empty() && !template_kind) return FieldError(spec_path + ".entrypoint", "required");
    if (!entry.empty() && !local_.count(entry)) {
      return FieldError(spec_path + ".entrypoint", "template \"" + entry + "\" not found");
    }
    std::string on_exit = StringField(*spec, "onExit");
    if (!on_exit.empty() && !local_.count(on_exit)) {
      return FieldError(spec_path + ".onExit", "template \"" + on_exit + "\" not found");
    }
    for (const auto& [name, t] : local_) SKIFF_RETURN_IF_ERROR(ValidateTemplate(*t, paths_[name]));
    // Required parameters of the entrypoint must be given.
    if (!entry.empty() && !template_kind) {
      const Json& et = *local_[entry];
      for (const auto& p : ParamList(et.value("inputs", Json::object()))) {
        std::string pname = StringField(p, "name");
        bool has = p.contains("value") || p.contains("default") || p.contains("valueFrom") ||
                   wf_params_.count(pname) > 0;
        if (!has) {
          return FieldError(spec_path + ".arguments.parameters",
                            "missing required parameter \"" + pname + "\" (inputs.parameters." +
                                pname + " of entrypoint \"" + entry + "\")");
        }
      }
    }
    return OkStatus();
  }

 private:
  Status CheckType(const Json& t, const std::string& path) {
    int types = 0;
    for (const char* k : kTemplateTypes) {
      const Json* v = FindField(t, k);
      if (v != nullptr && !v->is_null()) ++types;
    }
    if (types == 0) return FieldError(path, "template has no type (container, script, steps, dag, ...)");
    if (types > 1) return FieldError(path, "template has more than one type");
    return OkStatus();
  }

  // The target template of a step/task, or an error naming `path`.
  Result<const Json*> Target(const Json& step, const std::string& path) {
    if (const Json* inl = FindField(step, "inline"); inl != nullptr && inl->is_object()) return inl;
    if (const Json* ref = FindField(step, "templateRef"); ref != nullptr && ref->is_object()) {
      std::string name = StringField(*ref, "name");
      std::string tmpl = StringField(*ref, "template");
      bool cluster = ref->value("clusterScope", false);
      auto wft = lookup_(name, cluster);
      if (!wft.ok()) {
        return FieldError(path + ".templateRef", std::string(cluster ? "ClusterWorkflowTemplate" : "WorkflowTemplate") +
                                                     " \"" + name + "\" not found");
      }
      external_.push_back(*wft);
      const Json* ext_spec = FindField(external_.back(), "spec");
      const Json* list = ext_spec != nullptr ? FindField(*ext_spec, "templates") : nullptr;
      static const Json kEmpty = Json::array();
      const Json* found = FindByName(list != nullptr ? *list : kEmpty, tmpl);
      if (found == nullptr) {
        return FieldError(path + ".templateRef.template",
                          "template \"" + tmpl + "\" not found in " + name);
      }
      return found;
    }
    std::string name = StringField(step, "template");
    if (name.empty()) return FieldError(path + ".template", "required");
    auto it = local_.find(name);
    if (it == local_.end()) return FieldError(path + ".template", "template \"" + name + "\" not found");
    return it->second;
  }

  // Checks a step's or task's arguments against the target's inputs.
  Status CheckArguments(const Json& step, const Json& target, const std::string& path) {
    // Pointers into the documents: ParamList would copy both lists for every step.
    auto params = [](const Json& owner, const char* field) -> const Json* {
      const Json* io = FindField(owner, field);
      const Json* list = io != nullptr ? FindField(*io, "parameters") : nullptr;
      return list != nullptr && list->is_array() ? list : nullptr;
    };
    const Json* wanted = params(target, "inputs");
    if (wanted == nullptr) return OkStatus();
    const Json* given = params(step, "arguments");
    for (const auto& p : *wanted) {
      std::string pname = StringField(p, "name");
      bool has = p.contains("value") || p.contains("default") || p.contains("valueFrom") ||
                 (given != nullptr && FindByName(*given, pname) != nullptr);
      if (!has) {
        return FieldError(path + ".arguments.parameters",
                          "inputs.parameters." + pname + " was not supplied");
      }
    }
    return OkStatus();
  }

  // Where CheckTags is in a document, rendered as a field path only for an error message.
  struct PathSeg {
    const PathSeg* parent = nullptr;
    const std::string* root = nullptr;  // the outermost segment's path
    bool is_index = false;
    std::string_view key;  // a mapping key, or
    size_t index = 0;      // an array index
    std::string Render() const {
      if (root != nullptr) return *root;
      std::string out = parent->Render();
      return is_index ? out + "[" + std::to_string(index) + "]" : out + "." + std::string(key);
    }
  };

  // Simple `{{...}}` references that can never resolve.
  // `skip_key`: a key of `value` itself (not of its descendants) that is not checked.
  Status CheckTags(const Json& value, const std::string& path, const std::set<std::string>& inputs,
                   const std::set<std::string>& steps, bool in_loop, std::string_view skip_key = {}) {
    PathSeg root;
    root.root = &path;
    return CheckTagsAt(value, root, inputs, steps, in_loop, skip_key);
  }

  Status CheckTagsAt(const Json& value, const PathSeg& at, const std::set<std::string>& inputs,
                     const std::set<std::string>& steps, bool in_loop, std::string_view skip_key) {
    if (value.is_string()) {
      const std::string& text = value.get_ref<const std::string&>();
      if (text.find("{{") == std::string::npos) return OkStatus();
      for (const std::string& tag : SimpleTagNames(text)) {
        std::string bad;
        if (tag.rfind("inputs.parameters.", 0) == 0) {
          std::string name = tag.substr(18);
          if (!inputs.count(name)) bad = "input parameter \"" + name + "\" is not declared";
        } else if (tag.rfind("workflow.parameters.", 0) == 0 && check_workflow_params_) {
          std::string name = tag.substr(20);
          if (!wf_params_.count(name) && name != "json") bad = "workflow parameter \"" + name + "\" is not declared in spec.arguments";
        } else if (tag == "item" || tag.rfind("item.", 0) == 0) {
          if (!in_loop) bad = "{{item}} used outside withItems/withParam/withSequence";
        } else if (tag == "steps.name" || tag == "tasks.name") {
          // The current step's or task's own name.
        } else if (tag.rfind("steps.", 0) == 0 || tag.rfind("tasks.", 0) == 0) {
          std::string rest = tag.substr(6);
          std::string name = rest.substr(0, rest.find('.'));
          if (!steps.count(name)) {
            bad = std::string(tag.rfind("steps.", 0) == 0 ? "step" : "task") + " \"" + name +
                  "\" is not defined before this point";
          }
        }
        if (!bad.empty()) return FieldError(at.Render(), "unresolvable {{" + tag + "}}: " + bad);
      }
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) {
        PathSeg seg;
        seg.parent = &at;
        seg.is_index = true;
        seg.index = i;
        SKIFF_RETURN_IF_ERROR(CheckTagsAt(value[i], seg, inputs, steps, in_loop, {}));
      }
    } else if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!skip_key.empty() && it.key() == skip_key) continue;
        PathSeg seg;
        seg.parent = &at;
        seg.key = it.key();
        SKIFF_RETURN_IF_ERROR(CheckTagsAt(it.value(), seg, inputs, steps, in_loop, {}));
      }
    }
    return OkStatus();
  }

  static bool HasLoop(const Json& step) {
    return step.contains("withItems") || step.contains("withParam") || step.contains("withSequence");
  }

  Status ValidateTemplate(const Json& t, const std::string& path) {
    SKIFF_RETURN_IF_ERROR(CheckType(t, path));
    std::set<std::string> inputs;
    Json in = t.value("inputs", Json::object());
    const Json* in_params = FindField(in, "parameters");
    if (in_params != nullptr && !in_params->is_array()) {
      return FieldError(path + ".inputs.parameters", "must be a list");
    }
    for (const auto& p : ParamList(in)) inputs.insert(StringField(p, "name"));
    // Names of this template's steps or tasks, which its outputs may refer to.
    std::set<std::string> children;
    if (const Json* steps = FindField(t, "steps"); steps != nullptr && steps->is_array()) {
      for (const auto& g : *steps) {
        if (!g.is_array()) continue;
        for (const auto& s : g) children.insert(StringField(s, "name"));
      }
    }
    if (const Json* dag = FindField(t, "dag"); dag != nullptr && dag->is_object()) {
      // FindField, not value(): value() would copy every task.
      if (const Json* tasks = FindField(*dag, "tasks"); tasks != nullptr && tasks->is_array()) {
        for (const auto& task : *tasks) children.insert(StringField(task, "name"));
      }
    }
    std::set<std::string> none;
    for (const char* k : {"container", "script", "containerSet"}) {
      if (const Json* v = FindField(t, k)) {
        SKIFF_RETURN_IF_ERROR(CheckTags(*v, path + "." + k, inputs, none, false));
      }
    }
    if (const Json* v = FindField(t, "outputs")) {
      SKIFF_RETURN_IF_ERROR(CheckTags(*v, path + ".outputs", inputs, children, false));
    }
    if (const Json* steps = FindField(t, "steps"); steps != nullptr && !steps->is_null()) {
      if (!steps->is_array()) return FieldError(path + ".steps", "must be a list of step groups");
      std::set<std::string> earlier;
      for (size_t g = 0; g < steps->size(); ++g) {
        const Json& group = (*steps)[g];
        if (!group.is_array()) {
          return FieldError(path + ".steps[" + std::to_string(g) + "]", "must be a list of steps");
        }
        std::set<std::string> this_group;
        for (size_t i = 0; i < group.size(); ++i) {
          const Json& step = group[i];
          std::string sp = path + ".steps[" + std::to_string(g) + "][" + std::to_string(i) + "]";
          std::string name = StringField(step, "name");
          if (name.empty()) return FieldError(sp + ".name", "required");
          if (!this_group.insert(name).second) {
            return FieldError(sp + ".name", "step name \"" + name + "\" is not unique");
          }
          SKIFF_ASSIGN_OR_RETURN(const Json* target, Target(step, sp));
          SKIFF_RETURN_IF_ERROR(CheckArguments(step, *target, sp));
          // A step's own hooks may refer to it: they are not checked here.
          SKIFF_RETURN_IF_ERROR(CheckTags(step, sp, inputs, earlier, HasLoop(step), "hooks"));
          if (const Json* on_exit = FindField(step, "onExit"); on_exit != nullptr) {
            if (!local_.count(ScalarToString(*on_exit))) {
              return FieldError(sp + ".onExit", "template \"" + ScalarToString(*on_exit) + "\" not found");
            }
          }
        }
        earlier.insert(this_group.begin(), this_group.end());
      }
    }
    if (const Json* dag = FindField(t, "dag"); dag != nullptr && !dag->is_null()) {
      const Json* tasks = FindField(*dag, "tasks");
      if (tasks == nullptr || !tasks->is_array() || tasks->empty()) {
        return FieldError(path + ".dag.tasks", "at least one task is required");
      }
      std::map<std::string, size_t> index;
      for (size_t i = 0; i < tasks->size(); ++i) {
        std::string name = StringField((*tasks)[i], "name");
        std::string tp = path + ".dag.tasks[" + std::to_string(i) + "]";
        if (name.empty()) return FieldError(tp + ".name", "required");
        if (!index.emplace(name, i).second) {
          return FieldError(tp + ".name", "task name \"" + name + "\" is not unique");
        }
      }
      std::map<std::string, std::vector<std::string>> deps;
      static const std::regex kWord(R"([a-zA-Z0-9][-a-zA-Z0-9]*(\.[A-Za-z]+)?)");
      for (size_t i = 0; i < tasks->size(); ++i) {
        const Json& task = (*tasks)[i];
        std::string name = StringField(task, "name");
        std::string tp = path + ".dag.tasks[" + std::to_string(i) + "]";
        SKIFF_ASSIGN_OR_RETURN(const Json* target, Target(task, tp));
        SKIFF_RETURN_IF_ERROR(CheckArguments(task, *target, tp));
        if (const Json* list = FindField(task, "dependencies"); list != nullptr && list->is_array()) {
          for (size_t j = 0; j < list->size(); ++j) {
            std::string dep = ScalarToString((*list)[j]);
            if (!index.count(dep)) {
              return FieldError(tp + ".dependencies[" + std::to_string(j) + "]",
                                "unknown task \"" + dep + "\"");
            }
            deps[name].push_back(dep);
          }
        }
        std::string depends = StringField(task, "depends");
        if (!depends.empty()) {
          if (task.contains("dependencies")) {
            return FieldError(tp, "cannot use both 'depends' and 'dependencies'");
          }
          for (auto it = std::sregex_iterator(depends.begin(), depends.end(), kWord);
               it != std::sregex_iterator(); ++it) {
            std::string word = it->str();
            std::string dep = word.substr(0, word.find('.'));
            std::string result = word.find('.') == std::string::npos ? "" : word.substr(word.find('.') + 1);
            if (!index.count(dep)) {
              return FieldError(tp + ".depends", "unknown task \"" + dep + "\"");
            }
            static const std::set<std::string> kResults = {"Succeeded", "Failed", "Errored", "Skipped",
                                                           "Omitted", "Daemoned", "AnySucceeded", "AllFailed"};
            if (!result.empty() && !kResults.count(result)) {
              return FieldError(tp + ".depends", "unknown task result \"" + result + "\" for task \"" + dep + "\"");
            }
            deps[name].push_back(dep);
          }
        }
      }
      // Cycles (depth-first search with colours).
      std::map<std::string, int> colour;
      std::vector<std::string> stack;
      std::function<Status(const std::string&)> visit = [&](const std::string& n) -> Status {
        colour[n] = 1;
        stack.push_back(n);
        for (const auto& d : deps[n]) {
          if (colour[d] == 1) {
            std::string cycle;
            auto from = std::find(stack.begin(), stack.end(), d);
            for (auto s = from; s != stack.end(); ++s) cycle += *s + " -> ";
            cycle += d;
            return FieldError(path + ".dag.tasks[" + std::to_string(index[n]) + "]",
                              "dependency cycle: " + cycle);
          }
          if (colour[d] == 0) SKIFF_RETURN_IF_ERROR(visit(d));
        }
        stack.pop_back();
        colour[n] = 2;
        return OkStatus();
      };
      for (const auto& [name, i] : index) {
        if (colour[name] == 0) SKIFF_RETURN_IF_ERROR(visit(name));
      }
      // References to tasks must name existing tasks.
      std::set<std::string> all;
      for (const auto& [name, i] : index) all.insert(name);
      for (size_t i = 0; i < tasks->size(); ++i) {
        const Json& task = (*tasks)[i];
        std::string tp = path + ".dag.tasks[" + std::to_string(i) + "]";
        SKIFF_RETURN_IF_ERROR(CheckTags(task, tp, inputs, all, HasLoop(task), "hooks"));
      }
      std::string target = StringField(*dag, "target");
      if (!target.empty()) {
        std::string word;
        for (size_t i = 0; i <= target.size(); ++i) {
          if (i == target.size() || target[i] == ' ') {
            if (!word.empty() && !index.count(word) && !HasTags(word)) {
              return FieldError(path + ".dag.target", "unknown task \"" + word + "\"");
            }
            word.clear();
          } else {
            word += target[i];
          }
        }
      }
    }
    return OkStatus();
  }

  const Json& wf_;
  const TemplateLookup& lookup_;
  const Json* spec_ = nullptr;
  std::string spec_path_;
  std::map<std::string, const Json*> local_;
  std::map<std::string, std::string> paths_;
  std::set<std::string> wf_params_;
  std::deque<Json> external_;
  bool check_workflow_params_ = true;
};

}  // namespace

Status ValidateWorkflow(const Json& workflow, const TemplateLookup& templates) {
  Validator v(workflow, templates);
  return v.Run();
}

}  // namespace skiff::dag
