#include "backends/local/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace skiff::local {

const char* ProbeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kStartup:
      return "Startup";
    case ProbeKind::kLiveness:
      return "Liveness";
    case ProbeKind::kReadiness:
      return "Readiness";
  }
  return "?";
}

namespace {

// An integer field of a probe: absent or 0 means `fallback` (as the API server defaults them);
// below `min` is an error.
Result<int64_t> ProbeInt(const Json& probe, const char* field, int64_t fallback, int64_t min,
                         const std::string& where) {
  const Json* v = FindField(probe, field);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_number_integer()) return InvalidArgument(where + "." + field + ": must be an integer");
  int64_t n = v->get<int64_t>();
  if (n == 0 && min > 0) return fallback;
  if (n < min) {
    return InvalidArgument(where + "." + field + ": must be at least " + std::to_string(min));
  }
  return n;
}

// `port` is a number, a numeric string, or the name of one of the container's `ports`.
Result<int> ProbePort(const Json& action, const Json& container, const std::string& where) {
  const Json* port = FindField(action, "port");
  if (port == nullptr || port->is_null()) return InvalidArgument(where + ".port: required");
  if (port->is_number_integer()) {
    int p = port->get<int>();
    if (p < 1 || p > 65535) return InvalidArgument(where + ".port: must be between 1 and 65535");
    return p;
  }
  std::string name = ScalarToString(*port);
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    int p = std::atoi(name.c_str());
    if (p >= 1 && p <= 65535) return p;
  }
  if (const Json* ports = FindField(container, "ports"); ports != nullptr && ports->is_array()) {
    for (const auto& cp : *ports) {
      if (StringField(cp, "name") == name) {
        const Json* n = FindField(cp, "containerPort");
        if (n != nullptr && n->is_number_integer()) return n->get<int>();
      }
    }
  }
  return InvalidArgument(where + ".port: the container has no port named \"" + name + "\"");
}

std::string HostPort(const std::string& address, int port) {
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

Result<ProbeSpec> ParseProbe(const Json& probe, const Json& container, const std::string& where) {
  if (!probe.is_object()) return InvalidArgument(where + ": must be an object");
  ProbeSpec p;
  if (const Json* exec = FindField(probe, "exec")) {
    p.action = ProbeSpec::Action::kExec;
    const Json* cmd = FindField(*exec, "command");
    if (cmd == nullptr || !cmd->is_array() || cmd->empty()) {
      return InvalidArgument(where + ".exec.command: at least one entry is required");
    }
    for (const auto& a : *cmd) p.command.push_back(ScalarToString(a));
  } else if (const Json* http = FindField(probe, "httpGet")) {
    p.action = ProbeSpec::Action::kHttpGet;
    SKIFF_ASSIGN_OR_RETURN(p.port, ProbePort(*http, container, where + ".httpGet"));
    p.host = StringField(*http, "host");
    p.path = StringField(*http, "path", "/");
    if (p.path.empty() || p.path[0] != '/') p.path = "/" + p.path;
    p.scheme = StringField(*http, "scheme", "HTTP");
    if (p.scheme != "HTTP" && p.scheme != "HTTPS") {
      return InvalidArgument(where + ".httpGet.scheme: must be HTTP or HTTPS");
    }
    if (const Json* hs = FindField(*http, "httpHeaders"); hs != nullptr && hs->is_array()) {
      for (const auto& h : *hs) {
        std::string name = StringField(h, "name");
        std::string value = StringField(h, "value");
        if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
          return InvalidArgument(where + ".httpGet.httpHeaders: invalid header \"" + name + "\"");
        }
        p.headers.emplace_back(name, value);
      }
    }
  } else if (const Json* tcp = FindField(probe, "tcpSocket")) {
    p.action = ProbeSpec::Action::kTcpSocket;
    SKIFF_ASSIGN_OR_RETURN(p.port, ProbePort(*tcp, container, where + ".tcpSocket"));
    p.host = StringField(*tcp, "host");
  } else if (probe.contains("grpc")) {
    p.action = ProbeSpec::Action::kUnsupported;
    p.unsupported = "grpc probes are not supported by the local backend";
  } else {
    return InvalidArgument(where + ": one of exec, httpGet, tcpSocket or grpc is required");
  }
  SKIFF_ASSIGN_OR_RETURN(int64_t delay, ProbeInt(probe, "initialDelaySeconds", 0, 0, where));
  SKIFF_ASSIGN_OR_RETURN(int64_t period, ProbeInt(probe, "periodSeconds", 10, 1, where));
  SKIFF_ASSIGN_OR_RETURN(int64_t timeout, ProbeInt(probe, "timeoutSeconds", 1, 1, where));
  SKIFF_ASSIGN_OR_RETURN(int64_t success, ProbeInt(probe, "successThreshold", 1, 1, where));
  SKIFF_ASSIGN_OR_RETURN(int64_t failure, ProbeInt(probe, "failureThreshold", 3, 1, where));
  p.initial_delay = std::chrono::seconds(delay);
  p.period = std::chrono::seconds(period);
  p.timeout = std::chrono::seconds(timeout);
  p.success_threshold = static_cast<int>(success);
  p.failure_threshold = static_cast<int>(failure);
  if (const Json* g = FindField(probe, "terminationGracePeriodSeconds");
      g != nullptr && g->is_number_integer()) {
    p.termination_grace_seconds = std::max<int64_t>(0, g->get<int64_t>());
  }
  return p;
}

struct NetworkProber::Check {
  uint64_t id = 0;
  int fd = -1;
  bool http = false;
  bool https = false;
  bool connected = false;
  std::string request;
  size_t sent = 0;
  std::string response;
  std::string dial;   // "dial tcp 127.0.0.1:8080"
  std::string get;    // "Get \"http://127.0.0.1:8080/healthz\""
  std::string error;  // a failure found before the first event (reported by the timer at once)
  EventLoop::TimerId timer = 0;
  Done done;
};

NetworkProber::NetworkProber(EventLoop& loop) : loop_(loop) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  Status s = loop_.Watch(epfd_, [this] { OnReady(); });
  (void)s;
}

NetworkProber::~NetworkProber() {
  for (auto& [id, c] : checks_) {
    loop_.Cancel(c->timer);
    if (c->fd >= 0) ::close(c->fd);
  }
  loop_.Unwatch(epfd_);
  ::close(epfd_);
}

uint64_t NetworkProber::Http(const std::string& address, const ProbeSpec& spec, Done done) {
  auto c = std::make_unique<Check>();
  c->http = true;
  c->https = spec.scheme == "HTTPS";
  std::string hostport = HostPort(address, spec.port);
  c->get =
      "Get \"" + std::string(c->https ? "https" : "http") + "://" + hostport + spec.path + "\"";
  // Kubernetes' defaults; httpHeaders may replace them (Host, User-Agent, Accept).
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", hostport}, {"User-Agent", "kube-probe/1.30"}, {"Accept", "*/*"}};
  for (const auto& [name, value] : spec.headers) {
    bool replaced = false;
    for (auto& h : headers) {
      if (::strcasecmp(h.first.c_str(), name.c_str()) == 0 && !replaced) {
        h.second = value;
        replaced = true;
      }
    }
    if (!replaced) headers.emplace_back(name, value);
  }
  c->request = "GET " + spec.path + " HTTP/1.1\r\n";
  for (const auto& [name, value] : headers) c->request += name + ": " + value + "\r\n";
  c->request += "Connection: close\r\n\r\n";
  c->done = std::move(done);
  Duration timeout = spec.timeout;
  uint64_t id = Begin(std::move(c), address, spec.port);
  Check& check = *checks_[id];
  if (check.timer == 0) {
    check.timer = loop_.After(timeout, [this, id] {
      Finish(id, false,
             checks_[id]->get +
                 ": context deadline exceeded (Client.Timeout exceeded while awaiting "
                 "headers)");
    });
  }
  return id;
}

uint64_t NetworkProber::Tcp(const std::string& address, int port, Duration timeout, Done done) {
  auto c = std::make_unique<Check>();
  c->done = std::move(done);
  uint64_t id = Begin(std::move(c), address, port);
  Check& check = *checks_[id];
  if (check.timer == 0) {
    check.timer = loop_.After(
        timeout, [this, id] { Finish(id, false, checks_[id]->dial + ": i/o timeout"); });
  }
  return id;
}

// Opens the socket and starts connecting. A failure at this point is reported through a timer
// due at once, so that `done` never runs inside `Http`/`Tcp`.
uint64_t NetworkProber::Begin(std::unique_ptr<Check> check, const std::string& address, int port) {
  Check& c = *check;
  c.id = next_id_++;
  c.timer = 0;
  c.dial = "dial tcp " + HostPort(address, port);
  uint64_t id = c.id;
  checks_[id] = std::move(check);
  auto fail_now = [&](const std::string& message) {
    c.error = message;
    c.timer = loop_.After(Duration::zero(), [this, id] { Finish(id, false, checks_[id]->error); });
  };
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v6;
  } else {
    fail_now(c.dial + ": \"" + address + "\" is not an IP address");
    return id;
  }
  c.fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    fail_now(c.dial + ": socket: " + std::strerror(errno));
    return id;
  }
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    fail_now(c.dial + ": connect: " + std::strerror(errno));
    return id;
  }
  // Connected or connecting: writable when the outcome is known.
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = id;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    fail_now(c.dial + ": epoll_ctl: " + std::strerror(errno));
  }
  return id;
}

void NetworkProber::OnReady() {
  epoll_event events[32];
  int n = ::epoll_wait(epfd_, events, 32, 0);
  for (int i = 0; i < n; ++i) {
    auto it = checks_.find(events[i].data.u64);
    if (it != checks_.end()) Step(*it->second, events[i].events);
  }
}

void NetworkProber::Step(Check& c, uint32_t events) {
  (void)events;  // the socket's state (SO_ERROR, send, recv) tells all
  if (!c.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      std::string prefix = c.http ? c.get + ": " : "";
      Finish(c.id, false, prefix + c.dial + ": connect: " + std::strerror(err));
      return;
    }
    c.connected = true;
    if (!c.http || c.https) {
      Finish(c.id, true, "");
      return;
    }
  }
  if (c.sent < c.request.size()) {
    ssize_t n = ::send(c.fd, c.request.data() + c.sent, c.request.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      Finish(c.id, false, c.get + ": write: " + std::strerror(errno));
      return;
    }
    c.sent += static_cast<size_t>(n);
    if (c.sent < c.request.size()) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c.id;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    return;
  }
  char buf[4096];
  bool eof = false;
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      Finish(c.id, false, c.get + ": read: " + std::strerror(errno));
      return;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    c.response.append(buf, static_cast<size_t>(n));
    if (c.response.size() > 10240 || c.response.find("\r\n") != std::string::npos) break;
  }
  size_t eol = c.response.find("\r\n");
  if (eol == std::string::npos) {
    if (eof || c.response.size() > 10240) {
      Finish(c.id, false, c.get + (eof ? ": EOF" : ": malformed HTTP response"));
    }
    return;  // else wait for more
  }
  // "HTTP/1.1 200 OK"
  std::string line = c.response.substr(0, eol);
  size_t sp = line.find(' ');
  int code = sp == std::string::npos ? 0 : std::atoi(line.c_str() + sp + 1);
  if (line.rfind("HTTP/", 0) != 0 || code < 100) {
    Finish(c.id, false, c.get + ": malformed HTTP response \"" + line + "\"");
  } else if (code >= 200 && code < 400) {
    Finish(c.id, true, "");
  } else {
    Finish(c.id, false, "HTTP probe failed with statuscode: " + std::to_string(code));
  }
}

void NetworkProber::Finish(uint64_t id, bool success, const std::string& message) {
  auto it = checks_.find(id);
  if (it == checks_.end()) return;
  std::unique_ptr<Check> c = std::move(it->second);
  checks_.erase(it);
  loop_.Cancel(c->timer);
  if (c->fd >= 0) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
  }
  Outcome out{success, message};
  if (c->done) c->done(out);
}

void NetworkProber::Cancel(uint64_t id) {
  auto it = checks_.find(id);
  if (it == checks_.end()) return;
  loop_.Cancel(it->second->timer);
  if (it->second->fd >= 0) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second->fd, nullptr);
    ::close(it->second->fd);
  }
  checks_.erase(it);
}

}  // namespace skiff::local
