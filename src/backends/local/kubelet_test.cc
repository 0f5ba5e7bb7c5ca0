// The local kubelet against a real SQLite store, a real supervisor (`supervisor_testbin`, with a
// machine size chosen per test) and real processes. Waits are bounded polls of the store; no
// test asserts how long anything took.
#include "backends/local/kubelet.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>

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
      if (auto c = SupervisorClient::Connect(so); c.ok()) (*c)->Shutdown().IgnoreError();
    }
    store_.reset();
    RemoveAll(home_).IgnoreError();
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

}  // namespace
}  // namespace skiff::local
