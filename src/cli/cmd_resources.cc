// `skiff get|apply|delete|logs|resume|stop|terminate` on the embedded store.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "backends/local/kubelet.h"
#include "kinds/serving/inference_service.h"
#include "kinds/training/training_job.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/local_runtime.h"
#include "cli/progress.h"
#include "common/fs.h"
#include "kinds/registry.h"

namespace skiff::cli {

namespace {

std::string Age(const Json& obj) {
  auto t = ParseRfc3339(StringField(obj.value("metadata", Json::object()), "creationTimestamp"));
  if (!t.ok()) return "";
  return HumanDuration(SystemClock::Get().Now() - *t);
}

std::vector<std::string> WorkflowRow(const Json& wf) {
  const Json& st = wf.value("status", Json::object());
  std::string duration;
  auto s = ParseRfc3339(StringField(st, "startedAt"));
  if (s.ok()) {
    auto f = ParseRfc3339(StringField(st, "finishedAt"));
    duration = HumanDuration((f.ok() ? *f : SystemClock::Get().Now()) - *s);
  }
  return {StringField(wf["metadata"], "name"), StringField(st, "phase", "Pending"), Age(wf), duration,
          StringField(wf.value("spec", Json::object()), "priority", "0"), StringField(st, "message")};
}

std::vector<std::string> PodRow(const Json& pod) {
  const Json& st = pod.value("status", Json::object());
  int ready = 0, total = 0, restarts = 0;
  for (const auto& c : st.value("containerStatuses", Json::array())) {
    ++total;
    if (c.value("ready", false)) ++ready;
    restarts += c.value("restartCount", 0);
  }
  if (total == 0) total = static_cast<int>(pod.value("spec", Json::object()).value("containers", Json::array()).size());
  std::string phase = StringField(st, "phase", "Pending");
  std::string reason = StringField(st, "reason");
  if (phase == "Failed" && !reason.empty()) phase = reason;
  if (phase == "Succeeded") phase = "Completed";
  return {StringField(pod["metadata"], "name"), std::to_string(ready) + "/" + std::to_string(total), phase,
          std::to_string(restarts), Age(pod)};
}

std::vector<std::string> IsvcRow(const Json& o) {
  kserve::PrinterRow r = kserve::PrinterColumns(o);
  return {StringField(o["metadata"], "name"), r.url, r.ready, r.prev, r.latest, Age(o)};
}

Result<std::unique_ptr<LocalRuntime>> OpenRuntime() { return LocalRuntime::Open(SkiffHome()); }

// Copies what a log file has from `offset` to stdout with an optional prefix per line.
size_t PrintLog(const std::string& path, size_t offset, const std::string& prefix) {
  auto data = ReadFile(path);
  if (!data.ok() || data->size() <= offset) return offset;
  std::string chunk = data->substr(offset);
  if (prefix.empty()) {
    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
  } else {
    std::istringstream in(chunk);
    std::string line;
    while (std::getline(in, line)) std::printf("%s%s\n", prefix.c_str(), line.c_str());
  }
  std::fflush(stdout);
  return data->size();
}

}  // namespace

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - r[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

int Fail(const Status& status, int code) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return code;
}

bool KnownKind(const std::string& kind, bool* namespaced) {
  const kinds::KindInfo* k = kinds::FindKind(kind);
  if (k != nullptr) *namespaced = k->namespaced;
  return k != nullptr;
}

std::string KindFromResourceName(const std::string& name) {
  const kinds::KindInfo* k = kinds::ResolveName(name);
  return k == nullptr ? "" : k->kind;
}

Result<std::vector<Json>> LoadDocuments(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto r = ReadFile(path);
    if (!r.ok()) return r.status().code() == StatusCode::kNotFound ? NotFound(path + ": no such file") : r.status();
    text = std::move(*r);
  }
  auto docs = ParseYamlDocuments(text);
  if (!docs.ok()) return InvalidArgument(path + ": " + docs.status().message());
  if (docs->empty()) return InvalidArgument(path + ": no documents");
  return docs;
}

int CmdGet(const Argv& argv) {
  Args args({"-o", "--namespace", "-l"}, {"-A", "--watch"},
            {{"--output", "-o"}, {"-n", "--namespace"}, {"--selector", "-l"}, {"--all-namespaces", "-A"}, {"-w", "--watch"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff get KIND [NAME] [-o json|yaml|name|wide]"));
  std::string res = args.positional()[0];
  std::string name = args.positional().size() > 1 ? args.positional()[1] : "";
  size_t slash = res.find('/');
  if (slash != std::string::npos) {
    name = res.substr(slash + 1);
    res = res.substr(0, slash);
  }
  std::string kind = KindFromResourceName(res);
  if (kind.empty()) return Fail(InvalidArgument("unknown resource type \"" + res + "\""));
  bool namespaced = true;
  KnownKind(kind, &namespaced);
  auto rt = OpenRuntime();
  if (!rt.ok()) return Fail(rt.status(), 1);
  store::Store& store = (*rt)->store();
  std::string ns = namespaced ? (args.Has("-A") ? "" : args.Get("--namespace", "default")) : "";
  std::string output = args.Get("-o");
  if (!name.empty()) {
    Result<Json> obj = kind == "Workflow" ? controllers::GetWorkflowWithNodes(store, ns, name)
                                          : store.Get({kind, ns, name});
    if (!obj.ok()) return Fail(obj.status(), 1);
    if (output == "json") {
      std::printf("%s\n", DumpJson(*obj, 2).c_str());
    } else if (output == "yaml") {
      std::fputs(ToYaml(*obj).c_str(), stdout);
    } else if (output == "name") {
      std::printf("%s/%s\n", res.c_str(), name.c_str());
    } else if (kind == "Workflow") {
      std::fputs(RenderWorkflow(*obj, NodesFromWorkflowJson(*obj), SystemClock::Get().Now(), false).c_str(), stdout);
    } else if (kind == "Pod") {
      PrintTable({{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}, PodRow(*obj)});
    } else if (kind == kserve::kKind) {
      PrintTable({{"NAME", "URL", "READY", "PREV", "LATEST", "AGE"}, IsvcRow(*obj)});
    } else {
      PrintTable({{"NAME", "AGE"}, {name, Age(*obj)}});
    }
    return 0;
  }
  store::ListOptions lo;
  lo.label_selector = args.Get("-l");
  auto list = store.List(kind, ns, lo);
  if (!list.ok()) return Fail(list.status(), 1);
  if (output == "json" || output == "yaml") {
    Json l = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", list->items}};
    std::fputs(output == "json" ? (DumpJson(l, 2) + "\n").c_str() : ToYaml(l).c_str(), stdout);
    return 0;
  }
  if (output == "name") {
    std::string lower = kind;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    for (const auto& o : list->items) std::printf("%s/%s\n", lower.c_str(), StringField(o["metadata"], "name").c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (kind == "Workflow") {
    rows.push_back({"NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"});
    std::vector<Json> items = list->items;
    std::sort(items.begin(), items.end(), [](const Json& a, const Json& b) {
      return StringField(a["metadata"], "creationTimestamp") > StringField(b["metadata"], "creationTimestamp");
    });
    for (const auto& wf : items) rows.push_back(WorkflowRow(wf));
  } else if (kind == "Pod") {
    rows.push_back({"NAME", "READY", "STATUS", "RESTARTS", "AGE"});
    for (const auto& p : list->items) rows.push_back(PodRow(p));
  } else if (kind == kserve::kKind) {
    rows.push_back({"NAME", "URL", "READY", "PREV", "LATEST", "AGE"});
    for (const auto& o : list->items) rows.push_back(IsvcRow(o));
  } else {
    rows.push_back({"NAME", "AGE"});
    for (const auto& o : list->items) rows.push_back({StringField(o["metadata"], "name"), Age(o)});
  }
  if (rows.size() == 1) {
    std::fprintf(stderr, "No resources found%s.\n", ns.empty() ? "" : (" in " + ns + " namespace").c_str());
    return 0;
  }
  PrintTable(rows);
  return 0;
}

int CmdApply(const Argv& argv) {
  Args args({"-f", "--namespace"}, {}, {{"--filename", "-f"}, {"-n", "--namespace"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  std::vector<std::string> files = args.GetAll("-f");
  if (files.empty()) return Fail(InvalidArgument("usage: skiff apply -f FILE"));
  std::vector<Json> all;
  for (const auto& f : files) {
    auto docs = LoadDocuments(f);
    if (!docs.ok()) return Fail(docs.status());
    for (auto& d : *docs) {
      std::string kind = StringField(d, "kind");
      bool namespaced = true;
      if (!KnownKind(kind, &namespaced)) return Fail(InvalidArgument(f + ": kind: unknown kind \"" + kind + "\""));
      if (kind == "Workflow" || kind == "WorkflowTemplate" || kind == "ClusterWorkflowTemplate") {
        Status v = dag::ValidateWorkflow(d, [](std::string_view, bool) -> Result<Json> { return Json::object(); });
        if (!v.ok() && v.message().find("templateRef") == std::string::npos) {
          return Fail(InvalidArgument(f + ": " + kind + " " + StringField(d["metadata"], "name") + ": " + v.message()));
        }
      }
      if (training::IsTrainingKind(kind)) {
        auto job = training::ParseTrainingJob(d);
        if (!job.ok()) {
          return Fail(InvalidArgument(f + ": " + kind + " " + StringField(d["metadata"], "name") + ": " +
                                      job.status().message()));
        }
      }
      if (kind == kserve::kKind) {
        auto isvc = kserve::ParseInferenceService(d);
        if (!isvc.ok()) {
          return Fail(InvalidArgument(f + ": " + kind + " " + StringField(d["metadata"], "name") + ": " +
                                      isvc.status().message()));
        }
      }
      if (namespaced && StringField(d["metadata"], "namespace").empty()) {
        d["metadata"]["namespace"] = args.Get("--namespace", "default");
      }
      all.push_back(std::move(d));
    }
  }
  auto rt = OpenRuntime();
  if (!rt.ok()) return Fail(rt.status(), 1);
  store::Store& store = (*rt)->store();
  for (auto& d : all) {
    std::string kind = StringField(d, "kind");
    std::string lower = kind;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    auto created = store.Create(d);
    if (created.ok()) {
      std::printf("%s/%s created\n", lower.c_str(), StringField((*created)["metadata"], "name").c_str());
      continue;
    }
    if (created.status().code() != StatusCode::kAlreadyExists) return Fail(created.status(), 1);
    auto current = store.Get(store::KeyOf(d));
    if (!current.ok()) return Fail(current.status(), 1);
    d["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
    auto updated = store.Update(d);
    if (!updated.ok()) return Fail(updated.status(), 1);
    std::printf("%s/%s configured\n", lower.c_str(), StringField(d["metadata"], "name").c_str());
  }
  return 0;
}

int CmdDelete(const Argv& argv) {
  Args args({"--namespace", "-f"}, {"--all"}, {{"-n", "--namespace"}, {"--filename", "-f"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  auto rt = OpenRuntime();
  if (!rt.ok()) return Fail(rt.status(), 1);
  store::Store& store = (*rt)->store();
  std::string ns = args.Get("--namespace", "default");
  std::vector<store::ObjectKey> keys;
  if (args.Has("-f")) {
    auto docs = LoadDocuments(args.Get("-f"));
    if (!docs.ok()) return Fail(docs.status());
    for (const auto& d : *docs) {
      bool namespaced = true;
      KnownKind(StringField(d, "kind"), &namespaced);
      keys.push_back({StringField(d, "kind"), namespaced ? StringField(d["metadata"], "namespace", ns) : "",
                      StringField(d["metadata"], "name")});
    }
  } else {
    if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff delete KIND NAME... | --all"));
    std::string res = args.positional()[0];
    std::vector<std::string> names(args.positional().begin() + 1, args.positional().end());
    size_t slash = res.find('/');
    if (slash != std::string::npos) {
      names.push_back(res.substr(slash + 1));
      res = res.substr(0, slash);
    }
    std::string kind = KindFromResourceName(res);
    if (kind.empty()) return Fail(InvalidArgument("unknown resource type \"" + res + "\""));
    bool namespaced = true;
    KnownKind(kind, &namespaced);
    if (args.Has("--all")) {
      auto list = store.List(kind, namespaced ? ns : "");
      if (!list.ok()) return Fail(list.status(), 1);
      for (const auto& o : list->items) names.push_back(StringField(o["metadata"], "name"));
    }
    if (names.empty()) return Fail(InvalidArgument("delete " + res + ": no names given (or use --all)"));
    for (const auto& n : names) keys.push_back({kind, namespaced ? ns : "", n});
  }
  int rc = 0;
  const int64_t before = store.CurrentResourceVersion();
  for (const auto& k : keys) {
    Status s = store.Delete(k);
    std::string lower = k.kind;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      rc = 1;
    } else {
      std::printf("%s \"%s\" deleted\n", lower.c_str(), k.name.c_str());
    }
  }
  // Deleted Pods (directly or through their owners) take their logs and directories along.
  auto gone = store.EventsSince(before, {"Pod", ""});
  if (gone.ok()) {
    for (const auto& ev : *gone) {
      if (ev.type == store::EventType::kDeleted) local::Kubelet::RemovePodFiles(SkiffHome(), ev.object);
    }
  }
  return rc;
}

int CmdLogs(const Argv& argv) {
  Args args({"-c", "--namespace"}, {"--follow", "--no-prefix"},
            {{"--container", "-c"}, {"-n", "--namespace"}, {"-f", "--follow"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff logs WORKFLOW [STEP] | skiff logs POD"));
  auto rt = OpenRuntime();
  if (!rt.ok()) return Fail(rt.status(), 1);
  store::Store& store = (*rt)->store();
  std::string ns = args.Get("--namespace", "default");
  std::string target = args.positional()[0];
  std::string step = args.positional().size() > 1 ? args.positional()[1] : "";
  for (const char* p : {"workflow/", "workflows/", "wf/"}) {
    if (target.rfind(p, 0) == 0) target = target.substr(std::string(p).size());
  }
  std::vector<Json> pods;
  bool single_pod = false;
  auto wf = controllers::GetWorkflowWithNodes(store, ns, target);
  if (wf.ok()) {
    NodeMap nodes = NodesFromWorkflowJson(*wf);
    std::vector<const dag::NodeStatus*> picked;
    for (const auto& [id, n] : nodes) {
      if (n.type != dag::NodeType::kPod || n.pod_name.empty()) continue;
      if (!step.empty() && n.display_name != step && n.pod_name != step && n.name != step &&
          n.display_name.rfind(step + "(", 0) != 0) {
        continue;
      }
      picked.push_back(&n);
    }
    std::sort(picked.begin(), picked.end(), [](const dag::NodeStatus* a, const dag::NodeStatus* b) {
      return a->started_at < b->started_at || (a->started_at == b->started_at && a->name < b->name);
    });
    for (const auto* n : picked) {
      auto pod = store.Get({"Pod", ns, n->pod_name});
      if (pod.ok()) pods.push_back(*pod);
    }
    if (!step.empty() && pods.empty()) return Fail(NotFound("workflow " + target + " has no step \"" + step + "\""), 1);
  } else {
    std::string pod_name = target.rfind("pod/", 0) == 0 ? target.substr(4) : target;
    auto pod = store.Get({"Pod", ns, pod_name});
    if (!pod.ok()) return Fail(NotFound("no workflow or pod named \"" + target + "\""), 1);
    pods.push_back(*pod);
    single_pod = true;
  }
  std::string home = (*rt)->home();
  std::string container = args.Get("-c", "main");
  bool prefix = !single_pod && pods.size() > 1 && !args.Has("--no-prefix");
  for (const auto& pod : pods) {
    std::string uid = StringField(pod["metadata"], "uid");
    std::string pname = StringField(pod["metadata"], "name");
    std::string c = container;
    if (!args.Has("-c")) {
      // The pod's first container when it has no "main".
      bool has_main = false;
      for (const auto& ct : pod["spec"].value("containers", Json::array())) has_main = has_main || StringField(ct, "name") == "main";
      if (!has_main) c = StringField(pod["spec"]["containers"][0], "name");
    }
    std::string pre = prefix ? pname + ": " : "";
    size_t out_off = PrintLog(local::Kubelet::LogPath(home, uid, c, false), 0, pre);
    size_t err_off = PrintLog(local::Kubelet::LogPath(home, uid, c, true), 0, pre);
    if (args.Has("--follow") && single_pod) {
      for (;;) {
        auto cur = store.Get({"Pod", ns, pname});
        std::string phase = cur.ok() ? StringField(cur->value("status", Json::object()), "phase") : "Failed";
        out_off = PrintLog(local::Kubelet::LogPath(home, uid, c, false), out_off, pre);
        err_off = PrintLog(local::Kubelet::LogPath(home, uid, c, true), err_off, pre);
        if (phase == "Succeeded" || phase == "Failed") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }
  return 0;
}

int CmdResume(const Argv& argv) {
  Args args({"--node", "-p", "--namespace"}, {}, {{"--parameter", "-p"}, {"-n", "--namespace"}, {"--node-field-selector", "--node"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().size() != 1) return Fail(InvalidArgument("usage: skiff resume WORKFLOW [--node NAME] [-p name=value]"));
  auto rt = OpenRuntime();
  if (!rt.ok()) return Fail(rt.status(), 1);
  std::string ns = args.Get("--namespace", "default");
  auto wf = (*rt)->store().Get({"Workflow", ns, args.positional()[0]});
  if (!wf.ok()) return Fail(wf.status(), 1);
  Json req = {{"node", args.Get("--node")}, {"parameters", Json::object()}};
  for (const auto& p : args.GetAll("-p")) {
    size_t eq = p.find('=');
    if (eq == std::string::npos) return Fail(InvalidArgument("-p " + p + ": expected name=value"));
    req["parameters"][p.substr(0, eq)] = p.substr(eq + 1);
  }
  std::string node = args.Get("--node");
  if (node.rfind("displayName=", 0) == 0) req["node"] = node.substr(12);
  (*wf)["metadata"]["annotations"][controllers::kResumeAnnotation] = DumpJson(req);
  auto u = (*rt)->store().Update(*wf);
  if (!u.ok()) return Fail(u.status(), 1);
  std::printf("workflow %s resumed\n", args.positional()[0].c_str());
  return 0;
}

int CmdStop(const Argv& argv, bool terminate) {
  Args args({"--namespace"}, {}, {{"-n", "--namespace"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument(std::string("usage: skiff ") + (terminate ? "terminate" : "stop") + " WORKFLOW..."));
  auto rt = OpenRuntime();
  if (!rt.ok()) return Fail(rt.status(), 1);
  std::string ns = args.Get("--namespace", "default");
  for (const auto& name : args.positional()) {
    auto wf = (*rt)->store().Get({"Workflow", ns, name});
    if (!wf.ok()) return Fail(wf.status(), 1);
    (*wf)["spec"]["shutdown"] = terminate ? "Terminate" : "Stop";
    auto u = (*rt)->store().Update(*wf);
    if (!u.ok()) return Fail(u.status(), 1);
    std::printf("workflow %s %s\n", name.c_str(), terminate ? "terminated" : "stopped");
  }
  return 0;
}

}  // namespace skiff::cli
