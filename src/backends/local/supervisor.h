// The process supervisor of the local backend: the one long-lived process per Skiff data dir that
// starts every workload process, keeps it running across a crash of the skiff process that asked
// for it, and reports how it ended.
//
// Why one supervisor and not a shim per workload: process creation costs 2-7 ms on the machines
// we target, and a 700-step pipeline must stay within 1.2x of `make -j2`. So one supervisor
// (`skiff supervisor --state-dir DIR`) spawns each workload with `clone(CLONE_VM | CLONE_VFORK)`
// and a child that only makes system calls (see process_spawn.h), admits work by CPU and memory
// slots, and records exits in files so that nothing runs twice:
//
//   <spec.dir>/started.json  written (atomically, by the child, before any isolation step or exec)
//                            as soon as a process exists: {"id","pid","start_ticks",
//                            "started_unix_ms","supervisor_pid","isolated"}.
//   <spec.dir>/exit.json     written (atomically) when it ended, before any client is told:
//                            {"id","pid","exit_code","signal","reason","message","started_unix_ms",
//                            "finished_unix_ms","cpu_seconds","max_rss_bytes","isolated"}.
//
// A `Start` for an id whose dir holds exit.json answers with that record and runs nothing; one
// whose dir holds only started.json (its supervisor died) is adopted: watched through a pidfd if
// the very same process is still alive (same /proc start time), then recorded as "Lost".
//
// Process lifecycle inside the supervisor (the numbers are referred to in the code):
//
//   (1) Start of a new id          -> Queued (an event only if it has to wait)
//   (2) admitted (slots are free)  Queued -> Running (started.json written by the child)
//   (3) reaped (wait4, or pidfd)   Running -> Exited (exit.json written, then the event)
//   (4) Kill or deadline           Queued -> Exited; Running -> TERM, grace, KILL, then (3)
//   (5) can never fit              Queued -> Exited "Unschedulable"
//   (6) Forget                     Exited -> dropped from memory (the files stay)
//   (7) Start, only started.json   -> Running (adopted, watched by pidfd) or Exited "Lost"
//   (8) Start, exit.json on disk   -> answered from the file; nothing runs
//
// reason in exit.json: "Completed" (exit 0), "Error" (non-zero exit or killed by a signal we did
// not send), "Killed" (client `Kill`), "DeadlineExceeded" (`deadline_unix_ms`), "StartError"
// (exit_code 127: executable not found, exec/mount/chdir failed), "Unschedulable" (the request can
// never fit), "Lost" (adopted after a supervisor restart; exit_code -1). exit_code is -1 wherever
// no process ran or its status is unknown; a process killed by signal S reports 128+S and S.
//
// Wire protocol and admission policy: see README.md in this folder.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::local {

// One mount applied inside a workload's private mount namespace. `kind` is "bind" (`source` is a
// host path) or "tmpfs" (`source`, if non-empty, is the tmpfs option string, e.g. "size=64m").
struct MountSpec {
  std::string kind = "bind";
  std::string source;
  std::string target;  // absolute, in the workload's view
  bool read_only = false;
};

// What to run and how. `id` is the identity of the process for the supervisor and must be stable
// across restarts of both sides ("<pod uid>/<container name>"); `dir` is created by the client.
struct ProcessSpec {
  std::string id;
  std::string dir;
  std::vector<std::string> argv;
  std::vector<std::string> env;          // "K=V": the complete environment; nothing is inherited
  std::string cwd = "/";                 // absolute, in the workload's view
  std::string stdout_path, stderr_path;  // host paths, appended to; "" = /dev/null
  bool isolate = true;
  std::string root_overlay_dir;  // "" = host root; else <dir>/{upper,work,merged}
  std::vector<MountSpec> mounts;
  int64_t cpu_millis = 1000;
  int64_t memory_bytes = 0;
  std::string gang;
  int gang_size = 0;
  int64_t priority = 0;          // queued processes start highest first (FIFO among equals)
  int64_t deadline_unix_ms = 0;  // 0 = none
  int64_t grace_ms = 30000;      // TERM -> KILL delay when the deadline passes
};

Json ToJson(const MountSpec& mount);
Result<MountSpec> MountSpecFromJson(const Json& json);
Json ToJson(const ProcessSpec& spec);
Result<ProcessSpec> ProcessSpecFromJson(const Json& json);
// Checks what the supervisor needs of a spec (id, dir, argv, absolute cwd/targets, gang size...).
Status ValidateProcessSpec(const ProcessSpec& spec);

struct ProcessStatus {
  enum class State { kQueued, kRunning, kExited, kUnknown };
  std::string id;
  State state = State::kUnknown;
  int pid = 0;
  int64_t started_unix_ms = 0, finished_unix_ms = 0;
  int exit_code = 0;
  int signal = 0;
  std::string reason, message;  // as in exit.json
  double cpu_seconds = 0;
  int64_t max_rss_bytes = 0;
  bool isolated = false;
};

// "Queued", "Running", "Exited", "Unknown".
const char* StateName(ProcessStatus::State state);
Json ToJson(const ProcessStatus& status);
Result<ProcessStatus> ProcessStatusFromJson(const Json& json);

// Reads <dir>/exit.json (kExited) or <dir>/started.json (kRunning) or returns kUnknown; used by
// the kubelet after a restart. An unreadable exit.json reads as kExited with reason "Lost".
ProcessStatus ReadProcessStatusFromDir(const std::string& dir);

struct SupervisorConfig {
  std::string state_dir;
  int64_t cpu_millis = 0;    // 0 = number of online CPUs x 1000
  int64_t memory_bytes = 0;  // 0 = MemTotal
  int64_t idle_exit_ms = 30000;
  // How long a queued process (or complete gang) that does not fit may be overtaken by later,
  // smaller work (backfill). After that nothing newer starts until it has started. 0 = strict FIFO.
  int64_t backfill_window_ms = 2000;
  // Fork into the background (new session) once listening; the process that called
  // `RunSupervisor` returns 0 when the daemon is ready. False keeps it in the foreground.
  bool daemonize = true;
};

// Runs the supervisor for `config.state_dir` until it has been idle for `idle_exit_ms` or is told
// to shut down. Returns the process exit code; 0 at once if another supervisor holds the dir.
// Must be called while the process is single-threaded (it forks when `daemonize`).
int RunSupervisor(const SupervisorConfig& config);

struct SupervisorClientOptions {
  std::string state_dir;
  // How to start a supervisor if none answers, e.g. {"/path/skiff", "supervisor"};
  // "--state-dir DIR" is appended. Empty: never start one.
  std::vector<std::string> launch_argv;
  Duration connect_timeout = std::chrono::seconds(5);
  // Limit for the synchronous round trips (`List`, `Info`, `Shutdown`).
  Duration call_timeout = std::chrono::seconds(30);
};

// A connection to the supervisor of one state dir. Not thread-safe; meant for one event-loop
// thread. `fd()` is readable whenever `ReadEvents` has something to return (including events
// that arrived during a synchronous call, and a dropped connection). Writes block only while the
// socket buffer is full.
class SupervisorClient {
 public:
  // Connects, starting a supervisor if none answers. Race-free: clients connecting at once end up
  // with one supervisor (the state dir's flock decides; losers retry the connection).
  static Result<std::unique_ptr<SupervisorClient>> Connect(const SupervisorClientOptions& options);
  ~SupervisorClient();
  SupervisorClient(const SupervisorClient&) = delete;
  SupervisorClient& operator=(const SupervisorClient&) = delete;

  int fd() const { return notify_fd_; }
  // Pid of the supervisor this client is connected to.
  int supervisor_pid() const { return supervisor_pid_; }

  // Asynchronous: the outcome arrives as events (kQueued when it must wait, kRunning with the pid,
  // kExited). A Start for an id the supervisor already knows or has an exit.json for answers with
  // its current status (to this client only) and starts nothing.
  Status Start(const ProcessSpec& spec);
  // SIGTERM to the process group, SIGKILL after `grace`; a queued process is dropped and recorded
  // as Killed. Unknown ids are ignored.
  Status Kill(const std::string& id, Duration grace);
  // Synchronous: every process the supervisor knows (queued, running, exited-not-forgotten).
  Result<std::vector<ProcessStatus>> List();
  // The client has consumed the exit; the supervisor may drop it from memory (files stay).
  Status Forget(const std::string& id);
  // Drains pending events without blocking. Unavailable once the connection is gone and every
  // event received before that has been returned.
  Result<std::vector<ProcessStatus>> ReadEvents();
  // Waits up to `timeout` for `fd()` to become readable; true if it did. For tests and tools.
  bool WaitReadable(Duration timeout);
  // Supervisor info: pid, state_dir, cpu/memory totals, used and free, counts, isolation.
  Result<Json> Info();
  // Stops the supervisor: running processes are SIGKILLed (reason Killed, exit.json written),
  // queued ones dropped as Killed; it exits once all are reaped. For tests and `skiff` tools.
  Status Shutdown();

 private:
  SupervisorClient(SupervisorClientOptions options, int sock);
  Status Send(const Json& message);
  // Sends `request` with a fresh `req` and waits up to `timeout` (default: `call_timeout`) for
  // its reply, keeping the events that arrive meanwhile.
  Result<Json> Call(Json request, Duration timeout = Duration::zero());
  // Reads what the socket has (waiting up to `wait_ms` for the first bytes) into `in_`.
  Status Fill(int wait_ms);
  // Moves complete lines from `in_` into `events_` (and the reply for `want_req`, if seen).
  void ParseLines(int64_t want_req, Json* reply, bool* got_reply);
  void SignalBuffered();

  SupervisorClientOptions options_;
  int sock_ = -1;
  int notify_fd_ = -1;    // epoll fd over `sock_` and `buffered_fd_`
  int buffered_fd_ = -1;  // eventfd, non-zero while `events_` is non-empty
  int supervisor_pid_ = 0;
  bool closed_ = false;
  std::string in_;
  std::deque<ProcessStatus> events_;
  int64_t next_req_ = 1;
};

}  // namespace skiff::local
