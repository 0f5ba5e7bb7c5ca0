#include "engine/tuning/early_stopping.h"

#include <gtest/gtest.h>

#include "engine/tuning/hyperband.h"

namespace skiff::tuning {
namespace {

Trial Curve(std::string name, std::vector<double> values, TrialState state = TrialState::kCompleted) {
  Trial t;
  t.name = std::move(name);
  t.intermediate = std::move(values);
  t.state = state;
  if (state == TrialState::kCompleted) t.objective = t.intermediate.back();
  return t;
}

std::unique_ptr<EarlyStoppingRule> Rule(const std::string& name,
                                        std::vector<std::pair<std::string, std::string>> settings,
                                        Goal goal = Goal::kMinimize) {
  auto r = MakeEarlyStoppingRule({name, std::move(settings)}, goal);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(*r);
}

TEST(MedianStopTest, KatibComparesTheLatestValueWithTheMeanOfRunningAverages) {
  // Completed trials' averages over the first 2 steps: 1.0, 2.0, 9.0 -> mean 4.0 (median 2.0).
  const History h = {Curve("a", {1, 1, 0.5}), Curve("b", {2, 2, 1}), Curve("c", {9, 9, 8})};
  auto rule = Rule("medianstop", {{"min_trials_required", "3"}, {"start_step", "2"}});
  EXPECT_FALSE(rule->ShouldStop(Curve("x", {5}, TrialState::kRunning), h)) << "before start_step";
  EXPECT_TRUE(rule->ShouldStop(Curve("x", {5, 4.5}, TrialState::kRunning), h));
  EXPECT_FALSE(rule->ShouldStop(Curve("x", {5, 3.0}, TrialState::kRunning), h))
      << "3.0 is below Katib's 'median' (the mean, 4.0) though above the true median 2.0";
  auto truemedian = Rule("truemedianstop", {{"min_trials_required", "3"}, {"start_step", "2"}});
  EXPECT_TRUE(truemedian->ShouldStop(Curve("x", {5, 3.0}, TrialState::kRunning), h));
  EXPECT_FALSE(truemedian->ShouldStop(Curve("x", {5, 1.5}, TrialState::kRunning), h));
}

TEST(MedianStopTest, WaitsForMinTrialsRequired) {
  const History h = {Curve("a", {1, 1}), Curve("b", {2, 2}), Curve("r", {0, 0}, TrialState::kRunning)};
  auto rule = Rule("medianstop", {{"min_trials_required", "3"}, {"start_step", "1"}});
  EXPECT_FALSE(rule->ShouldStop(Curve("x", {100}, TrialState::kRunning), h));
  auto two = Rule("medianstop", {{"min_trials_required", "2"}, {"start_step", "1"}});
  EXPECT_TRUE(two->ShouldStop(Curve("x", {100}, TrialState::kRunning), h));
}

TEST(MedianStopTest, MaximizeFlipsTheComparison) {
  const History h = {Curve("a", {0.5, 0.6}), Curve("b", {0.7, 0.8})};
  auto rule = Rule("medianstop", {{"min_trials_required", "2"}, {"start_step", "1"}},
                   Goal::kMaximize);  // threshold (0.5 + 0.7) / 2 = 0.6
  EXPECT_TRUE(rule->ShouldStop(Curve("x", {0.55}, TrialState::kRunning), h));
  EXPECT_FALSE(rule->ShouldStop(Curve("x", {0.65}, TrialState::kRunning), h));
}

TEST(AshaTest, StopsTrialsOutsideTheTopThirdAtARung) {
  History h;
  for (int i = 0; i < 6; ++i) h.push_back(Curve("t" + std::to_string(i), {double(i), double(i), double(i)}));
  auto rule = Rule("asha", {{"min_resource", "1"}, {"reduction_factor", "3"}});
  // At rung 1 (step 1), 7 trials: keep floor(7/3) = 2 best, i.e. values <= 1.
  EXPECT_FALSE(rule->ShouldStop(Curve("x", {0.5}, TrialState::kRunning), h));
  EXPECT_TRUE(rule->ShouldStop(Curve("x", {1.5}, TrialState::kRunning), h));
  EXPECT_FALSE(rule->ShouldStop(Curve("x", {1.5, 1.5}, TrialState::kRunning), h)) << "step 2 is no rung";
  EXPECT_TRUE(rule->ShouldStop(Curve("x", {0.5, 0.5, 4}, TrialState::kRunning), h)) << "rung at step 3";
}

TEST(EarlyStoppingTest, RejectsUnknownRulesAndSettings) {
  EXPECT_FALSE(MakeEarlyStoppingRule({"meanstop", {}}, Goal::kMinimize).ok());
  auto bad = MakeEarlyStoppingRule({"medianstop", {{"start", "2"}}}, Goal::kMinimize);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spec.earlyStopping.algorithmSettings[0].name"),
            std::string::npos);
}

TEST(HyperbandTest, ScheduleMatchesLiEtAl) {
  // R = 81, eta = 3: the table of Li et al. (2018), section 3.
  const auto s = HyperbandSchedule(81, 3);
  ASSERT_EQ(s.size(), 5u);
  const std::vector<std::vector<int>> n = {
      {81, 27, 9, 3, 1}, {34, 11, 3, 1}, {15, 5, 1}, {8, 2}, {5}};
  const std::vector<std::vector<double>> r = {
      {1, 3, 9, 27, 81}, {3, 9, 27, 81}, {9, 27, 81}, {27, 81}, {81}};
  for (size_t b = 0; b < 5; ++b) {
    EXPECT_EQ(s[b].s, 4 - static_cast<int>(b));
    ASSERT_EQ(s[b].rungs.size(), n[b].size());
    for (size_t i = 0; i < n[b].size(); ++i) {
      EXPECT_EQ(s[b].rungs[i].trials, n[b][i]) << b << "," << i;
      EXPECT_NEAR(s[b].rungs[i].resource, r[b][i], 1e-9);
    }
  }
  // Katib's example: r_l = 2, eta = 2.
  const auto k = HyperbandSchedule(2, 2);
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0].rungs[0].trials, 2);
  EXPECT_EQ(k[0].rungs[1].trials, 1);
  EXPECT_EQ(k[1].rungs[0].trials, 2);
}

TEST(HyperbandTest, SamplerRunsRungsInOrderPromotesTheBestAndFinishes) {
  auto space = SearchSpace::FromKatibJson(ParseYaml(R"(
- {name: lr, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: epochs, parameterType: int, feasibleSpace: {min: "1", max: "9"}}
)").value()).value();
  auto hb = MakeSampler({"hyperband", {{"resource_name", "epochs"}, {"r_l", "9"}, {"eta", "3"}}},
                        space, {Goal::kMinimize, 4});
  ASSERT_TRUE(hb.ok()) << hb.status().ToString();
  History h;
  std::map<std::string, int> per_resource;
  bool exhausted = false;
  for (int round = 0; round < 200 && !exhausted; ++round) {
    auto r = (*hb)->Suggest(h, 100);
    ASSERT_TRUE(r.ok());
    exhausted = r->exhausted;
    for (const Suggestion& s : r->suggestions) {
      Trial t;
      t.name = "t" + std::to_string(h.size());
      t.point = s.point;
      t.labels = s.labels;
      t.state = TrialState::kCompleted;
      t.objective = std::stod(s.assignment[0].value);
      if (!s.parent_trial.empty()) {
        // A promoted trial keeps its parent's hyperparameters.
        for (const Trial& p : h) {
          if (p.name == s.parent_trial) {
            EXPECT_EQ(p.point[0], t.point[0]);
          }
        }
      }
      per_resource[s.assignment[1].value]++;
      h.push_back(t);
    }
  }
  EXPECT_TRUE(exhausted);
  // s_max = 2, B = 27: bracket 2: 9@1, 3@3, 1@9; bracket 1: 5@3 (ceil(27/9*3/2)), 1@9;
  // bracket 0: 3@9.
  EXPECT_EQ(per_resource["1"], 9);
  EXPECT_EQ(per_resource["3"], 3 + 5);
  EXPECT_EQ(per_resource["9"], 1 + 1 + 3);
}

}  // namespace
}  // namespace skiff::tuning
