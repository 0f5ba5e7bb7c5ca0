// `skiff run`, `skiff wait` and `skiff lint`: submit Argo Workflows (or one Kubeflow training job,
// see run_training.h) from a file and follow them to completion with an embedded controller and
// kubelet.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/local_runtime.h"
#include "cli/progress.h"
#include "cli/run_experiment.h"
#include "cli/run_training.h"
#include "common/fs.h"
#include "common/ids.h"
#include "common/trace_mark.h"
#include "engine/dag/executor.h"
#include "store/selectors.h"
#include "kinds/training/training_job.h"

namespace skiff::cli {

namespace {

int g_signal_pipe[2] = {-1, -1};

void OnSignal(int) {
  char c = 1;
  ssize_t ignored = ::write(g_signal_pipe[1], &c, 1);
  (void)ignored;
}

bool IsTerminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Error";
}

struct Submission {
  std::vector<Json> support;    // ConfigMaps, templates, ... to apply first
  std::vector<Json> workflows;  // to create
  std::vector<Json> training;   // Kubeflow training jobs to create
  std::vector<Json> experiments;  // Katib Experiments to create
};

// Applies `-p name=value` overrides to a Workflow spec's arguments.
Status ApplyParameters(Json& wf, const std::vector<std::string>& params) {
  Json& spec = wf["spec"];
  for (const auto& p : params) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument("-p " + p + ": expected name=value");
    }
    std::string name = p.substr(0, eq), value = p.substr(eq + 1);
    Json& list = spec["arguments"]["parameters"];
    if (!list.is_array()) list = Json::array();
    bool found = false;
    for (auto& e : list) {
      if (StringField(e, "name") == name) {
        e["value"] = value;
        e.erase("valueFrom");
        found = true;
      }
    }
    if (!found) list.push_back({{"name", name}, {"value", value}});
  }
  return OkStatus();
}

Result<Submission> Prepare(const std::string& file, const Args& args, store::Store* store) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<Json> docs, LoadDocuments(file));
  Submission sub;
  std::map<std::string, Json> templates;  // "ns/name" or "cluster/name" from this file
  std::string ns = args.Get("--namespace", "default");
  for (size_t i = 0; i < docs.size(); ++i) {
    Json& d = docs[i];
    std::string where = file + ": document " + std::to_string(i + 1);
    if (!d.is_object()) return InvalidArgument(where + ": not an object");
    std::string kind = StringField(d, "kind");
    std::string api = StringField(d, "apiVersion");
    if (kind.empty()) return InvalidArgument(where + ": kind: required");
    if (api.empty()) return InvalidArgument(where + ": apiVersion: required");
    bool namespaced = true;
    if (!KnownKind(kind, &namespaced)) {
      return InvalidArgument(where + ": kind: unknown kind \"" + kind + "\" (apiVersion " + api + ")");
    }
    if (namespaced && StringField(d["metadata"], "namespace").empty()) d["metadata"]["namespace"] = ns;
    if (kind == "Workflow") {
      sub.workflows.push_back(std::move(d));  // a 700-step workflow is worth not copying
    } else if (training::IsTrainingKind(kind)) {
      auto job = training::ParseTrainingJob(d);
      if (!job.ok()) return InvalidArgument(where + ": " + kind + " " + StringField(d["metadata"], "name") + ": " + job.status().message());
      sub.training.push_back(std::move(d));
    } else if (kind == "Experiment") {
      Status v = controllers::ValidateExperiment(d);
      if (!v.ok()) return InvalidArgument(where + ": Experiment " + StringField(d["metadata"], "name") + ": " + v.message());
      sub.experiments.push_back(std::move(d));
    } else if (kind == "CronWorkflow") {
      Json wf = {{"apiVersion", "argoproj.io/v1alpha1"}, {"kind", "Workflow"}};
      Json meta = d.value("spec", Json::object()).value("workflowMetadata", Json::object());
      meta["generateName"] = StringField(d["metadata"], "name") + "-";
      meta["namespace"] = StringField(d["metadata"], "namespace");
      meta["annotations"]["workflows.argoproj.io/scheduled-time"] = FormatRfc3339(SystemClock::Get().Now());
      meta["labels"]["workflows.argoproj.io/cron-workflow"] = StringField(d["metadata"], "name");
      wf["metadata"] = meta;
      wf["spec"] = d["spec"].value("workflowSpec", Json::object());
      sub.workflows.push_back(wf);
      std::fprintf(stderr, "note: running CronWorkflow %s once (schedules run under `skiff server`)\n",
                   StringField(d["metadata"], "name").c_str());
    } else {
      if (kind == "WorkflowTemplate" || kind == "ClusterWorkflowTemplate") {
        std::string key = (kind == "ClusterWorkflowTemplate" ? "cluster/" : "ns/") + StringField(d["metadata"], "name");
        templates[key] = d;
      }
      sub.support.push_back(d);
    }
  }
  if (!sub.training.empty() || !sub.experiments.empty()) return sub;
  // A file of templates only: submit the first WorkflowTemplate, as `argo submit --from` does.
  if (sub.workflows.empty()) {
    for (const auto& d : sub.support) {
      std::string kind = StringField(d, "kind");
      if (kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate") continue;
      std::string name = StringField(d["metadata"], "name");
      Json wf = {{"apiVersion", "argoproj.io/v1alpha1"},
                 {"kind", "Workflow"},
                 {"metadata", {{"generateName", name + "-"}, {"namespace", ns}}},
                 {"spec", {{"workflowTemplateRef", {{"name", name}}}}}};
      if (kind == "ClusterWorkflowTemplate") wf["spec"]["workflowTemplateRef"]["clusterScope"] = true;
      // Carry the template's arguments so that -p overrides apply.
      if (d["spec"].contains("arguments")) wf["spec"]["arguments"] = d["spec"]["arguments"];
      sub.workflows.push_back(wf);
      break;
    }
  }
  if (sub.workflows.empty()) return InvalidArgument(file + ": no Workflow to run");
  auto lookup = [&](std::string_view name, bool cluster) -> Result<Json> {
    std::string key = (cluster ? "cluster/" : "ns/") + std::string(name);
    auto it = templates.find(key);
    if (it != templates.end()) return it->second;
    if (store == nullptr) return NotFound(std::string(name));
    return store->Get({cluster ? "ClusterWorkflowTemplate" : "WorkflowTemplate", cluster ? "" : ns, std::string(name)});
  };
  for (auto& wf : sub.workflows) {
    SKIFF_RETURN_IF_ERROR(ApplyParameters(wf, args.GetAll("-p")));
    if (args.Has("--entrypoint")) wf["spec"]["entrypoint"] = args.Get("--entrypoint");
    if (args.Has("--name")) {
      wf["metadata"]["name"] = args.Get("--name");
      wf["metadata"].erase("generateName");
    }
    if (args.Has("--generate-name")) {
      wf["metadata"]["generateName"] = args.Get("--generate-name");
      wf["metadata"].erase("name");
    }
    for (const auto& l : args.GetAll("-l")) {
      size_t eq = l.find('=');
      if (eq == std::string::npos) return InvalidArgument("-l " + l + ": expected key=value");
      wf["metadata"]["labels"][l.substr(0, eq)] = l.substr(eq + 1);
    }
    // A workflowTemplateRef gets the template's arguments merged for validation.
    Status v = dag::ValidateWorkflow(wf, lookup);
    if (!v.ok()) {
      std::string name = StringField(wf["metadata"], "name", StringField(wf["metadata"], "generateName"));
      return InvalidArgument(file + ": Workflow " + name + ": " + v.message());
    }
  }
  for (const auto& t : templates) {
    Status v = dag::ValidateWorkflow(t.second, lookup);
    if (!v.ok()) return InvalidArgument(file + ": " + StringField(t.second, "kind") + " " + t.first.substr(t.first.find('/') + 1) + ": " + v.message());
  }
  return sub;
}

// Creates or replaces a supporting object.
Status ApplyObject(store::Store& store, Json obj) {
  auto created = store.Create(obj);
  if (created.ok()) return OkStatus();
  if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  auto current = store.Get(store::KeyOf(obj));
  if (!current.ok()) return current.status();
  obj["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
  auto updated = store.Update(obj);
  return updated.ok() ? OkStatus() : updated.status();
}

struct WaitOptions {
  std::string output;  // "", "json", "yaml", "name"
  bool quiet = false;
};

// Follows `names` ("ns/name") until all have finished, acting as the controller whenever no
// other process is. Returns 0 iff all succeeded.
int Follow(LocalRuntime& rt, const std::vector<std::pair<std::string, std::string>>& targets,
           const WaitOptions& opts) {
  bool to_stdout = opts.output.empty();
  FILE* pout = to_stdout ? stdout : stderr;
  bool tty = ::isatty(::fileno(pout)) != 0 && std::getenv("SKIFF_NO_TTY") == nullptr;
  std::map<std::string, std::unique_ptr<ProgressPrinter>> printers;
  for (const auto& [ns, name] : targets) printers[ns + "/" + name] = std::make_unique<ProgressPrinter>(pout, tty && targets.size() == 1);
  std::set<std::string> done;
  std::map<std::string, std::string> phases;
  EventLoop& loop = rt.loop();

  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
  }
  int interrupts = 0;
  Status ws = loop.Watch(g_signal_pipe[0], [&] {
    char buf[16];
    while (::read(g_signal_pipe[0], buf, sizeof buf) > 0) ++interrupts;
    if (interrupts >= 2) {
      std::fprintf(stderr, "\ninterrupted again: leaving the workflow running\n");
      std::_Exit(130);
    }
    std::fprintf(stderr, "\ninterrupted: terminating the workflow (Ctrl-C again to leave it running)\n");
    for (const auto& [ns, name] : targets) {
      auto wf = rt.store().Get({"Workflow", ns, name});
      if (!wf.ok()) continue;
      (*wf)["spec"]["shutdown"] = "Terminate";
      auto u = rt.store().Update(*wf);
      (void)u;
    }
  });
  (void)ws;

  bool controller_started = false;
  auto check = [&]() {
    for (const auto& [ns, name] : targets) {
      std::string key = ns + "/" + name;
      if (done.count(key)) continue;
      // With the controller in this process its observer draws progress: only the phase is
      // needed here, not every node record.
      auto wf = controller_started ? rt.store().Get({"Workflow", ns, name})
                                   : controllers::GetWorkflowWithNodes(rt.store(), ns, name);
      if (!wf.ok()) {
        std::fprintf(stderr, "error: workflow %s: %s\n", key.c_str(), wf.status().message().c_str());
        done.insert(key);
        phases[key] = "Error";
        continue;
      }
      std::string phase = StringField(wf->value("status", Json::object()), "phase");
      if (!opts.quiet && !controller_started) printers[key]->Update(*wf, NodesFromWorkflowJson(*wf));
      if (IsTerminal(phase)) {
        if (controller_started && !opts.quiet) {
          auto full = controllers::GetWorkflowWithNodes(rt.store(), ns, name);
          if (full.ok()) wf = std::move(full);
        }
        TraceMark("terminal seen");
        if (!opts.quiet) printers[key]->Finish(*wf, NodesFromWorkflowJson(*wf));
        TraceMark("printed");
        done.insert(key);
        phases[key] = phase;
      }
    }
    if (done.size() == targets.size()) loop.Stop();
  };

  std::function<void()> tick;
  tick = [&] {
    if (!controller_started) {
      auto became = rt.TryBecomeController();
      if (became.ok() && *became) {
        TraceMark("start controllers");
        Status s = rt.StartControllers();
        TraceMark("started controllers");
        if (!s.ok()) {
          std::fprintf(stderr, "error: cannot start the local controller: %s\n", s.message().c_str());
          std::_Exit(1);
        }
        controller_started = true;
        rt.workflows()->SetObserver([&](const Json& wf, const std::unordered_map<std::string, dag::NodeStatus>& nodes,
                                        const std::vector<std::string>& changed) {
          std::string key = StringField(wf["metadata"], "namespace") + "/" + StringField(wf["metadata"], "name");
          auto p = printers.find(key);
          if (p == printers.end() || done.count(key)) return;
          std::string phase = store::StatusPhase(wf);  // no copy of the status on every pass
          if (!IsTerminal(phase)) {
            if (!opts.quiet) p->second->UpdateChanged(wf, nodes, changed);
            return;
          }
          // A target just finished, and this pass committed it: report it now, from the
          // controller's own nodes, rather than reading every node record back.
          TraceMark("terminal seen");
          if (!opts.quiet) p->second->Finish(wf, nodes);
          TraceMark("printed");
          done.insert(key);
          phases[key] = phase;
          if (done.size() == targets.size()) loop.Stop();
        });
      }
    }
    check();
    if (!loop.stopped()) loop.After(std::chrono::milliseconds(controller_started ? 250 : 200), tick);
  };
  tick();
  loop.Run();
  TraceMark("loop done");
  // Let the kubelet act on what the last passes decided (e.g. stop a finished workflow's
  // daemons) before this process, which may be the controller, exits.
  for (int i = 0; i < 20; ++i) loop.RunOnce(Duration(0));
  loop.Unwatch(g_signal_pipe[0]);
  TraceMark("drained");

  int rc = 0;
  for (const auto& [ns, name] : targets) {
    std::string key = ns + "/" + name;
    if (phases[key] != "Succeeded") rc = 1;
    if (opts.output == "json" || opts.output == "yaml") {
      auto wf = controllers::GetWorkflowWithNodes(rt.store(), ns, name);
      if (wf.ok()) {
        std::string text = opts.output == "json" ? DumpJson(*wf, 2) + "\n" : ToYaml(*wf);
        std::fputs(text.c_str(), stdout);
      }
    } else if (opts.output == "name") {
      std::printf("workflow/%s\n", name.c_str());
    }
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace

int CmdRun(const Argv& argv) {
  Args args({"-p", "-o", "--entrypoint", "--name", "--generate-name", "-l", "--namespace"},
            {"--quiet", "--detach"},
            {{"--parameter", "-p"}, {"--output", "-o"}, {"-n", "--namespace"}, {"--labels", "-l"},
             {"-q", "--quiet"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().size() != 1) {
    return Fail(InvalidArgument("usage: skiff run FILE [-p name=value]... [-o json|yaml|name]"));
  }
  std::string output = args.Get("-o");
  if (!output.empty() && output != "json" && output != "yaml" && output != "name" && output != "wide") {
    return Fail(InvalidArgument("-o: unknown output format \"" + output + "\" (json, yaml, name, wide)"));
  }
  // Validate before opening anything that writes.
  std::string home = SkiffHome();
  std::unique_ptr<LocalRuntime> rt;
  store::Store* store = nullptr;
  if (PathExists(JoinPath(home, "skiff.db"))) {
    auto opened = LocalRuntime::Open(home);
    if (!opened.ok()) return Fail(opened.status(), 1);
    rt = std::move(*opened);
    store = &rt->store();
  }
  TraceMark("opened");
  auto sub = Prepare(args.positional()[0], args, store);
  TraceMark("prepared");
  if (!sub.ok()) return Fail(sub.status());
  if (!rt) {
    auto opened = LocalRuntime::Open(home);
    if (!opened.ok()) return Fail(opened.status(), 1);
    rt = std::move(*opened);
  }
  for (const auto& obj : sub->support) {
    Status s = ApplyObject(rt->store(), obj);
    if (!s.ok()) return Fail(s.WithPrefix(StringField(obj, "kind") + " " + StringField(obj["metadata"], "name")), 1);
  }
  if (!sub->experiments.empty()) {
    if (sub->experiments.size() > 1 || !sub->training.empty() || !sub->workflows.empty()) {
      return Fail(InvalidArgument(args.positional()[0] + ": skiff run takes one Experiment per file"));
    }
    auto created = rt->store().Create(sub->experiments[0]);
    if (!created.ok()) return Fail(created.status(), created.status().code() == StatusCode::kAlreadyExists ? 2 : 1);
    std::string ns = StringField((*created)["metadata"], "namespace");
    std::string name = StringField((*created)["metadata"], "name");
    if (args.Has("--detach")) {
      std::printf("experiment/%s\n", name.c_str());
      return 0;
    }
    return FollowExperiment(*rt, ns, name, output == "wide" ? "" : output, args.Has("--quiet"));
  }
  if (!sub->training.empty()) {
    if (sub->training.size() > 1 || !sub->workflows.empty()) {
      return Fail(InvalidArgument(args.positional()[0] + ": skiff run takes one training job per file"));
    }
    auto created = rt->store().Create(sub->training[0]);
    if (!created.ok()) return Fail(created.status(), created.status().code() == StatusCode::kAlreadyExists ? 2 : 1);
    std::string kind = StringField(*created, "kind");
    std::string ns = StringField((*created)["metadata"], "namespace");
    std::string name = StringField((*created)["metadata"], "name");
    if (args.Has("--detach")) {
      std::printf("%s/%s\n", kind.c_str(), name.c_str());
      return 0;
    }
    return FollowTraining(*rt, kind, ns, name, output == "wide" ? "" : output, args.Has("--quiet"));
  }
  std::vector<std::pair<std::string, std::string>> targets;
  for (const auto& wf : sub->workflows) {
    auto created = rt->store().Create(wf);
    if (!created.ok()) return Fail(created.status(), created.status().code() == StatusCode::kAlreadyExists ? 2 : 1);
    targets.emplace_back(StringField((*created)["metadata"], "namespace"), StringField((*created)["metadata"], "name"));
  }
  TraceMark("created");
  if (args.Has("--detach")) {
    for (const auto& t : targets) std::printf("workflow/%s\n", t.second.c_str());
    return 0;
  }
  WaitOptions opts;
  opts.output = output == "wide" ? "" : output;
  opts.quiet = args.Has("--quiet");
  return Follow(*rt, targets, opts);
}

int CmdWait(const Argv& argv) {
  Args args({"-o", "--namespace"}, {"--quiet"}, {{"--output", "-o"}, {"-n", "--namespace"}, {"-q", "--quiet"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff wait NAME..."));
  auto rt = LocalRuntime::Open(SkiffHome());
  if (!rt.ok()) return Fail(rt.status(), 1);
  std::string ns = args.Get("--namespace", "default");
  std::vector<std::pair<std::string, std::string>> targets;
  for (std::string name : args.positional()) {
    if (name.rfind("workflow/", 0) == 0) name = name.substr(9);
    auto wf = (*rt)->store().Get({"Workflow", ns, name});
    if (!wf.ok()) return Fail(wf.status().WithPrefix("workflow " + name), 1);
    targets.emplace_back(ns, name);
  }
  WaitOptions opts;
  opts.output = args.Get("-o");
  opts.quiet = args.Has("--quiet");
  return Follow(**rt, targets, opts);
}

int CmdLint(const Argv& argv) {
  Args args({"--namespace"}, {}, {{"-n", "--namespace"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff lint FILE..."));
  std::unique_ptr<LocalRuntime> rt;
  store::Store* store = nullptr;
  if (PathExists(JoinPath(SkiffHome(), "skiff.db"))) {
    auto opened = LocalRuntime::Open(SkiffHome());
    if (opened.ok()) {
      rt = std::move(*opened);
      store = &rt->store();
    }
  }
  int rc = 0;
  for (const auto& file : args.positional()) {
    auto sub = Prepare(file, args, store);
    if (!sub.ok()) {
      std::fprintf(stderr, "error: %s\n", sub.status().message().c_str());
      rc = 2;
    } else {
      std::printf("%s: ok\n", file.c_str());
    }
  }
  return rc;
}

}  // namespace skiff::cli
