// Container probes for the local kubelet (`livenessProbe`, `readinessProbe`, `startupProbe`):
// what a probe asks (`ProbeSpec`, parsed from a v1 Container), how its results add up to a
// verdict (`ProbeState`, Kubernetes' success/failure thresholds), and the network checks
// (`NetworkProber`: httpGet and tcpSocket with non-blocking sockets on the kubelet's loop).
// Exec probes are run by the kubelet through the supervisor (see kubelet_probes.cc), because
// they need the container's mounts and environment.
//
// Thread-safety: `NetworkProber` runs on its EventLoop's thread only; the rest are values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/event_loop.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::local {

enum class ProbeKind { kStartup, kLiveness, kReadiness };
// "Startup", "Liveness", "Readiness" (as in "Liveness probe failed: ...").
const char* ProbeKindName(ProbeKind kind);

struct ProbeSpec {
  enum class Action { kExec, kHttpGet, kTcpSocket, kUnsupported };
  Action action = Action::kUnsupported;
  std::vector<std::string> command;  // exec
  std::string scheme = "HTTP";       // httpGet: HTTP or HTTPS
  std::string host;                  // httpGet / tcpSocket; "" = the Pod (127.0.0.1)
  int port = 0;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string unsupported;  // why, for kUnsupported (e.g. "grpc probes")
  Duration initial_delay = Duration::zero();
  Duration period = std::chrono::seconds(10);
  Duration timeout = std::chrono::seconds(1);
  int success_threshold = 1;
  int failure_threshold = 3;
  int64_t termination_grace_seconds = -1;  // probe-level override; -1 = the Pod's
};

// Parses `container[field]` ("livenessProbe"...). A named port is looked up in the container's
// `ports`. InvalidArgument names the field path (`where` is the container's path).
Result<ProbeSpec> ParseProbe(const Json& probe, const Json& container, const std::string& where);

// Consecutive results against the thresholds, like the kubelet's probe worker: the verdict
// changes only after `success_threshold` successes or `failure_threshold` failures in a row.
class ProbeState {
 public:
  ProbeState(int success_threshold, int failure_threshold, bool initial)
      : success_threshold_(success_threshold),
        failure_threshold_(failure_threshold),
        verdict_(initial) {}
  // Records one result; returns true if the verdict changed.
  bool Record(bool success) {
    if (runs_ == 0 || success != last_) {
      last_ = success;
      runs_ = 0;
    }
    ++runs_;
    int need = success ? success_threshold_ : failure_threshold_;
    if (runs_ < need || verdict_ == success) return false;
    verdict_ = success;
    return true;
  }
  bool verdict() const { return verdict_; }
  // Failures in a row (0 after a success).
  int failures() const { return runs_ > 0 && !last_ ? runs_ : 0; }

 private:
  int success_threshold_, failure_threshold_;
  bool verdict_;
  bool last_ = false;
  int runs_ = 0;
};

// Runs httpGet and tcpSocket checks without ever blocking the loop: non-blocking connect, send
// and receive on sockets in a private epoll set that the loop watches, and a loop timer per check
// for its timeout. `done` is called on the loop exactly once per check, unless it was cancelled.
// HTTPS checks connect and count an accepted connection as success (the local backend does not
// speak TLS to workloads; Kubernetes does not verify their certificates either).
class NetworkProber {
 public:
  struct Outcome {
    bool success = false;
    std::string message;  // why it failed, in the words of Kubernetes' prober
  };
  using Done = std::function<void(const Outcome&)>;

  explicit NetworkProber(EventLoop& loop);
  ~NetworkProber();
  NetworkProber(const NetworkProber&) = delete;
  NetworkProber& operator=(const NetworkProber&) = delete;

  // `address` is a numeric IPv4 or IPv6 address. Returns an id for `Cancel`.
  uint64_t Http(const std::string& address, const ProbeSpec& spec, Done done);
  uint64_t Tcp(const std::string& address, int port, Duration timeout, Done done);
  void Cancel(uint64_t id);
  size_t in_flight() const { return checks_.size(); }

 private:
  struct Check;
  uint64_t Begin(std::unique_ptr<Check> check, const std::string& address, int port);
  void OnReady();
  void Step(Check& c, uint32_t events);
  void Finish(uint64_t id, bool success, const std::string& message);

  EventLoop& loop_;
  int epfd_ = -1;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Check>> checks_;
};

}  // namespace skiff::local
