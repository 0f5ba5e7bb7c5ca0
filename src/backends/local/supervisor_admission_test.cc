#include "backends/local/supervisor_admission.h"

#include <gtest/gtest.h>

namespace skiff::local {
namespace {

AdmissionRequest Req(const std::string& id, int64_t cpu, std::string gang = "", int size = 0) {
  return AdmissionRequest{id, {cpu, 0}, std::move(gang), size};
}

using Ids = std::vector<std::string>;

TEST(AdmissionTest, AdmitsInOrderWithoutOversubscribing) {
  Admission a({2000, 1 << 30}, 1000);
  for (const char* id : {"a", "b", "c"}) EXPECT_TRUE(a.Submit(Req(id, 1000), 0).ids.empty());
  EXPECT_EQ(a.Admit(0), (Ids{"a", "b"}));
  EXPECT_EQ(a.Admit(0), Ids{});
  a.Release("a");
  EXPECT_EQ(a.Admit(1), Ids{"c"});
  EXPECT_EQ(a.used().cpu_millis, 2000);
}

TEST(AdmissionTest, HigherPriorityStartsFirstFifoAmongEquals) {
  Admission a({1000, 1 << 30}, 1000);
  auto req = [](const char* id, int64_t prio) { return AdmissionRequest{id, {1000, 0}, "", 0, prio}; };
  for (auto r : {req("low1", 0), req("low2", 0), req("high", 5), req("mid", 2), req("high2", 5)}) {
    EXPECT_TRUE(a.Submit(r, 0).ids.empty());
  }
  Ids order;
  for (int i = 0; i < 5; ++i) {
    Ids got = a.Admit(i);
    ASSERT_EQ(got.size(), 1u);
    order.push_back(got[0]);
    a.Release(got[0]);
  }
  EXPECT_EQ(order, (Ids{"high", "high2", "mid", "low1", "low2"}));
}

TEST(AdmissionTest, RejectsWhatCanNeverFitNamingTheResource) {
  Admission a({2000, 1000}, 1000);
  auto cpu = a.Submit(Req("big", 4000), 0);
  EXPECT_EQ(cpu.ids, Ids{"big"});
  EXPECT_EQ(cpu.message, "requests cpu 4000m but this machine has 2000m");
  auto mem = a.Submit(AdmissionRequest{"fat", {1, 5000}, "", 0}, 0);
  EXPECT_EQ(mem.message, "requests memory 5000 bytes but this machine has 1000 bytes");
  EXPECT_EQ(a.queued_count(), 0u);
}

TEST(AdmissionTest, GangWaitsForAllMembersThenStartsTogether) {
  Admission a({2000, 1 << 30}, 1000);
  EXPECT_TRUE(a.Submit(Req("g-0", 1000, "g", 2), 0).ids.empty());
  EXPECT_EQ(a.Admit(0), Ids{});  // incomplete
  EXPECT_TRUE(a.Submit(Req("g-1", 1000, "g", 2), 0).ids.empty());
  EXPECT_EQ(a.Admit(0), (Ids{"g-0", "g-1"}));
}

TEST(AdmissionTest, GangThatCanNeverFitIsRejectedAsAWhole) {
  Admission a({2000, 1 << 30}, 1000);
  EXPECT_TRUE(a.Submit(Req("g-0", 1000, "g", 3), 0).ids.empty());
  EXPECT_TRUE(a.Submit(Req("g-1", 1000, "g", 3), 0).ids.empty());
  EXPECT_EQ(a.Admit(0), Ids{});
  auto r = a.Submit(Req("g-2", 1000, "g", 3), 0);
  EXPECT_EQ(r.ids, (Ids{"g-0", "g-1", "g-2"}));
  EXPECT_EQ(r.message, "gang \"g\" of 3 requests cpu 3000m in total but this machine has 2000m");
  EXPECT_EQ(a.queued_count(), 0u);
  // A late member of a rejected gang is rejected too.
  EXPECT_EQ(a.Submit(Req("g-3", 1000, "g", 3), 0).ids, Ids{"g-3"});
}

TEST(AdmissionTest, IncompleteGangDoesNotBlockOthers) {
  Admission a({2000, 1 << 30}, 0);
  EXPECT_TRUE(a.Submit(Req("g-0", 1000, "g", 2), 0).ids.empty());
  EXPECT_TRUE(a.Submit(Req("x", 1000), 0).ids.empty());
  EXPECT_EQ(a.Admit(0), Ids{"x"});
}

TEST(AdmissionTest, BackfillsWithinTheWindowThenHoldsNewerWorkBack) {
  Admission a({2000, 1 << 30}, 1000);
  a.Submit(Req("running", 1000), 0);
  EXPECT_EQ(a.Admit(0), Ids{"running"});
  a.Submit(Req("wide", 2000), 0);
  a.Submit(Req("small-1", 1000), 0);
  EXPECT_EQ(a.Admit(0), Ids{"small-1"});  // backfilled past "wide"
  a.Release("small-1");
  a.Submit(Req("small-2", 1000), 500);
  EXPECT_EQ(a.Admit(500), Ids{"small-2"});  // still inside the window
  a.Release("small-2");
  a.Submit(Req("small-3", 1000), 1500);
  EXPECT_EQ(a.Admit(1500), Ids{});  // "wide" has waited long enough: a barrier now
  a.Release("running");
  EXPECT_EQ(a.Admit(1600), Ids{"wide"});
  a.Release("wide");
  EXPECT_EQ(a.Admit(1700), Ids{"small-3"});
}

TEST(AdmissionTest, ZeroWindowIsStrictFifo) {
  Admission a({2000, 1 << 30}, 0);
  a.Submit(Req("one", 1000), 0);
  a.Admit(0);
  a.Submit(Req("wide", 2000), 0);
  a.Submit(Req("small", 1000), 0);
  EXPECT_EQ(a.Admit(0), Ids{});
}

TEST(AdmissionTest, RemoveDropsAQueuedMemberAndAdoptedWorkCounts) {
  Admission a({2000, 1 << 30}, 0);
  a.AddRunning("adopted", {2000, 0});
  a.Submit(Req("x", 1000), 0);
  EXPECT_EQ(a.Admit(0), Ids{});
  EXPECT_TRUE(a.Remove("x"));
  EXPECT_FALSE(a.Remove("x"));
  EXPECT_EQ(a.queued_count(), 0u);
  a.Release("adopted");
  EXPECT_EQ(a.used().cpu_millis, 0);
}

}  // namespace
}  // namespace skiff::local
