// The lineage recorder's catch-up after a restart: from the saved cursor through the store's
// event log, and from a full listing when there is no cursor or the log was compacted past it.
#include <gtest/gtest.h>

#include "common/fs.h"
#include "controllers/metadata/lineage_recorder_test_base.h"

namespace skiff::controllers {
namespace {

class LineageRecorderCatchUpTest : public LineageRecorderTestBase {
 protected:
  // A workflow step's Pod that has already ended, written while no recorder watches.
  void FinishedStep(const std::string& name) {
    controller_.reset();  // as if the process were down
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", "default"},
                  {"labels", {{"workflows.argoproj.io/workflow", "wf"}}}}},
                {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
    CreateSucceededPod(pod);
  }

  bool Recorded(const std::string& name) {
    auto has = lineage_->HasExecution("default", name);
    return has.ok() && *has;
  }

  int64_t Cursor() {
    auto r = store_->GetRecord("lineage-recorder", "pods", "cursor");
    return r.ok() ? r->value("resourceVersion", int64_t{0}) : 0;
  }

};

TEST_F(LineageRecorderCatchUpTest, StepsThatEndedWhileDownAreRecordedAndTheCursorMoves) {
  EXPECT_EQ(Cursor(), 0);
  FinishedStep("wf-a");
  Open();  // no cursor yet: the recorder lists every workflow Pod
  ASSERT_TRUE(controller_->Flush().ok());
  EXPECT_TRUE(Recorded("wf-a"));
  const int64_t first = Cursor();
  EXPECT_GT(first, 0);

  FinishedStep("wf-b");
  Open();  // from the event log after the cursor
  ASSERT_TRUE(controller_->Flush().ok());
  EXPECT_TRUE(Recorded("wf-b"));
  EXPECT_GT(Cursor(), first);

  // Restarting with nothing new changes nothing.
  const int64_t second = Cursor();
  Open();
  ASSERT_TRUE(controller_->Flush().ok());
  EXPECT_EQ(Cursor(), second);
}

TEST_F(LineageRecorderCatchUpTest, ACompactedEventLogFallsBackToListing) {
  FinishedStep("wf-a");
  Open();
  ASSERT_TRUE(controller_->Flush().ok());
  ASSERT_GT(Cursor(), 0);
  FinishedStep("wf-c");
  FinishedStep("wf-d");
  ASSERT_TRUE(store_->CompactEvents(1).ok());  // the log no longer reaches back to the cursor
  Open();
  ASSERT_TRUE(controller_->Flush().ok());
  EXPECT_TRUE(Recorded("wf-c"));
  EXPECT_TRUE(Recorded("wf-d"));
}

TEST_F(LineageRecorderCatchUpTest, PodsEndingWhileRunningAreRecordedLive) {
  Open();
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", "wf-live"},
                {"namespace", "default"},
                {"labels", {{"workflows.argoproj.io/workflow", "wf"}}}}},
              {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
  auto created = store_->Create(pod);
  ASSERT_TRUE(created.ok());
  Json done = *created;
  done["status"] = {{"phase", "Failed"}};
  ASSERT_TRUE(store_->UpdateStatus(done).ok());
  for (int i = 0; i < 20 && !Recorded("wf-live"); ++i) {
    loop_.RunOnce(std::chrono::milliseconds(20));
    clock_.Advance(std::chrono::milliseconds(60));
  }
  EXPECT_TRUE(Recorded("wf-live"));
  EXPECT_GT(Cursor(), 0);
}

}  // namespace
}  // namespace skiff::controllers
