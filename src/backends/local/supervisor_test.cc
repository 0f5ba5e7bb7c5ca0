// Integration tests of the process supervisor: real supervisors (`supervisor_testbin`), real
// workload processes, real mounts. Each test has its own temp dir, state dir and supervisor, and
// stops it at the end.
#include "backends/local/supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "backends/local/process_spawn.h"
#include "common/fs.h"

#ifndef SKIFF_SUPERVISOR_TESTBIN
#error "SKIFF_SUPERVISOR_TESTBIN must name the supervisor_testbin executable"
#endif

namespace skiff::local {
namespace {

using namespace std::chrono_literals;
using State = ProcessStatus::State;
using SteadyClock = std::chrono::steady_clock;

constexpr char kTestbin[] = SKIFF_SUPERVISOR_TESTBIN;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsExecutableFile(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// Alive and not a zombie.
bool Alive(pid_t pid) { return ReadProcStartTicks(pid) >= 0; }

bool WaitGone(pid_t pid, Duration timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (Alive(pid)) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string Slurp(const std::string& path) { return ReadFile(path).value_or(""); }

bool WaitForFile(const std::string& path, const std::string& needle, Duration timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (Slurp(path).find(needle) == std::string::npos) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/skiff-sup-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    state_dir_ = root_ + "/state";
  }

  void TearDown() override {
    for (auto& c : clients_) c->Shutdown().IgnoreError();
    clients_.clear();
    auto pid_text = ReadFile(state_dir_ + "/supervisor.pid");
    if (pid_text.ok()) supervisor_pids_.push_back(std::atoi(pid_text->c_str()));
    for (pid_t pid : supervisor_pids_) {
      if (!WaitGone(pid, 5s)) {
        ADD_FAILURE() << "supervisor " << pid << " did not exit";
        ::kill(pid, SIGKILL);
      }
    }
    RemoveAll(root_).IgnoreError();
  }

  SupervisorClientOptions Options(std::vector<std::string> extra = {}) {
    SupervisorClientOptions o;
    o.state_dir = state_dir_;
    o.launch_argv = {kTestbin, "--cpus", "2", "--idle-exit-ms", "3000"};
    o.launch_argv.insert(o.launch_argv.end(), extra.begin(), extra.end());
    return o;
  }

  // Connects (starting a supervisor if needed); the test owns the client until TearDown.
  SupervisorClient* Connect(std::vector<std::string> extra = {}) {
    auto client = SupervisorClient::Connect(Options(std::move(extra)));
    if (!client.ok()) {
      ADD_FAILURE() << client.status().ToString();
      return nullptr;
    }
    supervisor_pids_.push_back((*client)->supervisor_pid());
    clients_.push_back(std::move(*client));
    return clients_.back().get();
  }

  ProcessSpec Spec(const std::string& name, std::vector<std::string> argv) {
    ProcessSpec s;
    s.id = "pod-" + name + "/main";
    s.dir = root_ + "/procs/" + name;
    EXPECT_TRUE(MakeDirs(s.dir).ok());
    s.argv = std::move(argv);
    s.env = {"PATH=/usr/bin:/bin"};
    s.cwd = s.dir;
    s.stdout_path = s.dir + "/stdout";
    s.stderr_path = s.dir + "/stderr";
    s.isolate = false;
    return s;
  }

  // Reads events until `id` reaches `state`; every event is kept in `history_`.
  ProcessStatus WaitState(SupervisorClient* c, const std::string& id, State state,
                          Duration timeout = 15s) {
    auto deadline = SteadyClock::now() + timeout;
    size_t seen = 0;
    for (;;) {
      auto& h = history_[id];
      for (; seen < h.size(); ++seen) {
        if (h[seen].state == state) return h[seen];
      }
      if (SteadyClock::now() > deadline) {
        ADD_FAILURE() << "timed out waiting for " << id << " to be " << StateName(state);
        return {};
      }
      c->WaitReadable(50ms);
      auto events = c->ReadEvents();
      if (!events.ok()) {
        ADD_FAILURE() << events.status().ToString();
        return {};
      }
      for (auto& e : *events) history_[e.id].push_back(e);
    }
  }

  ProcessStatus RunToExit(SupervisorClient* c, const ProcessSpec& spec) {
    EXPECT_TRUE(c->Start(spec).ok());
    return WaitState(c, spec.id, State::kExited);
  }

  bool IsolationAvailable(SupervisorClient* c) {
    auto info = c->Info();
    return info.ok() && info->value("isolation", false);
  }

  std::string root_, state_dir_;
  std::vector<std::unique_ptr<SupervisorClient>> clients_;
  std::vector<pid_t> supervisor_pids_;
  std::map<std::string, std::vector<ProcessStatus>> history_;
};

TEST(SupervisorTypesTest, SpecAndStatusRoundTripThroughJson) {
  ProcessSpec s;
  s.id = "uid/c";
  s.dir = "/d";
  s.argv = {"a", "b"};
  s.env = {"K=V"};
  s.mounts = {{"bind", "/src", "/mnt/vol", true}};
  s.gang = "g";
  s.gang_size = 2;
  s.deadline_unix_ms = 5;
  auto back = ProcessSpecFromJson(ToJson(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ToJson(*back), ToJson(s));
  EXPECT_FALSE(ProcessSpecFromJson(Json{{"argv", "not a list"}}).ok());

  ProcessStatus st;
  st.id = "x";
  st.state = State::kExited;
  st.reason = "Completed";
  st.cpu_seconds = 1.5;
  auto st_back = ProcessStatusFromJson(ToJson(st));
  ASSERT_TRUE(st_back.ok());
  EXPECT_EQ(ToJson(*st_back), ToJson(st));
}

TEST(SupervisorTypesTest, ValidationRejectsWhatTheSupervisorCannotRun) {
  ProcessSpec s;
  s.id = "x";
  s.dir = "/tmp";
  s.argv = {"true"};
  EXPECT_TRUE(ValidateProcessSpec(s).ok());
  s.argv.clear();
  EXPECT_FALSE(ValidateProcessSpec(s).ok());
  s.argv = {"true"};
  s.mounts = {{"bind", "/a", "relative", false}};
  EXPECT_FALSE(ValidateProcessSpec(s).ok());
  s.mounts.clear();
  s.gang = "g";
  EXPECT_FALSE(ValidateProcessSpec(s).ok());
}

TEST_F(SupervisorTest, StartsAProcessAndReportsExitCodeAndOutput) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("out", {"sh", "-c", "echo hello; echo oops >&2; exit 3"});
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "Error");
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.message, "exited with code 3");
  EXPECT_GT(st.pid, 0);
  EXPECT_GE(st.finished_unix_ms, st.started_unix_ms);
  EXPECT_EQ(Slurp(spec.stdout_path), "hello\n");
  EXPECT_EQ(Slurp(spec.stderr_path), "oops\n");
  // The running event came first, and both files are on disk.
  ASSERT_GE(history_[spec.id].size(), 2u);
  EXPECT_EQ(history_[spec.id][0].state, State::kRunning);
  ProcessStatus on_disk = ReadProcessStatusFromDir(spec.dir);
  EXPECT_EQ(on_disk.state, State::kExited);
  EXPECT_EQ(on_disk.reason, "Error");
  EXPECT_EQ(on_disk.exit_code, 3);
  auto started = ParseJson(Slurp(spec.dir + "/started.json"));
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->value("pid", 0), st.pid);
  EXPECT_GT(started->value("start_ticks", int64_t{-1}), 0);

  auto ok = Spec("ok", {"true"});
  ok.stderr_path = ok.stdout_path;
  EXPECT_EQ(RunToExit(c, ok).reason, "Completed");
}

TEST_F(SupervisorTest, EnvironmentIsExactlyTheGivenOne) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("env", {"env"});
  spec.env = {"A=1", "B=two words"};  // no PATH: the default one finds env
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "Completed");
  EXPECT_EQ(Slurp(spec.stdout_path), "A=1\nB=two words\n");
}

TEST_F(SupervisorTest, LooksArgv0UpInThePathOfItsEnvironment) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  std::string bin = root_ + "/bin";
  ASSERT_TRUE(MakeDirs(bin).ok());
  ASSERT_TRUE(WriteFile(bin + "/skiff-hello", "#!/bin/sh\necho from-path \"$1\"\n", 0755).ok());
  auto spec = Spec("path", {"skiff-hello", "arg"});
  spec.env = {"PATH=" + bin + ":/usr/bin:/bin"};
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");
  EXPECT_EQ(Slurp(spec.stdout_path), "from-path arg\n");
}

TEST_F(SupervisorTest, CommandNotFoundIsAStartError) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("missing", {"no-such-command-skiff"});
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "StartError");
  EXPECT_EQ(st.exit_code, 127);
  EXPECT_EQ(st.message, "exec: \"no-such-command-skiff\": executable file not found in $PATH");
  EXPECT_EQ(ReadProcessStatusFromDir(spec.dir).reason, "StartError");

  auto bad_cwd = Spec("badcwd", {"true"});
  bad_cwd.cwd = "/no/such/dir";
  st = RunToExit(c, bad_cwd);
  EXPECT_EQ(st.reason, "StartError");
  EXPECT_NE(st.message.find("chdir \"/no/such/dir\""), std::string::npos) << st.message;

  auto not_exec = Spec("notexec", {root_ + "/procs/notexec/stdout"});
  ASSERT_TRUE(WriteFile(not_exec.argv[0], "data").ok());
  st = RunToExit(c, not_exec);
  EXPECT_EQ(st.reason, "StartError");
  EXPECT_NE(st.message.find("Permission denied"), std::string::npos) << st.message;
}

TEST_F(SupervisorTest, CpuSlotsAreNeverOversubscribed) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  std::vector<ProcessSpec> specs;
  for (int i = 0; i < 6; ++i) {
    specs.push_back(Spec("slot" + std::to_string(i), {"sleep", "0.3"}));
    ASSERT_TRUE(c->Start(specs.back()).ok());
  }
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const auto& s : specs) {
    ProcessStatus st = WaitState(c, s.id, State::kExited);
    EXPECT_EQ(st.reason, "Completed");
    spans.emplace_back(st.started_unix_ms, st.finished_unix_ms);
  }
  int most = 0;
  for (const auto& [start, unused] : spans) {
    int running = 0;
    for (const auto& [s, f] : spans) running += s <= start && start < f;
    most = std::max(most, running);
  }
  EXPECT_EQ(most, 2);
  // Four of them had to wait.
  int queued = 0;
  for (const auto& s : specs) queued += history_[s.id].front().state == State::kQueued;
  EXPECT_EQ(queued, 4);
}

TEST_F(SupervisorTest, UnschedulableRequestIsRejectedNamingTheResource) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("big", {"true"});
  spec.cpu_millis = 4000;
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "Unschedulable");
  EXPECT_EQ(st.message, "requests cpu 4000m but this machine has 2000m");
  EXPECT_FALSE(PathExists(spec.dir + "/started.json"));
}

TEST_F(SupervisorTest, GangThatCannotFitNeverStartsPartly) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  std::vector<ProcessSpec> specs;
  for (int i = 0; i < 3; ++i) {
    specs.push_back(Spec("g3-" + std::to_string(i), {"true"}));
    specs.back().gang = "g3";
    specs.back().gang_size = 3;
    ASSERT_TRUE(c->Start(specs.back()).ok());
  }
  for (const auto& s : specs) {
    ProcessStatus st = WaitState(c, s.id, State::kExited);
    EXPECT_EQ(st.reason, "Unschedulable");
    EXPECT_NE(st.message.find("gang \"g3\" of 3 requests cpu"), std::string::npos) << st.message;
    EXPECT_FALSE(PathExists(s.dir + "/started.json"));
    for (const auto& e : history_[s.id]) EXPECT_NE(e.state, State::kRunning);
  }
}

TEST_F(SupervisorTest, GangStartsTogetherOnceComplete) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto a = Spec("g2-a", {"sleep", "0.2"});
  auto b = Spec("g2-b", {"sleep", "0.2"});
  for (auto* s : {&a, &b}) {
    s->gang = "g2";
    s->gang_size = 2;
  }
  ASSERT_TRUE(c->Start(a).ok());
  EXPECT_EQ(WaitState(c, a.id, State::kQueued).state, State::kQueued);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(PathExists(a.dir + "/started.json"));  // half a gang never runs
  ASSERT_TRUE(c->Start(b).ok());
  ProcessStatus ra = WaitState(c, a.id, State::kRunning);
  ProcessStatus rb = WaitState(c, b.id, State::kRunning);
  EXPECT_LT(std::abs(ra.started_unix_ms - rb.started_unix_ms), 100);
  EXPECT_EQ(WaitState(c, a.id, State::kExited).reason, "Completed");
  EXPECT_EQ(WaitState(c, b.id, State::kExited).reason, "Completed");
}

TEST_F(SupervisorTest, KillSendsKillAfterTheGracePeriodWhenTermIsIgnored) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("trap", {"sh", "-c", "trap '' TERM; echo ready; sleep 30"});
  ASSERT_TRUE(c->Start(spec).ok());
  WaitState(c, spec.id, State::kRunning);
  ASSERT_TRUE(WaitForFile(spec.stdout_path, "ready", 5s));
  int64_t killed_at = NowMs();
  ASSERT_TRUE(c->Kill(spec.id, 300ms).ok());
  ProcessStatus st = WaitState(c, spec.id, State::kExited);
  EXPECT_EQ(st.reason, "Killed");
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.exit_code, 128 + SIGKILL);
  EXPECT_GE(st.finished_unix_ms - killed_at, 250);
}

TEST_F(SupervisorTest, KillOfAProcessThatExitsOnTermIsReasonKilled) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("term", {"sleep", "30"});
  ASSERT_TRUE(c->Start(spec).ok());
  WaitState(c, spec.id, State::kRunning);
  int64_t killed_at = NowMs();
  ASSERT_TRUE(c->Kill(spec.id, 10s).ok());
  ProcessStatus st = WaitState(c, spec.id, State::kExited);
  EXPECT_EQ(st.reason, "Killed");
  EXPECT_EQ(st.signal, SIGTERM);
  EXPECT_EQ(st.exit_code, 128 + SIGTERM);
  EXPECT_LT(st.finished_unix_ms - killed_at, 2000);
}

TEST_F(SupervisorTest, KillOfAQueuedProcessNeverStartsIt) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto wide = Spec("wide", {"sleep", "30"});
  wide.cpu_millis = 2000;
  auto waiting = Spec("waiting", {"true"});
  ASSERT_TRUE(c->Start(wide).ok());
  ASSERT_TRUE(c->Start(waiting).ok());
  WaitState(c, waiting.id, State::kQueued);
  ASSERT_TRUE(c->Kill(waiting.id, 1s).ok());
  ProcessStatus st = WaitState(c, waiting.id, State::kExited);
  EXPECT_EQ(st.reason, "Killed");
  EXPECT_EQ(st.exit_code, -1);
  EXPECT_FALSE(PathExists(waiting.dir + "/started.json"));
  ASSERT_TRUE(c->Kill(wide.id, 0s).ok());
  EXPECT_EQ(WaitState(c, wide.id, State::kExited).signal, SIGKILL);
}

TEST_F(SupervisorTest, DeadlineTerminatesWithReasonDeadlineExceeded) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("deadline", {"sleep", "30"});
  spec.deadline_unix_ms = NowMs() + 300;
  spec.grace_ms = 200;
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "DeadlineExceeded");
  EXPECT_EQ(st.signal, SIGTERM);
  EXPECT_GE(st.finished_unix_ms, spec.deadline_unix_ms);
  EXPECT_LT(st.finished_unix_ms - spec.deadline_unix_ms, 1000);
}

TEST_F(SupervisorTest, ChildrenOfTheWorkloadDieWithIt) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("group", {"sh", "-c", "sleep 30 & echo $! > child.pid; exit 0"});
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");
  pid_t child = std::atoi(Slurp(spec.dir + "/child.pid").c_str());
  ASSERT_GT(child, 0);
  EXPECT_TRUE(WaitGone(child, 3s)) << "the workload's background child " << child << " survived";
}

TEST_F(SupervisorTest, EachProcessHasItsOwnPrivateTmp) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  if (!IsolationAvailable(c)) GTEST_SKIP() << "no mount namespaces here";
  std::string host_before = Slurp("/tmp/hello_world.txt");
  std::vector<ProcessSpec> specs;
  for (const char* who : {"alpha", "beta"}) {
    auto s = Spec(std::string("tmp-") + who,
                  {"sh", "-c",
                   std::string("echo ") + who +
                       " > /tmp/hello_world.txt; sleep 0.3; cat /tmp/hello_world.txt"});
    s.isolate = true;
    std::string private_tmp = s.dir + "/tmp";
    EXPECT_TRUE(MakeDirs(private_tmp).ok());
    s.mounts = {{"bind", private_tmp, "/tmp", false}};
    s.cwd = "/";
    ASSERT_TRUE(c->Start(s).ok());
    specs.push_back(s);
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    ProcessStatus st = WaitState(c, specs[i].id, State::kExited);
    EXPECT_EQ(st.reason, "Completed") << Slurp(specs[i].stderr_path);
    EXPECT_TRUE(st.isolated);
    std::string who = i == 0 ? "alpha\n" : "beta\n";
    EXPECT_EQ(Slurp(specs[i].stdout_path), who);
    EXPECT_EQ(Slurp(specs[i].dir + "/tmp/hello_world.txt"), who);
  }
  // They overlapped in time, and the host's /tmp was never touched.
  EXPECT_LT(history_[specs[1].id].front().started_unix_ms,
            WaitState(c, specs[0].id, State::kExited).finished_unix_ms);
  EXPECT_EQ(Slurp("/tmp/hello_world.txt"), host_before);
}

TEST_F(SupervisorTest, VolumeMountIsVisibleOnlyToItsProcess) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  if (!IsolationAvailable(c)) GTEST_SKIP() << "no mount namespaces here";
  auto spec = Spec("vol", {"sh", "-c",
                           "grep ' /mnt/vol ' /proc/mounts && cat /mnt/vol/data && "
                           "! touch /mnt/ro/x 2>/dev/null && echo ro-ok"});
  spec.isolate = true;
  spec.root_overlay_dir = spec.dir + "/root";  // so that no mount point is created on the host
  std::string vol = spec.dir + "/vol", ro = spec.dir + "/ro";
  ASSERT_TRUE(MakeDirs(vol).ok() && MakeDirs(ro).ok());
  ASSERT_TRUE(WriteFile(vol + "/data", "volume-data\n").ok());
  spec.mounts = {{"bind", vol, "/mnt/vol", false}, {"bind", ro, "/mnt/ro", true}};
  spec.cwd = "/";
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "Completed") << Slurp(spec.stderr_path);
  std::string out = Slurp(spec.stdout_path);
  EXPECT_NE(out.find(" /mnt/vol "), std::string::npos) << out;
  EXPECT_NE(out.find("volume-data\nro-ok\n"), std::string::npos) << out;
  EXPECT_EQ(Slurp("/proc/mounts").find(" /mnt/vol "), std::string::npos);
  EXPECT_FALSE(PathExists(ro + "/x"));
}

TEST_F(SupervisorTest, OverlayRootKeepsWritesOutOfTheHost) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  if (!IsolationAvailable(c)) GTEST_SKIP() << "no mount namespaces here";
  ASSERT_FALSE(PathExists("/result.txt"));
  ASSERT_FALSE(PathExists("/etc/skiff-test"));
  auto spec = Spec("overlay", {"sh", "-c",
                               "echo result > /result.txt && echo etc > /etc/skiff-test && "
                               "cat /result.txt && ls /proc/self/fd >/dev/null && pwd"});
  spec.isolate = true;
  spec.root_overlay_dir = spec.dir + "/root";
  spec.cwd = "/etc";
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "Completed") << Slurp(spec.stderr_path);
  EXPECT_EQ(Slurp(spec.stdout_path), "result\n/etc\n");
  EXPECT_EQ(Slurp(spec.root_overlay_dir + "/upper/result.txt"), "result\n");
  EXPECT_EQ(Slurp(spec.root_overlay_dir + "/upper/etc/skiff-test"), "etc\n");
  EXPECT_FALSE(PathExists("/result.txt"));
  EXPECT_FALSE(PathExists("/etc/skiff-test"));
}

TEST_F(SupervisorTest, WithoutMountNamespacesRunsUnisolated) {
  if (!IsExecutableFile("/usr/bin/setpriv")) GTEST_SKIP() << "needs setpriv";
  // A supervisor without CAP_SYS_ADMIN cannot unshare its mount namespace.
  SupervisorClientOptions o = Options();
  o.launch_argv.insert(o.launch_argv.begin(), {"/usr/bin/setpriv", "--bounding-set=-sys_admin"});
  auto client = SupervisorClient::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  SupervisorClient* c = client->get();
  supervisor_pids_.push_back(c->supervisor_pid());
  clients_.push_back(std::move(*client));
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->value("isolation", true));
  auto spec = Spec("noiso", {"sh", "-c", "echo ran"});
  spec.isolate = true;
  spec.mounts = {{"bind", spec.dir, "/tmp", false}};
  ProcessStatus st = RunToExit(c, spec);
  EXPECT_EQ(st.reason, "Completed") << st.message;
  EXPECT_FALSE(st.isolated);
  EXPECT_EQ(Slurp(spec.stdout_path), "ran\n");
  auto started = ParseJson(Slurp(spec.dir + "/started.json"));
  ASSERT_TRUE(started.ok());
  EXPECT_FALSE(started->value("isolated", true));
  EXPECT_NE(Slurp(state_dir_ + "/supervisor.log").find("without isolation"), std::string::npos);
}

TEST_F(SupervisorTest, ProcessOutlivesItsClientAndIsReportedToTheNextOne) {
  auto spec = Spec("orphan", {"sh", "-c", "sleep 1; echo done"});
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto client = SupervisorClient::Connect(Options());
    if (!client.ok() || !(*client)->Start(spec).ok()) _exit(1);
    for (;;) ::pause();
  }
  ASSERT_TRUE(WaitForFile(spec.dir + "/started.json", "pid", 10s));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WaitForFile(spec.dir + "/exit.json", "Completed", 10s));
  EXPECT_EQ(Slurp(spec.stdout_path), "done\n");

  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto list = c->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, spec.id);
  EXPECT_EQ((*list)[0].state, State::kExited);
  EXPECT_EQ((*list)[0].reason, "Completed");
  // A re-Start is answered with the exit, to this client.
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");
}

TEST_F(SupervisorTest, RepeatedStartOfAnExitedIdNeverRunsItAgain) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("once", {"sh", "-c", "echo run >> counter"});
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");
  history_.clear();
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");  // known in memory
  ASSERT_TRUE(c->Forget(spec.id).ok());
  history_.clear();
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");  // from exit.json
  auto list = c->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  // And with a brand-new supervisor.
  ASSERT_TRUE(c->Shutdown().ok());
  ASSERT_TRUE(WaitGone(c->supervisor_pid(), 5s));
  c = Connect();
  ASSERT_NE(c, nullptr);
  history_.clear();
  EXPECT_EQ(RunToExit(c, spec).reason, "Completed");
  EXPECT_EQ(Slurp(spec.dir + "/counter"), "run\n");
}

TEST_F(SupervisorTest, SupervisorCrashIsSurvivedAndTheProcessReportedLost) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("survivor", {"sh", "-c", "sleep 1.5; echo run >> counter"});
  auto quick = Spec("quick", {"sleep", "0.2"});
  ASSERT_TRUE(c->Start(spec).ok());
  ASSERT_TRUE(c->Start(quick).ok());
  pid_t workload = WaitState(c, spec.id, State::kRunning).pid;
  WaitState(c, quick.id, State::kRunning);
  pid_t first = c->supervisor_pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(WaitGone(first, 5s));
  // The connection reports the loss.
  Status lost = OkStatus();
  for (int i = 0; i < 100 && lost.ok(); ++i) {
    c->WaitReadable(50ms);
    auto events = c->ReadEvents();
    if (!events.ok()) lost = events.status();
  }
  EXPECT_EQ(lost.code(), StatusCode::kUnavailable);
  std::this_thread::sleep_for(400ms);  // `quick` ends while no supervisor watches

  history_.clear();
  c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->supervisor_pid(), first);
  ASSERT_TRUE(c->Start(spec).ok());
  ASSERT_TRUE(c->Start(quick).ok());
  ProcessStatus adopted = WaitState(c, spec.id, State::kRunning);
  EXPECT_EQ(adopted.pid, workload);  // the same process, not a second copy
  ProcessStatus q = WaitState(c, quick.id, State::kExited);
  EXPECT_EQ(q.reason, "Lost");
  EXPECT_EQ(q.exit_code, -1);
  ProcessStatus st = WaitState(c, spec.id, State::kExited);
  EXPECT_EQ(st.reason, "Lost");
  EXPECT_EQ(st.exit_code, -1);
  EXPECT_EQ(st.message, "supervisor restarted; exit code unknown");
  EXPECT_EQ(Slurp(spec.dir + "/counter"), "run\n");
  EXPECT_EQ(ReadProcessStatusFromDir(spec.dir).reason, "Lost");
}

TEST_F(SupervisorTest, ReportsCpuSecondsAndPeakMemory) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto alloc = Spec("alloc", {kTestbin, "alloc", "50"});
  ProcessStatus st = RunToExit(c, alloc);
  EXPECT_EQ(st.reason, "Completed");
  EXPECT_GE(st.max_rss_bytes, 50LL << 20);
  auto busy = Spec("busy", {kTestbin, "busy", "300"});
  st = RunToExit(c, busy);
  EXPECT_EQ(st.reason, "Completed");
  EXPECT_GE(st.cpu_seconds, 0.29);
  EXPECT_LT(st.cpu_seconds, 5.0);
}

TEST_F(SupervisorTest, FdStaysReadableForEventsReadDuringAList) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  auto spec = Spec("fd", {"true"});
  ASSERT_TRUE(c->Start(spec).ok());
  ASSERT_TRUE(WaitForFile(spec.dir + "/exit.json", "Completed", 5s));
  std::this_thread::sleep_for(50ms);
  auto list = c->List();  // reads the Running and Exited events off the socket
  ASSERT_TRUE(list.ok());
  pollfd p{c->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
  auto events = c->ReadEvents();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].state, State::kRunning);
  EXPECT_EQ((*events)[1].state, State::kExited);
  EXPECT_EQ(::poll(&p, 1, 0), 0);
}

TEST_F(SupervisorTest, MalformedRequestsAreAnsweredAndSurvived) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = state_dir_ + "/supervisor.sock";
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string garbage =
      "not json\n"
      "{\"op\":\"kill\",\"id\":\"x\",\"grace_ms\":\"soon\",\"req\":7}\n"
      "{\"op\":\"start\",\"spec\":{\"id\":5}}\n"
      "{\"op\":\"nope\",\"req\":9}\n";
  ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  std::string got;
  char buf[4096];
  while (std::count(got.begin(), got.end(), '\n') < 4) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_NE(got.find("request is not a JSON object"), std::string::npos) << got;
  EXPECT_NE(got.find("malformed request"), std::string::npos) << got;
  EXPECT_NE(got.find("invalid process spec"), std::string::npos) << got;
  EXPECT_NE(got.find("unknown op"), std::string::npos) << got;
  auto info = c->Info();
  EXPECT_TRUE(info.ok()) << info.status().ToString();
}

TEST_F(SupervisorTest, ExitsAfterTheIdleTimeout) {
  auto client = SupervisorClient::Connect(Options({"--idle-exit-ms", "300"}));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  pid_t pid = (*client)->supervisor_pid();
  auto info = (*client)->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->value("pid", 0), pid);
  EXPECT_EQ(info->value("cpu_millis_total", int64_t{0}), 2000);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(Alive(pid));  // a connected client keeps it
  client->reset();
  EXPECT_TRUE(WaitGone(pid, 5s));
  EXPECT_FALSE(PathExists(state_dir_ + "/supervisor.sock"));
  EXPECT_FALSE(PathExists(state_dir_ + "/supervisor.pid"));
}

TEST_F(SupervisorTest, ConnectingWhileTheSupervisorExitsForIdlenessStillConnects) {
  // With a 1 ms idle timeout, most connections meet a supervisor that is exiting or gone.
  for (int i = 0; i < 30; ++i) {
    auto client = SupervisorClient::Connect(Options({"--idle-exit-ms", "1"}));
    ASSERT_TRUE(client.ok()) << "attempt " << i << ": " << client.status().ToString();
    supervisor_pids_.push_back((*client)->supervisor_pid());
    auto info = (*client)->Info();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    if (i % 3 == 0) std::this_thread::sleep_for(2ms);
  }
}

TEST_F(SupervisorTest, ClientsConnectingAtOnceShareOneSupervisor) {
  for (int round = 0; round < 3; ++round) {
    state_dir_ = root_ + "/state-" + std::to_string(round);
    std::vector<std::unique_ptr<SupervisorClient>> got(3);
    std::vector<std::thread> threads;
    for (auto& slot : got) {
      threads.emplace_back([&, opts = Options()] {
        auto c = SupervisorClient::Connect(opts);
        if (c.ok()) slot = std::move(*c);
      });
    }
    for (auto& t : threads) t.join();
    for (auto& c : got) {
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(c->supervisor_pid(), got[0]->supervisor_pid());
    }
    // A supervisor started by hand for a served dir leaves at once, successfully.
    std::string cmd = std::string(kTestbin) + " --state-dir " + state_dir_;
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_TRUE(got[0]->Shutdown().ok());
    EXPECT_TRUE(WaitGone(got[0]->supervisor_pid(), 5s));
  }
}

// Not a check: prints what a process costs through the supervisor, end to end (Start, spawn,
// exit, exit.json, event), next to a bare posix_spawn + waitpid of the same program measured in
// the same run, since the machine's load moves both.
TEST_F(SupervisorTest, SpawnThroughput) {
  SupervisorClient* c = Connect();
  ASSERT_NE(c, nullptr);
  bool isolation = IsolationAvailable(c);
  constexpr int kCount = 200;
  // CPU time (ns) a process has run, from /proc/PID/schedstat.
  auto cpu_ns = [](const std::string& pid) {
    return std::atoll(Slurp("/proc/" + pid + "/schedstat").c_str());
  };
  std::string sup = std::to_string(c->supervisor_pid());
  int64_t sup_cpu0 = 0, self_cpu0 = 0;
  auto report = [&](const char* label, SteadyClock::time_point t0, int n) {
    double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count() / n;
    double sup_ms = static_cast<double>(cpu_ns(sup) - sup_cpu0) / 1e6 / n;
    double self_ms = static_cast<double>(cpu_ns("self") - self_cpu0) / 1e6 / n;
    std::printf(
        "[ spawn    ] %-42s %d processes, %.2f ms per process "
        "(cpu: supervisor %.3f ms, client %.3f ms)\n",
        label, n, ms, sup_ms, self_ms);
  };
  auto bare = [&] {
    sup_cpu0 = cpu_ns(sup);
    self_cpu0 = cpu_ns("self");
    auto t0 = SteadyClock::now();
    for (int i = 0; i < kCount; ++i) {
      pid_t pid = 0;
      char arg0[] = "/bin/true";
      char* argv[] = {arg0, nullptr};
      char* envp[] = {nullptr};
      ASSERT_EQ(::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp), 0);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    report("bare posix_spawn + waitpid (baseline)", t0, kCount);
  };
  auto run = [&](const char* label, const std::string& prefix, int count, auto customize) {
    sup_cpu0 = cpu_ns(sup);
    self_cpu0 = cpu_ns("self");
    auto t0 = SteadyClock::now();
    for (int i = 0; i < count; ++i) {
      auto s = Spec(prefix + std::to_string(i), {"/bin/true"});
      customize(s);
      ProcessStatus st = RunToExit(c, s);
      if (st.reason != "Completed") {
        ADD_FAILURE() << label << ": " << st.reason << " " << st.message;
        return;
      }
      c->Forget(s.id).IgnoreError();
    }
    report(label, t0, count);
  };
  bare();
  run("supervised", "plain", kCount, [](ProcessSpec&) {});
  if (!isolation) return;
  run("supervised, isolated, private /tmp", "iso", kCount, [](ProcessSpec& s) {
    s.isolate = true;
    s.cwd = "/";
    MakeDirs(s.dir + "/tmp").IgnoreError();
    s.mounts = {{"bind", s.dir + "/tmp", "/tmp", false}};
  });
  run("supervised, isolated, overlay root + /tmp", "ovl", kCount / 2, [](ProcessSpec& s) {
    s.isolate = true;
    s.cwd = "/";
    s.root_overlay_dir = s.dir + "/root";
    MakeDirs(s.dir + "/tmp").IgnoreError();
    s.mounts = {{"bind", s.dir + "/tmp", "/tmp", false}};
  });
}

}  // namespace
}  // namespace skiff::local
