#include "engine/tuning/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace skiff::tuning {
namespace {

SearchSpace Space(const char* yaml) { return SearchSpace::FromKatibJson(ParseYaml(yaml).value()).value(); }

const char* kMixed = R"(
- {name: lr, parameterType: double, feasibleSpace: {min: "0.01", max: "0.05", step: "0.005"}}
- {name: momentum, parameterType: double, feasibleSpace: {min: "0.001", max: "1", distribution: logUniform}}
- {name: epochs, parameterType: int, feasibleSpace: {min: "1", max: "20"}}
- {name: batch, parameterType: discrete, feasibleSpace: {list: ["16", "32", "64"]}}
- {name: optimizer, parameterType: categorical, feasibleSpace: {list: [sgd, adam, rmsprop]}}
- {name: x, parameterType: double, feasibleSpace: {min: "-2", max: "2"}}
)";

std::unique_ptr<Sampler> Make(const std::string& name, const SearchSpace& space, uint64_t seed,
                              std::vector<std::pair<std::string, std::string>> settings = {},
                              Goal goal = Goal::kMinimize) {
  AlgorithmSpec spec{name, std::move(settings)};
  auto s = MakeSampler(spec, space, {goal, seed});
  EXPECT_TRUE(s.ok()) << name << ": " << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// A smooth objective over the mixed space's numbers; lower is better.
double Objective(const SearchSpace& space, const std::vector<double>& point) {
  const std::vector<double> v = space.DecodeNumbers(point);
  double f = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const Parameter& p = space.parameter(i);
    double lo = p.IsList() ? 0 : p.min, hi = p.IsList() ? p.list.size() - 1.0 : p.max;
    const double z = hi > lo ? (v[i] - lo) / (hi - lo) - 0.3 : 0;
    f += z * z;
  }
  return f;
}

// Runs an experiment: keeps `parallel` trials running, finishes the oldest one each round.
History RunExperiment(const Sampler& sampler, const SearchSpace& space, int trials, int parallel,
            std::vector<Suggestion>* suggestions = nullptr) {
  History h;
  int started = 0;
  for (int round = 0; round < 10 * trials && started < trials; ++round) {
    int running = 0;
    for (const Trial& t : h) running += t.state == TrialState::kRunning;
    const int want = std::min(parallel - running, trials - started);
    if (want > 0) {
      auto r = sampler.Suggest(h, want);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) break;
      EXPECT_LE(static_cast<int>(r->suggestions.size()), want);
      for (Suggestion& s : r->suggestions) {
        Trial t;
        t.name = "t" + std::to_string(h.size());
        t.point = s.point;
        t.labels = s.labels;
        h.push_back(t);
        ++started;
        if (suggestions) suggestions->push_back(s);
      }
      if (r->suggestions.empty() && r->exhausted && running == 0) break;
    }
    for (Trial& t : h) {
      if (t.state == TrialState::kRunning) {
        t.state = TrialState::kCompleted;
        t.objective = Objective(space, t.point);
        for (int step = 1; step <= 3; ++step) t.intermediate.push_back(*t.objective * (4 - step));
        break;
      }
    }
  }
  return h;
}

double Best(const History& h) {
  double best = INFINITY;
  for (const Trial& t : h) {
    if (t.HasObjective()) best = std::min(best, *t.objective);
  }
  return best;
}

class EverySamplerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EverySamplerTest, SuggestionsStayInTheSpaceAndRespectStepsAndLists) {
  const SearchSpace space = Space(kMixed);
  auto sampler = Make(GetParam(), space, 1);
  ASSERT_TRUE(sampler);
  std::vector<Suggestion> all;
  RunExperiment(*sampler, space, 60, 3, &all);
  ASSERT_GE(all.size(), 10u);
  for (const Suggestion& s : all) {
    ASSERT_EQ(s.point.size(), space.size());
    for (double u : s.point) {
      EXPECT_GE(u, 0);
      EXPECT_LE(u, 1);
    }
    auto encoded = space.Encode(s.assignment);  // fails for any value outside the space
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    const double lr = std::stod(s.assignment[0].value);
    EXPECT_NEAR((lr - 0.01) / 0.005, std::round((lr - 0.01) / 0.005), 1e-9);
    EXPECT_EQ(s.assignment[2].value.find('.'), std::string::npos);
  }
}

TEST_P(EverySamplerTest, SameSeedSameSuggestionsOtherSeedOthers) {
  const SearchSpace space = Space(kMixed);
  auto a = Make(GetParam(), space, 11), b = Make(GetParam(), space, 11),
       c = Make(GetParam(), space, 12);
  std::vector<Suggestion> sa, sb, sc;
  RunExperiment(*a, space, 40, 2, &sa);
  RunExperiment(*b, space, 40, 2, &sb);
  RunExperiment(*c, space, 40, 2, &sc);
  ASSERT_EQ(sa.size(), sb.size());
  bool differs = false;
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].point, sb[i].point) << i;
    if (i < sc.size() && sa[i].point != sc[i].point) differs = true;
  }
  EXPECT_TRUE(differs);
}

TEST_P(EverySamplerTest, ParallelSuggestionsAreDistinct) {
  const SearchSpace space =
      Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
)");
  auto sampler = Make(GetParam(), space, 3);
  History h = RunExperiment(*sampler, space, 30, 1);  // past the start-up phase of model-based samplers
  auto r = sampler->Suggest(h, 4);
  ASSERT_TRUE(r.ok());
  std::set<std::vector<double>> points;
  for (const auto& s : r->suggestions) points.insert(s.point);
  EXPECT_EQ(points.size(), r->suggestions.size());
  // The same holds when the earlier ones are already running rather than in the same call.
  if (!r->suggestions.empty()) {
    Trial t;
    t.point = r->suggestions[0].point;
    t.labels = r->suggestions[0].labels;
    h.push_back(t);
    auto next = sampler->Suggest(h, 1);
    ASSERT_TRUE(next.ok());
    if (!next->suggestions.empty()) {
      EXPECT_NE(next->suggestions[0].point, t.point);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Samplers, EverySamplerTest,
                         ::testing::Values("random", "sobol", "tpe", "multivariate-tpe",
                                           "bayesianoptimization", "cmaes", "pbt"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(MakeSamplerTest, RejectsUnknownAlgorithmsAndSettings) {
  const SearchSpace space = Space(kMixed);
  auto unknown = MakeSampler({"annealing", {}}, space, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("spec.algorithm.algorithmName"), std::string::npos);
  auto bad_setting = MakeSampler({"tpe", {{"n_EI_candidates", "24"}, {"colour", "red"}}}, space, {});
  ASSERT_FALSE(bad_setting.ok());
  EXPECT_NE(bad_setting.status().message().find("spec.algorithm.algorithmSettings[1].name"),
            std::string::npos)
      << bad_setting.status().message();
  auto bad_value = MakeSampler({"tpe", {{"gamma", "lots"}}}, space, {});
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("algorithmSettings[0].value"), std::string::npos);
}

TEST(MakeSamplerTest, ParsesKatibAlgorithmSpec) {
  auto spec = ParseAlgorithmSpec(ParseYaml(R"(
algorithmName: bayesianoptimization
algorithmSettings:
  - {name: random_state, value: "10"}
)").value());
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->name, "bayesianoptimization");
  ASSERT_EQ(spec->settings.size(), 1u);
  EXPECT_EQ(spec->settings[0].second, "10");
  EXPECT_FALSE(ParseAlgorithmSpec(ParseYaml("algorithmSettings: []").value()).ok());
}

TEST(GridSamplerTest, EnumeratesEveryCombinationOnceThenReportsExhaustion) {
  const SearchSpace space = Space(R"(
- {name: lr, parameterType: double, feasibleSpace: {min: "0.01", max: "0.05", step: "0.01"}}
- {name: opt, parameterType: categorical, feasibleSpace: {list: [sgd, adam]}}
)");
  auto grid = Make("grid", space, 0);
  History h;
  std::set<std::string> seen;
  bool exhausted = false;
  for (int round = 0; round < 20 && !exhausted; ++round) {
    auto r = grid->Suggest(h, 3);
    ASSERT_TRUE(r.ok());
    for (const auto& s : r->suggestions) {
      EXPECT_TRUE(seen.insert(s.assignment[0].value + "/" + s.assignment[1].value).second);
      Trial t;
      t.point = s.point;
      t.labels = s.labels;
      t.state = TrialState::kCompleted;
      t.objective = 1;
      h.push_back(t);
    }
    exhausted = r->exhausted;
  }
  EXPECT_TRUE(exhausted);
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_TRUE(seen.count("0.03/adam"));
  auto after = grid->Suggest(h, 1);
  EXPECT_TRUE(after->suggestions.empty());
  EXPECT_TRUE(after->exhausted);
  EXPECT_FALSE(MakeSampler({"grid", {}}, Space(kMixed), {}).ok()) << "momentum has no step";
}

TEST(SobolSamplerTest, UnscrambledStartsWithTheKnownSequence) {
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
)");
  auto sobol = Make("sobol", space, 0, {{"scramble", "false"}});
  auto r = sobol->Suggest({}, 4);
  ASSERT_TRUE(r.ok());
  const std::vector<std::vector<double>> want = {{0, 0}, {0.5, 0.5}, {0.75, 0.25}, {0.25, 0.75}};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(r->suggestions[i].point, want[i]) << i;
}

TEST(SobolSamplerTest, EveryDimensionIsStratifiedScrambledOrNot) {
  std::string yaml;
  for (int d = 0; d < 40; ++d) {
    yaml += "- {name: p" + std::to_string(d) +
            ", parameterType: double, feasibleSpace: {min: \"0\", max: \"1\"}}\n";
  }
  const SearchSpace space = Space(yaml.c_str());
  for (const char* scramble : {"false", "true"}) {
    auto sobol = Make("sobol", space, 5, {{"scramble", scramble}});
    auto r = sobol->Suggest({}, 256);
    ASSERT_TRUE(r.ok());
    for (size_t d = 0; d < 40; ++d) {
      std::set<int> cells;
      for (const auto& s : r->suggestions) cells.insert(static_cast<int>(s.point[d] * 256));
      EXPECT_EQ(cells.size(), 256u) << "dimension " << d << " scramble " << scramble;
    }
    // The first two dimensions form a (0,m,2)-net: 16 points fill a 4x4 grid.
    for (size_t d = 0; d < 1; ++d) {
      std::set<int> cells;
      for (int i = 0; i < 16; ++i) {
        const auto& p = r->suggestions[i].point;
        cells.insert(static_cast<int>(p[d] * 4) * 4 + static_cast<int>(p[d + 1] * 4));
      }
      EXPECT_EQ(cells.size(), 16u) << "dimensions " << d << "," << d + 1;
    }
  }
}

TEST(RandomSamplerTest, StratifiedByDefaultAndTheSameOneAtATime) {
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "-5", max: "10"}}
- {name: b, parameterType: double, feasibleSpace: {min: "0", max: "15"}}
- {name: c, parameterType: double, feasibleSpace: {min: "0.001", max: "1", distribution: logUniform}}
)");
  auto batch = Make("random", space, 9)->Suggest({}, 64);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->suggestions.size(), 64u);
  // Every coordinate of the first 64 points falls in a different 1/64 of its range.
  for (size_t d = 0; d < 3; ++d) {
    std::set<int> cells;
    for (const auto& s : batch->suggestions) {
      EXPECT_GE(s.point[d], 0);
      EXPECT_LT(s.point[d], 1);
      cells.insert(static_cast<int>(s.point[d] * 64));
    }
    EXPECT_EQ(cells.size(), 64u) << "dimension " << d;
  }
  // Asked one at a time with the history growing (and a failed trial in it), the stream is
  // the same: each trial's place in it is in its labels.
  auto sampler = Make("random", space, 9);
  History h;
  for (int i = 0; i < 64; ++i) {
    auto r = sampler->Suggest(h, 1);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->suggestions.size(), 1u);
    EXPECT_EQ(r->suggestions[0].point, batch->suggestions[i].point) << i;
    EXPECT_EQ(r->suggestions[0].labels.at("random.index"), std::to_string(i));
    Trial t;
    t.point = r->suggestions[0].point;
    t.labels = r->suggestions[0].labels;
    t.state = i == 5 ? TrialState::kFailed : TrialState::kCompleted;
    if (i != 5) t.objective = 1;
    h.push_back(t);
  }
  auto other = Make("random", space, 10)->Suggest({}, 4);
  EXPECT_NE(other->suggestions[0].point, batch->suggestions[0].point);
}

TEST(RandomSamplerTest, IndependentDrawsOnRequestAndBadValuesNamed) {
  const SearchSpace space = Space(R"(- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}})");
  auto iid = Make("random", space, 9, {{"stratified", "false"}});
  auto r = iid->Suggest({}, 64);
  ASSERT_TRUE(r.ok());
  std::set<int> cells;
  for (const auto& s : r->suggestions) {
    EXPECT_EQ(s.labels.count("random.index"), 0u);
    cells.insert(static_cast<int>(s.point[0] * 64));
  }
  // 64 independent uniforms almost never land in 64 different cells (probability ~1e-27).
  EXPECT_LT(cells.size(), 64u);
  auto bad = MakeSampler({"random", {{"stratified", "maybe"}}}, space, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spec.algorithm.algorithmSettings[0].value"),
            std::string::npos)
      << bad.status().message();
}

TEST(CmaEsSamplerTest, StaysInTheBoxWhenTheOptimumIsOnItsCorner) {
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: c, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
)");
  for (const char* restart : {"none", "ipop"}) {
    auto cma = Make("cmaes", space, 4, {{"restart_strategy", restart}});
    History h;
    for (int i = 0; i < 150; ++i) {
      auto r = cma->Suggest(h, 1);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->suggestions.size(), 1u);
      Trial t;
      t.point = r->suggestions[0].point;
      t.labels = r->suggestions[0].labels;
      t.state = TrialState::kCompleted;
      double f = 0;
      for (double u : t.point) {
        ASSERT_GE(u, 0);
        ASSERT_LE(u, 1);
        f += (u + 0.3) * (u + 0.3);  // the unconstrained minimum lies outside, at -0.3
      }
      t.objective = f;
      h.push_back(t);
    }
    // The best point found sits at the corner the box allows.
    EXPECT_LT(Best(h), 3 * 0.3 * 0.3 + 0.03) << restart;
  }
}

TEST(GpSamplerTest, RefinesTheOptimumOfAHeavyTailedObjective) {
  // Rosenbrock-like walls: values span five orders of magnitude. The warped GP must still
  // home in on the valley floor near (1, 1) within a small budget.
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "-2", max: "2"}}
- {name: b, parameterType: double, feasibleSpace: {min: "-1", max: "3"}}
)");
  auto f = [&](const std::vector<double>& u) {
    const std::vector<double> x = space.DecodeNumbers(u);
    return 100 * std::pow(x[1] - x[0] * x[0], 2) + std::pow(1 - x[0], 2);
  };
  int wins = 0;
  for (uint64_t seed = 0; seed < 3; ++seed) {
    History hg, hr;
    auto gp = Make("bayesianoptimization", space, seed, {{"acq_func", "EI"}});
    auto rnd = Make("random", space, seed);
    for (int i = 0; i < 40; ++i) {
      for (auto [sampler, h] : {std::pair{gp.get(), &hg}, std::pair{rnd.get(), &hr}}) {
        auto r = sampler->Suggest(*h, 1);
        ASSERT_TRUE(r.ok());
        Trial t;
        t.point = r->suggestions[0].point;
        t.labels = r->suggestions[0].labels;
        t.state = TrialState::kCompleted;
        t.objective = f(t.point);
        h->push_back(t);
      }
    }
    wins += Best(hg) < Best(hr) && Best(hg) < 1.0;
  }
  EXPECT_GE(wins, 2);
}

TEST(GpSamplerTest, NeverSuggestsAPointItHasTriedAlready) {
  // The optimum is the box's corner: the acquisition's maximum keeps landing on it, and an
  // evaluated point repeated teaches nothing.
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
)");
  for (uint64_t seed = 0; seed < 3; ++seed) {
    auto gp = Make("bayesianoptimization", space, seed, {{"acq_func", "EI"}, {"n_initial_points", "3"}});
    History h;
    std::set<std::vector<double>> seen;
    for (int i = 0; i < 25; ++i) {
      auto r = gp->Suggest(h, 1);
      ASSERT_TRUE(r.ok());
      Trial t;
      t.point = r->suggestions[0].point;
      t.labels = r->suggestions[0].labels;
      t.state = TrialState::kCompleted;
      t.objective = t.point[0] + t.point[1];
      EXPECT_TRUE(seen.insert(t.point).second) << "seed " << seed << ", trial " << i << " repeats a point";
      h.push_back(t);
    }
    EXPECT_LT(Best(h), 0.05) << "it still finds the corner";
  }
}

TEST(GpSamplerTest, HonoursXiAndRejectsBadValues) {
  const SearchSpace space = Space(R"(- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}})");
  EXPECT_TRUE(MakeSampler({"bayesianoptimization", {{"xi", "0.5"}}}, space, {}).ok());
  auto bad = MakeSampler({"bayesianoptimization", {{"xi", "-1"}}}, space, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("algorithmSettings[0].value"), std::string::npos);
  // A large xi asks for improvements the model cannot promise near the incumbent, so the
  // suggestions after the initial design spread further from the best point than with xi = 0.
  auto spread = [&](const char* xi) {
    auto gp = Make("bayesianoptimization", space, 7, {{"xi", xi}, {"acq_func", "EI"}});
    History h;
    double dist = 0;
    for (int i = 0; i < 30; ++i) {
      auto r = gp->Suggest(h, 1);
      Trial t;
      t.point = r->suggestions[0].point;
      t.state = TrialState::kCompleted;
      t.objective = std::pow(t.point[0] - 0.3, 2);
      if (i >= 15) dist += std::abs(t.point[0] - 0.3);
      h.push_back(t);
    }
    return dist;
  };
  EXPECT_LT(spread("0"), spread("5"));
}

TEST(TpeSamplerTest, StartUpTrialsAreStratifiedAndReplayable) {
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: double, feasibleSpace: {min: "-3", max: "3"}}
)");
  for (const char* name : {"tpe", "multivariate-tpe", "bayesianoptimization"}) {
    auto sampler = Make(name, space, 21, {{name == std::string("bayesianoptimization")
                                               ? "n_initial_points"
                                               : "n_startup_trials",
                                           "16"}});
    History h;
    std::vector<std::vector<double>> points;
    for (int i = 0; i < 16; ++i) {
      auto r = sampler->Suggest(h, 1);
      ASSERT_TRUE(r.ok());
      // Asking again with the same history gives the same point.
      EXPECT_EQ(sampler->Suggest(h, 1)->suggestions[0].point, r->suggestions[0].point);
      Trial t;
      t.point = r->suggestions[0].point;
      t.state = TrialState::kCompleted;
      t.objective = t.point[0] + t.point[1];
      h.push_back(t);
      points.push_back(t.point);
    }
    for (size_t d = 0; d < 2; ++d) {
      std::set<int> cells;
      for (const auto& p : points) cells.insert(static_cast<int>(p[d] * 16));
      EXPECT_EQ(cells.size(), 16u) << name << " dimension " << d;
    }
  }
}

TEST(TpeSamplerTest, FindsBetterPointsThanRandomSearch) {
  const SearchSpace space = Space(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: c, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
)");
  for (const char* name : {"tpe", "multivariate-tpe", "bayesianoptimization", "cmaes"}) {
    int wins = 0;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      const double model = Best(RunExperiment(*Make(name, space, seed), space, 60, 1));
      const double random = Best(RunExperiment(*Make("random", space, seed), space, 60, 1));
      wins += model < random;
    }
    EXPECT_GE(wins, 4) << name;
  }
}

// Long runs: past ~100 trials the magic clip lets kernels narrow below Optuna's 1% floor (down to
// 0.1% of a range). Suggestions must still land on steps, integers, list entries and inside log
// ranges, and stay a replayable function of (seed, history).
TEST(TpeSamplerTest, LongRunsKeepTheSpaceContractAndReplay) {
  const SearchSpace space = Space(kMixed);
  for (const char* name : {"tpe", "multivariate-tpe"}) {
    auto a = Make(name, space, 5), b = Make(name, space, 5);
    std::vector<Suggestion> all;
    History h = RunExperiment(*a, space, 240, 2, &all);
    ASSERT_EQ(all.size(), 240u) << name;
    for (const Suggestion& s : all) {
      auto encoded = space.Encode(s.assignment);
      ASSERT_TRUE(encoded.ok()) << name << ": " << encoded.status().ToString();
      const double lr = std::stod(s.assignment[0].value);
      EXPECT_NEAR((lr - 0.01) / 0.005, std::round((lr - 0.01) / 0.005), 1e-9) << name;
      const double momentum = std::stod(s.assignment[1].value);
      EXPECT_GE(momentum, 0.001) << name;
      EXPECT_LE(momentum, 1) << name;
      EXPECT_EQ(s.assignment[2].value.find('.'), std::string::npos) << name;
      const std::string& batch = s.assignment[3].value;
      EXPECT_TRUE(batch == "16" || batch == "32" || batch == "64") << name << ": " << batch;
    }
    // Another sampler with the same seed, asked with the same long history, agrees.
    auto ra = a->Suggest(h, 3), rb = b->Suggest(h, 3);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->suggestions.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(ra->suggestions[i].point, rb->suggestions[i].point) << name << " " << i;
    }
  }
}

// The point of the steeper magic clip: late in a run TPE samples closer around the best point
// than a kernel 1% of the range wide (Optuna's floor) would. On a 1-D bowl with its minimum at
// 0.3, the median distance of the last 50 of 200 suggestions to it is under 1.5% of the range.
TEST(TpeSamplerTest, LateSuggestionsNarrowAroundTheOptimum) {
  const SearchSpace space =
      Space(R"(- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}})");
  std::vector<double> late;
  for (uint64_t seed = 0; seed < 3; ++seed) {
    auto tpe = Make("tpe", space, seed);
    History h;
    for (int i = 0; i < 200; ++i) {
      auto r = tpe->Suggest(h, 1);
      ASSERT_TRUE(r.ok());
      Trial t;
      t.point = r->suggestions[0].point;
      t.state = TrialState::kCompleted;
      t.objective = std::pow(t.point[0] - 0.3, 2);
      if (i >= 150) late.push_back(std::abs(t.point[0] - 0.3));
      h.push_back(t);
    }
  }
  std::sort(late.begin(), late.end());
  // Measured: 0.010 with this clip, 0.023 with Optuna's (exponent 1, floor 0.01).
  EXPECT_LT(late[late.size() / 2], 0.015);
}

TEST(TpeSamplerTest, MaximizeLooksForLargeValues) {
  const SearchSpace space = Space(R"(- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}})");
  auto tpe = Make("tpe", space, 2, {}, Goal::kMaximize);
  History h;
  for (int i = 0; i < 40; ++i) {
    auto r = tpe->Suggest(h, 1);
    Trial t;
    t.point = r->suggestions[0].point;
    t.state = TrialState::kCompleted;
    t.objective = t.point[0];  // larger is better
    h.push_back(t);
  }
  double late = 0;
  for (int i = 30; i < 40; ++i) late += h[i].point[0] / 10;
  EXPECT_GT(late, 0.75);
}

}  // namespace
}  // namespace skiff::tuning
