// The local kubelet: makes the `v1/Pod` resources in the store real as host processes, through
// the process supervisor, and writes their status back (phase, container states, exit codes,
// restart counts, CPU-seconds and peak RSS). Controllers never see processes, only Pods.
//
// Per Pod it prepares a private directory (`<home>/pods/<uid>`: private /tmp, emptyDir volumes,
// the Argo staging dir, an overlay root when the Pod writes outside /tmp; logs are in
// `<home>/logs/<uid>.<container>.{stdout,stderr}`), runs init
// containers one after another, then the other containers together, stops sidecars when the
// main containers have exited, restarts containers per `restartPolicy`, and enforces
// `activeDeadlineSeconds`. `spec.hostAliases` become a private /etc/hosts; startup, liveness
// and readiness probes run on the loop (kubelet_probes.cc); Pods annotated as a gang start all
// together or not at all (kubelet_gangs.cc); see docs/design/kubelet.md. Pods
// created by the Argo engine (annotation `workflows.argoproj.io/template`) also get Argo's
// executor: inputs staged before, outputs collected after (see argo_executor.h).
//
// Pod phase machine (numbers are referred to by tests):
//   (new) --1 staged, first container started--> Running
//   (new) --2 cannot start (bad spec, Unschedulable, staging failed)--> Failed
//   Running --3 main containers exited 0--> Succeeded   --4 any exited non-zero--> Failed
//   Running --5 deadline--> Failed (reason DeadlineExceeded)
//   Running --6 deleted / deletionTimestamp--> containers killed, object removed
// After a crash of the process running the kubelet, `Start()` adopts every unfinished Pod: each
// container's state is read from its supervisor record, so nothing runs twice.
//
// Threading: everything runs on the given EventLoop thread; store watch callbacks only post.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/local/argo_executor.h"
#include "backends/local/host_runtime.h"
#include "backends/local/probe.h"
#include "backends/local/supervisor.h"
#include "common/event_loop.h"
#include "metadata/artifact_store.h"
#include "store/store.h"

namespace skiff::local {

struct KubeletOptions {
  std::string home;                          // data dir
  std::vector<std::string> supervisor_argv;  // e.g. {"/usr/bin/skiff", "supervisor"}
  std::string node_name = "local";
  int64_t default_cpu_millis = 1000;  // request of a main container that states none
  bool isolate = true;                // private mount namespaces where the host allows
  size_t max_active_pods = 256;       // prepared and handed to the supervisor at a time
  // Metadata logging from user code: `<sdk_dir>/python` goes on every Pod's PYTHONPATH (the
  // `skiff` Python module) and `<sdk_dir>/bin` at the end of its PATH (`skiff log`); "" = none.
  std::string sdk_dir;
};

class Kubelet {
 public:
  Kubelet(KubeletOptions options, store::Store& store, EventLoop& loop,
          metadata::ArtifactStore& artifacts);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Prepares the host runtime, connects to (or starts) the supervisor, watches Pods and adopts
  // the unfinished ones. Call on the loop thread.
  Status Start();

  size_t tracked_pods() const { return pods_.size(); }
  // The API server's URL, given to Pods as SKIFF_SERVER (set once the server listens, before
  // the loop runs; Pods started without it log to their metadata file).
  void SetServerUrl(std::string url) { server_url_ = std::move(url); }
  // Where a container's logs are ("<home>/logs/<uid>.<container>.{stdout,stderr}").
  static std::string LogPath(const std::string& home, const std::string& pod_uid,
                             const std::string& container, bool stderr_stream);
  // Removes a deleted Pod's logs and private directory.
  static void RemovePodFiles(const std::string& home, const Json& pod);

 private:
  struct ContainerRun;
  struct PodRun;

  void OnPodEvent(const store::WatchEvent& ev);
  void OnSupervisorReadable();
  Status Reconnect();
  Status EnsureSupervisor();
  void Admit(const Json& pod);  // Track now, or wait for room
  // Gang admission (kubelet_gangs.cc).
  Status JoinGang(PodRun& run);
  void LeaveGang(PodRun& run);
  void FormGang(const std::string& gang);
  Result<std::pair<int64_t, int64_t>> MachineSize();  // cpu millis, memory bytes
  static bool IsGangPod(const Json& pod);
  // What the supervisor is asked to reserve for `c`: cpu millis, memory bytes.
  std::pair<int64_t, int64_t> ContainerRequests(const PodRun& run, const ContainerRun& c) const;
  void AdmitWaiting();
  void Track(const Json& pod);
  static int64_t PodPriority(const Json& pod);
  void BeginPod(PodRun& run);
  Status PreparePod(PodRun& run);
  Status PrepareHostAliases(PodRun& run);
  void StartNext(PodRun& run);
  Status StartContainer(PodRun& run, ContainerRun& c);
  // The process of one attempt of `c` (environment, argv, mounts, requests), without starting it.
  Result<ProcessSpec> ContainerProcess(PodRun& run, ContainerRun& c);
  void AddMetadataEnv(const PodRun& run, std::vector<std::string>& env) const;
  void OnProcess(const ProcessStatus& st);
  // Probes (kubelet_probes.cc).
  Status ParseProbes(PodRun& run);
  void StartProbes(PodRun& run, ContainerRun& c);
  void StopProbes(ContainerRun& c);
  void ScheduleProbe(PodRun& run, ContainerRun& c, ProbeKind kind, Duration delay);
  // A container that is still the same running instance (`generation`), with its Pod; null once
  // the Pod finished, is being deleted or the container restarted (a probe result is then stale).
  ContainerRun* LiveContainer(const std::string& uid, const std::string& container, int generation,
                              PodRun** run);
  void RunProbe(const std::string& uid, const std::string& container, ProbeKind kind, int generation);
  void RunExecProbe(PodRun& run, ContainerRun& c, ProbeKind kind);
  bool OnExecProbeProcess(const ProcessStatus& st);
  void OnProbeResult(const std::string& uid, const std::string& container, ProbeKind kind,
                     int generation, bool success, const std::string& message);
  void KillForProbe(PodRun& run, ContainerRun& c, ProbeKind kind, const std::string& message);
  void FinishPod(PodRun& run);
  void FailPod(PodRun& run, const std::string& reason, const std::string& message);
  void KillPod(PodRun& run, Duration grace, const std::string& reason);
  void WriteStatus(PodRun& run, const Json* outputs_annotation = nullptr);
  // Writes `run`'s status after `kStatusBatchDelay` with the others queued, or with `soon` at
  // the end of this loop turn.
  void QueueStatus(PodRun& run, bool soon = false);
  void FlushStatuses();
  Json BuildStatus(const PodRun& run) const;
  void Forget(PodRun& run);
  // Writes a v1/Event about the Pod (`container`, if given, becomes its fieldPath).
  void RecordEvent(const PodRun& run, const std::string& type, const std::string& reason,
                   const std::string& message, const std::string& container = "");

  std::string ContainerDir(const PodRun& run, const ContainerRun& c, int attempt) const;
  static std::string RecordRoot(const std::string& home);

  KubeletOptions options_;
  store::Store& store_;
  EventLoop& loop_;
  metadata::ArtifactStore& artifacts_;
  HostRuntime runtime_;
  std::string record_root_;
  std::unique_ptr<SupervisorClient> supervisor_;
  std::unique_ptr<store::WatchHandle> watch_;
  std::unordered_map<std::string, std::unique_ptr<PodRun>> pods_;  // by uid
  std::unordered_map<std::string, std::string> process_to_pod_;    // process id -> uid
  bool warned_no_isolation_ = false;
  struct WaitingKey {
    int64_t neg_priority;
    uint64_t seq;
    std::string uid;
    bool operator<(const WaitingKey& o) const {
      return neg_priority != o.neg_priority ? neg_priority < o.neg_priority : seq < o.seq;
    }
  };
  std::set<WaitingKey> waiting_order_;
  std::unordered_map<std::string, std::set<WaitingKey>::iterator> waiting_;  // by uid
  std::unordered_map<std::string, std::pair<std::string, std::string>> waiting_pods_;  // ns, name
  uint64_t next_waiting_seq_ = 0;
  std::string pool_dir_;                // <home>/pods/.free: empty Pod directories to reuse
  std::vector<std::string> free_dirs_;  // names in pool_dir_
  NetworkProber network_prober_{loop_};
  // Gangs with members the kubelet tracks, by "<namespace>/<group>": members by uid.
  struct Gang {
    int pods = 0;
    std::set<std::string> members;
  };
  std::map<std::string, Gang> gangs_;
  std::pair<int64_t, int64_t> machine_{0, 0};  // cached supervisor totals
  struct ExecProbe {
    std::string uid, container;
    ProbeKind kind;
    int generation;
  };
  std::unordered_map<std::string, ExecProbe> exec_probes_;  // process id -> its probe
  std::vector<std::string> queued_statuses_;  // uids whose intermediate status waits
  EventLoop::TimerId flush_timer_ = 0;
  static constexpr Duration kStatusBatchDelay = std::chrono::milliseconds(20);
  std::string server_url_;
};

}  // namespace skiff::local
