// The CronWorkflow controller against a real SQLite store whose creation timestamps, like the
// controller, follow a FakeClock. No Workflow controller runs: the test finishes the child
// Workflows itself. Test names end with the transition numbers of cron_controller.h.
#include "controllers/schedule/cron_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/fs.h"
#include "store/sqlite_store.h"

namespace skiff::controllers {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-01-01T00:00:30Z, a Thursday.
constexpr int64_t kStart = 1767225630;

class CronControllerTest : public ::testing::Test {
 protected:
  CronControllerTest() : clock_(TimePoint(seconds(kStart))), loop_(clock_) {}
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-cron-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    Close();
    Status s = RemoveAll(dir_);
    (void)s;
  }
  void Close() {
    controller_.reset();
    informer_.reset();
    store_.reset();
  }
  void Open() {
    Close();
    store::SqliteStoreOptions opts;
    opts.clock = &clock_;
    auto s = store::OpenSqliteStore(JoinPath(dir_, "skiff.db"), opts);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    // Writes come through this store object's watch: no need for the informer's polling timer,
    // which would make `Advance` step through every 100 ms.
    informer_ = std::make_unique<store::Informer>(*store_, loop_, hours(100000));
    controller_ = std::make_unique<CronWorkflowController>(*store_, loop_, *informer_, clock_);
    ASSERT_TRUE(informer_->Start().ok());
    ASSERT_TRUE(controller_->Start().ok());
    Spin();
  }
  void Spin() {
    for (int i = 0; i < 20; ++i) loop_.RunOnce(Duration(0));
  }
  // Moves the clock as time passes for a running controller: timer by timer, each run when due.
  void Advance(Duration d) {
    TimePoint target = clock_.Now() + d;
    Spin();
    TimePoint next;
    while (loop_.NextTimer(&next) && next <= target) {
      if (next > clock_.Now()) clock_.Advance(next - clock_.Now());
      Spin();
    }
    clock_.Advance(target - clock_.Now());
    Spin();
  }
  void Create(const std::string& spec_yaml) {
    std::string yaml =
        "apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: c, namespace: "
        "default}\n"
        "spec:\n" +
        spec_yaml +
        "  workflowSpec:\n    entrypoint: main\n    templates:\n"
        "    - name: main\n      container: {image: busybox, command: [\"true\"]}\n";
    auto j = ParseYaml(yaml);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    ASSERT_TRUE(store_->Create(*j).ok());
    Spin();
  }
  void Patch(const std::function<void(Json&)>& f) {
    auto c = store_->Get({"CronWorkflow", "default", "c"});
    ASSERT_TRUE(c.ok());
    Json j = *c;
    f(j);
    ASSERT_TRUE(store_->Update(j).ok());
    Spin();
  }
  std::vector<std::string> Workflows() {
    auto l = store_->List("Workflow", "default");
    EXPECT_TRUE(l.ok());
    std::vector<std::string> names;
    for (const auto& w : l->items) names.push_back(StringField(w["metadata"], "name"));
    return names;
  }
  Json Workflow(const std::string& name) {
    auto w = store_->Get({"Workflow", "default", name});
    EXPECT_TRUE(w.ok()) << name;
    return w.ok() ? *w : Json::object();
  }
  Json CronStatus() {
    auto c = store_->Get({"CronWorkflow", "default", "c"});
    EXPECT_TRUE(c.ok());
    return c.ok() ? c->value("status", Json::object()) : Json::object();
  }
  void FinishWorkflow(const std::string& name, const std::string& phase) {
    Json w = Workflow(name);
    w["status"] = {{"phase", phase}, {"finishedAt", FormatRfc3339(clock_.Now())}};
    ASSERT_TRUE(store_->UpdateStatus(w).ok());
    Spin();
  }
  static std::string Name(int64_t unix) { return "c-" + std::to_string(unix); }

  std::string dir_;
  FakeClock clock_;
  EventLoop loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Informer> informer_;
  std::unique_ptr<CronWorkflowController> controller_;
};

const int64_t kMinute1 = kStart + 30;  // 00:01:00

TEST_F(CronControllerTest, StartsAWorkflowAtEachScheduledTime_1) {
  Create(R"(  schedule: "* * * * *"
  workflowMetadata:
    labels: {team: ml}
    annotations: {note: nightly}
)");
  Advance(seconds(29));
  EXPECT_TRUE(Workflows().empty());
  Advance(seconds(1));
  ASSERT_EQ(Workflows(), std::vector<std::string>{Name(kMinute1)});
  Json wf = Workflow(Name(kMinute1));
  Json cron = *store_->Get({"CronWorkflow", "default", "c"});
  const Json& meta = wf["metadata"];
  EXPECT_EQ(meta["labels"]["workflows.argoproj.io/cron-workflow"], "c");
  EXPECT_EQ(meta["labels"]["team"], "ml");
  EXPECT_EQ(meta["annotations"]["note"], "nightly");
  EXPECT_EQ(meta["annotations"]["workflows.argoproj.io/scheduled-time"], "2026-01-01T00:01:00Z");
  EXPECT_EQ(meta["ownerReferences"][0]["kind"], "CronWorkflow");
  EXPECT_EQ(meta["ownerReferences"][0]["uid"], cron["metadata"]["uid"]);
  EXPECT_EQ(meta["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(wf["spec"], cron["spec"]["workflowSpec"]);
  Json st = CronStatus();
  EXPECT_EQ(st["lastScheduledTime"], "2026-01-01T00:01:00Z");
  ASSERT_EQ(st["active"].size(), 1u);
  EXPECT_EQ(st["active"][0]["name"], Name(kMinute1));
  EXPECT_EQ(st["active"][0]["kind"], "Workflow");
  EXPECT_EQ(st["active"][0]["uid"], meta["uid"]);
  Advance(seconds(60));
  EXPECT_EQ(Workflows(), (std::vector<std::string>{Name(kMinute1), Name(kMinute1 + 60)}));
  EXPECT_EQ(CronStatus()["active"].size(), 2u) << "concurrencyPolicy Allow is the default";
}

TEST_F(CronControllerTest, SeveralSchedulesAndATimeZone_1) {
  Create(R"(  schedules: ["0 9 * * *", "30 9 * * *"]
  timezone: America/New_York
)");
  Advance(hours(13) + minutes(59));  // 13:59:30Z = 08:59:30 in New York
  EXPECT_TRUE(Workflows().empty());
  Advance(seconds(30));
  int64_t nine = 1767276000;  // 2026-01-01T14:00:00Z
  EXPECT_EQ(Workflows(), std::vector<std::string>{Name(nine)});
  Advance(minutes(30));
  EXPECT_EQ(Workflows(), (std::vector<std::string>{Name(nine), Name(nine + 1800)}));
  EXPECT_EQ(Workflow(Name(nine +
                          1800))["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"],
            "2026-01-01T14:30:00Z");
}

TEST_F(CronControllerTest, MissedTimesAreSkippedWithoutStartingDeadline_2) {
  Create("  schedule: \"0 * * * *\"\n");
  Close();  // the controller is down for three hours
  clock_.Advance(hours(3) + minutes(5));
  Open();
  EXPECT_TRUE(Workflows().empty());
  EXPECT_FALSE(CronStatus().contains("lastScheduledTime"));
  Advance(minutes(55));  // 04:00:30: on time again
  EXPECT_EQ(Workflows(), std::vector<std::string>{Name(kStart - 30 + 4 * 3600)});
}

TEST_F(CronControllerTest, OnlyTheMostRecentMissedTimeRunsWithinStartingDeadline_2) {
  Create("  schedule: \"0 * * * *\"\n  startingDeadlineSeconds: 600\n");
  Close();
  clock_.Advance(hours(3) + minutes(5));  // missed 01:00, 02:00, 03:00; now 03:05:30
  Open();
  EXPECT_EQ(Workflows(), std::vector<std::string>{Name(kStart - 30 + 3 * 3600)});
  EXPECT_EQ(CronStatus()["lastScheduledTime"], "2026-01-01T03:00:00Z");
  Close();
  clock_.Advance(hours(1) + minutes(10));  // 04:00 missed by 15 minutes: too late
  Open();
  EXPECT_EQ(Workflows().size(), 1u);
}

TEST_F(CronControllerTest, ForbidSkipsWhileAWorkflowRuns_3) {
  Create("  schedule: \"* * * * *\"\n  concurrencyPolicy: Forbid\n");
  Advance(seconds(30));
  ASSERT_EQ(Workflows().size(), 1u);
  Advance(seconds(75));  // 00:02:15
  EXPECT_EQ(Workflows().size(), 1u) << "the first one still runs";
  FinishWorkflow(Name(kMinute1), "Succeeded");
  EXPECT_FALSE(CronStatus().contains("active"));
  EXPECT_EQ(Workflows().size(), 1u) << "00:02 is past the grace: skipped, not started late";
  Advance(seconds(45));
  EXPECT_EQ(Workflows(), (std::vector<std::string>{Name(kMinute1), Name(kMinute1 + 120)}));
}

TEST_F(CronControllerTest, ReplaceTerminatesTheRunningWorkflow_4) {
  Create("  schedule: \"* * * * *\"\n  concurrencyPolicy: Replace\n");
  Advance(seconds(30));
  Advance(seconds(60));
  EXPECT_EQ(Workflows(), (std::vector<std::string>{Name(kMinute1), Name(kMinute1 + 60)}));
  EXPECT_EQ(Workflow(Name(kMinute1))["spec"]["shutdown"], "Terminate");
  EXPECT_FALSE(Workflow(Name(kMinute1 + 60))["spec"].contains("shutdown"));
}

TEST_F(CronControllerTest, HistoryLimitsDeleteTheOldestFinishedWorkflows_5) {
  Create(R"(  schedule: "* * * * *"
  successfulJobsHistoryLimit: 2
  failedJobsHistoryLimit: 1
)");
  Advance(seconds(30));
  for (int i = 0; i < 4; ++i) {
    FinishWorkflow(Name(kMinute1 + 60 * i), i == 1 || i == 2 ? "Failed" : "Succeeded");
    Advance(seconds(60));
  }
  // Succeeded: 0 and 3 (both kept); failed: 1 and 2 (only 2 kept); 4 still runs.
  EXPECT_EQ(Workflows(), (std::vector<std::string>{Name(kMinute1), Name(kMinute1 + 120),
                                                   Name(kMinute1 + 180), Name(kMinute1 + 240)}));
  FinishWorkflow(Name(kMinute1 + 240), "Succeeded");
  EXPECT_EQ(Workflows(), (std::vector<std::string>{Name(kMinute1 + 120), Name(kMinute1 + 180),
                                                   Name(kMinute1 + 240)}));
  EXPECT_FALSE(CronStatus().contains("active"));
}

TEST_F(CronControllerTest, SuspendedCronWorkflowSchedulesNothing_6) {
  Create("  schedule: \"* * * * *\"\n  suspend: true\n");
  Advance(minutes(3));
  EXPECT_TRUE(Workflows().empty());
  Advance(seconds(10));  // 00:03:40
  Patch([](Json& c) { c["spec"]["suspend"] = false; });
  EXPECT_TRUE(Workflows().empty()) << "00:03 was missed by more than the grace";
  Advance(seconds(20));
  EXPECT_EQ(Workflows(), std::vector<std::string>{Name(kMinute1 + 180)});
}

TEST_F(CronControllerTest, MalformedScheduleSetsSpecErrorUntilFixed_7) {
  Create("  schedule: \"* * *\"\n");
  Json st = CronStatus();
  ASSERT_EQ(st["conditions"].size(), 1u);
  EXPECT_EQ(st["conditions"][0]["type"], "SpecError");
  EXPECT_EQ(st["conditions"][0]["status"], "True");
  EXPECT_NE(StringField(st["conditions"][0], "message").find("malformed"), std::string::npos);
  Advance(minutes(1));
  EXPECT_TRUE(Workflows().empty());
  Patch([](Json& c) { c["spec"]["schedule"] = "* * * * *"; });
  EXPECT_FALSE(CronStatus().contains("conditions"));
  Advance(minutes(1));
  EXPECT_EQ(Workflows().size(), 1u);
}

TEST_F(CronControllerTest, RestartedControllerDoesNotStartARunTwice_1) {
  Create("  schedule: \"* * * * *\"\n");
  Advance(seconds(30));
  ASSERT_EQ(Workflows().size(), 1u);
  Open();
  Advance(seconds(5));
  EXPECT_EQ(Workflows().size(), 1u);
}

TEST_F(CronControllerTest, DeletingTheCronWorkflowDeletesItsWorkflows) {
  Create("  schedule: \"* * * * *\"\n");
  Advance(seconds(30));
  ASSERT_EQ(Workflows().size(), 1u);
  ASSERT_TRUE(store_->Delete({"CronWorkflow", "default", "c"}).ok());
  Advance(minutes(2));
  EXPECT_TRUE(Workflows().empty());
}

}  // namespace
}  // namespace skiff::controllers
