// SupervisorClient: connecting (and starting a supervisor when none answers), the requests, and
// the event stream. See README.md for the wire protocol.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "backends/local/process_spawn.h"
#include "backends/local/supervisor.h"
#include "common/fs.h"

extern char** environ;

namespace skiff::local {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string SocketPath(const std::string& dir) { return JoinPath(dir, "supervisor.sock"); }

int RemainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()).count();
  return left < 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

Result<int> TryConnect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return InvalidArgument("socket path is too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    return Unavailable("connect " + path + ": " + std::strerror(e));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Starts `launch_argv --state-dir DIR` and waits for it: a supervisor returns once its daemon
// serves, or at once (status 0) if another one holds the state dir.
Status LaunchSupervisor(const SupervisorClientOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  SpawnPlan plan;
  SKIFF_ASSIGN_OR_RETURN(plan.exe, FindExecutable(options.launch_argv[0], env));
  plan.argv = options.launch_argv;
  plan.argv.push_back("--state-dir");
  plan.argv.push_back(options.state_dir);
  plan.env = std::move(env);
  std::string log_path = JoinPath(options.state_dir, "supervisor.log");
  // Descriptors >= 3, so that duplicating them onto 0-2 cannot clobber one another.
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  auto high = [](int fd) {
    if (fd < 0 || fd > 2) return fd;
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    return moved;
  };
  null_fd = high(null_fd);
  log_fd = high(log_fd);
  plan.stdin_fd = null_fd;
  plan.stdout_fd = null_fd;
  plan.stderr_fd = log_fd >= 0 ? log_fd : null_fd;
  plan.group = SpawnPlan::Group::kNewGroup;
  Result<pid_t> pid = Spawn(plan);
  if (null_fd >= 0) ::close(null_fd);
  if (log_fd >= 0) ::close(log_fd);
  if (!pid.ok()) return pid.status().WithPrefix("cannot start a supervisor");
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(*pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  if (waited == *pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    return Unavailable("the supervisor " + options.launch_argv[0] + " failed (status " +
                       std::to_string(status) + "); see " + log_path);
  }
  return OkStatus();
}

Status StatusFromReply(const Json& reply) {
  const Json* error = FindField(reply, "error");
  std::string code = error != nullptr ? StringField(*error, "code") : "";
  std::string message = error != nullptr ? StringField(*error, "message") : "request failed";
  for (int c = static_cast<int>(StatusCode::kInvalidArgument);
       c <= static_cast<int>(StatusCode::kInternal); ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == code) {
      return Status(static_cast<StatusCode>(c), message);
    }
  }
  return Internal(message);
}

}  // namespace

Result<std::unique_ptr<SupervisorClient>> SupervisorClient::Connect(
    const SupervisorClientOptions& options) {
  if (options.state_dir.empty()) return InvalidArgument("state_dir is required");
  SKIFF_RETURN_IF_ERROR(MakeDirs(options.state_dir, 0700));
  std::string path = SocketPath(options.state_dir);
  auto deadline = SteadyClock::now() + options.connect_timeout;
  bool launched = false;
  SteadyClock::time_point last_launch;
  int backoff_ms = 1;
  std::string last_error;
  for (;;) {
    Result<int> fd = TryConnect(path);
    if (fd.ok()) {
      std::unique_ptr<SupervisorClient> client(new SupervisorClient(options, *fd));
      auto left = std::max<Duration>(deadline - SteadyClock::now(), std::chrono::milliseconds(100));
      Result<Json> hello = client->Call(Json{{"op", "hello"}}, left);
      if (hello.ok()) {
        const Json* info = FindField(*hello, "info");
        const Json* pid = info != nullptr ? FindField(*info, "pid") : nullptr;
        if (pid != nullptr && pid->is_number_integer()) client->supervisor_pid_ = pid->get<int>();
        return client;
      }
      // The supervisor was exiting (idle) as we connected: try again, starting a new one.
      last_error = hello.status().message();
    } else {
      if (fd.status().code() == StatusCode::kInvalidArgument) return fd.status();
      last_error = fd.status().message();
    }
    auto now = SteadyClock::now();
    if (now >= deadline) {
      return Unavailable("no supervisor answers at " + path + ": " + last_error);
    }
    // Losing the lock race also exits 0, so keep launching (rarely) until one of them serves.
    if (!options.launch_argv.empty() &&
        (!launched || now - last_launch >= std::chrono::milliseconds(200))) {
      SKIFF_RETURN_IF_ERROR(LaunchSupervisor(options));
      launched = true;
      last_launch = SteadyClock::now();
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 50);
  }
}

SupervisorClient::SupervisorClient(SupervisorClientOptions options, int sock)
    : options_(std::move(options)), sock_(sock) {
  buffered_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  notify_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : {sock_, buffered_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(notify_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

SupervisorClient::~SupervisorClient() {
  for (int fd : {notify_fd_, buffered_fd_, sock_}) {
    if (fd >= 0) ::close(fd);
  }
}

Status SupervisorClient::Send(const Json& message) {
  if (closed_) return Unavailable("the supervisor connection is closed");
  std::string line = DumpJson(message);
  line += '\n';
  size_t off = 0;
  auto deadline = SteadyClock::now() + options_.call_timeout;
  while (off < line.size()) {
    ssize_t n = ::send(sock_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{sock_, POLLOUT, 0};
      if (::poll(&p, 1, RemainingMs(deadline)) == 0) {
        return DeadlineExceeded("the supervisor does not read its socket");
      }
      continue;
    }
    closed_ = true;
    return Unavailable(std::string("the supervisor connection broke: ") + std::strerror(errno));
  }
  return OkStatus();
}

Status SupervisorClient::Fill(int wait_ms) {
  if (closed_) return Unavailable("the supervisor connection is closed");
  if (wait_ms > 0) {
    pollfd p{sock_, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) == 0) return OkStatus();
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(sock_, buf, sizeof buf);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return OkStatus();
    closed_ = true;  // EOF or error: the supervisor is gone
    return OkStatus();
  }
}

void SupervisorClient::ParseLines(int64_t want_req, Json* reply, bool* got_reply) {
  size_t start = 0;
  for (;;) {
    size_t nl = in_.find('\n', start);
    if (nl == std::string::npos) break;
    auto json = ParseJson(std::string_view(in_).substr(start, nl - start));
    start = nl + 1;
    if (!json.ok() || !json->is_object()) continue;
    std::string type = StringField(*json, "type");
    if (type == "event") {
      const Json* status = FindField(*json, "status");
      if (status == nullptr) continue;
      auto parsed = ProcessStatusFromJson(*status);
      if (parsed.ok()) events_.push_back(std::move(*parsed));
    } else if (type == "reply" && got_reply != nullptr) {
      const Json* req = FindField(*json, "req");
      if (req != nullptr && req->is_number_integer() && req->get<int64_t>() == want_req) {
        *reply = std::move(*json);
        *got_reply = true;
      }
    }
  }
  in_.erase(0, start);
}

void SupervisorClient::SignalBuffered() {
  if (events_.empty()) return;
  uint64_t one = 1;
  ssize_t ignored = ::write(buffered_fd_, &one, sizeof one);
  (void)ignored;
}

Result<Json> SupervisorClient::Call(Json request, Duration timeout) {
  int64_t req = next_req_++;
  request["req"] = req;
  SKIFF_RETURN_IF_ERROR(Send(request));
  auto deadline =
      SteadyClock::now() + (timeout > Duration::zero() ? timeout : options_.call_timeout);
  Json reply;
  bool got = false;
  for (;;) {
    ParseLines(req, &reply, &got);
    if (got) break;
    if (closed_) {
      SignalBuffered();
      return Unavailable("the supervisor connection closed during a request");
    }
    int left = RemainingMs(deadline);
    if (left == 0) {
      SignalBuffered();
      return DeadlineExceeded("the supervisor did not answer in time");
    }
    SKIFF_RETURN_IF_ERROR(Fill(left));
  }
  SignalBuffered();
  const Json* ok = FindField(reply, "ok");
  if (ok == nullptr || !ok->is_boolean() || !ok->get<bool>()) return StatusFromReply(reply);
  return reply;
}

Status SupervisorClient::Start(const ProcessSpec& spec) {
  SKIFF_RETURN_IF_ERROR(ValidateProcessSpec(spec));
  return Send(Json{{"op", "start"}, {"spec", ToJson(spec)}});
}

Status SupervisorClient::Kill(const std::string& id, Duration grace) {
  return Send(Json{
      {"op", "kill"}, {"id", id}, {"grace_ms", std::chrono::duration_cast<Millis>(grace).count()}});
}

Status SupervisorClient::Forget(const std::string& id) {
  return Send(Json{{"op", "forget"}, {"id", id}});
}

Result<std::vector<ProcessStatus>> SupervisorClient::List() {
  SKIFF_ASSIGN_OR_RETURN(Json reply, Call(Json{{"op", "list"}}));
  std::vector<ProcessStatus> out;
  const Json* list = FindField(reply, "processes");
  if (list == nullptr || !list->is_array()) return Internal("malformed list reply");
  for (const auto& item : *list) {
    SKIFF_ASSIGN_OR_RETURN(ProcessStatus st, ProcessStatusFromJson(item));
    out.push_back(std::move(st));
  }
  return out;
}

Result<Json> SupervisorClient::Info() {
  SKIFF_ASSIGN_OR_RETURN(Json reply, Call(Json{{"op", "info"}}));
  const Json* info = FindField(reply, "info");
  if (info == nullptr) return Internal("malformed info reply");
  return *info;
}

Status SupervisorClient::Shutdown() {
  Result<Json> reply = Call(Json{{"op", "shutdown"}});
  return reply.status();
}

Result<std::vector<ProcessStatus>> SupervisorClient::ReadEvents() {
  uint64_t count;
  while (::read(buffered_fd_, &count, sizeof count) > 0) {
  }
  if (!closed_) Fill(0).IgnoreError();
  ParseLines(-1, nullptr, nullptr);
  if (events_.empty() && closed_) {
    return Unavailable("the supervisor connection is closed");
  }
  std::vector<ProcessStatus> out(std::make_move_iterator(events_.begin()),
                                 std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

bool SupervisorClient::WaitReadable(Duration timeout) {
  if (!events_.empty()) return true;
  pollfd p{notify_fd_, POLLIN, 0};
  int ms = static_cast<int>(std::chrono::duration_cast<Millis>(timeout).count());
  return ::poll(&p, 1, ms) > 0;
}

}  // namespace skiff::local
