// The supervisor's process lifecycle: start (queue, admit, spawn), adopt, reap, kill, deadlines,
// and the exit record. Transition numbers refer to the diagram in supervisor.h.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "backends/local/supervisor_server.h"
#include "common/fs.h"
#include "common/log.h"

namespace skiff::local {
namespace {

Json EventJson(const ProcessStatus& status) {
  return Json{{"type", "event"}, {"status", ToJson(status)}};
}

ProcessStatus StartErrorStatus(const std::string& id, const std::string& message) {
  ProcessStatus st;
  st.id = id;
  st.state = ProcessStatus::State::kExited;
  st.exit_code = 127;
  st.reason = "StartError";
  st.message = message;
  return st;
}

constexpr char kLostMessage[] = "supervisor restarted; exit code unknown";

// Creates `path` (relative to `upper`, absolute in the workload's view) inside an overlay's upper
// dir, giving each new directory the mode and owner of the host directory it shadows.
Status MakeDirsInUpper(const std::string& upper, const std::string& path) {
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string prefix = path.substr(0, slash);
    std::string in_upper = upper + prefix;
    struct stat st {};
    if (::stat(in_upper.c_str(), &st) != 0) {
      struct stat host {};
      bool shadowed = ::stat(prefix.c_str(), &host) == 0 && S_ISDIR(host.st_mode);
      mode_t mode = shadowed ? (host.st_mode & 07777) : 0755;
      if (::mkdir(in_upper.c_str(), mode) != 0 && errno != EEXIST) {
        return FailedPrecondition("mkdir " + in_upper + ": " + std::strerror(errno));
      }
      if (shadowed) {
        ::chmod(in_upper.c_str(), mode);  // mkdir applied the umask
        if (::chown(in_upper.c_str(), host.st_uid, host.st_gid) != 0) {
          // Keep root ownership; only the listing's owner differs from the host's.
        }
      }
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return OkStatus();
}

Status CreateEmptyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return FailedPrecondition("create " + path + ": " + std::strerror(errno));
  ::close(fd);
  return OkStatus();
}

}  // namespace

SupervisorServer::Proc* SupervisorServer::Find(const std::string& id) {
  auto it = procs_.find(id);
  return it == procs_.end() ? nullptr : it->second.get();
}

// (1) queue, (8) answer from disk, (7) adopt, (5) reject.
void SupervisorServer::HandleStart(Client& client, const Json& spec_json) {
  auto parsed = ProcessSpecFromJson(spec_json);
  Status valid = parsed.ok() ? ValidateProcessSpec(*parsed) : parsed.status();
  std::string id = parsed.ok() ? parsed->id : StringField(spec_json, "id");
  if (shutting_down_) {
    LogInfo("supervisor: ignoring a start while shutting down", {{"id", id}});
    return;
  }
  if (!valid.ok()) {
    SendTo(client, EventJson(StartErrorStatus(id, "invalid process spec: " + valid.message())));
    return;
  }
  ProcessSpec& spec = *parsed;
  if (Proc* known = Find(spec.id)) {
    SendTo(client, EventJson(known->status));
    return;
  }
  if (!IsDirectory(spec.dir)) {
    SendTo(client, EventJson(StartErrorStatus(spec.id, "dir " + spec.dir + " does not exist")));
    return;
  }
  ProcessStatus on_disk = ReadProcessStatusFromDir(spec.dir);
  if (on_disk.state == ProcessStatus::State::kExited) {  // (8): never run anything twice
    on_disk.id = spec.id;
    SendTo(client, EventJson(on_disk));
    return;
  }
  auto proc = std::make_unique<Proc>();
  proc->spec = std::move(spec);
  proc->status.id = id;
  if (on_disk.state == ProcessStatus::State::kRunning) {
    Adopt(std::move(proc));
    TryAdmit();
    UpdateIdle();
    return;
  }

  Proc& p = *proc;
  p.status.state = ProcessStatus::State::kQueued;
  procs_[id] = std::move(proc);
  if (p.spec.deadline_unix_ms > 0) {
    if (p.spec.deadline_unix_ms <= NowMs()) {
      Finish(p, -1, 0, "DeadlineExceeded", "the deadline passed before it could start", nullptr);
      return;
    }
    p.deadline_timer =
        loop_.At(TimePoint(Millis(p.spec.deadline_unix_ms)), [this, id] { OnDeadline(id); });
  }
  Admission::Rejection rejected = admission_->Submit(
      AdmissionRequest{id, {p.spec.cpu_millis, p.spec.memory_bytes}, p.spec.gang, p.spec.gang_size, p.spec.priority},
      NowMs());
  for (const auto& rid : rejected.ids) {  // (5)
    if (Proc* r = Find(rid)) Finish(*r, -1, 0, "Unschedulable", rejected.message, nullptr);
  }
  TryAdmit();
  if (Proc* still = Find(id);
      still != nullptr && still->status.state == ProcessStatus::State::kQueued) {
    Broadcast(EventJson(still->status));
  }
  UpdateIdle();
}

// (7) A process started by an earlier supervisor: watch it if it is the very same process.
void SupervisorServer::Adopt(std::unique_ptr<Proc> proc) {
  std::string id = proc->status.id;
  Proc& p = *proc;
  procs_[id] = std::move(proc);
  int64_t start_ticks = -1;
  auto text = ReadFile(JoinPath(p.spec.dir, "started.json"));
  if (text.ok()) {
    auto json = ParseJson(*text);
    try {
      if (json.ok() && json->is_object()) {
        p.status.pid = json->value("pid", 0);
        p.status.started_unix_ms = json->value("started_unix_ms", int64_t{0});
        p.status.isolated = json->value("isolated", false);
        start_ticks = json->value("start_ticks", int64_t{-1});
      }
    } catch (const Json::exception&) {
      start_ticks = -1;  // a damaged record: the process is treated as lost
    }
  }
  p.adopted = true;
  p.status.state = ProcessStatus::State::kRunning;
  int pidfd = p.status.pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, p.status.pid, 0)) : -1;
  // The pidfd was opened first: if the start time still matches now, it refers to our process.
  bool same = pidfd >= 0 && start_ticks >= 0 && ReadProcStartTicks(p.status.pid) == start_ticks;
  if (!same) {
    if (pidfd >= 0) ::close(pidfd);
    Finish(p, -1, 0, "Lost", kLostMessage, nullptr);
    return;
  }
  p.pidfd = pidfd;
  Status watched = loop_.Watch(pidfd, [this, id] { OnAdoptedExit(id); });
  if (!watched.ok()) LogError("supervisor: cannot watch a pidfd", {{"id", id}});
  admission_->AddRunning(id, {p.spec.cpu_millis, p.spec.memory_bytes});
  LogInfo("supervisor: adopted a running process",
          {{"id", id}, {"pid", std::to_string(p.status.pid)}});
  Broadcast(EventJson(p.status));
  if (p.spec.deadline_unix_ms > 0) {
    p.deadline_timer =
        loop_.At(TimePoint(Millis(p.spec.deadline_unix_ms)), [this, id] { OnDeadline(id); });
  }
}

void SupervisorServer::OnAdoptedExit(const std::string& id) {
  Proc* p = Find(id);
  if (p == nullptr || p->pidfd < 0) return;
  loop_.Unwatch(p->pidfd);
  ::close(p->pidfd);
  p->pidfd = -1;
  ::kill(-p->status.pid, SIGKILL);
  std::string message = kLostMessage;
  if (!p->kill_reason.empty()) message += " (it was being stopped: " + p->kill_message + ")";
  Finish(*p, -1, 0, "Lost", message, nullptr);
  TryAdmit();
  UpdateIdle();
}

// (2) Start what fits.
void SupervisorServer::TryAdmit() {
  if (shutting_down_) return;
  for (;;) {
    std::vector<std::string> ids = admission_->Admit(NowMs());
    if (ids.empty()) return;
    // A gang is recorded as started as a whole before any member runs, so that a crash halfway
    // through leaves every member "started" (and later Lost) rather than half a gang to re-run.
    for (const auto& id : ids) {
      Proc* p = Find(id);
      if (p == nullptr || p->spec.gang.empty()) continue;
      Json intent{{"id", id},
                  {"pid", 0},
                  {"start_ticks", -1},
                  {"started_unix_ms", NowMs()},
                  {"supervisor_pid", ::getpid()}};
      WriteFileAtomic(JoinPath(p->spec.dir, "started.json"), DumpJson(intent) + "\n").IgnoreError();
    }
    for (const auto& id : ids) {
      if (Proc* p = Find(id)) SpawnAdmitted(*p);
    }
  }
}

Status SupervisorServer::PrepareMountTarget(const MountSpec& mount, const std::string& upper) {
  bool is_file = false;
  if (mount.kind == "bind") {
    struct stat src {};
    if (::stat(mount.source.c_str(), &src) != 0) {
      return FailedPrecondition("mount source " + mount.source + ": " + std::strerror(errno));
    }
    is_file = !S_ISDIR(src.st_mode);
  }
  struct stat host {};
  if (::stat(mount.target.c_str(), &host) == 0) return OkStatus();  // present in the root's view
  if (upper.empty()) {
    // No private root: the mount point is created on the host and stays there, empty.
    SKIFF_RETURN_IF_ERROR(MakeDirs(is_file ? DirName(mount.target) : mount.target));
    return is_file ? CreateEmptyFile(mount.target) : OkStatus();
  }
  SKIFF_RETURN_IF_ERROR(MakeDirsInUpper(upper, is_file ? DirName(mount.target) : mount.target));
  return is_file ? CreateEmptyFile(upper + mount.target) : OkStatus();
}

Result<SpawnPlan> SupervisorServer::Plan(Proc& proc, int* stdout_fd, int* stderr_fd) {
  const ProcessSpec& s = proc.spec;
  bool isolate = s.isolate && isolation_available_;
  if (s.isolate && !isolation_available_ && !warned_no_isolation_) {
    LogWarn("supervisor: mount namespaces are unavailable; running without isolation");
    warned_no_isolation_ = true;
  }
  std::string upper, work, merged;
  if (isolate && !s.root_overlay_dir.empty()) {
    upper = JoinPath(s.root_overlay_dir, "upper");
    work = JoinPath(s.root_overlay_dir, "work");
    merged = JoinPath(s.root_overlay_dir, "merged");
    for (const auto& d : {upper, work, merged}) SKIFF_RETURN_IF_ERROR(MakeDirs(d));
  }

  SpawnPlan plan;
  SKIFF_ASSIGN_OR_RETURN(plan.exe, FindExecutable(s.argv[0], s.env, upper));
  plan.argv = s.argv;
  plan.env = s.env;
  plan.cwd = s.cwd;
  plan.group = SpawnPlan::Group::kNewGroup;
  plan.stdin_fd = devnull_fd_;
  auto open_out = [](const std::string& path, int* fd) -> Status {
    *fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (*fd < 0) return FailedPrecondition("cannot open " + path + ": " + std::strerror(errno));
    return OkStatus();
  };
  if (!s.stdout_path.empty()) SKIFF_RETURN_IF_ERROR(open_out(s.stdout_path, stdout_fd));
  if (!s.stderr_path.empty()) {
    if (s.stderr_path == s.stdout_path) {
      plan.stderr_fd = *stdout_fd;
    } else {
      SKIFF_RETURN_IF_ERROR(open_out(s.stderr_path, stderr_fd));
    }
  }
  plan.stdout_fd = *stdout_fd >= 0 ? *stdout_fd : devnull_fd_;
  if (plan.stderr_fd < 0) plan.stderr_fd = *stderr_fd >= 0 ? *stderr_fd : devnull_fd_;

  if (isolate) {
    plan.new_mount_namespace = true;
    if (!merged.empty()) {
      plan.mounts.push_back(
          {"overlay", merged, "overlay", "lowerdir=/,upperdir=" + upper + ",workdir=" + work});
      for (const auto& sub : root_submounts_) plan.mounts.push_back({sub, merged + sub, "", ""});
      plan.chroot_dir = merged;
    }
    for (size_t i = 0; i < s.mounts.size(); ++i) {
      const MountSpec& m = s.mounts[i];
      // Inside an earlier mount (a volume under the private /tmp): its mount point is in that
      // mount's source, made by the client; nothing to create on the host or in the root.
      bool inside = false;
      for (size_t k = 0; k < i; ++k) inside = inside || PathIsBelow(m.target, s.mounts[k].target);
      if (!inside) SKIFF_RETURN_IF_ERROR(PrepareMountTarget(m, upper));
      if (m.kind == "tmpfs") {
        plan.mounts.push_back({"tmpfs", merged + m.target, "tmpfs",
                               m.source.empty() ? "mode=1777" : m.source, m.read_only});
      } else {
        plan.mounts.push_back({m.source, merged + m.target, "", "", m.read_only});
      }
    }
  }
  proc.status.isolated = isolate;

  Json record{{"id", s.id},
              {"started_unix_ms", proc.status.started_unix_ms},
              {"supervisor_pid", ::getpid()},
              {"isolated", isolate}};
  plan.record_path = JoinPath(s.dir, "started.json");
  plan.record_prefix = DumpJson(record);
  plan.record_prefix.pop_back();  // the child appends ,"pid":N,"start_ticks":T}
  plan.record_prefix += ",\"pid\":";
  return plan;
}

void SupervisorServer::SpawnAdmitted(Proc& proc) {
  proc.status.started_unix_ms = NowMs();
  int stdout_fd = -1, stderr_fd = -1;
  Result<SpawnPlan> plan = Plan(proc, &stdout_fd, &stderr_fd);
  Result<pid_t> pid = plan.ok() ? Spawn(*plan) : Result<pid_t>(plan.status());
  if (stdout_fd >= 0) ::close(stdout_fd);
  if (stderr_fd >= 0) ::close(stderr_fd);
  if (!pid.ok()) {
    Finish(proc, 127, 0, "StartError", pid.status().message(), nullptr);
    return;
  }
  proc.status.state = ProcessStatus::State::kRunning;
  proc.status.pid = *pid;
  by_pid_[*pid] = proc.status.id;
  Broadcast(EventJson(proc.status));
}

// (3) Reap every exited child.
void SupervisorServer::OnSigchld() {
  char drain[1024];
  while (::read(signal_fd_, drain, sizeof drain) > 0) {
  }
  for (;;) {
    int status = 0;
    struct rusage usage {};
    pid_t pid = ::wait4(-1, &status, WNOHANG, &usage);
    if (pid <= 0) break;
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) continue;  // a workload's orphan, re-parented to us
    std::string id = it->second;
    by_pid_.erase(it);
    // What is left of the group dies with its main process, like a container's init.
    ::kill(-pid, SIGKILL);
    Proc* p = Find(id);
    if (p == nullptr) continue;
    int exit_code = 0, sig = 0;
    if (WIFSIGNALED(status)) {
      sig = WTERMSIG(status);
      exit_code = 128 + sig;
    } else {
      exit_code = WEXITSTATUS(status);
    }
    std::string reason, message;
    if (!p->kill_reason.empty()) {
      reason = p->kill_reason;
      message = p->kill_message;
      if (p->grace_expired && sig == SIGKILL) message += "; SIGKILL after the grace period";
    } else if (sig == 0 && exit_code == 0) {
      reason = "Completed";
    } else {
      reason = "Error";
      message = sig != 0 ? std::string("terminated by signal ") + std::to_string(sig) + " (" +
                               ::strsignal(sig) + ")"
                         : "exited with code " + std::to_string(exit_code);
    }
    Finish(*p, exit_code, sig, reason, message, &usage);
  }
  TryAdmit();
  UpdateIdle();
}

// (4) Kill: drop from the queue, or TERM the group and KILL it after `grace_ms`.
void SupervisorServer::HandleKill(const std::string& id, int64_t grace_ms) {
  Proc* p = Find(id);
  if (p == nullptr) return;
  if (p->status.state == ProcessStatus::State::kQueued) {
    Finish(*p, -1, 0, "Killed", "killed before it started", nullptr);
    TryAdmit();
    UpdateIdle();
    return;
  }
  if (p->status.state == ProcessStatus::State::kRunning) {
    Stop(*p, "Killed", "stopped on request", grace_ms);
  }
}

void SupervisorServer::Stop(Proc& proc, const std::string& reason, const std::string& message,
                            int64_t grace_ms) {
  if (proc.kill_reason.empty()) {
    proc.kill_reason = reason;
    proc.kill_message = message;
  }
  if (grace_ms > 0) SignalGroup(proc, SIGTERM);
  ScheduleKill(proc, grace_ms);
}

void SupervisorServer::OnDeadline(const std::string& id) {
  Proc* p = Find(id);
  if (p == nullptr) return;
  p->deadline_timer = 0;
  if (p->status.state == ProcessStatus::State::kQueued) {
    Finish(*p, -1, 0, "DeadlineExceeded", "the deadline passed before it could start", nullptr);
    TryAdmit();
    UpdateIdle();
    return;
  }
  if (p->status.state == ProcessStatus::State::kRunning) {
    Stop(*p, "DeadlineExceeded", "stopped at its deadline", p->spec.grace_ms);
  }
}

void SupervisorServer::SignalGroup(Proc& proc, int sig) {
  pid_t pid = proc.status.pid;
  if (pid <= 0) return;
  if (proc.adopted && proc.pidfd >= 0) {
    ::syscall(SYS_pidfd_send_signal, proc.pidfd, sig, nullptr, 0);
    ::kill(-pid, sig);
    return;
  }
  if (by_pid_.count(pid) == 0) return;           // already reaped
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);  // it may have left its process group
}

void SupervisorServer::ScheduleKill(Proc& proc, int64_t grace_ms) {
  if (grace_ms <= 0) {
    SignalGroup(proc, SIGKILL);
    return;
  }
  TimePoint when = loop_.clock().Now() + Millis(grace_ms);
  if (proc.kill_timer != 0) {
    if (proc.kill_at <= when) return;
    loop_.Cancel(proc.kill_timer);
  }
  std::string id = proc.status.id;
  proc.kill_at = when;
  proc.kill_timer = loop_.At(when, [this, id] {
    Proc* p = Find(id);
    if (p == nullptr) return;
    p->kill_timer = 0;
    if (p->status.state != ProcessStatus::State::kRunning) return;
    p->grace_expired = true;
    SignalGroup(*p, SIGKILL);
  });
}

void SupervisorServer::HandleForget(const std::string& id) {
  Proc* p = Find(id);
  if (p != nullptr && p->status.state == ProcessStatus::State::kExited) procs_.erase(id);
}

void SupervisorServer::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  LogInfo("supervisor: shutting down", {{"state_dir", config_.state_dir}});
  for (auto& [id, proc] : procs_) {
    Proc& p = *proc;
    if (p.status.state == ProcessStatus::State::kQueued) {
      Finish(p, -1, 0, "Killed", "the supervisor shut down before it started", nullptr);
    } else if (p.status.state == ProcessStatus::State::kRunning) {
      Stop(p, "Killed", "stopped because the supervisor shut down", 0);
    }
  }
  UpdateIdle();
}

void SupervisorServer::Finish(Proc& proc, int exit_code, int signal, const std::string& reason,
                              const std::string& message, const struct rusage* usage) {
  if (proc.kill_timer != 0) loop_.Cancel(proc.kill_timer);
  if (proc.deadline_timer != 0) loop_.Cancel(proc.deadline_timer);
  proc.kill_timer = proc.deadline_timer = 0;
  if (!admission_->Remove(proc.status.id)) admission_->Release(proc.status.id);

  ProcessStatus& st = proc.status;
  st.state = ProcessStatus::State::kExited;
  st.exit_code = exit_code;
  st.signal = signal;
  st.reason = reason;
  st.message = message;
  st.finished_unix_ms = NowMs();
  if (usage != nullptr) {
    st.cpu_seconds = static_cast<double>(usage->ru_utime.tv_sec + usage->ru_stime.tv_sec) +
                     static_cast<double>(usage->ru_utime.tv_usec + usage->ru_stime.tv_usec) / 1e6;
    st.max_rss_bytes = static_cast<int64_t>(usage->ru_maxrss) * 1024;
  }
  // The record is on disk before anyone hears of the exit.
  Status written =
      WriteFileAtomic(JoinPath(proc.spec.dir, "exit.json"), DumpJson(ToJson(st)) + "\n");
  if (!written.ok()) {
    LogError("supervisor: cannot record an exit", {{"id", st.id}, {"error", written.ToString()}});
  }
  Broadcast(EventJson(st));
}

}  // namespace skiff::local
