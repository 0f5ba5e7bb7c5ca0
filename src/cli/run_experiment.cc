// `skiff run` for Katib Experiments: submits nothing itself (cmd_run.cc does), starts the
// controllers when no other process runs them, serves the Push endpoint on a loopback port for
// the Trials, and shows progress until the Experiment ends.
#include "cli/run_experiment.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "api/http_server.h"
#include "cli/commands.h"
#include "cli/trial_metrics_api.h"

namespace skiff::cli {

namespace {

bool ConditionTrue(const Json& status, const char* type) {
  for (const auto& c : status.value("conditions", Json::array())) {
    if (StringField(c, "type") == type && StringField(c, "status") == "True") return true;
  }
  return false;
}

std::string TrialState(const Json& trial) {
  const Json st = trial.value("status", Json::object());
  for (const char* t : {"Succeeded", "Failed", "MetricsUnavailable", "EarlyStopped", "Killed"}) {
    if (ConditionTrue(st, t)) return t;
  }
  return ConditionTrue(st, "Running") ? "Running" : "Created";
}

std::string Assignments(const Json& trial) {
  std::string out;
  for (const auto& a : trial.value("spec", Json::object()).value("parameterAssignments", Json::array())) {
    out += (out.empty() ? "" : " ") + StringField(a, "name") + "=" + StringField(a, "value");
  }
  return out;
}

// The objective under its strategy as printed in the observation ("" if none).
std::string Objective(const Json& obs, const std::string& metric, const std::string& strategy) {
  for (const auto& m : obs.value("metrics", Json::array())) {
    if (StringField(m, "name") == metric) return StringField(m, strategy);
  }
  return "";
}

double Seconds(const std::string& from, const std::string& to) {
  auto a = ParseRfc3339(from);
  auto b = ParseRfc3339(to);
  if (!a.ok() || !b.ok()) return 0;
  return std::chrono::duration<double>(*b - *a).count();
}

}  // namespace

int FollowExperiment(LocalRuntime& rt, const std::string& ns, const std::string& name,
                     const std::string& output, bool quiet) {
  FILE* out = output.empty() ? stdout : stderr;
  const bool tty = ::isatty(::fileno(out)) != 0 && !quiet && std::getenv("SKIFF_NO_TTY") == nullptr;
  EventLoop& loop = rt.loop();
  std::map<std::string, std::string> printed;  // trial -> state printed (plain mode)
  size_t drawn_lines = 0;
  bool controller_started = false, done = false;
  int rc = 1;
  const TimePoint started = SystemClock::Get().Now();
  TrialMetricsApi push(rt.store(), nullptr);
  api::HttpServerOptions ho;
  ho.host = "127.0.0.1";
  ho.port = 0;
  ho.workers = 2;
  api::HttpServer server(ho, [&push](const api::HttpRequest& q, api::HttpResponse& r, api::HttpExchange&) {
    if (!push.Handle(q, r)) {
      r.status = 404;
      r.body = "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}\n";
    }
  });

  auto check = [&] {
    auto exp = rt.store().Get({"Experiment", ns, name});
    if (!exp.ok()) {
      std::fprintf(stderr, "error: experiment %s: %s\n", name.c_str(), exp.status().message().c_str());
      done = true;
      loop.Stop();
      return;
    }
    const Json spec = exp->value("spec", Json::object());
    const Json objective = spec.value("objective", Json::object());
    const std::string metric = StringField(objective, "objectiveMetricName");
    std::string strategy = StringField(objective, "type") == "maximize" ? "max" : "min";
    for (const auto& s : objective.value("metricStrategies", Json::array())) {
      if (StringField(s, "name") == metric) strategy = StringField(s, "value", strategy);
    }
    const Json st = exp->value("status", Json::object());
    auto trials = rt.store().List("Trial", ns, {"katib.kubeflow.org/experiment=" + name, "", 0});
    std::vector<Json> items = trials.ok() ? trials->items : std::vector<Json>{};
    // Creation order: `<experiment>-<n>` by n (shorter names first, then by text).
    std::sort(items.begin(), items.end(), [](const Json& a, const Json& b) {
      std::string an = StringField(a["metadata"], "name"), bn = StringField(b["metadata"], "name");
      return std::make_pair(an.size(), an) < std::make_pair(bn.size(), bn);
    });
    const Json best = st.value("currentOptimalTrial", Json::object());
    std::string best_line;
    if (!StringField(best, "bestTrialName").empty()) {
      std::string params;
      for (const auto& a : best.value("parameterAssignments", Json::array())) {
        params += (params.empty() ? "" : " ") + StringField(a, "name") + "=" + StringField(a, "value");
      }
      best_line = "best: " + StringField(best, "bestTrialName") + " " + metric + "=" +
                  Objective(best.value("observation", Json::object()), metric, strategy) + "  " + params;
    }
    if (!quiet && tty) {
      // Redraw the table in place.
      std::string text;
      for (size_t i = 0; i < drawn_lines; ++i) text += "\033[1A\033[2K";
      drawn_lines = 0;
      char line[512];
      std::snprintf(line, sizeof line, "%-28s %-18s %-12s %s\n", "TRIAL", "STATUS", metric.c_str(), "PARAMETERS");
      text += line;
      ++drawn_lines;
      double finished_secs = 0;
      int finished = 0, running = 0;
      // The table is redrawn by moving the cursor up, which stops at the top of the screen:
      // only the latest kMaxRows Trials are listed.
      constexpr size_t kMaxRows = 20;
      const size_t first_shown = items.size() > kMaxRows ? items.size() - kMaxRows : 0;
      if (first_shown > 0) {
        std::snprintf(line, sizeof line, "(%zu earlier trials not shown)\n", first_shown);
        text += line;
        ++drawn_lines;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        const Json& t = items[i];
        std::string state = TrialState(t);
        const Json ts = t.value("status", Json::object());
        if (i >= first_shown) {
          std::string value = Objective(ts.value("observation", Json::object()), metric, strategy);
          std::snprintf(line, sizeof line, "%-28s %-18s %-12s %s\n",
                        StringField(t["metadata"], "name").c_str(), state.c_str(), value.c_str(),
                        Assignments(t).c_str());
          text += line;
          ++drawn_lines;
        }
        if (state == "Running" || state == "Created") {
          ++running;
        } else if (!StringField(ts, "completionTime").empty()) {
          ++finished;
          finished_secs += Seconds(StringField(ts, "startTime"), StringField(ts, "completionTime"));
        }
      }
      int64_t max = IntField(spec, "maxTrialCount", 0);
      int64_t parallel = std::max<int64_t>(1, IntField(spec, "parallelTrialCount", 3));
      std::string eta = "ETA -";
      if (max > 0 && finished > 0) {
        double per_trial = finished_secs / finished;
        double left = static_cast<double>(max - finished) * per_trial / static_cast<double>(parallel);
        char b[64];
        std::snprintf(b, sizeof b, "ETA %.1fs", std::max(0.0, left));
        eta = b;
      }
      double elapsed = std::chrono::duration<double>(SystemClock::Get().Now() - started).count();
      std::snprintf(line, sizeof line, "%d/%lld done, %d running, %.1fs elapsed, %s\n", finished,
                    static_cast<long long>(max), running, elapsed, eta.c_str());
      text += line;
      ++drawn_lines;
      if (!best_line.empty()) {
        text += best_line + "\n";
        ++drawn_lines;
      }
      std::fputs(text.c_str(), out);
    } else if (!quiet) {
      for (const auto& t : items) {
        std::string tname = StringField(t["metadata"], "name");
        std::string state = TrialState(t);
        if (printed[tname] == state) continue;
        printed[tname] = state;
        std::string value = Objective(t.value("status", Json::object()).value("observation", Json::object()),
                                      metric, strategy);
        std::fprintf(out, "trial %s %s%s%s  %s\n", tname.c_str(), state.c_str(), value.empty() ? "" : " ",
                     value.empty() ? "" : (metric + "=" + value).c_str(), Assignments(t).c_str());
      }
    }
    std::fflush(out);
    bool ok = ConditionTrue(st, "Succeeded");
    if (ok || ConditionTrue(st, "Failed")) {
      double secs = std::chrono::duration<double>(SystemClock::Get().Now() - started).count();
      if (!quiet) {
        std::string reason, message;
        for (const auto& c : st.value("conditions", Json::array())) {
          if (StringField(c, "type") == (ok ? "Succeeded" : "Failed")) {
            reason = StringField(c, "reason");
            message = StringField(c, "message");
          }
        }
        if (!tty && !best_line.empty()) std::fprintf(out, "%s\n", best_line.c_str());
        std::fprintf(out, "experiment/%s %s (%s: %s) in %.1fs: %lld trials, %lld succeeded, %lld failed\n",
                     name.c_str(), ok ? "Succeeded" : "Failed", reason.c_str(), message.c_str(), secs,
                     static_cast<long long>(IntField(st, "trials", 0)),
                     static_cast<long long>(IntField(st, "trialsSucceeded", 0)),
                     static_cast<long long>(IntField(st, "trialsFailed", 0)));
      }
      if (output == "json" || output == "yaml") {
        std::string text = output == "json" ? DumpJson(*exp, 2) + "\n" : ToYaml(*exp);
        std::fputs(text.c_str(), stdout);
      } else if (output == "name") {
        std::printf("experiment/%s\n", name.c_str());
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
        Status s = server.Start();
        if (s.ok()) {
          rt.set_server_url("http://127.0.0.1:" + std::to_string(server.port()));
        } else {
          std::fprintf(stderr, "warning: no Push metrics endpoint: %s\n", s.message().c_str());
        }
        s = rt.StartControllers();
        if (!s.ok()) {
          std::fprintf(stderr, "error: cannot start the local controller: %s\n", s.message().c_str());
          std::_Exit(1);
        }
        controller_started = true;
      }
    }
    check();
    if (!done) loop.After(std::chrono::milliseconds(tty ? 250 : 100), tick);
  };
  tick();
  if (!done) loop.Run();
  for (int i = 0; i < 20; ++i) loop.RunOnce(Duration(0));
  server.Stop();
  std::fflush(stdout);
  return rc;
}

}  // namespace skiff::cli
