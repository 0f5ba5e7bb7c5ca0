// The work queue on a real EventLoop driven by a FakeClock: time moves only when the test says.
#include "controllers/runtime/work_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace skiff::controllers {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  WorkQueueTest() : loop_(clock_) {}
  void MakeQueue(WorkQueueOptions opts = {}) {
    queue_ = std::make_unique<WorkQueue>(
        loop_,
        [this](const std::string& key) {
          calls_.push_back(key);
          auto it = results_.find(key);
          return it == results_.end() ? ReconcileResult::Ok() : it->second;
        },
        opts);
    queue_->Start();
  }
  // Runs whatever is due now, without moving the clock.
  void Turn() {
    for (int i = 0; i < 5; ++i) loop_.RunOnce(Duration(0));
  }
  void Advance(Duration d) {
    clock_.Advance(d);
    Turn();
  }

  FakeClock clock_;
  EventLoop loop_;
  std::unique_ptr<WorkQueue> queue_;
  std::vector<std::string> calls_;
  std::map<std::string, ReconcileResult> results_;
};

TEST_F(WorkQueueTest, DeduplicatesKeysThatAreAlreadyWaiting) {
  MakeQueue();
  queue_->Add("Job/default/a");
  queue_->Add("Job/default/b");
  queue_->Add("Job/default/a");
  EXPECT_EQ(queue_->pending(), 2u);
  Turn();
  EXPECT_EQ(calls_, (std::vector<std::string>{"Job/default/a", "Job/default/b"}));
  queue_->Add("Job/default/a");  // after handling, a key may be added again
  Turn();
  EXPECT_EQ(calls_.size(), 3u);
}

TEST_F(WorkQueueTest, AddFromInsideTheHandlerRunsTheKeyAgain) {
  int runs = 0;
  queue_ = std::make_unique<WorkQueue>(loop_, [&](const std::string& key) {
    if (++runs < 3) queue_->Add(key);
    return ReconcileResult::Ok();
  });
  queue_->Add("k");
  Turn();
  EXPECT_EQ(runs, 3);
}

TEST_F(WorkQueueTest, FailuresBackOffExponentiallyAndSuccessForgets) {
  MakeQueue();
  results_["k"] = ReconcileResult::Error(Unavailable("down"));
  queue_->Add("k");
  Turn();
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(queue_->Failures("k"), 1);
  // Retries at 5 ms, then 10 ms, then 20 ms after each failure.
  Advance(milliseconds(4));
  EXPECT_EQ(calls_.size(), 1u);
  Advance(milliseconds(1));
  EXPECT_EQ(calls_.size(), 2u);
  Advance(milliseconds(9));
  EXPECT_EQ(calls_.size(), 2u);
  Advance(milliseconds(1));
  EXPECT_EQ(calls_.size(), 3u);
  EXPECT_EQ(queue_->NextBackoff("k"), milliseconds(40));
  results_["k"] = ReconcileResult::Ok();
  Advance(milliseconds(40));
  EXPECT_EQ(calls_.size(), 4u);
  EXPECT_EQ(queue_->Failures("k"), 0) << "a successful pass forgets the failures";
  EXPECT_EQ(queue_->NextBackoff("k"), milliseconds(5));
}

TEST_F(WorkQueueTest, BackoffIsCappedAtMaxDelay) {
  MakeQueue();
  results_["k"] = ReconcileResult::Error(Internal("x"));
  for (int i = 0; i < 40; ++i) queue_->AddRateLimited("k");
  EXPECT_EQ(queue_->NextBackoff("k"), seconds(1000));
  queue_->Forget("k");
  EXPECT_EQ(queue_->NextBackoff("k"), milliseconds(5));
}

TEST_F(WorkQueueTest, AddAfterWaitsOnTheClockAndTheEarliestDelayWins) {
  MakeQueue();
  queue_->AddAfter("k", seconds(10));
  queue_->AddAfter("k", seconds(30));  // later: ignored
  Advance(seconds(9));
  EXPECT_TRUE(calls_.empty());
  Advance(seconds(1));
  EXPECT_EQ(calls_.size(), 1u);
  Advance(seconds(60));
  EXPECT_EQ(calls_.size(), 1u) << "the later delay was merged into the earlier one";
  queue_->AddAfter("k", seconds(30));
  queue_->AddAfter("k", seconds(5));  // earlier: replaces
  Advance(seconds(5));
  EXPECT_EQ(calls_.size(), 2u);
  Advance(seconds(30));
  EXPECT_EQ(calls_.size(), 2u);
}

TEST_F(WorkQueueTest, RequeueAfterFromTheHandler) {
  MakeQueue();
  results_["k"] = ReconcileResult::After(seconds(2));
  queue_->Add("k");
  Turn();
  EXPECT_EQ(calls_.size(), 1u);
  Advance(seconds(2));
  EXPECT_EQ(calls_.size(), 2u);
}

TEST_F(WorkQueueTest, ResyncRequeuesEveryTrackedKeyUntilDropped) {
  WorkQueueOptions opts;
  opts.resync_period = seconds(60);
  MakeQueue(opts);
  queue_->Add("a");
  queue_->Add("b");
  Turn();
  ASSERT_EQ(calls_.size(), 2u);
  Advance(seconds(60));
  EXPECT_EQ(calls_.size(), 4u);
  queue_->Drop("a");
  Advance(seconds(60));
  ASSERT_EQ(calls_.size(), 5u);
  EXPECT_EQ(calls_.back(), "b");
}

TEST_F(WorkQueueTest, DropCancelsADelayedAdd) {
  MakeQueue();
  queue_->AddAfter("k", seconds(1));
  queue_->Drop("k");
  Advance(seconds(2));
  EXPECT_TRUE(calls_.empty());
}

TEST_F(WorkQueueTest, DestroyedQueueIgnoresPostedWork) {
  MakeQueue();
  queue_->Add("k");
  queue_->AddAfter("j", seconds(1));
  queue_.reset();
  Advance(seconds(2));
  EXPECT_TRUE(calls_.empty());
}

TEST(QueueKeyTest, RoundTrips) {
  EXPECT_EQ(QueueKey("Job", "default", "a"), "Job/default/a");
  Json obj = {{"kind", "CronWorkflow"}, {"metadata", {{"namespace", "ns"}, {"name", "c"}}}};
  EXPECT_EQ(QueueKey(obj), "CronWorkflow/ns/c");
  std::string k, ns, n;
  ASSERT_TRUE(ParseQueueKey("Job/default/a", &k, &ns, &n));
  EXPECT_EQ(k, "Job");
  EXPECT_EQ(ns, "default");
  EXPECT_EQ(n, "a");
  ASSERT_TRUE(ParseQueueKey("Namespace//x", &k, &ns, &n));
  EXPECT_EQ(ns, "");
  EXPECT_FALSE(ParseQueueKey("Job/a", &k, &ns, &n));
}

}  // namespace
}  // namespace skiff::controllers
