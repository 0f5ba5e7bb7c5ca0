// `skiff server`: the control plane as a long-running process. It holds the data dir's
// controller lock, runs the controllers and the local kubelet on the event loop (main thread),
// and serves the Kubernetes API (api/kube_api.h) over HTTP from the server's own threads.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <unordered_map>

#include "api/http_server.h"
#include "api/kube_api.h"
#include "api/metadata_api.h"
#include "backends/local/kubelet.h"
#include "kinds/serving/inference_service.h"
#include "kinds/training/training_job.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/local_runtime.h"
#include "cli/trial_metrics_api.h"
#include "common/metrics.h"
#include "controllers/pipeline/workflow_controller.h"
#include "engine/dag/executor.h"
#include "serving/gateway/gateway.h"
#include "serving/stats/stats.h"

namespace skiff::cli {

namespace {

int g_stop_pipe[2] = {-1, -1};

void OnStopSignal(int) {
  char c = 1;
  ssize_t n = ::write(g_stop_pipe[1], &c, 1);
  (void)n;
}

bool IsLoopback(const std::string& host) { return host == "127.0.0.1" || host.rfind("127.", 0) == 0; }

// What the control plane exposes besides API requests: reconcile queue and pass latency, and
// Pods and Workflows by phase (counted at scrape time).
void DeclareServerMetrics(Metrics& m, LocalRuntime& rt) {
  m.Declare("skiff_workflow_queue_depth", Metrics::Type::kGauge, "Workflows waiting for a reconcile pass.");
  m.Declare("skiff_workflow_reconcile_duration_seconds", Metrics::Type::kHistogram,
            "Duration of one Workflow reconcile pass.", Metrics::LatencyBuckets());
  m.Declare("skiff_pods", Metrics::Type::kGauge, "Pods by phase.");
  m.Declare("skiff_workflows", Metrics::Type::kGauge, "Workflows by phase.");
  if (controllers::WorkflowController* wc = rt.workflows()) {
    wc->SetPassObserver([&m](Duration d) {
      m.Observe("skiff_workflow_reconcile_duration_seconds", {}, std::chrono::duration<double>(d).count());
    });
  }
  // Objects by phase, kept up to date from store events on the loop thread (a scrape must not
  // list 10,000 Pods).
  struct PhaseCounts {
    std::unordered_map<std::string, std::string> phase_by_uid;
    std::map<std::string, int> count;
  };
  auto counts = std::make_shared<std::map<std::string, PhaseCounts>>();
  auto family = [](const std::string& kind) { return kind == "Pod" ? "skiff_pods" : "skiff_workflows"; };
  auto apply = [&m, counts, family](const std::string& kind, const std::string& uid, const std::string& phase,
                                    bool deleted) {
    PhaseCounts& c = (*counts)[kind];
    auto it = c.phase_by_uid.find(uid);
    if (it != c.phase_by_uid.end()) {
      if (!deleted && it->second == phase) return;
      m.Set(family(kind), {{"phase", it->second}}, --c.count[it->second]);
      if (deleted) {
        c.phase_by_uid.erase(it);
        return;
      }
      it->second = phase;
    } else {
      if (deleted) return;
      c.phase_by_uid.emplace(uid, phase);
    }
    m.Set(family(kind), {{"phase", phase}}, ++c.count[phase]);
  };
  store::Store& st = rt.store();
  for (const char* kind : {"Pod", "Workflow"}) {
    for (const char* p : {"Pending", "Running", "Succeeded", "Failed"}) {
      (*counts)[kind].count[p] = 0;
      m.Set(family(kind), {{"phase", p}}, 0);
    }
    auto list = st.List(kind, "");
    if (!list.ok()) continue;
    for (const auto& o : list->items) {
      apply(kind, StringField(o["metadata"], "uid"),
            StringField(o.value("status", Json::object()), "phase", "Pending"), false);
    }
  }
  if (store::Informer* inf = rt.informer()) {
    for (const char* kind : {"Pod", "Workflow"}) {
      inf->AddHandler(kind, [apply, kind = std::string(kind)](const store::WatchEvent& ev) {
        apply(kind, StringField(ev.object["metadata"], "uid"),
              StringField(ev.object.value("status", Json::object()), "phase", "Pending"),
              ev.type == store::EventType::kDeleted);
      });
    }
  }
  // InferenceService revisions: replicas wanted by the autoscaler and ready.
  m.Declare("skiff_isvc_desired_replicas", Metrics::Type::kGauge, "Replicas the autoscaler wants, per revision.");
  m.Declare("skiff_isvc_ready_replicas", Metrics::Type::kGauge, "Ready replicas, per revision.");
  if (controllers::InferenceServiceController* ic = rt.inference_services()) {
    m.AddCollector([ic](Metrics& self) {
      self.Clear("skiff_isvc_desired_replicas");
      self.Clear("skiff_isvc_ready_replicas");
      for (const auto& [rev, r] : ic->ReplicaSnapshot()) {
        self.Set("skiff_isvc_desired_replicas", {{"revision", rev}}, r.desired);
        self.Set("skiff_isvc_ready_replicas", {{"revision", rev}}, r.ready);
      }
    });
  }
  controllers::WorkflowController* wc = rt.workflows();
  m.AddCollector([wc](Metrics& self) {
    if (wc != nullptr) self.Set("skiff_workflow_queue_depth", {}, static_cast<double>(wc->queue_depth()));
  });
}

}  // namespace

Status ValidateForStore(const Json& obj) {
  std::string kind = StringField(obj, "kind");
  if (kind == "Workflow" || kind == "WorkflowTemplate" || kind == "ClusterWorkflowTemplate") {
    // References to other templates are checked when the workflow runs: they may be created later.
    Status v = dag::ValidateWorkflow(obj, [](std::string_view, bool) -> Result<Json> { return Json::object(); });
    if (!v.ok() && v.message().find("templateRef") == std::string::npos) return v;
  }
  if (training::IsTrainingKind(kind)) {
    auto job = training::ParseTrainingJob(obj);
    if (!job.ok()) return job.status();
  }
  if (kind == kserve::kKind) {
    auto isvc = kserve::ParseInferenceService(obj);
    if (!isvc.ok()) return isvc.status();
  }
  return OkStatus();
}

int CmdServer(const Argv& argv) {
  Args args({"--host", "--port", "--workers", "--address", "--store", "--max-upload-bytes", "--max-request-bytes"}, {"--auth"});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  api::HttpServerOptions ho;
  ho.host = args.Get("--host", args.Get("--address", "127.0.0.1"));
  ho.port = std::atoi(args.Get("--port", "8080").c_str());
  ho.workers = std::atoi(args.Get("--workers", "4").c_str());
  // Request bodies held in memory (resources, metric batches); artifact uploads stream to disk
  // and are bounded by --max-upload-bytes instead.
  if (args.Has("--max-request-bytes")) {
    long long v = std::atoll(args.Get("--max-request-bytes").c_str());
    if (v <= 0) return Fail(InvalidArgument("--max-request-bytes: must be a positive number"));
    ho.max_body_bytes = static_cast<size_t>(v);
  }
  if (ho.port < 0 || ho.port > 65535) return Fail(InvalidArgument("--port: must be 0-65535"));
  bool auth = args.Has("--auth");
  if (!IsLoopback(ho.host) && !auth) {
    return Fail(InvalidArgument("--host " + ho.host +
                                ": refusing to listen beyond loopback without authentication "
                                "(add --auth and create tokens with `skiff token create`)"));
  }
  // The serving contract: ONE RevisionStats for the gateway (which reports requests) and the
  // InferenceService controller (which samples it for its autoscalers). Declared before the
  // runtime, so it outlives the controller.
  serving::RevisionStats revision_stats(SystemClock::Get());
  std::string home = SkiffHome();
  std::string store_spec = args.Get("--store");
  if (const char* env = std::getenv("SKIFF_STORE"); env != nullptr && store_spec.empty()) store_spec = env;
  auto rt = LocalRuntime::Open(home, store_spec);
  if (!rt.ok()) return Fail(rt.status().WithPrefix("--store"), 1);
  auto became = (*rt)->TryBecomeController();
  if (!became.ok()) return Fail(became.status(), 1);
  if (!*became) {
    return Fail(FailedPrecondition("another skiff process is running the controllers for " + home +
                                   " (see " + home + "/controller.lock)"),
                1);
  }
  (*rt)->SetServing(&revision_stats, ho.port > 0 ? "127.0.0.1:" + std::to_string(ho.port) : "");
  Status s = (*rt)->StartControllers();
  if (!s.ok()) return Fail(s, 1);

  api::TokenStore tokens((*rt)->store());
  if (auth && tokens.List().empty()) {
    std::fprintf(stderr, "warning: --auth is on and no token exists yet; create one with "
                         "`skiff token create NAME --namespace NS --role admin`\n");
  }
  Metrics metrics;
  DeclareServerMetrics(metrics, **rt);
  api::KubeApiOptions ko;
  ko.metrics = &metrics;
  ko.store = &(*rt)->store();
  if (auth) ko.tokens = &tokens;
  ko.validate = ValidateForStore;
  store::Store& st = (*rt)->store();
  ko.expand = [&st](Json obj) {
    return StringField(obj, "kind") == "Workflow" ? controllers::AttachNodes(st, std::move(obj)) : obj;
  };
  ko.log_paths = [home](const Json& pod, const std::string& container) {
    std::string uid = StringField(pod.value("metadata", Json::object()), "uid");
    return std::make_pair(local::Kubelet::LogPath(home, uid, container, false),
                          local::Kubelet::LogPath(home, uid, container, true));
  };
  api::KubeApi kube(ko);
  // The serving data plane: V1/V2 inference paths and InferenceService hosts go to the gateway,
  // everything else to the Kubernetes API. One RevisionStats (declared above, before the
  // runtime whose controller samples it) joins it to the serving controller.
  serving::GatewayOptions go;
  go.stats = &revision_stats;
  go.metrics = &metrics;
  serving::Gateway gateway(go);
  // Driven by the HTTP server's I/O thread (below): a proxied request is read, routed, sent
  // upstream and answered on that one thread.
  s = gateway.StartAttached();
  if (!s.ok()) return Fail(s, 1);
  if (store::Informer* inf = (*rt)->informer()) {
    for (const char* kind : {"InferenceService", "Pod"}) {
      inf->AddHandler(kind, [&gateway](const store::WatchEvent& ev) { gateway.OnStoreEvent(ev); });
    }
  }
  s = gateway.Seed(st);
  if (!s.ok()) return Fail(s, 1);
  ho.on_io_thread = [&gateway](const api::HttpRequest& q) { return gateway.Claims(q); };  // it never blocks
  ho.poll_fd = gateway.poll_fd();
  ho.on_poll = [&gateway] { gateway.Poll(); };
  TrialMetricsApi trial_metrics(st, auth ? &tokens : nullptr);  // Katib's Push collector
  api::MetadataApiOptions mo;  // metadata logged by Pods and lineage queries (api/metadata_api.h)
  if (auto ls = (*rt)->lineage(); ls.ok()) mo.lineage = *ls;
  mo.artifacts = &(*rt)->artifacts();
  if (args.Has("--max-upload-bytes")) mo.max_upload_bytes = std::atoll(args.Get("--max-upload-bytes").c_str());
  if (mo.max_upload_bytes <= 0) return Fail(InvalidArgument("--max-upload-bytes: must be a positive number"));
  if (auth) mo.tokens = &tokens;
  api::MetadataApi meta(mo);
  ho.body_to_file = [&meta](const api::HttpRequest& head) { return meta.SpillFor(head); };
  api::HttpServer server(ho, [&kube, &gateway, &trial_metrics, &meta](const api::HttpRequest& q,
                                                                      api::HttpResponse& r, api::HttpExchange& e) {
    if (gateway.Claims(q)) {
      gateway.Handle(q, r, e);
    } else if (api::MetadataApi::Serves(q.path)) {
      meta.Handle(q, r);
    } else if (!trial_metrics.Handle(q, r)) {
      kube.Handle(q, r, e);
    }
  });
  s = server.Start();
  if (!s.ok()) return Fail(s, 1);
  (*rt)->set_server_url("http://" + std::string(IsLoopback(ho.host) ? "127.0.0.1" : ho.host) + ":" + std::to_string(server.port()));
  std::printf("skiff server listening on http://%s:%d (data: %s, store: %s, auth: %s)\n", ho.host.c_str(),
              server.port(), home.c_str(), store_spec.empty() ? "sqlite" : "postgresql",
              auth ? "tokens" : "none");
  std::fflush(stdout);

  if (::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return Fail(Internal("pipe"), 1);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  EventLoop& loop = (*rt)->loop();
  s = loop.Watch(g_stop_pipe[0], [&loop] { loop.Stop(); });
  if (!s.ok()) return Fail(s, 1);
  loop.Run();
  loop.Unwatch(g_stop_pipe[0]);
  server.Stop();
  gateway.Stop();
  std::fprintf(stderr, "skiff server stopped\n");
  return 0;
}

int CmdToken(const Argv& argv) {
  if (argv.empty()) return Fail(InvalidArgument("usage: skiff token create|list|delete ..."));
  std::string sub = argv[0];
  Argv rest(argv.begin() + 1, argv.end());
  Args args({"--namespace", "--role", "--store"}, {"--all-namespaces"},
            {{"-n", "--namespace"}, {"-A", "--all-namespaces"}});
  Status ps = args.Parse(rest);
  if (!ps.ok()) return Fail(ps);
  std::string store_spec = args.Get("--store");
  if (const char* env = std::getenv("SKIFF_STORE"); env != nullptr && store_spec.empty()) store_spec = env;
  auto rt = LocalRuntime::Open(SkiffHome(), store_spec);
  if (!rt.ok()) return Fail(rt.status(), 1);
  api::TokenStore tokens((*rt)->store());
  if (sub == "create") {
    if (args.positional().size() != 1) return Fail(InvalidArgument("usage: skiff token create NAME --namespace NS [--role view|edit|admin]"));
    auto role = api::ParseRole(args.Get("--role", "edit"));
    if (!role.ok()) return Fail(role.status().WithPrefix("--role"));
    std::vector<std::string> namespaces = args.GetAll("--namespace");
    if (args.Has("--all-namespaces")) namespaces.push_back("*");
    if (namespaces.empty()) return Fail(InvalidArgument("--namespace: required (or --all-namespaces)"));
    auto token = tokens.Create(args.positional()[0], *role, namespaces);
    if (!token.ok()) return Fail(token.status(), token.status().code() == StatusCode::kAlreadyExists ? 1 : 2);
    std::printf("%s\n", token->c_str());
    return 0;
  }
  if (sub == "list") {
    std::printf("%-20s %-6s %s\n", "NAME", "ROLE", "NAMESPACES");
    for (const auto& p : tokens.List()) {
      std::string ns;
      for (const auto& n : p.namespaces) ns += (ns.empty() ? "" : ",") + n;
      std::printf("%-20s %-6s %s\n", p.name.c_str(), std::string(api::RoleName(p.role)).c_str(), ns.c_str());
    }
    return 0;
  }
  if (sub == "delete") {
    if (args.positional().size() != 1) return Fail(InvalidArgument("usage: skiff token delete NAME"));
    Status s = tokens.Delete(args.positional()[0]);
    if (!s.ok()) return Fail(s, 1);
    std::printf("token \"%s\" deleted\n", args.positional()[0].c_str());
    return 0;
  }
  return Fail(InvalidArgument("unknown token command \"" + sub + "\" (create, list, delete)"));
}

}  // namespace skiff::cli
