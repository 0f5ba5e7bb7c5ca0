// The supervisor's entry point, sockets and wire protocol. Process lifecycle lives in
// supervisor_processes.cc.
#include "backends/local/supervisor_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/fs.h"
#include "common/log.h"

namespace skiff::local {
namespace {

constexpr size_t kMaxClientOutput = 64 << 20;
constexpr size_t kMaxClientLine = 16 << 20;

int64_t MemTotalBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kb = 0;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb * 1024;
  }
  return 0;
}

std::string SocketPath(const std::string& dir) { return JoinPath(dir, "supervisor.sock"); }

}  // namespace

SupervisorServer::SupervisorServer(SupervisorConfig config, int listen_fd)
    : config_(std::move(config)), listen_fd_(listen_fd) {}

SupervisorServer::~SupervisorServer() {
  for (auto& [fd, client] : clients_) ::close(fd);
  for (auto& [id, proc] : procs_) {
    if (proc->pidfd >= 0) ::close(proc->pidfd);
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (out_epfd_ >= 0) ::close(out_epfd_);
  if (devnull_fd_ >= 0) ::close(devnull_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

int64_t SupervisorServer::NowMs() const {
  return std::chrono::duration_cast<Millis>(loop_.clock().Now().time_since_epoch()).count();
}

Status SupervisorServer::Init() {
  started_unix_ms_ = NowMs();
  Resources total{config_.cpu_millis, config_.memory_bytes};
  if (total.cpu_millis <= 0) total.cpu_millis = ::sysconf(_SC_NPROCESSORS_ONLN) * 1000;
  if (total.memory_bytes <= 0) total.memory_bytes = MemTotalBytes();
  admission_ = std::make_unique<Admission>(total, config_.backfill_window_ms);

  // Probe before SIGCHLD goes to the signalfd; the probe reaps its own child.
  isolation_available_ = CanCreateMountNamespaces();
  root_submounts_ = ReadRootSubmounts();
  if (!isolation_available_) {
    LogWarn("supervisor: mount namespaces are unavailable; workloads run without isolation");
    warned_no_isolation_ = true;
  }
  // Orphaned descendants of workloads are re-parented to us and reaped rather than left behind.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  signal_fd_ = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Internal(std::string("signalfd: ") + std::strerror(errno));
  out_epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (out_epfd_ < 0) return Internal(std::string("epoll_create1: ") + std::strerror(errno));
  devnull_fd_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull_fd_ < 0) return Internal(std::string("/dev/null: ") + std::strerror(errno));

  SKIFF_RETURN_IF_ERROR(loop_.Watch(listen_fd_, [this] { OnAccept(); }));
  SKIFF_RETURN_IF_ERROR(loop_.Watch(signal_fd_, [this] { OnSigchld(); }));
  SKIFF_RETURN_IF_ERROR(loop_.Watch(out_epfd_, [this] { OnWritable(); }));
  return OkStatus();
}

int SupervisorServer::Run() {
  UpdateIdle();
  loop_.Run();
  return exit_code_;
}

void SupervisorServer::OnAccept() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    clients_[fd].fd = fd;
    ever_connected_ = true;
    Status s = loop_.Watch(fd, [this, fd] { OnClientReadable(fd); });
    if (!s.ok()) {
      LogError("supervisor: cannot watch a client", {{"error", s.ToString()}});
      CloseClient(fd);
    }
  }
  UpdateIdle();
}

void SupervisorServer::CloseClient(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  loop_.Unwatch(fd);
  if (it->second.out_watched) ::epoll_ctl(out_epfd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(it);
  UpdateIdle();
}

void SupervisorServer::OnClientReadable(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  char buf[65536];
  bool closed = false;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      it->second.in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    closed = true;  // EOF or error
    break;
  }
  // Handle every complete line; a handler may close this client, so look it up each time.
  for (;;) {
    it = clients_.find(fd);
    if (it == clients_.end()) return;
    std::string& in = it->second.in;
    size_t nl = in.find('\n');
    if (nl == std::string::npos) {
      if (in.size() > kMaxClientLine) closed = true;
      break;
    }
    std::string line = in.substr(0, nl);
    in.erase(0, nl + 1);
    if (!line.empty()) HandleLine(it->second, line);
  }
  if (closed) CloseClient(fd);
}

void SupervisorServer::OnWritable() {
  epoll_event events[64];
  int n = ::epoll_wait(out_epfd_, events, 64, 0);
  for (int i = 0; i < n; ++i) {
    auto it = clients_.find(events[i].data.fd);
    if (it == clients_.end()) continue;
    SendTo(it->second, Json());  // flushes
  }
}

void SupervisorServer::SendTo(Client& client, const Json& message) {
  if (!message.is_null()) {
    client.out += DumpJson(message);
    client.out += '\n';
  }
  while (!client.out.empty()) {
    ssize_t n = ::send(client.fd, client.out.data(), client.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      client.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    client.out.clear();  // the peer is gone; its read side will notice and close
    break;
  }
  if (client.out.size() > kMaxClientOutput) {
    LogWarn("supervisor: dropping a client that does not read its events");
    ::shutdown(client.fd, SHUT_RDWR);
    client.out.clear();
  }
  bool want = !client.out.empty();
  if (want != client.out_watched) {
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = client.fd;
    ::epoll_ctl(out_epfd_, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, client.fd, &ev);
    client.out_watched = want;
  }
}

void SupervisorServer::Broadcast(const Json& message) {
  for (auto& [fd, client] : clients_) SendTo(client, message);
}

void SupervisorServer::Reply(Client& client, const Json& request, Json body) {
  body["type"] = "reply";
  body["req"] = request.value("req", int64_t{0});
  body["ok"] = true;
  SendTo(client, body);
}

void SupervisorServer::ReplyError(Client& client, const Json& request, const Status& status) {
  Json body{
      {"type", "reply"},
      {"req", request.is_object() ? request.value("req", int64_t{0}) : int64_t{0}},
      {"ok", false},
      {"error",
       {{"code", std::string(StatusCodeName(status.code()))}, {"message", status.message()}}}};
  SendTo(client, body);
}

Json SupervisorServer::InfoJson() const {
  Resources total = admission_->total();
  Resources used = admission_->used();
  size_t exited = 0;
  for (const auto& [id, proc] : procs_) {
    if (proc->status.state == ProcessStatus::State::kExited) ++exited;
  }
  return Json{{"pid", static_cast<int>(::getpid())},
              {"state_dir", config_.state_dir},
              {"started_unix_ms", started_unix_ms_},
              {"cpu_millis_total", total.cpu_millis},
              {"memory_bytes_total", total.memory_bytes},
              {"cpu_millis_used", used.cpu_millis},
              {"memory_bytes_used", used.memory_bytes},
              {"cpu_millis_free", total.cpu_millis - used.cpu_millis},
              {"memory_bytes_free", total.memory_bytes - used.memory_bytes},
              {"queued", admission_->queued_count()},
              {"running", RunningCount()},
              {"exited", exited},
              {"clients", clients_.size()},
              {"isolation", isolation_available_},
              {"idle_exit_ms", config_.idle_exit_ms}};
}

void SupervisorServer::HandleLine(Client& client, const std::string& line) {
  auto parsed = ParseJson(line);
  if (!parsed.ok() || !parsed->is_object()) {
    ReplyError(client, Json(), InvalidArgument("request is not a JSON object"));
    return;
  }
  // A field of the wrong type must not take the supervisor down.
  try {
    Dispatch(client, *parsed);
  } catch (const Json::exception& e) {
    ReplyError(client, Json(), InvalidArgument(std::string("malformed request: ") + e.what()));
  }
}

void SupervisorServer::Dispatch(Client& client, const Json& request) {
  std::string op = StringField(request, "op");
  if (op == "start") {
    const Json* spec = FindField(request, "spec");
    HandleStart(client, spec != nullptr ? *spec : Json());
  } else if (op == "kill") {
    HandleKill(StringField(request, "id"), request.value("grace_ms", int64_t{0}));
  } else if (op == "forget") {
    HandleForget(StringField(request, "id"));
  } else if (op == "list") {
    std::vector<const Proc*> procs;
    for (const auto& [id, proc] : procs_) procs.push_back(proc.get());
    std::sort(procs.begin(), procs.end(),
              [](const Proc* a, const Proc* b) { return a->spec.id < b->spec.id; });
    Json list = Json::array();
    for (const Proc* p : procs) list.push_back(ToJson(p->status));
    Reply(client, request, Json{{"processes", std::move(list)}});
  } else if (op == "hello" || op == "info") {
    Reply(client, request, Json{{"info", InfoJson()}});
  } else if (op == "shutdown") {
    Reply(client, request, Json::object());
    BeginShutdown();
  } else {
    ReplyError(client, request, InvalidArgument("unknown op \"" + op + "\""));
  }
}

size_t SupervisorServer::RunningCount() const {
  size_t n = by_pid_.size();
  for (const auto& [id, proc] : procs_) n += proc->adopted && proc->pidfd >= 0 ? 1 : 0;
  return n;
}

bool SupervisorServer::IsIdle() const {
  return clients_.empty() && admission_->queued_count() == 0 && RunningCount() == 0;
}

void SupervisorServer::UpdateIdle() {
  if (shutting_down_) {
    if (RunningCount() == 0) loop_.Stop();
    return;
  }
  bool idle = IsIdle();
  if (idle && idle_timer_ == 0) {
    // A supervisor nobody has connected to yet was launched by a client that is on its way:
    // give it time to arrive (a loaded machine can take seconds) before leaving for idleness.
    int64_t ms = ever_connected_ ? config_.idle_exit_ms : std::max<int64_t>(config_.idle_exit_ms, 2000);
    idle_timer_ = loop_.After(Millis(ms), [this] { OnIdleTimer(); });
  } else if (!idle && idle_timer_ != 0) {
    loop_.Cancel(idle_timer_);
    idle_timer_ = 0;
  }
}

void SupervisorServer::OnIdleTimer() {
  idle_timer_ = 0;
  OnAccept();  // a client may be waiting in the backlog: serve it rather than exit under it
  if (!IsIdle()) return;
  if (idle_timer_ != 0) loop_.Cancel(idle_timer_);
  idle_timer_ = 0;
  LogInfo("supervisor: idle, exiting", {{"state_dir", config_.state_dir}});
  loop_.Stop();
}

// ---------------------------------------------------------------------------------------------

int RunSupervisor(const SupervisorConfig& config) {
  if (config.state_dir.empty()) {
    LogError("supervisor: --state-dir is required");
    return 2;
  }
  Status made = MakeDirs(config.state_dir, 0700);
  if (!made.ok()) {
    LogError("supervisor: cannot create the state dir", {{"error", made.ToString()}});
    return 1;
  }
  std::string lock_path = JoinPath(config.state_dir, "supervisor.lock");
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    LogError("supervisor: cannot open " + lock_path, {{"error", std::strerror(errno)}});
    return 1;
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return 0;  // another supervisor serves this dir
  }

  // Only the lock holder touches the socket path, so removing a stale one here is safe.
  std::string sock_path = SocketPath(config.state_dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (sock_path.size() >= sizeof addr.sun_path) {
    LogError("supervisor: socket path is too long", {{"path", sock_path}});
    return 1;
  }
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  int listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ::unlink(sock_path.c_str());
  mode_t old_umask = ::umask(0177);
  int bound = ::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_umask);
  if (bound != 0 || ::listen(listen_fd, 512) != 0) {
    LogError("supervisor: cannot listen on " + sock_path, {{"error", std::strerror(errno)}});
    return 1;
  }
  ::chmod(sock_path.c_str(), 0600);

  int ready_fd = -1;
  if (config.daemonize) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return 1;
    pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid > 0) {
      // The caller's process: return once the daemon serves (it keeps the lock and socket; the
      // flock belongs to the shared open file, so closing our descriptor does not release it).
      ::close(pipefd[1]);
      ::close(listen_fd);
      ::close(lock_fd);
      char c = 0;
      while (::read(pipefd[0], &c, 1) < 0 && errno == EINTR) {
      }
      return c == 'R' ? 0 : 1;
    }
    ::close(pipefd[0]);
    ready_fd = pipefd[1];
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      if (null_fd > 2) ::close(null_fd);
    }
    int log_fd = ::open(JoinPath(config.state_dir, "supervisor.log").c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd >= 0) {
      ::dup2(log_fd, 2);
      ::close(log_fd);
    }
    if (::chdir("/") != 0) {
      // Not fatal: the daemon only pins its old working directory.
    }
  }
  ::umask(022);

  int rc = 1;
  {
    SupervisorServer server(config, listen_fd);
    Status s = server.Init();
    if (s.ok()) {
      s = WriteFileAtomic(JoinPath(config.state_dir, "supervisor.pid"),
                          std::to_string(::getpid()) + "\n");
    }
    if (ready_fd >= 0) {
      char c = s.ok() ? 'R' : 'E';
      ssize_t ignored = ::write(ready_fd, &c, 1);
      (void)ignored;
      ::close(ready_fd);
    }
    if (!s.ok()) {
      LogError("supervisor: cannot start", {{"error", s.ToString()}});
    } else {
      LogInfo("supervisor: serving",
              {{"state_dir", config.state_dir}, {"pid", std::to_string(::getpid())}});
      rc = server.Run();
    }
    // Still under the lock: no other supervisor can have bound a new socket at this path.
    ::unlink(sock_path.c_str());
    ::unlink(JoinPath(config.state_dir, "supervisor.pid").c_str());
  }
  ::close(lock_fd);
  return rc;
}

}  // namespace skiff::local
