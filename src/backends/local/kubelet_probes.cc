// Container probes in the kubelet: startupProbe gates the others; readinessProbe sets the
// container's `ready` and the Pod's Ready/ContainersReady conditions; a failed livenessProbe (or
// startupProbe) kills the container (TERM, grace, KILL), and restartPolicy decides what follows,
// as after a crash. Everything runs on the kubelet's loop: timers schedule the probes, httpGet and
// tcpSocket use non-blocking sockets (`NetworkProber`), and exec probes are processes started by
// the supervisor with the container's own environment, mounts and root (a namespace of the same
// shape as the container's, not the container's own namespace), so the loop never waits.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "backends/local/kubelet.h"
#include "backends/local/kubelet_pod_run.h"
#include "common/fs.h"
#include "common/log.h"

namespace skiff::local {
namespace {

// Exec probes start before any queued workload (they request nothing, so they always fit).
constexpr int64_t kProbePriority = std::numeric_limits<int64_t>::max() / 2;
// How long after its timeout an exec probe's result may still arrive before it counts as failed
// (e.g. when the supervisor connection was lost meanwhile).
constexpr Duration kExecProbeSlack = std::chrono::seconds(10);
constexpr size_t kMaxProbeOutput = 10 * 1024;  // as Kubernetes keeps

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* FieldName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kStartup:
      return "startupProbe";
    case ProbeKind::kLiveness:
      return "livenessProbe";
    case ProbeKind::kReadiness:
      return "readinessProbe";
  }
  return "?";
}

std::string LowerName(ProbeKind kind) {
  std::string s = ProbeKindName(kind);
  s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

Duration Millis(int64_t ms) { return std::chrono::milliseconds(std::max<int64_t>(0, ms)); }
int64_t ToMs(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Exec probe processes are named "probe/<pod uid>/<container>/<kind>/<n>": a kubelet that
// restarts sees a first segment that is no Pod's uid and stops them.
constexpr const char* kProbePrefix = "probe/";

}  // namespace

Status Kubelet::ParseProbes(PodRun& run) {
  constexpr const char* kInitialReadinessPeriod = "probes.skiff.dev/initial-readiness-period-ms";
  const std::string fast = StringField(
      run.pod["metadata"].value("annotations", Json::object()), kInitialReadinessPeriod);
  if (!fast.empty()) {
    char* end = nullptr;
    long long ms = std::strtoll(fast.c_str(), &end, 10);
    if (end == fast.c_str() || *end != '\0' || ms < 1 || ms > 60000) {
      return InvalidArgument(std::string("metadata.annotations[") + kInitialReadinessPeriod +
                             "]: must be a whole number of milliseconds between 1 and 60000");
    }
    run.initial_readiness_period_ms = ms;
  }
  for (auto& c : run.containers) {
    if (c.kind == ContainerRun::Kind::kInit) continue;
    for (ProbeKind kind : {ProbeKind::kStartup, ProbeKind::kLiveness, ProbeKind::kReadiness}) {
      const Json* p = FindField(c.spec, FieldName(kind));
      if (p == nullptr || p->is_null()) continue;
      std::string where = "spec.containers[" + c.name + "]." + FieldName(kind);
      SKIFF_ASSIGN_OR_RETURN(ProbeSpec spec, ParseProbe(*p, c.spec, where));
      if (kind != ProbeKind::kReadiness && spec.success_threshold != 1) {
        return InvalidArgument(where + ".successThreshold: must be 1");
      }
      ProbeState state(spec.success_threshold, spec.failure_threshold,
                       kind == ProbeKind::kLiveness);
      c.probes.emplace_back(kind, std::move(spec), state);
    }
  }
  return OkStatus();
}

// A container just started running: its probes start over (startup first, if it has one).
void Kubelet::StartProbes(PodRun& run, ContainerRun& c) {
  StopProbes(c);
  c.started = c.FindProbe(ProbeKind::kStartup) == nullptr;
  c.ready = c.FindProbe(ProbeKind::kReadiness) == nullptr;
  c.was_ready = false;
  for (auto& p : c.probes) {
    p.state = ProbeState(p.spec.success_threshold, p.spec.failure_threshold,
                         p.kind == ProbeKind::kLiveness);
  }
  int64_t since = c.last.started_unix_ms > 0 ? c.last.started_unix_ms : NowMs();
  for (auto& p : c.probes) {
    if (c.started == (p.kind == ProbeKind::kStartup)) continue;  // startup gates the others
    ScheduleProbe(run, c, p.kind, Millis(since + ToMs(p.spec.initial_delay) - NowMs()));
  }
}

void Kubelet::StopProbes(ContainerRun& c) {
  ++c.generation;
  for (auto& p : c.probes) {
    if (p.timer != 0) loop_.Cancel(p.timer);
    if (p.exec_guard != 0) loop_.Cancel(p.exec_guard);
    if (p.network_check != 0) network_prober_.Cancel(p.network_check);
    p.timer = p.exec_guard = 0;
    p.network_check = 0;
    if (!p.exec_id.empty()) {
      exec_probes_.erase(p.exec_id);
      if (supervisor_) supervisor_->Kill(p.exec_id, Duration::zero()).IgnoreError();
      p.exec_id.clear();
    }
  }
}

void Kubelet::ScheduleProbe(PodRun& run, ContainerRun& c, ProbeKind kind, Duration delay) {
  ContainerRun::Probe* p = c.FindProbe(kind);
  if (p == nullptr) return;
  if (p->timer != 0) loop_.Cancel(p->timer);
  p->timer = loop_.After(delay, [this, uid = run.uid, name = c.name, kind, gen = c.generation] {
    RunProbe(uid, name, kind, gen);
  });
}

Kubelet::ContainerRun* Kubelet::LiveContainer(const std::string& uid, const std::string& container,
                                              int generation, PodRun** run_out) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return nullptr;
  PodRun& run = *it->second;
  ContainerRun* c = nullptr;
  for (auto& x : run.containers) {
    if (x.name == container) c = &x;
  }
  if (c == nullptr || c->generation != generation || run.finished || run.deleting ||
      c->state != ContainerRun::State::kRunning) {
    return nullptr;
  }
  *run_out = &run;
  return c;
}

void Kubelet::RunProbe(const std::string& uid, const std::string& container, ProbeKind kind,
                       int generation) {
  PodRun* runp = nullptr;
  ContainerRun* c = LiveContainer(uid, container, generation, &runp);
  if (c == nullptr) return;
  PodRun& run = *runp;
  ContainerRun::Probe* p = c->FindProbe(kind);
  if (p == nullptr) return;
  p->timer = 0;
  p->runs++;
  p->started_ms = NowMs();
  const ProbeSpec& spec = p->spec;
  if (spec.action == ProbeSpec::Action::kUnsupported) {
    // Counted as passing (as if the probe were absent), and said once.
    if (p->runs == 1) {
      LogWarn(
          "probe ignored",
          {{"pod", run.ns + "/" + run.name}, {"container", c->name}, {"reason", spec.unsupported}});
      RecordEvent(run, "Warning", "ProbeIgnored",
                  std::string(ProbeKindName(kind)) + " probe ignored: " + spec.unsupported,
                  c->name);
    }
    OnProbeResult(uid, container, kind, generation, true, "");
    return;
  }
  if (spec.action == ProbeSpec::Action::kExec) {
    RunExecProbe(run, *c, kind);
    return;
  }
  // The Pod's address is 127.0.0.1; other hosts must be addresses or the Pod's hostAliases
  // (the loop never waits for a resolver).
  std::string address = spec.host.empty() || spec.host == "localhost" ? "127.0.0.1" : "";
  in6_addr scratch{};
  if (address.empty() && (::inet_pton(AF_INET, spec.host.c_str(), &scratch) == 1 ||
                          ::inet_pton(AF_INET6, spec.host.c_str(), &scratch) == 1)) {
    address = spec.host;
  }
  for (const auto& [ip, names] : run.host_aliases) {
    if (address.empty() && std::find(names.begin(), names.end(), spec.host) != names.end())
      address = ip;
  }
  if (address.empty()) {
    OnProbeResult(uid, container, kind, generation, false,
                  "dial tcp: lookup " + spec.host +
                      ": the local backend resolves only IP addresses, localhost and "
                      "spec.hostAliases in probes");
    return;
  }
  auto done = [this, uid, container, kind, generation](const NetworkProber::Outcome& o) {
    OnProbeResult(uid, container, kind, generation, o.success, o.message);
  };
  p->network_check = spec.action == ProbeSpec::Action::kHttpGet
                         ? network_prober_.Http(address, spec, done)
                         : network_prober_.Tcp(address, spec.port, spec.timeout, done);
}

void Kubelet::RunExecProbe(PodRun& run, ContainerRun& c, ProbeKind kind) {
  ContainerRun::Probe* p = c.FindProbe(kind);
  int generation = c.generation;
  ProcessSpec ps = c.process;  // the container's environment, mounts, root and cwd
  ps.argv.clear();
  for (const auto& arg : p->spec.command) ps.argv.push_back(ExpandKubeVars(arg, ps.env));
  ps.id = std::string(kProbePrefix) + run.uid + "/" + c.name + "/" + LowerName(kind) + "/" +
          std::to_string(NowMs()) + "-" + std::to_string(p->runs);
  std::string flat = ps.id;
  std::replace(flat.begin(), flat.end(), '/', '.');
  ps.dir = JoinPath(record_root_, flat);
  ps.stdout_path = ps.stderr_path = JoinPath(ps.dir, "output");
  ps.cpu_millis = 0;
  ps.memory_bytes = 0;
  ps.gang.clear();
  ps.gang_size = 0;
  ps.priority = kProbePriority;
  ps.deadline_unix_ms = NowMs() + ToMs(p->spec.timeout);
  ps.grace_ms = 0;
  Status s = MakeDirs(ps.dir);
  if (s.ok()) s = EnsureSupervisor();
  if (s.ok()) s = supervisor_->Start(ps);
  if (!s.ok()) {
    OnProbeResult(run.uid, c.name, kind, generation, false, "cannot run the probe: " + s.message());
    return;
  }
  p->exec_id = ps.id;
  exec_probes_[ps.id] = ExecProbe{run.uid, c.name, kind, generation};
  p->exec_guard = loop_.After(p->spec.timeout + kExecProbeSlack, [this, id = ps.id] {
    auto e = exec_probes_.find(id);
    if (e == exec_probes_.end()) return;
    ExecProbe ep = e->second;
    exec_probes_.erase(e);
    OnProbeResult(ep.uid, ep.container, ep.kind, ep.generation, false,
                  "the probe's result was lost (supervisor connection)");
  });
}

// Exit records of exec probes; false for any other process.
bool Kubelet::OnExecProbeProcess(const ProcessStatus& st) {
  if (st.id.rfind(kProbePrefix, 0) != 0) return false;
  if (st.state != ProcessStatus::State::kExited) return true;
  if (supervisor_) supervisor_->Forget(st.id).IgnoreError();
  std::string flat = st.id;
  std::replace(flat.begin(), flat.end(), '/', '.');
  std::string dir = JoinPath(record_root_, flat);
  std::string output = ReadFile(JoinPath(dir, "output")).value_or("");
  RemoveAll(dir).IgnoreError();
  auto it = exec_probes_.find(st.id);
  if (it == exec_probes_.end()) return true;  // stopped meanwhile
  ExecProbe ep = it->second;
  exec_probes_.erase(it);
  if (output.size() > kMaxProbeOutput) output.resize(kMaxProbeOutput);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  bool success = st.reason == "Completed" && st.exit_code == 0;
  std::string message;
  if (st.reason == "DeadlineExceeded") {
    message = "command timed out";
  } else if (st.reason == "StartError") {
    message = st.message;
  } else if (!success) {
    message = output.empty() ? "command exited with code " + std::to_string(st.exit_code) : output;
  }
  OnProbeResult(ep.uid, ep.container, ep.kind, ep.generation, success, message);
  return true;
}

void Kubelet::OnProbeResult(const std::string& uid, const std::string& container, ProbeKind kind,
                            int generation, bool success, const std::string& message) {
  PodRun* runp = nullptr;
  ContainerRun* c = LiveContainer(uid, container, generation, &runp);
  if (c == nullptr) return;
  PodRun& run = *runp;
  ContainerRun::Probe* p = c->FindProbe(kind);
  if (p == nullptr) return;
  p->network_check = 0;
  p->exec_id.clear();
  if (p->exec_guard != 0) loop_.Cancel(p->exec_guard);
  p->exec_guard = 0;
  bool changed = p->state.Record(success);
  std::string failed = std::string(ProbeKindName(kind)) + " probe failed: " + message;
  Duration next = Millis(p->started_ms + ToMs(p->spec.period) - NowMs());
  switch (kind) {
    case ProbeKind::kStartup:
      if (success) {
        // Started: liveness and readiness take over (their delays count from the start).
        if (p->timer != 0) loop_.Cancel(p->timer);
        p->timer = 0;
        c->started = true;
        int64_t since = c->last.started_unix_ms > 0 ? c->last.started_unix_ms : NowMs();
        for (auto& other : c->probes) {
          if (other.kind == ProbeKind::kStartup) continue;
          ScheduleProbe(run, *c, other.kind,
                        Millis(since + ToMs(other.spec.initial_delay) - NowMs()));
        }
        QueueStatus(run);
        return;
      }
      if (p->state.failures() >= p->spec.failure_threshold) {
        KillForProbe(run, *c, kind, failed);
        return;
      }
      break;
    case ProbeKind::kLiveness:
      if (!success && p->state.failures() >= p->spec.failure_threshold) {
        KillForProbe(run, *c, kind, failed);
        return;
      }
      break;
    case ProbeKind::kReadiness:
      if (changed) {
        c->ready = p->state.verdict();
        if (!c->ready) RecordEvent(run, "Warning", "Unhealthy", failed, c->name);
        // Becoming ready is written at once: someone (a gateway, a rollout) waits for it.
        QueueStatus(run, /*soon=*/c->ready);
        if (c->ready) c->was_ready = true;
      }
      if (!c->ready && !c->was_ready && run.initial_readiness_period_ms > 0) {
        next = std::min(next, Millis(run.initial_readiness_period_ms));
      }
      break;
  }
  ScheduleProbe(run, *c, kind, next);
}

void Kubelet::KillForProbe(PodRun& run, ContainerRun& c, ProbeKind kind,
                           const std::string& message) {
  ContainerRun::Probe* p = c.FindProbe(kind);
  Duration grace = std::chrono::milliseconds(c.process.grace_ms);
  if (p != nullptr && p->spec.termination_grace_seconds >= 0) {
    grace = std::chrono::seconds(p->spec.termination_grace_seconds);
  }
  StopProbes(c);
  c.ready = false;
  c.probe_kill_message = message;
  LogInfo("probe failed; killing the container",
          {{"pod", run.ns + "/" + run.name}, {"container", c.name}, {"message", message}});
  RecordEvent(run, "Warning", "Unhealthy", message, c.name);
  RecordEvent(run, "Normal", "Killing",
              "Container " + c.name + " failed " + LowerName(kind) + " probe, will be restarted",
              c.name);
  Status s = EnsureSupervisor();
  if (s.ok()) s = supervisor_->Kill(c.proc_id, grace);
  if (!s.ok()) LogWarn("cannot kill the container", {{"pod", run.name}, {"error", s.message()}});
  QueueStatus(run);
}

}  // namespace skiff::local
