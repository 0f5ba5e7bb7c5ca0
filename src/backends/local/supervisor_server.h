// The supervisor process's core (internal to this folder; clients use supervisor.h): one
// single-threaded `EventLoop` over the listening socket, client sockets, a signalfd for SIGCHLD,
// pidfds of adopted processes and timers (grace periods, deadlines, idle exit). It owns every
// workload's bookkeeping; workloads themselves are separate processes that outlive it.
// Not thread-safe: everything runs on the loop thread.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/local/process_spawn.h"
#include "backends/local/supervisor.h"
#include "backends/local/supervisor_admission.h"
#include "common/event_loop.h"

namespace skiff::local {

class SupervisorServer {
 public:
  // Takes ownership of `listen_fd` (bound and listening).
  SupervisorServer(SupervisorConfig config, int listen_fd);
  ~SupervisorServer();
  SupervisorServer(const SupervisorServer&) = delete;
  SupervisorServer& operator=(const SupervisorServer&) = delete;

  // Signal handling, slot totals, the isolation probe and the host's submounts.
  Status Init();
  // Serves until idle for `idle_exit_ms` or shut down; returns the exit code.
  int Run();

 private:
  struct Client {
    int fd = -1;
    std::string in;
    std::string out;
    bool out_watched = false;
  };
  struct Proc {
    ProcessSpec spec;
    ProcessStatus status;
    bool adopted = false;  // started by an earlier supervisor; watched through `pidfd`
    int pidfd = -1;
    std::string kill_reason;     // "Killed" or "DeadlineExceeded" once we have started stopping it
    std::string kill_message;    // why, for the exit record
    bool grace_expired = false;  // SIGKILL was sent because TERM did not end it in time
    EventLoop::TimerId kill_timer = 0;
    TimePoint kill_at{};
    EventLoop::TimerId deadline_timer = 0;
  };

  // Sockets and protocol (supervisor_server.cc).
  void OnAccept();
  void OnClientReadable(int fd);
  void OnWritable();
  void CloseClient(int fd);
  void HandleLine(Client& client, const std::string& line);
  void Dispatch(Client& client, const Json& request);
  void SendTo(Client& client, const Json& message);
  void Broadcast(const Json& message);
  void Reply(Client& client, const Json& request, Json body);
  void ReplyError(Client& client, const Json& request, const Status& status);
  Json InfoJson() const;
  size_t RunningCount() const;
  bool IsIdle() const;
  void UpdateIdle();
  void OnIdleTimer();

  // Process lifecycle (supervisor_processes.cc); the numbers refer to supervisor.h's diagram.
  void HandleStart(Client& client, const Json& spec_json);
  void HandleKill(const std::string& id, int64_t grace_ms);
  void HandleForget(const std::string& id);
  void BeginShutdown();
  void Adopt(std::unique_ptr<Proc> proc);  // (7)
  void TryAdmit();                         // (2)
  void SpawnAdmitted(Proc& proc);
  Result<SpawnPlan> Plan(Proc& proc, int* stdout_fd, int* stderr_fd);
  Status PrepareMountTarget(const MountSpec& mount, const std::string& upper);
  void OnSigchld();  // (3)
  void OnAdoptedExit(const std::string& id);
  void OnDeadline(const std::string& id);  // (4)
  void SignalGroup(Proc& proc, int sig);
  // Starts stopping `proc` (first reason wins): TERM now, KILL after `grace_ms` (KILL at once if
  // `grace_ms` <= 0).
  void Stop(Proc& proc, const std::string& reason, const std::string& message, int64_t grace_ms);
  void ScheduleKill(Proc& proc, int64_t grace_ms);
  // Records an end (exit.json, then events) for a process that never ran or has been reaped.
  void Finish(Proc& proc, int exit_code, int signal, const std::string& reason,
              const std::string& message, const struct rusage* usage);
  Proc* Find(const std::string& id);
  int64_t NowMs() const;

  SupervisorConfig config_;
  EventLoop loop_;
  int listen_fd_ = -1;
  int signal_fd_ = -1;
  int out_epfd_ = -1;  // client sockets with pending output, watched for EPOLLOUT
  int devnull_fd_ = -1;
  std::unordered_map<int, Client> clients_;
  std::unordered_map<std::string, std::unique_ptr<Proc>> procs_;
  std::unordered_map<pid_t, std::string> by_pid_;
  std::unique_ptr<Admission> admission_;
  bool isolation_available_ = false;
  bool warned_no_isolation_ = false;
  std::vector<std::string> root_submounts_;
  bool shutting_down_ = false;
  EventLoop::TimerId idle_timer_ = 0;
  bool ever_connected_ = false;  // whether any client has connected since start
  int64_t started_unix_ms_ = 0;
  int exit_code_ = 0;
};

}  // namespace skiff::local
