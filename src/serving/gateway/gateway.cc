#include "serving/gateway/gateway.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serving/gateway/response_parser.h"
#include "serving/gateway/route_table.h"
#include "serving/protocol/v2.h"

namespace skiff::serving {

namespace {

constexpr const char* kRequests = "skiff_serving_requests_total";
constexpr const char* kLatency = "skiff_serving_request_duration_seconds";
constexpr const char* kInFlight = "skiff_serving_requests_in_flight";
constexpr const char* kQueue = "skiff_serving_queue_length";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the framing
// the proxy sets itself.
bool HopByHop(const std::string& lower_name) {
  static const std::set<std::string> kNames = {"connection", "keep-alive", "proxy-connection",
                                               "transfer-encoding", "te", "trailer", "upgrade",
                                               "content-length", "expect", "host"};
  return kNames.count(lower_name) > 0;
}

api::HttpResponse ErrorResponse(int status, const std::string& message, bool retry_after = false) {
  api::HttpResponse r;
  r.status = status;
  r.body = DumpJson(Json{{"error", message}});
  if (retry_after) r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Labels of a revision key "ns/isvc/revision".
Metrics::Labels RevisionLabels(const std::string& revision_key) {
  size_t a = revision_key.find('/');
  size_t b = a == std::string::npos ? a : revision_key.find('/', a + 1);
  if (b == std::string::npos) return {{"namespace", ""}, {"inferenceservice", ""}, {"revision", revision_key}};
  return {{"namespace", revision_key.substr(0, a)},
          {"inferenceservice", revision_key.substr(a + 1, b - a - 1)},
          {"revision", revision_key.substr(b + 1)}};
}

}  // namespace

struct Gateway::Impl {
  // One connection to a replica.
  struct Upstream {
    uint64_t id = 0;
    int fd = -1;
    int port = 0;
    bool connecting = false;
    bool reused = false;     // served an earlier request: an EOF before any byte is a stale close
    uint64_t request = 0;    // the Pending it serves; 0 when idle
    std::string out;
    size_t out_off = 0;
    bool want_write = false;
    ResponseParser response;
  };

  enum class State { kQueued, kForwarding };
  struct Pending {
    uint64_t id = 0;
    api::HttpRequest req;
    std::shared_ptr<api::HttpResponder> responder;
    Selection sel;
    TimePoint start{};
    TimePoint deadline{};
    bool held = false;  // waiting for a first ready replica (activator)
    State state = State::kQueued;
    std::set<std::string> tried;  // Pods that refused a connection
    bool retried = false;
    std::string pod;
    int port = 0;
    uint64_t upstream = 0;
  };

  struct RevState {
    std::deque<uint64_t> queue;  // FIFO; ids no longer pending are skipped
    size_t waiting = 0;          // live entries in `queue`
    int64_t in_flight = 0;       // routed and not yet answered (waiting included)
    std::map<std::string, int> outstanding;  // by Pod: forwarded and not answered
  };

  GatewayOptions opts;
  const Clock& clock;
  int epfd = -1, wakefd = -1;
  std::thread thread;
  std::atomic<bool> running{false};
  // Attached (`StartAttached`): the owner's loop calls `Poll`; deadlines arm `timerfd`, which
  // sits in `epfd` so that the owner's loop wakes for them too.
  bool attached = false;
  int timerfd = -1;
  TimePoint armed{};  // the deadline `timerfd` is set for; epoch when disarmed
  std::atomic<std::thread::id> loop_thread{};

  std::mutex post_mu;
  std::vector<std::function<void()>> posted;  // GUARDED_BY(post_mu)
  bool stopped = false;                        // GUARDED_BY(post_mu)

  mutable std::mutex info_mu;
  std::set<std::string> namespaces;         // GUARDED_BY(info_mu): those with an isvc
  std::map<std::string, int> isvcs_per_ns;  // GUARDED_BY(info_mu)
  // Per revision: requests in flight and waiting, read by `QueueLength` and by the metrics
  // collector at scrape time (so a request costs no gauge updates). Shared with the collector,
  // which may outlive the gateway.
  struct Load {
    std::mutex mu;
    std::map<std::string, std::pair<int64_t, size_t>> by_revision;  // GUARDED_BY(mu)
  };
  std::shared_ptr<Load> load = std::make_shared<Load>();

  // Loop thread only.
  RouteTable table;
  std::unordered_map<uint64_t, Pending> pending;
  std::unordered_map<uint64_t, Upstream> upstreams;
  std::unordered_map<int, std::vector<uint64_t>> idle;  // by port
  std::map<std::string, RevState> revisions;
  std::set<std::pair<TimePoint, uint64_t>> deadlines;
  uint64_t next_id = 1;

  explicit Impl(GatewayOptions o) : opts(std::move(o)), clock(*opts.clock) {}

  bool Post(std::function<void()> fn) {
    std::lock_guard<std::mutex> l(post_mu);
    if (stopped) return false;
    bool wake = posted.empty();
    posted.push_back(std::move(fn));
    if (wake) {
      uint64_t one = 1;
      ssize_t n = ::write(wakefd, &one, sizeof one);
      (void)n;
    }
    return true;
  }

  void Loop();
  void RunOnce(int timeout_ms);
  void ArmTimer();
  void Shutdown();
  void Submit(api::HttpRequest req, std::shared_ptr<api::HttpResponder> responder);
  void Dispatch(Pending& p);
  void Pump(const std::string& revision_key);
  void PumpAll();
  const Replica* FreeReplica(const RevisionRoute& route, RevState& rs, const std::set<std::string>& exclude);
  void Forward(Pending& p, const Replica& replica);
  void StartExchange(Pending& p, bool fresh);
  void Finish(uint64_t id, api::HttpResponse resp);
  void Expire(uint64_t id);
  void OnUpstreamEvent(uint64_t uid, uint32_t events);
  void UpstreamFailed(uint64_t uid, bool connect_error);
  void UpstreamDone(uint64_t uid);
  void FlushUpstream(Upstream& u);
  void CloseUpstream(uint64_t uid);
  void DropIdleNotReady();
  void SetDeadline(Pending& p, TimePoint when);
  void ClearDeadline(Pending& p);
  void PublishQueue(const std::string& revision_key, const RevState& rs);
  void ApplyEvent(const std::string& kind, const Json& obj, bool deleted);
};

// ---- loop ----

constexpr uint64_t kTimerId = ~uint64_t{0};

void Gateway::Impl::Loop() {
  loop_thread.store(std::this_thread::get_id());
  while (running.load()) {
    int timeout_ms = 500;
    if (!deadlines.empty()) {
      auto until = std::chrono::duration_cast<Millis>(deadlines.begin()->first - clock.Now()).count();
      if (until < timeout_ms) timeout_ms = static_cast<int>(std::max<int64_t>(0, until + 1));
    }
    RunOnce(timeout_ms);
  }
}

// One round: the ready upstream sockets and posted work, then the deadlines that passed.
void Gateway::Impl::RunOnce(int timeout_ms) {
  epoll_event events[128];
  int n = epoll_wait(epfd, events, 128, timeout_ms);
  for (int i = 0; i < n; ++i) {
    uint64_t id = events[i].data.u64;
    if (id == 0) {
      uint64_t v;
      ssize_t r = ::read(wakefd, &v, sizeof v);
      (void)r;
      std::vector<std::function<void()>> fns;
      {
        std::lock_guard<std::mutex> l(post_mu);
        fns.swap(posted);
      }
      for (auto& fn : fns) fn();
      continue;
    }
    if (id == kTimerId) {
      uint64_t v;
      ssize_t r = ::read(timerfd, &v, sizeof v);
      (void)r;
      armed = TimePoint{};
      continue;
    }
    OnUpstreamEvent(id, events[i].events);
  }
  TimePoint now = clock.Now();
  while (!deadlines.empty() && deadlines.begin()->first <= now) {
    uint64_t pid = deadlines.begin()->second;
    deadlines.erase(deadlines.begin());
    Expire(pid);
  }
}

// Attached: `timerfd` fires no later than the earliest deadline. It is set only when a deadline
// comes before the one it is set for: when it fires early (the request it was set for was
// answered), the loop finds nothing due and sets it again, so a steady stream of requests,
// each with its own deadline, costs no timer calls.
void Gateway::Impl::ArmTimer() {
  if (deadlines.empty()) return;
  TimePoint want = deadlines.begin()->first;
  if (armed != TimePoint{} && armed <= want) return;
  itimerspec its{};
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(want - clock.Now()).count();
  if (ns < 1000000) ns = 1000000;  // already due: soon (0 would disarm)
  its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  timerfd_settime(timerfd, 0, &its, nullptr);
  armed = want;
}

void Gateway::Impl::SetDeadline(Pending& p, TimePoint when) {
  ClearDeadline(p);
  p.deadline = when;
  deadlines.emplace(when, p.id);
}

void Gateway::Impl::ClearDeadline(Pending& p) {
  if (p.deadline != TimePoint{}) deadlines.erase({p.deadline, p.id});
  p.deadline = TimePoint{};
}

void Gateway::Impl::PublishQueue(const std::string& revision_key, const RevState& rs) {
  std::lock_guard<std::mutex> l(load->mu);
  load->by_revision[revision_key] = {rs.in_flight, rs.waiting};
}

// ---- requests ----

void Gateway::Impl::Submit(api::HttpRequest req, std::shared_ptr<api::HttpResponder> responder) {
  auto sel = table.Select(req.Header("host"), req.Header("knative-serving-tag"), req.method, req.path);
  if (!sel.ok()) {
    bool unavailable = sel.status().code() == StatusCode::kUnavailable;
    HttpError e = ToHttpError(sel.status());
    api::HttpResponse r = ErrorResponse(unavailable ? 503 : e.status, sel.status().message(), unavailable);
    responder->Respond(std::move(r));
    return;
  }
  uint64_t id = next_id++;
  Pending& p = pending[id];
  p.id = id;
  p.req = std::move(req);
  p.responder = std::move(responder);
  p.sel = std::move(*sel);
  p.start = clock.Now();
  RevState& rs = revisions[p.sel.revision_key];
  rs.in_flight++;
  PublishQueue(p.sel.revision_key, rs);
  if (opts.stats != nullptr) opts.stats->RequestStarted(p.sel.revision_key);
  Dispatch(p);
}

const Replica* Gateway::Impl::FreeReplica(const RevisionRoute& route, RevState& rs,
                                          const std::set<std::string>& exclude) {
  const Replica* best = nullptr;
  int best_load = 0;
  for (const Replica& r : route.ready) {
    if (exclude.count(r.pod)) continue;
    int load = rs.outstanding[r.pod];
    if (route.container_concurrency > 0 && load >= route.container_concurrency) continue;
    if (best == nullptr || load < best_load) {
      best = &r;
      best_load = load;
    }
  }
  return best;
}

// A new request: forward it, or queue/hold it, or refuse it.
void Gateway::Impl::Dispatch(Pending& p) {
  const std::string rev = p.sel.revision_key;
  RevState& rs = revisions[rev];
  while (!rs.queue.empty() && pending.count(rs.queue.front()) == 0) rs.queue.pop_front();  // expired
  const RevisionRoute* route = table.Revision(rev);
  if (route == nullptr || route->ready.empty()) {
    if (rs.waiting >= opts.activation_queue_limit) {
      Finish(p.id, ErrorResponse(503, "revision " + rev + " has no ready replica and " +
                                          std::to_string(rs.waiting) + " requests already wait for one",
                                 true));
      return;
    }
    p.held = true;
    p.state = State::kQueued;
    rs.queue.push_back(p.id);
    rs.waiting++;
    SetDeadline(p, clock.Now() + opts.activation_timeout);
    PublishQueue(rev, rs);
    if (opts.stats != nullptr) opts.stats->RequestActivation(p.sel.service_key, rev);
    return;
  }
  const Replica* replica = rs.waiting == 0 ? FreeReplica(*route, rs, {}) : nullptr;
  if (replica != nullptr) {
    Forward(p, *replica);
    return;
  }
  size_t limit = opts.queue_depth_per_slot * static_cast<size_t>(std::max(1, route->container_concurrency)) *
                 route->ready.size();
  if (rs.waiting >= limit) {
    Finish(p.id, ErrorResponse(503, "revision " + rev + " is at capacity: " + std::to_string(rs.waiting) +
                                        " requests queued (limit " + std::to_string(limit) + ")",
                               true));
    return;
  }
  p.state = State::kQueued;
  rs.queue.push_back(p.id);
  rs.waiting++;
  SetDeadline(p, clock.Now() + route->timeout);
  PublishQueue(rev, rs);
  Pump(rev);  // a replica may have room while only abandoned requests were ahead
}

// Forwards queued requests of a revision while replicas have room.
void Gateway::Impl::Pump(const std::string& revision_key) {
  auto rit = revisions.find(revision_key);
  if (rit == revisions.end()) return;
  RevState& rs = rit->second;
  const RevisionRoute* route = table.Revision(revision_key);
  bool changed = false;
  while (!rs.queue.empty()) {
    auto pit = pending.find(rs.queue.front());
    if (pit == pending.end() || pit->second.state != State::kQueued) {
      rs.queue.pop_front();
      continue;
    }
    Pending& p = pit->second;
    if (p.responder->closed()) {  // the client left while waiting
      rs.queue.pop_front();
      rs.waiting--;
      changed = true;
      Finish(p.id, ErrorResponse(499, "client closed the request"));
      continue;
    }
    if (route == nullptr || route->ready.empty()) break;
    const Replica* replica = FreeReplica(*route, rs, {});
    if (replica == nullptr) break;
    rs.queue.pop_front();
    rs.waiting--;
    changed = true;
    Forward(p, *replica);
  }
  if (changed) PublishQueue(revision_key, rs);
}

void Gateway::Impl::PumpAll() {
  std::vector<std::string> keys;
  for (const auto& [k, rs] : revisions) {
    if (rs.waiting > 0) keys.push_back(k);
  }
  for (const auto& k : keys) Pump(k);
}

void Gateway::Impl::Forward(Pending& p, const Replica& replica) {
  const RevisionRoute* route = table.Revision(p.sel.revision_key);
  p.state = State::kForwarding;
  p.held = false;
  p.pod = replica.pod;
  p.port = replica.port;
  revisions[p.sel.revision_key].outstanding[replica.pod]++;
  SetDeadline(p, clock.Now() + (route != nullptr ? route->timeout : std::chrono::seconds(kDefaultTimeoutSeconds)));
  StartExchange(p, false);
}

// Sends `p` to its chosen replica over a pooled connection (unless `fresh`) or a new one.
void Gateway::Impl::StartExchange(Pending& p, bool fresh) {
  uint64_t uid = 0;
  auto& pool = idle[p.port];
  while (!fresh && !pool.empty() && uid == 0) {
    uint64_t candidate = pool.back();
    pool.pop_back();
    if (upstreams.count(candidate)) uid = candidate;
  }
  if (uid == 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      Finish(p.id, ErrorResponse(502, std::string("socket: ") + std::strerror(errno)));
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(p.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uid = next_id++;
    Upstream& u = upstreams[uid];
    u.id = uid;
    u.fd = fd;
    u.port = p.port;
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    u.connecting = rc != 0 && errno == EINPROGRESS;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (u.connecting ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u64 = uid;
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    u.want_write = u.connecting;
    if (rc != 0 && !u.connecting) {
      u.request = p.id;
      p.upstream = uid;
      UpstreamFailed(uid, true);
      return;
    }
  }
  Upstream& u = upstreams[uid];
  u.request = p.id;
  p.upstream = uid;
  const api::HttpRequest& q = p.req;
  u.response.Reset(q.method == "HEAD");
  std::string& out = u.out;
  out.clear();
  u.out_off = 0;
  out.reserve(q.body.size() + 512);
  out += q.method;
  out += ' ';
  out += q.target;
  out += " HTTP/1.1\r\nHost: ";
  std::string host = q.Header("host");
  out += host.empty() ? "127.0.0.1:" + std::to_string(p.port) : host;
  out += "\r\n";
  for (const auto& [k, v] : q.headers) {
    if (HopByHop(k) || k == "x-forwarded-for") continue;
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!q.body.empty() || q.method == "POST" || q.method == "PUT" || q.method == "PATCH") {
    out += "Content-Length: " + std::to_string(q.body.size()) + "\r\n";
  }
  std::string forwarded = q.Header("x-forwarded-for");
  out += "X-Forwarded-For: " + (forwarded.empty() ? "" : forwarded + ", ") + q.peer.substr(0, q.peer.rfind(':')) +
         "\r\n\r\n";
  out += q.body;
  if (!u.connecting) FlushUpstream(u);
}

void Gateway::Impl::FlushUpstream(Upstream& u) {
  while (u.out_off < u.out.size()) {
    ssize_t n = ::send(u.fd, u.out.data() + u.out_off, u.out.size() - u.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      u.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    UpstreamFailed(u.id, false);
    return;
  }
  bool want = u.out_off < u.out.size();
  if (want != u.want_write) {
    u.want_write = want;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u64 = u.id;
    epoll_ctl(epfd, EPOLL_CTL_MOD, u.fd, &ev);
  }
  if (!want) {
    u.out.clear();
    u.out_off = 0;
  }
}

void Gateway::Impl::OnUpstreamEvent(uint64_t uid, uint32_t events) {
  auto it = upstreams.find(uid);
  if (it == upstreams.end()) return;
  Upstream& u = it->second;
  if (u.connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(u.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      UpstreamFailed(uid, true);
      return;
    }
    u.connecting = false;
    FlushUpstream(u);
    if (!upstreams.count(uid)) return;
  } else if (events & EPOLLOUT) {
    FlushUpstream(u);
    if (!upstreams.count(uid)) return;
  }
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  Upstream& v = upstreams[uid];
  if (v.request == 0) {  // an idle pooled connection: the replica closed it (or sent junk)
    CloseUpstream(uid);
    return;
  }
  char buf[65536];
  ResponseParser::State state = ResponseParser::State::kIncomplete;
  for (;;) {
    ssize_t n = ::recv(v.fd, buf, sizeof buf, 0);
    if (n > 0) {
      state = v.response.Feed(std::string_view(buf, static_cast<size_t>(n)));
      if (state != ResponseParser::State::kIncomplete) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    state = v.response.Feed("", /*eof=*/true);
    break;
  }
  if (state == ResponseParser::State::kComplete) {
    UpstreamDone(uid);
  } else if (state == ResponseParser::State::kBad) {
    UpstreamFailed(uid, false);
  }
}

void Gateway::Impl::UpstreamDone(uint64_t uid) {
  Upstream& u = upstreams[uid];
  uint64_t pid = u.request;
  u.request = 0;
  api::HttpResponse resp;
  resp.status = u.response.status();
  resp.content_type.clear();
  bool keep = u.response.reusable();
  for (const auto& [k, v] : u.response.headers()) {
    if (k == "content-type") {
      resp.content_type = v;
      continue;
    }
    if (HopByHop(k)) continue;
    resp.headers.emplace_back(k, v);
  }
  resp.body = u.response.TakeBody();
  u.response.Reset();
  int port = u.port;
  if (keep && idle[port].size() < opts.max_idle_per_replica) {
    u.reused = true;
    idle[port].push_back(uid);
  } else {
    CloseUpstream(uid);
  }
  auto pit = pending.find(pid);
  if (pit == pending.end()) return;
  std::string rev = pit->second.sel.revision_key;
  Finish(pid, std::move(resp));
  Pump(rev);
}

// The connection failed before a whole response came. A pooled connection the replica had
// closed is retried at once on a new one; a refused connection once on another replica;
// anything else is a 502.
void Gateway::Impl::UpstreamFailed(uint64_t uid, bool connect_error) {
  auto it = upstreams.find(uid);
  if (it == upstreams.end()) return;
  uint64_t pid = it->second.request;
  bool stale = it->second.reused && !it->second.response.started() && !connect_error;
  CloseUpstream(uid);
  auto pit = pending.find(pid);
  if (pit == pending.end()) return;
  Pending& p = pit->second;
  p.upstream = 0;
  if (stale) {
    StartExchange(p, true);
    return;
  }
  RevState& rs = revisions[p.sel.revision_key];
  if (connect_error && !p.retried) {
    p.retried = true;
    p.tried.insert(p.pod);
    rs.outstanding[p.pod]--;
    const RevisionRoute* route = table.Revision(p.sel.revision_key);
    const Replica* other = route != nullptr ? FreeReplica(*route, rs, p.tried) : nullptr;
    if (other != nullptr) {
      p.pod = other->pod;
      p.port = other->port;
      rs.outstanding[p.pod]++;
      StartExchange(p, true);
      return;
    }
    p.pod.clear();  // already uncounted
  }
  std::string rev = p.sel.revision_key;
  Finish(pid, ErrorResponse(502, connect_error ? "could not connect to a replica of revision " + rev
                                               : "replica of revision " + rev + " closed the connection "
                                                 "before a complete response"));
  Pump(rev);
}

void Gateway::Impl::CloseUpstream(uint64_t uid) {
  auto it = upstreams.find(uid);
  if (it == upstreams.end()) return;
  epoll_ctl(epfd, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  upstreams.erase(it);  // pool entries are dropped lazily
}

// Answers `id` and forgets it.
void Gateway::Impl::Finish(uint64_t id, api::HttpResponse resp) {
  auto it = pending.find(id);
  if (it == pending.end()) return;
  Pending& p = it->second;
  ClearDeadline(p);
  const std::string rev = p.sel.revision_key;
  RevState& rs = revisions[rev];
  if (p.state == State::kForwarding && !p.pod.empty()) rs.outstanding[p.pod]--;
  if (p.upstream != 0) {
    auto uit = upstreams.find(p.upstream);
    if (uit != upstreams.end() && uit->second.request == id) CloseUpstream(p.upstream);
  }
  rs.in_flight--;
  if (opts.stats != nullptr) opts.stats->RequestFinished(rev);
  if (opts.metrics != nullptr) {
    Metrics::Labels labels = RevisionLabels(rev);
    double seconds = std::chrono::duration<double>(clock.Now() - p.start).count();
    opts.metrics->Observe(kLatency, labels, seconds);
    labels.emplace_back("code", std::to_string(resp.status));
    opts.metrics->Inc(kRequests, labels);
  }
  if (resp.status != 499) p.responder->Respond(std::move(resp));
  pending.erase(it);
  PublishQueue(rev, rs);
}

void Gateway::Impl::Expire(uint64_t id) {
  auto it = pending.find(id);
  if (it == pending.end()) return;
  Pending& p = it->second;
  p.deadline = TimePoint{};
  std::string rev = p.sel.revision_key;
  if (p.state == State::kQueued) {
    RevState& rs = revisions[rev];
    rs.waiting--;  // its queue entry is skipped later
    bool held = p.held;
    Finish(id, ErrorResponse(503, held ? "no replica of revision " + rev + " became ready within " +
                                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                                opts.activation_timeout)
                                                                .count()) +
                                             "s"
                                       : "request waited in the queue of revision " + rev + " past its timeout",
                                 true));
    return;
  }
  Finish(id, ErrorResponse(504, "revision " + rev + " did not answer within its timeout"));
  Pump(rev);
}

void Gateway::Impl::DropIdleNotReady() {
  // Replicas that stopped being routable: their pooled connections go.
  std::set<int> ports;
  for (const auto& [k, rs] : revisions) {
    const RevisionRoute* route = table.Revision(k);
    if (route == nullptr) continue;
    for (const Replica& r : route->ready) ports.insert(r.port);
  }
  for (auto it = idle.begin(); it != idle.end();) {
    if (ports.count(it->first)) {
      ++it;
      continue;
    }
    for (uint64_t uid : it->second) CloseUpstream(uid);
    it = idle.erase(it);
  }
}

void Gateway::Impl::ApplyEvent(const std::string& kind, const Json& obj, bool deleted) {
  if (kind == "InferenceService") {
    table.ApplyInferenceService(obj, deleted);
  } else if (kind == "Pod") {
    table.ApplyPod(obj, deleted);
    DropIdleNotReady();
  } else {
    return;
  }
  PumpAll();  // held requests go as soon as a replica is ready
}

// ---- Gateway ----

Gateway::Gateway(GatewayOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  if (Metrics* m = impl_->opts.metrics) {
    m->Declare(kRequests, Metrics::Type::kCounter,
               "Inference requests routed by the gateway, by revision and response code.");
    m->Declare(kLatency, Metrics::Type::kHistogram,
               "Time from a request's arrival at the gateway to its answer (queueing included).",
               Metrics::LatencyBuckets());
    m->Declare(kInFlight, Metrics::Type::kGauge,
               "Requests routed to a revision and not yet answered (held and queued included).");
    m->Declare(kQueue, Metrics::Type::kGauge,
               "Requests of a revision waiting for a replica (activation or containerConcurrency).");
    std::shared_ptr<Impl::Load> load = impl_->load;
    m->AddCollector([load](Metrics& self) {
      std::map<std::string, std::pair<int64_t, size_t>> now;
      {
        std::lock_guard<std::mutex> l(load->mu);
        now = load->by_revision;
      }
      for (const auto& [rev, v] : now) {
        Metrics::Labels labels = RevisionLabels(rev);
        self.Set(kInFlight, labels, static_cast<double>(v.first));
        self.Set(kQueue, labels, static_cast<double>(v.second));
      }
    });
  }
}

Gateway::~Gateway() { Stop(); }

Status Gateway::Start() {
  Impl& m = *impl_;
  if (m.running.load()) return OkStatus();
  m.epfd = epoll_create1(EPOLL_CLOEXEC);
  m.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m.epfd < 0 || m.wakefd < 0) return Internal(std::string("gateway: epoll: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  epoll_ctl(m.epfd, EPOLL_CTL_ADD, m.wakefd, &ev);
  m.running.store(true);
  m.thread = std::thread([&m] { m.Loop(); });
  return OkStatus();
}

Status Gateway::StartAttached() {
  Impl& m = *impl_;
  if (m.running.load()) return OkStatus();
  m.epfd = epoll_create1(EPOLL_CLOEXEC);
  m.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  m.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (m.epfd < 0 || m.wakefd < 0 || m.timerfd < 0) {
    return Internal(std::string("gateway: epoll: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  epoll_ctl(m.epfd, EPOLL_CTL_ADD, m.wakefd, &ev);
  ev.data.u64 = kTimerId;
  epoll_ctl(m.epfd, EPOLL_CTL_ADD, m.timerfd, &ev);
  m.attached = true;
  m.running.store(true);
  return OkStatus();
}

int Gateway::poll_fd() const { return impl_->epfd; }

void Gateway::Poll() {
  Impl& m = *impl_;
  if (!m.running.load()) return;
  m.loop_thread.store(std::this_thread::get_id());
  m.RunOnce(0);
  m.ArmTimer();
}

// Loop thread (or, attached, the owner once its loop has stopped): answers what is pending
// with 503 and closes the upstream connections.
void Gateway::Impl::Shutdown() {
  std::vector<uint64_t> ids;
  for (const auto& [id, p] : pending) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = pending.find(id);
    if (it == pending.end()) continue;
    if (it->second.state == State::kQueued) revisions[it->second.sel.revision_key].waiting--;
    Finish(id, ErrorResponse(503, "the gateway is shutting down", true));
  }
  std::vector<uint64_t> ups;
  for (const auto& [id, u] : upstreams) ups.push_back(id);
  for (uint64_t id : ups) CloseUpstream(id);
  running.store(false);
}

void Gateway::Stop() {
  Impl& m = *impl_;
  if (!m.running.load()) return;
  if (m.attached) {
    // The owner's loop no longer polls: run what was posted, then shut down here.
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard<std::mutex> l(m.post_mu);
      m.stopped = true;
      fns.swap(m.posted);
    }
    for (auto& fn : fns) fn();
    m.Shutdown();
    ::close(m.timerfd);
  } else {
    m.Post([&m] { m.Shutdown(); });
    m.thread.join();
    std::lock_guard<std::mutex> l(m.post_mu);
    m.stopped = true;
    m.posted.clear();
  }
  ::close(m.epfd);
  ::close(m.wakefd);
}

Status Gateway::Seed(store::Store& store) {
  for (const char* kind : {"InferenceService", "Pod"}) {
    SKIFF_ASSIGN_OR_RETURN(store::ListResult list, store.List(kind, ""));
    for (Json& obj : list.items) {
      store::WatchEvent ev{store::EventType::kAdded, list.resource_version, std::move(obj)};
      OnStoreEvent(ev);
    }
  }
  return OkStatus();
}

void Gateway::OnStoreEvent(const store::WatchEvent& event) {
  std::string kind = StringField(event.object, "kind");
  if (kind != "InferenceService" && kind != "Pod") return;
  if (kind == "Pod") {
    // Only replica Pods matter.
    const Json* meta = FindField(event.object, "metadata");
    const Json* labels = meta != nullptr ? FindField(*meta, "labels") : nullptr;
    if (labels == nullptr || FindField(*labels, kIsvcLabel) == nullptr) return;
  }
  bool deleted = event.type == store::EventType::kDeleted;
  if (kind == "InferenceService") {
    const Json meta = event.object.value("metadata", Json::object());
    std::string ns = StringField(meta, "namespace", "default");
    std::lock_guard<std::mutex> l(impl_->info_mu);
    // Counted per name, so that a MODIFIED after ADDED does not count twice.
    std::string key = ns + "/" + StringField(meta, "name");
    int& known = impl_->isvcs_per_ns[key];
    known = deleted ? 0 : 1;
    int in_ns = 0;
    for (auto it = impl_->isvcs_per_ns.lower_bound(ns + "/");
         it != impl_->isvcs_per_ns.end() && it->first.compare(0, ns.size() + 1, ns + "/") == 0; ++it) {
      in_ns += it->second;
    }
    if (in_ns > 0) {
      impl_->namespaces.insert(ns);
    } else {
      impl_->namespaces.erase(ns);
    }
  }
  Impl* m = impl_.get();
  m->Post([m, kind, obj = event.object, deleted] { m->ApplyEvent(kind, obj, deleted); });
}

bool Gateway::Claims(const api::HttpRequest& req) const {
  const std::string& path = req.path;
  // The Kubernetes API keeps its own paths whatever the Host.
  for (const char* kube : {"/api", "/apis", "/healthz", "/metrics", "/version"}) {
    size_t n = std::strlen(kube);
    if (path.compare(0, n, kube) == 0 && (path.size() == n || path[n] == '/')) return false;
  }
  if (path.rfind("/v1/models", 0) == 0 || path == "/v2" || path.rfind("/v2/", 0) == 0) return true;
  std::string host = Lower(req.Header("host"));
  host = host.substr(0, host.find(':'));
  const std::string& domain = impl_->opts.domain;
  if (!domain.empty() && host.size() > domain.size() + 1 &&
      host.compare(host.size() - domain.size(), domain.size(), domain) == 0 &&
      host[host.size() - domain.size() - 1] == '.') {
    return true;
  }
  size_t dot1 = host.find('.');
  size_t dot2 = dot1 == std::string::npos ? dot1 : host.find('.', dot1 + 1);
  if (dot2 == std::string::npos) return false;
  if (host.find_first_not_of("0123456789.") == std::string::npos) return false;  // an IPv4 address
  std::lock_guard<std::mutex> l(impl_->info_mu);
  return impl_->namespaces.count(host.substr(dot1 + 1, dot2 - dot1 - 1)) > 0;
}

void Gateway::Handle(const api::HttpRequest& req, api::HttpResponse& resp, api::HttpExchange& ex) {
  std::shared_ptr<api::HttpResponder> responder = ex.Defer();
  Impl* m = impl_.get();
  (void)resp;
  // On the thread that polls the gateway (attached to the HTTP server's I/O thread): routed and
  // sent upstream right here, no hand-off.
  if (m->attached && m->running.load() && m->loop_thread.load() == std::this_thread::get_id()) {
    m->Submit(req, std::move(responder));
    m->ArmTimer();
    return;
  }
  bool posted = m->Post([m, req, responder]() mutable { m->Submit(std::move(req), std::move(responder)); });
  if (!posted) responder->Respond(ErrorResponse(503, "the gateway is not running", true));
}

size_t Gateway::QueueLength(const std::string& revision_key) const {
  std::lock_guard<std::mutex> l(impl_->load->mu);
  auto it = impl_->load->by_revision.find(revision_key);
  return it == impl_->load->by_revision.end() ? 0 : it->second.second;
}

}  // namespace skiff::serving

