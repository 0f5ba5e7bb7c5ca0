// `skiff run` for the Kubeflow training kinds: submits the job, acts as the controller when no
// other process does, prints each replica's phase changes and its log lines as they come, and
// ends with the job's outcome and replica counts. Exit status 0 iff the job Succeeded.
#include "cli/run_training.h"

#include <unistd.h>

#include <cstdio>
#include <map>

#include "backends/local/kubelet.h"
#include "cli/commands.h"
#include "cli/local_runtime.h"

namespace skiff::cli {

namespace {

bool ConditionTrue(const Json& status, const char* type) {
  for (const auto& c : status.value("conditions", Json::array())) {
    if (StringField(c, "type") == type && StringField(c, "status") == "True") return true;
  }
  return false;
}

const Json* Condition(const Json& status, const char* type) {
  const Json* conds = FindField(status, "conditions");
  if (conds == nullptr || !conds->is_array()) return nullptr;
  for (const auto& c : *conds) {
    if (StringField(c, "type") == type) return &c;
  }
  return nullptr;
}

// Prints what was appended to a log file since `*offset`, each line prefixed.
void Drain(const std::string& path, size_t* offset, const std::string& prefix, FILE* out) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return;
  if (std::fseek(f, static_cast<long>(*offset), SEEK_SET) != 0) {
    std::fclose(f);
    return;
  }
  char buf[8192];
  std::string pending;
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) pending.append(buf, n);
  std::fclose(f);
  size_t end = pending.rfind('\n');
  if (end == std::string::npos) return;  // wait for a whole line
  size_t start = 0;
  while (start <= end) {
    size_t nl = pending.find('\n', start);
    std::fprintf(out, "%s%s\n", prefix.c_str(), pending.substr(start, nl - start).c_str());
    start = nl + 1;
  }
  *offset += end + 1;
}

}  // namespace

int FollowTraining(LocalRuntime& rt, const std::string& kind, const std::string& ns,
                   const std::string& name, const std::string& output, bool quiet) {
  FILE* out = output.empty() ? stdout : stderr;
  EventLoop& loop = rt.loop();
  std::map<std::string, std::string> phases;  // pod -> phase printed
  std::map<std::string, size_t> offsets;      // "<uid>/<container>/<stream>" -> bytes printed
  std::map<std::string, std::pair<std::string, Json>> known;  // pod -> (uid, containers)
  bool controller_started = false, done = false;
  int rc = 1;
  TimePoint started = SystemClock::Get().Now();

  auto drain_logs = [&](const std::string& pod, const std::string& uid, const Json& containers) {
    if (quiet) return;
    for (const auto& c : containers) {
      std::string cname = StringField(c, "name");
      std::string prefix = "[" + pod + (containers.size() > 1 ? "/" + cname : "") + "] ";
      for (bool err : {false, true}) {
        std::string k = uid + "/" + cname + (err ? "/e" : "/o");
        Drain(local::Kubelet::LogPath(rt.home(), uid, cname, err), &offsets[k], prefix, out);
      }
    }
  };
  auto observe_pods = [&] {
    auto pods = rt.store().List("Pod", ns, {"training.kubeflow.org/job-name=" + name, "", 0});
    if (!pods.ok()) return;
    for (const auto& p : pods->items) {
      std::string pod = StringField(p["metadata"], "name");
      std::string uid = StringField(p["metadata"], "uid");
      Json containers = p.value("spec", Json::object()).value("containers", Json::array());
      known[pod] = {uid, containers};
      std::string phase = StringField(p.value("status", Json::object()), "phase", "Pending");
      if (!quiet && phases[pod] != phase) {
        std::fprintf(out, "  %-28s %s\n", pod.c_str(), phase.c_str());
        phases[pod] = phase;
      }
      drain_logs(pod, uid, containers);
    }
    std::fflush(out);
  };
  auto check = [&] {
    observe_pods();
    auto job = rt.store().Get({kind, ns, name});
    if (!job.ok()) {
      std::fprintf(stderr, "error: %s %s: %s\n", kind.c_str(), name.c_str(),
                   job.status().message().c_str());
      done = true;
      loop.Stop();
      return;
    }
    const Json st = job->value("status", Json::object());
    bool ok = ConditionTrue(st, "Succeeded");
    if (ok || ConditionTrue(st, "Failed")) {
      const Json* c = Condition(st, ok ? "Succeeded" : "Failed");
      double secs = std::chrono::duration<double>(SystemClock::Get().Now() - started).count();
      if (!quiet) {
        std::fprintf(out, "%s/%s %s (%s: %s) in %.1fs\n", kind.c_str(), name.c_str(),
                     ok ? "Succeeded" : "Failed", StringField(*c, "reason").c_str(),
                     StringField(*c, "message").c_str(), secs);
        const Json rs = st.value("replicaStatuses", Json::object());
        for (auto it = rs.begin(); it != rs.end(); ++it) {
          std::fprintf(out, "  %-10s active %lld  succeeded %lld  failed %lld\n", it.key().c_str(),
                       static_cast<long long>(it.value().value("active", 0)),
                       static_cast<long long>(it.value().value("succeeded", 0)),
                       static_cast<long long>(it.value().value("failed", 0)));
        }
      }
      if (output == "json" || output == "yaml") {
        std::string text = output == "json" ? DumpJson(*job, 2) + "\n" : ToYaml(*job);
        std::fputs(text.c_str(), stdout);
      } else if (output == "name") {
        std::string lower = kind;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::printf("%s/%s\n", lower.c_str(), name.c_str());
      }
      rc = ok ? 0 : 1;
      done = true;
      loop.Stop();
    }
  };
  std::function<void()> tick;
  tick = [&] {
    if (!controller_started) {
      auto became = rt.TryBecomeController();
      if (became.ok() && *became) {
        Status s = rt.StartControllers();
        if (!s.ok()) {
          std::fprintf(stderr, "error: cannot start the local controller: %s\n",
                       s.message().c_str());
          std::_Exit(1);
        }
        controller_started = true;
        // A replica's last lines are printed before its Pod (and its log files) go away.
        rt.informer()->AddHandler("Pod", [&](const store::WatchEvent& ev) {
          if (ev.type != store::EventType::kDeleted) return;
          std::string pod = StringField(ev.object["metadata"], "name");
          auto it = known.find(pod);
          if (it != known.end() && it->second.first == StringField(ev.object["metadata"], "uid")) {
            drain_logs(pod, it->second.first, it->second.second);
          }
        });
      }
    }
    check();
    if (!done) loop.After(std::chrono::milliseconds(200), tick);
  };
  tick();
  if (!done) loop.Run();
  for (int i = 0; i < 20; ++i) loop.RunOnce(Duration(0));
  std::fflush(stdout);
  return rc;
}

}  // namespace skiff::cli
