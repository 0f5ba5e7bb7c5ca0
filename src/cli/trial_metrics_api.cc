#include "cli/trial_metrics_api.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/kube_api.h"
#include "backends/local/kubelet.h"
#include "backends/local/pod_paths.h"

#include "controllers/runtime/conditions.h"
#include "controllers/tuning/metrics_collector.h"

namespace skiff::cli {

namespace {

constexpr std::string_view kPrefix = "/apis/kubeflow.org/v1beta1/namespaces/";

void Reply(api::HttpResponse& resp, int code, const Json& body) {
  resp.status = code;
  resp.content_type = "application/json";
  resp.body = DumpJson(body) + "\n";
}

void Error(api::HttpResponse& resp, const Status& s) {
  int code = 500;
  Json body = api::StatusBody(s, &code);
  Reply(resp, code, body);
}

// A GET over loopback (or an IPv4 host) that gives up after `timeout`: the controller's loop
// must not hang on a Trial that accepts and never answers.
Result<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                            std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("host " + host + ": not an IPv4 address");
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Unavailable("socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wait = [&](short events) -> bool {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS || !wait(POLLOUT)) return Unavailable("connect: timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Unavailable("connect " + host + ":" + std::to_string(port) + " refused");
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nAccept: text/plain\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EAGAIN && wait(POLLOUT)) {
      continue;
    } else {
      return Unavailable("send failed");
    }
  }
  std::string response;
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      response.append(buf, static_cast<size_t>(n));
      if (response.size() > (8u << 20)) return Unavailable("response over 8 MiB");
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN && wait(POLLIN)) {
      continue;
    } else {
      return Unavailable("no answer within the timeout");
    }
  }
  size_t head = response.find("\r\n\r\n");
  if (head == std::string::npos || response.compare(0, 5, "HTTP/") != 0) return Unavailable("not HTTP");
  size_t sp = response.find(' ');
  int code = std::atoi(response.c_str() + sp + 1);
  if (code < 200 || code > 299) return Unavailable("HTTP " + std::to_string(code));
  return response.substr(head + 4);
}

}  // namespace

controllers::ExperimentControllerOptions KatibControllerOptions(const std::string& home, bool isolate,
                                                                std::function<std::string()> server_url) {
  controllers::ExperimentControllerOptions eo;
  eo.log_path = [home](const std::string& pod_uid, const std::string& container) {
    return local::Kubelet::LogPath(home, pod_uid, container, false);
  };
  eo.pod_file_path = [home, isolate](const Json& pod, const std::string& path) {
    return local::PodHostPath(home, pod, path, isolate);
  };
  eo.claim_dir = [home](const std::string& ns, const std::string& claim) {
    return local::ClaimHostDir(home, ns, claim);
  };
  eo.server_url = std::move(server_url);
  eo.http_get = [](const std::string& host, int port, const std::string& path) {
    return HttpGet(host, port, path, std::chrono::milliseconds(1000));
  };
  return eo;
}

bool TrialMetricsApi::Handle(const api::HttpRequest& req, api::HttpResponse& resp) {
  // .../namespaces/{ns}/trials/{name}/metrics
  if (req.path.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  std::string rest = req.path.substr(kPrefix.size());
  size_t a = rest.find('/');
  if (a == std::string::npos || rest.compare(a, 8, "/trials/") != 0) return false;
  size_t b = rest.find('/', a + 8);
  if (b == std::string::npos || rest.substr(b) != "/metrics") return false;
  const std::string ns = rest.substr(0, a);
  const std::string name = rest.substr(a + 8, b - a - 8);
  if (ns.empty() || name.empty()) return false;
  if (req.method != "POST" && req.method != "GET") {
    Error(resp, InvalidArgument("method " + req.method + " is not allowed (POST or GET)"));
    resp.status = 405;
    return true;
  }
  if (tokens_ != nullptr) {
    std::string auth = req.Header("authorization");
    std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
    auto who = tokens_->Authenticate(token);
    if (!who.ok()) {
      Error(resp, who.status());
      resp.status = 401;
      return true;
    }
    if (!api::Allowed(*who, req.method == "GET" ? "get" : "update", true, ns)) {
      Error(resp, PermissionDenied("trials/metrics in the namespace \"" + ns + "\" is forbidden"));
      return true;
    }
  }
  auto trial = store_.Get({"Trial", ns, name});
  if (!trial.ok()) {
    Error(resp, trial.status().WithPrefix("trial " + ns + "/" + name));
    return true;
  }
  const std::string uid = StringField((*trial)["metadata"], "uid");
  if (req.method == "GET") {
    auto records = store_.GetRecords(controllers::kKatibObservationRecords, uid);
    if (!records.ok()) {
      Error(resp, records.status());
      return true;
    }
    Json logs = Json::array();
    for (const auto& [key, rec] : *records) logs.push_back(rec);
    Reply(resp, 200, {{"trialName", name}, {"observationLogs", logs}});
    return true;
  }
  const Json status = trial->value("status", Json::object());
  for (const char* t : {"Succeeded", "Failed", "MetricsUnavailable", "EarlyStopped", "Killed"}) {
    if (controllers::HasTrueCondition(status, t)) {
      Error(resp, FailedPrecondition("trial " + ns + "/" + name + " has finished (" + t +
                                     "); reports must come while it runs"));
      resp.status = 409;
      return true;
    }
  }
  auto body = ParseJson(req.body);
  if (!body.ok()) {
    Error(resp, InvalidArgument("body: not JSON: " + body.status().message()));
    return true;
  }
  const TimePoint now = SystemClock::Get().Now();
  auto record = controllers::ParseObservationLog(*body, now);
  if (!record.ok()) {
    Error(resp, record.status());
    return true;
  }
  auto committed = store_.Commit({store::Write::PutRecord(
      controllers::kKatibObservationRecords, uid, controllers::ObservationKey(now), *record)});
  if (!committed.ok()) {
    Error(resp, committed.status());
    return true;
  }
  Reply(resp, 200, {{"trialName", name}, {"observationLog", *record}});
  return true;
}

}  // namespace skiff::cli
