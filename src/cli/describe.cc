// `skiff describe`: an object as kubectl describes it (identity, labels, then spec and status as
// indented YAML; a Workflow's nodes as a table) followed by its Events. Shared by the local and
// the server-backed command.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/local_runtime.h"
#include "common/clock.h"
#include "controllers/pipeline/workflow_controller.h"
#include "controllers/tuning/experiment_controller.h"
#include "kinds/registry.h"
#include "kinds/serving/inference_service.h"
#include "kinds/training/training_job.h"

namespace skiff::cli {

namespace {

std::string Indent(const std::string& text, const std::string& pad) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += pad + line + "\n";
  return out;
}

std::string MapLines(const Json& m, const std::string& title) {
  std::string out = title;
  out += std::string(std::max<size_t>(14 - title.size(), 1), ' ');
  if (!m.is_object() || m.empty()) return out + "<none>\n";
  bool first = true;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!first) out += std::string(14, ' ');
    out += it.key() + "=" + ScalarToString(it.value()) + "\n";
    first = false;
  }
  return out;
}

std::string Ago(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t.ok()) return "<unknown>";
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(SystemClock::Get().Now() - *t).count();
  if (s < 120) return std::to_string(std::max<int64_t>(s, 0)) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  return std::to_string(s / 3600) + "h";
}

// `skiff describe` of a Katib Experiment: the first Trials the controller creates (their
// assignments and the primary container's rendered command), whether or not they can run here.
std::string ExperimentPlanText(const Json& obj) {
  auto planned = controllers::PlanFirstTrials(obj);
  if (!planned.ok()) return "Plan:         <invalid: " + planned.status().message() + ">\n";
  std::string out = "Plan:         the first Trials the controller creates (the sampler, seed and template\n"
                    "              the Experiment runs with; later ones depend on their results)\n";
  for (const auto& t : *planned) {
    out += "  " + StringField(t, "name") + ":";
    for (const auto& a : t["parameterAssignments"]) {
      out += " " + StringField(a, "name") + "=" + StringField(a, "value");
    }
    out += "\n";
  }
  if (planned->empty()) return out + "  <none: the search space is exhausted>\n";
  const Json spec = obj.value("spec", Json::object());
  const std::string primary =
      StringField(spec.value("trialTemplate", Json::object()), "primaryContainerName", "training-container");
  const Json& first = (*planned)[0];
  out += "  " + StringField(first, "name") + " runs a " + StringField(first["runSpec"], "kind");
  if (const Json* c = FindField(first, "primaryContainer"); c != nullptr && c->is_object()) {
    std::string line;
    for (const char* field : {"command", "args"}) {
      for (const auto& w : c->value(field, Json::array())) {
        std::string word = ScalarToString(w);
        if (word.find('\n') != std::string::npos) word = "<script: " + std::to_string(word.size()) + " bytes>";
        line += (line.empty() ? "" : " ") + word;
      }
    }
    out += "; " + primary + " (image " + StringField(*c, "image", "<none>") + "):\n    " + line + "\n";
  } else {
    out += "; no container named " + primary + " (primaryContainerName)\n";
  }
  return out;
}

}  // namespace

std::string DescribeText(const Json& obj) {
  const Json& md = obj.value("metadata", Json::object());
  std::string out;
  out += "Name:         " + StringField(md, "name") + "\n";
  if (!StringField(md, "namespace").empty()) out += "Namespace:    " + StringField(md, "namespace") + "\n";
  out += MapLines(md.value("labels", Json::object()), "Labels:");
  Json annotations = md.value("annotations", Json::object());
  annotations.erase("kubectl.kubernetes.io/last-applied-configuration");
  out += MapLines(annotations, "Annotations:");
  out += "API Version:  " + StringField(obj, "apiVersion") + "\n";
  out += "Kind:         " + StringField(obj, "kind") + "\n";
  out += "Created:      " + StringField(md, "creationTimestamp") + "\n";
  if (obj.contains("spec")) out += "Spec:\n" + Indent(ToYaml(obj["spec"]), "  ");
  if (training::IsTrainingKind(StringField(obj, "kind"))) out += TrainingPlanText(obj);
  if (StringField(obj, "kind") == "Experiment" && StringField(obj, "apiVersion") == "kubeflow.org/v1beta1") {
    out += ExperimentPlanText(obj);
  }
  if (obj.contains("data")) out += "Data:\n" + Indent(ToYaml(obj["data"]), "  ");
  Json status = obj.value("status", Json::object());
  Json nodes = status.value("nodes", Json::object());
  status.erase("nodes");
  if (!status.empty()) out += "Status:\n" + Indent(ToYaml(status), "  ");
  if (StringField(obj, "kind") == kserve::kKind) {
    // What the serving controller makes of it: formats, host runtimes, storage, scaling.
    auto isvc = kserve::ParseInferenceService(obj);
    out += "Plan:\n" + Indent(isvc.ok() ? ToYaml(kserve::DescribePlan(*isvc)) : "invalid: " + isvc.status().message(), "  ");
  }
  if (!nodes.empty()) {
    std::vector<std::vector<std::string>> rows = {{"NODE", "TYPE", "PHASE", "STARTED", "MESSAGE"}};
    std::vector<Json> sorted;
    for (auto it = nodes.begin(); it != nodes.end(); ++it) sorted.push_back(it.value());
    std::sort(sorted.begin(), sorted.end(), [](const Json& a, const Json& b) {
      return StringField(a, "startedAt") + StringField(a, "name") < StringField(b, "startedAt") + StringField(b, "name");
    });
    for (const auto& n : sorted) {
      rows.push_back({StringField(n, "name"), StringField(n, "type"), StringField(n, "phase"),
                      StringField(n, "startedAt"), StringField(n, "message")});
    }
    std::vector<size_t> w(5, 0);
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    }
    out += "Nodes:\n";
    for (const auto& r : rows) {
      std::string line = "  ";
      for (size_t i = 0; i < r.size(); ++i) line += r[i] + (i + 1 < r.size() ? std::string(w[i] - r[i].size() + 2, ' ') : "");
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
  }
  return out;
}

std::string EventsText(const Json& events) {
  if (!events.is_array() || events.empty()) return "Events:       <none>\n";
  std::vector<Json> sorted(events.begin(), events.end());
  std::sort(sorted.begin(), sorted.end(), [](const Json& a, const Json& b) {
    return StringField(a, "lastTimestamp") < StringField(b, "lastTimestamp");
  });
  std::vector<std::vector<std::string>> rows = {{"Type", "Reason", "Age", "From", "Message"},
                                                {"----", "------", "----", "----", "-------"}};
  for (const auto& e : sorted) {
    rows.push_back({StringField(e, "type"), StringField(e, "reason"), Ago(StringField(e, "lastTimestamp")),
                    StringField(e.value("source", Json::object()), "component"), StringField(e, "message")});
  }
  std::vector<size_t> w(5, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string out = "Events:\n";
  for (const auto& r : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < r.size(); ++i) line += r[i] + (i + 1 < r.size() ? std::string(w[i] - r[i].size() + 2, ' ') : "");
    out += line + "\n";
  }
  return out;
}

int CmdDescribe(const Argv& argv) {
  Args args({"--namespace", "-f"}, {}, {{"-n", "--namespace"}, {"--filename", "-f"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.Has("-f")) {
    // A file not applied yet: each document as it would be stored (no status, no events).
    for (const auto& f : args.GetAll("-f")) {
      auto docs = LoadDocuments(f);
      if (!docs.ok()) return Fail(docs.status());
      for (const auto& d : *docs) {
        if (StringField(d, "kind") == kserve::kKind) {
          auto isvc = kserve::ParseInferenceService(d);
          if (!isvc.ok()) {
            return Fail(InvalidArgument(f + ": InferenceService " + StringField(d.value("metadata", Json::object()), "name") +
                                        ": " + isvc.status().message()));
          }
        }
        std::printf("%s", DescribeText(d).c_str());
      }
    }
    return 0;
  }
  std::vector<std::string> pos = args.positional();
  std::string res = pos.empty() ? "" : pos[0], name = pos.size() > 1 ? pos[1] : "";
  if (size_t slash = res.find('/'); slash != std::string::npos) {
    name = res.substr(slash + 1);
    res = res.substr(0, slash);
  }
  if (res.empty() || name.empty()) return Fail(InvalidArgument("usage: skiff describe KIND NAME"));
  const kinds::KindInfo* k = kinds::ResolveName(res);
  if (k == nullptr) return Fail(InvalidArgument("unknown resource type \"" + res + "\""));
  auto rt = LocalRuntime::Open(SkiffHome());
  if (!rt.ok()) return Fail(rt.status(), 1);
  std::string ns = k->namespaced ? args.Get("--namespace", "default") : "";
  store::Store& st = (*rt)->store();
  auto obj = k->kind == "Workflow" ? controllers::GetWorkflowWithNodes(st, ns, name) : st.Get({k->kind, ns, name});
  if (!obj.ok()) return Fail(obj.status(), 1);
  std::printf("%s", DescribeText(*obj).c_str());
  auto events = st.List("Event", ns.empty() ? "default" : ns);
  Json mine = Json::array();
  if (events.ok()) {
    for (const auto& e : events->items) {
      const Json& io = e.value("involvedObject", Json::object());
      if (StringField(io, "kind") == k->kind && StringField(io, "name") == name) mine.push_back(e);
    }
  }
  std::printf("%s", EventsText(mine).c_str());
  return 0;
}

}  // namespace skiff::cli
