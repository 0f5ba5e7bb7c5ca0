// The kubelet's in-memory record of one Pod and its containers, shared by kubelet.cc,
// kubelet_probes.cc and kubelet_gangs.cc. Private to the kubelet; lives on its loop thread like
// the kubelet itself.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/local/kubelet.h"

namespace skiff::local {

struct Kubelet::ContainerRun {
  enum class Kind { kInit, kMain, kSidecar };
  enum class State { kWaiting, kStarting, kRunning, kTerminated };
  Json spec;
  std::string name;
  Kind kind = Kind::kMain;
  State state = State::kWaiting;
  int restarts = 0;
  std::string proc_id;
  ProcessStatus last;  // the latest supervisor record
  std::string waiting_reason = "ContainerCreating";
  int64_t restart_at_ms = 0;
  std::optional<ProcessStatus> previous;  // the attempt before a restart (lastState)
  ProcessSpec process;                    // of the current attempt; exec probes start from it
  // Probes of the current attempt (kubelet_probes.cc). `generation` changes whenever they stop,
  // so that a result that arrives later is dropped.
  struct Probe {
    Probe(ProbeKind k, ProbeSpec s, ProbeState st) : kind(k), spec(std::move(s)), state(st) {}
    ProbeKind kind;
    ProbeSpec spec;
    ProbeState state;
    EventLoop::TimerId timer = 0;
    uint64_t network_check = 0;
    std::string exec_id;  // an exec probe in flight
    EventLoop::TimerId exec_guard = 0;
    int64_t runs = 0;
    int64_t started_ms = 0;
  };
  std::vector<Probe> probes;
  int generation = 0;
  bool started = true;             // startupProbe succeeded (true without one)
  bool ready = true;               // readinessProbe verdict (and started)
  bool was_ready = false;          // ready at least once since the container (re)started
  std::string probe_kill_message;  // set when a failed probe made the kubelet kill it
  Probe* FindProbe(ProbeKind kind) {
    for (auto& p : probes) {
      if (p.kind == kind) return &p;
    }
    return nullptr;
  }
};

struct Kubelet::PodRun {
  std::string uid, ns, name;
  Json pod;
  std::string dir;
  std::vector<ContainerRun> containers;
  PathMap paths;
  std::vector<MountSpec> mounts;
  std::string overlay_dir;
  std::string cwd;
  Json argo_template;
  bool prepared = false;
  bool finished = false;
  bool deleting = false;
  bool deleted = false;  // the object is gone from the store
  std::string phase = "Pending";
  std::string reason, message;
  int64_t start_ms = 0;
  int64_t deadline_ms = 0;
  bool deadline_hit = false;
  bool scheduled = false;
  bool status_queued = false;  // a non-final status waits for the next flush
  bool recyclable = true;      // its directory holds nothing but the private /tmp
  // spec.hostAliases (ip, hostnames), also used to resolve probe hosts.
  std::vector<std::pair<std::string, std::vector<std::string>>> host_aliases;
  bool warned_unisolated = false;  // the status says that /etc/hosts could not be private
  // Annotation `probes.skiff.dev/initial-readiness-period-ms`: until a container is first
  // ready, its readiness probe runs this often instead of every periodSeconds (Knative's
  // queue-proxy probes a starting container the same way), so a replica that scales from zero
  // is routable as soon as it answers. 0 = off.
  int64_t initial_readiness_period_ms = 0;
  // Gang admission (annotations `scheduling.skiff.dev/gang`, `.../gang-size`): `gang` is
  // "<namespace>/<group>"; once the gang has formed, `gang_unit` names the supervisor gang its
  // regular containers join and `gang_processes` is that gang's size in processes.
  std::string gang;
  int gang_pods = 0;
  int processes = 0;  // non-init containers: what this Pod adds to its gang
  std::string gang_unit;
  int gang_processes = 0;
  bool gang_submitted = false;  // adopted after a kubelet restart: its gang was admitted before
};

}  // namespace skiff::local
