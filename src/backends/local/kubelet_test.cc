// The local kubelet against a real SQLite store, a real supervisor (`supervisor_testbin`, with a
// machine size chosen per test) and real processes. Waits are bounded polls of the store; no
// test asserts how long anything took.
#include "backends/local/kubelet.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "common/ids.h"

namespace skiff::local {
namespace {

using std::chrono::seconds;

class KubeletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Outside /tmp: every Pod sees a private /tmp.
    char tmpl[] = "/var/tmp/skiff-kubelet-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    auto s = store::OpenSqliteStore(JoinPath(home_, "skiff.db"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    artifacts_ = std::make_unique<metadata::ArtifactStore>(JoinPath(home_, "artifacts"));
  }

  void TearDown() override {
    kubelet_.reset();
    SupervisorClientOptions so;
    so.state_dir = JoinPath(home_, "run");
    if (PathExists(JoinPath(so.state_dir, "supervisor.sock"))) {
      if (auto c = SupervisorClient::Connect(so); c.ok()) {
        int pid = (*c)->supervisor_pid();
        (*c)->Shutdown().IgnoreError();
        // It exits once its processes are reaped; until then their mounts may pin Pod dirs.
        for (int i = 0; i < 500 && pid > 0 && ::kill(pid, 0) == 0; ++i) ::usleep(20000);
      }
    }
    store_.reset();
    for (int i = 0; i < 50 && !RemoveAll(home_).ok(); ++i) ::usleep(100000);
    RemoveAll("/dev/shm/skiff-" + Sha256Hex(home_).substr(0, 16)).IgnoreError();
  }

  // Starts the kubelet with a supervisor whose machine has `cpus` CPUs.
  void StartKubelet(double cpus = 4, size_t max_active_pods = 256, bool isolate = true) {
    KubeletOptions o;
    o.home = home_;
    o.supervisor_argv = {SKIFF_SUPERVISOR_TESTBIN, "--cpus", std::to_string(cpus),
                         "--backfill-window-ms", "0"};
    o.max_active_pods = max_active_pods;
    o.isolate = isolate;
    kubelet_ = std::make_unique<Kubelet>(o, *store_, loop_, *artifacts_);
    Status s = kubelet_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  Json CreatePod(const std::string& yaml) {
    auto j = ParseYaml(yaml);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    if (!j.ok()) return Json::object();
    auto c = store_->Create(*j);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : Json::object();
  }

  Json Pod(const std::string& name) {
    auto p = store_->Get({"Pod", "default", name});
    return p.ok() ? *p : Json::object();
  }
  std::string Phase(const std::string& name) {
    return StringField(Pod(name).value("status", Json::object()), "phase");
  }
  bool Finished(const std::string& name) {
    std::string phase = Phase(name);
    return phase == "Succeeded" || phase == "Failed";
  }
  Json ContainerStatus(const std::string& pod, const std::string& container = "main") {
    for (const auto& cs : Pod(pod).value("status", Json::object()).value("containerStatuses", Json::array())) {
      if (cs.value("name", "") == container) return cs;
    }
    return Json::object();
  }
  Json Condition(const std::string& pod, const std::string& type) {
    for (const auto& c : Pod(pod).value("status", Json::object()).value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return Json::object();
  }
  std::string Logs(const std::string& pod, const std::string& container = "main") {
    std::string uid = StringField(Pod(pod)["metadata"], "uid");
    return ReadFile(Kubelet::LogPath(home_, uid, container, false)).value_or("");
  }

  // Turns the loop until `done` holds or `limit` passed; false on timeout.
  bool RunUntil(const std::function<bool()>& done, Duration limit = seconds(60)) {
    TimePoint end = SystemClock::Get().Now() + limit;
    while (!done()) {
      if (SystemClock::Get().Now() > end) return false;
      loop_.RunOnce(std::chrono::milliseconds(20));
    }
    return true;
  }

  // Events about `pod` with `reason`, oldest first.
  std::vector<Json> Events(const std::string& pod, const std::string& reason) {
    std::vector<Json> out;
    auto l = store_->List("Event", "default");
    if (!l.ok()) return out;
    for (const auto& e : l->items) {
      if (StringField(e["involvedObject"], "name") == pod && StringField(e, "reason") == reason) {
        out.push_back(e);
      }
    }
    return out;
  }
  std::string PodTmp(const std::string& pod) {
    return JoinPath(home_, "pods/" + StringField(Pod(pod)["metadata"], "uid") + "/tmp");
  }
  // A directory the test and its Pods share (hostPath volume at /shared).
  std::string Shared() {
    std::string dir = JoinPath(home_, "shared");
    EXPECT_TRUE(MakeDirs(dir).ok());
    return dir;
  }
  static std::string SharedVolume(const std::string& dir) {
    return "  volumes: [{name: shared, hostPath: {path: " + dir + "}}]\n";
  }

  std::string home_;
  EventLoop loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<metadata::ArtifactStore> artifacts_;
  std::unique_ptr<Kubelet> kubelet_;
};

// --- spec.hostAliases ---

TEST_F(KubeletTest, HostAliasesResolveInsideThePod) {
  StartKubelet();
  CreatePod(R"yaml(
apiVersion: v1
kind: Pod
metadata: {name: aliases, namespace: default}
spec:
  restartPolicy: Never
  hostAliases:
  - ip: 127.0.0.1
    hostnames: [myjob-master-0, myjob-worker-0]
  - {ip: 10.1.2.3, hostnames: [other.example]}
  containers:
  - name: main
    image: python:3.11
    command: [python3, -c, "import socket\nfor n in ['myjob-master-0', 'myjob-worker-0', 'other.example', 'localhost']: print(n, socket.gethostbyname(n))"]
)yaml");
  ASSERT_TRUE(RunUntil([&] { return Finished("aliases"); }));
  EXPECT_EQ(Phase("aliases"), "Succeeded") << Pod("aliases").dump();
  EXPECT_EQ(Logs("aliases"),
            "myjob-master-0 127.0.0.1\nmyjob-worker-0 127.0.0.1\nother.example 10.1.2.3\n"
            "localhost 127.0.0.1\n");
  // The host's own file is untouched.
  EXPECT_EQ(ReadFile("/etc/hosts").value_or("").find("myjob-master-0"), std::string::npos);
}

TEST_F(KubeletTest, HostAliasesResolveInAPodWithAPrivateRoot) {
  StartKubelet();
  // A mount point that does not exist on the host gives the Pod an overlay root.
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: rooted, namespace: default}
spec:
  restartPolicy: Never
  hostAliases: [{ip: 127.0.0.1, hostnames: [myjob-worker-3]}]
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "ls -d /skiff-test-vol; getent hosts myjob-worker-3"]
    volumeMounts: [{name: scratch, mountPath: /skiff-test-vol}]
)");
  ASSERT_TRUE(RunUntil([&] { return Finished("rooted"); }));
  EXPECT_EQ(Phase("rooted"), "Succeeded") << Pod("rooted").dump();
  std::string logs = Logs("rooted");
  EXPECT_EQ(logs.substr(0, logs.find('\n')), "/skiff-test-vol");
  EXPECT_NE(logs.find("127.0.0.1"), std::string::npos) << logs;
  EXPECT_NE(logs.find("myjob-worker-3"), std::string::npos) << logs;
  EXPECT_FALSE(PathExists("/skiff-test-vol"));
}

// BusyBox images get Alpine's `nc -lk` (keep listening), which Debian's BusyBox spells -ll: a
// daemon written for Alpine (Argo's variables-showcase) serves more than one connection.
TEST_F(KubeletTest, BusyboxImagesNcKeepsListeningWithK) {
  StartKubelet();
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: nck, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: alpine:3.23
    command: [sh, -c, "nc -lk -p )" + std::to_string(port) + R"( -e /bin/true & sleep 0.5; for i in 1 2 3; do nc -w 2 127.0.0.1 )" +
            std::to_string(port) + R"( </dev/null && echo served$i; done; kill $!"]
)");
  ASSERT_TRUE(RunUntil([&] { return Finished("nck"); }));
  EXPECT_EQ(Phase("nck"), "Succeeded") << Pod("nck").dump();
  const std::string logs = Logs("nck");
  for (const char* want : {"served1", "served2", "served3"}) {
    EXPECT_NE(logs.find(want), std::string::npos) << logs;
  }
}

// Volumes mounted inside the Pod's private /tmp (and inside each other): the mount points are
// made in the outer mount's source, outer mounts first, and the host's /tmp is untouched.
TEST_F(KubeletTest, VolumesMountInsideThePrivateTmpAndInsideEachOther) {
  StartKubelet();
  std::string shared = Shared();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: nested, namespace: default}
spec:
  restartPolicy: Never
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: shared, hostPath: {path: )" + shared + R"(}}
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "echo a > /tmp/skiff-data/x && echo b > /tmp/skiff-data/out/y && cat /tmp/skiff-data/x && grep -c ' /tmp/skiff-data' /proc/mounts"]
    volumeMounts:
    - {name: shared, mountPath: /tmp/skiff-data/out}
    - {name: scratch, mountPath: /tmp/skiff-data}
)");
  ASSERT_TRUE(RunUntil([&] { return Finished("nested"); }));
  EXPECT_EQ(Phase("nested"), "Succeeded") << Pod("nested").dump() << Logs("nested");
  EXPECT_EQ(Logs("nested"), "a\n2\n");
  EXPECT_EQ(ReadFile(JoinPath(shared, "y")).value_or(""), "b\n");
  EXPECT_FALSE(PathExists("/tmp/skiff-data"));
}

TEST_F(KubeletTest, HostAliasesWithoutIsolationAreReportedAsNotApplied) {
  StartKubelet(4, 256, /*isolate=*/false);
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: default}
spec:
  restartPolicy: Never
  hostAliases: [{ip: 127.0.0.1, hostnames: [myjob-master-0]}]
  containers: [{name: main, image: busybox, command: ["true"]}]
)");
  ASSERT_TRUE(RunUntil([&] { return Finished("plain"); }));
  Json status = Pod("plain")["status"];
  EXPECT_EQ(status["phase"], "Succeeded");
  EXPECT_EQ(StringField(status, "message").rfind("spec.hostAliases not applied: ", 0), 0u) << status.dump();
  auto events = store_->List("Event", "default");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->items.size(), 1u);
  EXPECT_EQ(events->items[0]["reason"], "HostAliasesNotApplied");
  EXPECT_EQ(events->items[0]["involvedObject"]["name"], "plain");
}

TEST_F(KubeletTest, HostAliasWithABadAddressFailsThePodNamingTheField) {
  StartKubelet();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: bad-alias, namespace: default}
spec:
  restartPolicy: Never
  hostAliases: [{ip: "not-an-ip", hostnames: [a]}]
  containers: [{name: main, image: busybox, command: ["true"]}]
)");
  ASSERT_TRUE(RunUntil([&] { return Finished("bad-alias"); }));
  Json status = Pod("bad-alias")["status"];
  EXPECT_EQ(status["phase"], "Failed");
  EXPECT_EQ(status["reason"], "CreateContainerConfigError");
  EXPECT_NE(StringField(status, "message").find("spec.hostAliases[0].ip"), std::string::npos)
      << status.dump();
}

// --- probes ---

TEST(ProbeStateTest, VerdictChangesOnlyAfterThresholdResultsInARow) {
  ProbeState s(/*success_threshold=*/2, /*failure_threshold=*/3, /*initial=*/false);
  EXPECT_FALSE(s.Record(true));
  EXPECT_FALSE(s.Record(false));  // the run of successes is broken
  EXPECT_FALSE(s.Record(true));
  EXPECT_TRUE(s.Record(true));
  EXPECT_TRUE(s.verdict());
  EXPECT_FALSE(s.Record(false));
  EXPECT_FALSE(s.Record(false));
  EXPECT_EQ(s.failures(), 2);
  EXPECT_TRUE(s.Record(false));
  EXPECT_FALSE(s.verdict());
}

TEST(ParseProbeTest, DefaultsNamedPortsAndErrorsWithFieldPaths) {
  Json container = *ParseYaml("{name: c, ports: [{name: http, containerPort: 8080}]}");
  auto p = ParseProbe(*ParseYaml("{httpGet: {port: http, path: healthz, httpHeaders: [{name: X-A, value: b}]}}"),
                      container, "spec.containers[c].readinessProbe");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->port, 8080);
  EXPECT_EQ(p->path, "/healthz");
  EXPECT_EQ(p->period, std::chrono::seconds(10));
  EXPECT_EQ(p->timeout, std::chrono::seconds(1));
  EXPECT_EQ(p->success_threshold, 1);
  EXPECT_EQ(p->failure_threshold, 3);
  auto bad = ParseProbe(*ParseYaml("{tcpSocket: {port: grpc}}"), container, "spec.containers[c].livenessProbe");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "spec.containers[c].livenessProbe.tcpSocket.port: the container has no port named \"grpc\"");
  auto none = ParseProbe(Json::object(), container, "x");
  EXPECT_FALSE(none.ok());
}

// A port nobody listens on, and a listening socket that never answers.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST_F(KubeletTest, ReadinessProbeOnAnHttpServerFlipsReady) {
  StartKubelet();
  std::string shared = Shared();
  int port = FreePort();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: python:3.11
    command: [sh, -c, "while [ ! -e /shared/go ]; do sleep 0.1; done; exec python3 -m http.server )" +
            std::to_string(port) + R"( --bind 127.0.0.1"]
    ports: [{name: http, containerPort: )" + std::to_string(port) + R"(}]
    volumeMounts: [{name: shared, mountPath: /shared}]
    readinessProbe:
      httpGet: {port: http, path: /}
      periodSeconds: 1
)" + SharedVolume(shared));
  ASSERT_TRUE(RunUntil([&] { return Phase("web") == "Running"; }));
  // Running but not ready: nothing listens yet.
  EXPECT_EQ(ContainerStatus("web")["ready"], false);
  EXPECT_EQ(Condition("web", "Ready")["status"], "False");
  EXPECT_EQ(Condition("web", "ContainersReady")["status"], "False");
  ASSERT_TRUE(WriteFile(JoinPath(shared, "go"), "").ok());
  ASSERT_TRUE(RunUntil([&] { return ContainerStatus("web").value("ready", false); }))
      << Pod("web").dump();
  EXPECT_EQ(Condition("web", "Ready")["status"], "True");
  EXPECT_EQ(Condition("web", "ContainersReady")["status"], "True");
  EXPECT_FALSE(StringField(Condition("web", "Ready"), "lastTransitionTime").empty());
  EXPECT_EQ(ContainerStatus("web")["restartCount"], 0);
}

// With probes.skiff.dev/initial-readiness-period-ms a starting container is probed every few
// milliseconds until it is first ready: here readiness comes long before the 300 s period.
TEST_F(KubeletTest, InitialReadinessPeriodProbesAStartingContainerUntilItIsReady) {
  StartKubelet();
  std::string shared = Shared();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata:
  name: fast
  namespace: default
  annotations: {probes.skiff.dev/initial-readiness-period-ms: "20"}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "while [ ! -e /shared/go ]; do sleep 0.05; done; touch /shared/ready; sleep 600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    readinessProbe:
      exec: {command: [test, -e, /shared/ready]}
      periodSeconds: 300
)" + SharedVolume(shared));
  ASSERT_TRUE(RunUntil([&] { return Phase("fast") == "Running"; }));
  EXPECT_EQ(ContainerStatus("fast")["ready"], false);
  ASSERT_TRUE(WriteFile(JoinPath(shared, "go"), "").ok());
  // The first probe ran (and failed) at start; the next would be 300 s later without the
  // annotation, past this wait.
  ASSERT_TRUE(RunUntil([&] { return ContainerStatus("fast").value("ready", false); }, std::chrono::seconds(60)))
      << Pod("fast").dump();
  EXPECT_EQ(Condition("fast", "Ready")["status"], "True");
}

TEST_F(KubeletTest, InitialReadinessPeriodMustBeMilliseconds) {
  StartKubelet();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata:
  name: badfast
  namespace: default
  annotations: {probes.skiff.dev/initial-readiness-period-ms: "soon"}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "sleep 1"]
    readinessProbe:
      exec: {command: ["true"]}
)");
  ASSERT_TRUE(RunUntil([&] { return Phase("badfast") == "Failed"; })) << Pod("badfast").dump();
  EXPECT_NE(Pod("badfast").dump().find("initial-readiness-period-ms"), std::string::npos);
}

TEST_F(KubeletTest, FailingLivenessExecProbeRestartsTheContainer) {
  StartKubelet();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: live, namespace: default}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "echo started; touch /tmp/healthy; exec sleep 1000"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 2
)");
  ASSERT_TRUE(RunUntil([&] { return Phase("live") == "Running" && PathExists(JoinPath(PodTmp("live"), "healthy")); }));
  // The probe reads the Pod's private /tmp: the container stays up while the file is there.
  ASSERT_EQ(::unlink(JoinPath(PodTmp("live"), "healthy").c_str()), 0);
  ASSERT_TRUE(RunUntil([&] {
    Json cs = ContainerStatus("live");
    return cs.value("restartCount", 0) >= 1 && cs["state"].contains("running");
  }, seconds(90))) << Pod("live").dump();
  Json cs = ContainerStatus("live");
  Json last = cs["lastState"]["terminated"];
  EXPECT_EQ(last["reason"], "Error") << cs.dump();
  EXPECT_EQ(last["exitCode"], 128 + SIGTERM);
  EXPECT_EQ(StringField(last, "message").rfind("Liveness probe failed: ", 0), 0u) << last.dump();
  EXPECT_NE(StringField(last, "message").find("/tmp/healthy"), std::string::npos) << last.dump();
  ASSERT_FALSE(Events("live", "Unhealthy").empty());
  EXPECT_EQ(StringField(Events("live", "Unhealthy")[0], "message").rfind("Liveness probe failed: ", 0), 0u);
  EXPECT_FALSE(Events("live", "Killing").empty());
  // Running is reported once the process exists; its first line may come a moment later.
  EXPECT_TRUE(RunUntil([&] { return Logs("live") == "started\nstarted\n"; }, seconds(30))) << Logs("live");
}

TEST_F(KubeletTest, StartupProbeHoldsBackTheOtherProbesUntilItPasses) {
  StartKubelet();
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: slow, namespace: default}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sleep, "1000"]
    startupProbe:
      exec: {command: [sh, -c, "echo x >> /tmp/startup-runs; test -e /tmp/go"]}
      periodSeconds: 1
      failureThreshold: 1000
    readinessProbe:
      exec: {command: [sh, -c, "echo x >> /tmp/readiness-runs"]}
      periodSeconds: 1
)");
  // The startup probe has run (and failed) three times.
  ASSERT_TRUE(RunUntil([&] {
    std::string runs = ReadFile(JoinPath(PodTmp("slow"), "startup-runs")).value_or("");
    return std::count(runs.begin(), runs.end(), '\n') >= 3;
  }));
  EXPECT_FALSE(PathExists(JoinPath(PodTmp("slow"), "readiness-runs")));
  EXPECT_EQ(ContainerStatus("slow")["started"], false);
  EXPECT_EQ(ContainerStatus("slow")["ready"], false);
  ASSERT_TRUE(WriteFile(JoinPath(PodTmp("slow"), "go"), "").ok());
  ASSERT_TRUE(RunUntil([&] { return ContainerStatus("slow").value("ready", false); })) << Pod("slow").dump();
  EXPECT_EQ(ContainerStatus("slow")["started"], true);
  EXPECT_TRUE(PathExists(JoinPath(PodTmp("slow"), "readiness-runs")));
}

TEST_F(KubeletTest, AProbeInFlightNeverBlocksOtherPods) {
  StartKubelet();
  // Accepts connections (the backlog does) and never answers.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  socklen_t len = sizeof a;
  ::getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len);
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: stuck, namespace: default}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sleep, "1000"]
    readinessProbe:
      httpGet: {port: )" + std::to_string(ntohs(a.sin_port)) + R"(}
      timeoutSeconds: 60
      failureThreshold: 1
    livenessProbe:
      exec: {command: [sleep, "1000"]}
      timeoutSeconds: 60
      failureThreshold: 1
)");
  ASSERT_TRUE(RunUntil([&] { return Phase("stuck") == "Running"; }));
  CreatePod(R"(
apiVersion: v1
kind: Pod
metadata: {name: quick, namespace: default}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: [echo, done]}]
)");
  ASSERT_TRUE(RunUntil([&] { return Finished("quick"); }));
  EXPECT_EQ(Phase("quick"), "Succeeded");
  EXPECT_EQ(Logs("quick"), "done\n");
  // Both probes of the other Pod are still waiting for their answers: neither has failed yet.
  EXPECT_TRUE(Events("stuck", "Unhealthy").empty());
  EXPECT_EQ(Phase("stuck"), "Running");
  EXPECT_EQ(ContainerStatus("stuck")["restartCount"], 0);
  ::close(silent);
}

// --- gang admission ---

std::string GangPod(const std::string& name, const std::string& gang, int size, const std::string& cpu,
                    const std::string& command, const std::string& extra = "") {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\n  namespace: default\n  annotations: {scheduling.skiff.dev/gang: " + gang +
         ", scheduling.skiff.dev/gang-size: \"" + std::to_string(size) +
         "\"}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: busybox\n"
         "    command: [sh, -c, \"" + command + "\"]\n    resources: {requests: {cpu: \"" + cpu +
         "\"}}\n    volumeMounts: [{name: shared, mountPath: /shared}]\n" + extra;
}

TEST_F(KubeletTest, TwoGangsOfTwoThirdsOfTheMachineRunOneAfterTheOther) {
  StartKubelet(/*cpus=*/3);
  std::string shared = Shared();
  std::string cmd = "echo start $HOSTNAME >> /shared/log; sleep 1; echo end $HOSTNAME >> /shared/log";
  // Interleaved submission: a member of each gang, then the second member of each.
  for (const char* name : {"a-0", "b-0", "a-1", "b-1"}) {
    std::string gang = std::string(name).substr(0, 1);
    CreatePod(GangPod(name, gang, 2, "1", cmd, SharedVolume(shared)));
  }
  ASSERT_TRUE(RunUntil([&] {
    return Finished("a-0") && Finished("a-1") && Finished("b-0") && Finished("b-1");
  }));
  for (const char* name : {"a-0", "a-1", "b-0", "b-1"}) EXPECT_EQ(Phase(name), "Succeeded") << name;
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(JoinPath(shared, "log")).value_or(""));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 8u);
  // Whole gangs, one after the other: both members of one gang start before anything of the
  // other; the other starts only once a member of the first has ended (its two members then fit
  // next to the first gang's last one, 3 CPUs in all). Admitted one Pod at a time, a-0, b-0 and
  // a-1 would all have started at once.
  auto gang_of = [](const std::string& line) { return line.substr(line.find(' ') + 1, 1); };
  auto verb = [](const std::string& line) { return line.substr(0, line.find(' ')); };
  std::string first = gang_of(lines[0]);
  EXPECT_EQ(verb(lines[0]), "start");
  EXPECT_EQ(verb(lines[1]), "start");
  EXPECT_EQ(gang_of(lines[1]), first) << lines[1];
  size_t first_end = 8;
  for (size_t i = 0; i < 8; ++i) {
    if (gang_of(lines[i]) == first && verb(lines[i]) == "end" && first_end == 8) first_end = i;
    if (gang_of(lines[i]) != first && verb(lines[i]) == "start") {
      EXPECT_GT(i, first_end) << "gang " << gang_of(lines[i]) << " started before gang " << first
                              << " had ended anything: " << lines[i];
    }
  }
}

TEST_F(KubeletTest, AGangLargerThanTheAdmissionWindowIsNotSplitByIt) {
  StartKubelet(/*cpus=*/4, /*max_active_pods=*/1);
  std::string shared = Shared();
  for (int i = 0; i < 3; ++i) {
    CreatePod(GangPod("w-" + std::to_string(i), "wide", 3, "100m", "echo $HOSTNAME >> /shared/log",
                      SharedVolume(shared)));
  }
  ASSERT_TRUE(RunUntil([&] { return Finished("w-0") && Finished("w-1") && Finished("w-2"); }));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Phase("w-" + std::to_string(i)), "Succeeded");
}

TEST_F(KubeletTest, AGangThatCanNeverFitFailsNamingTheGroupAndTheShortfall) {
  StartKubelet(/*cpus=*/2);
  std::string shared = Shared();
  for (int i = 0; i < 3; ++i) {
    CreatePod(GangPod("big-" + std::to_string(i), "big", 3, "1", "true", SharedVolume(shared)));
  }
  ASSERT_TRUE(RunUntil([&] { return Finished("big-0") && Finished("big-1") && Finished("big-2"); }));
  for (int i = 0; i < 3; ++i) {
    std::string name = "big-" + std::to_string(i);
    Json status = Pod(name)["status"];
    EXPECT_EQ(status["phase"], "Failed");
    EXPECT_EQ(status["reason"], "Unschedulable");
    EXPECT_EQ(StringField(status, "message"),
              "gang \"default/big\" of 3 Pods can never fit: it requests cpu 3000m in total but "
              "this machine has 2000m (1000m short)");
    Json scheduled = Condition(name, "PodScheduled");
    EXPECT_EQ(scheduled["status"], "False");
    EXPECT_EQ(scheduled["reason"], "Unschedulable");
  }
  EXPECT_FALSE(PathExists(JoinPath(shared, "log")));
}

}  // namespace
}  // namespace skiff::local
