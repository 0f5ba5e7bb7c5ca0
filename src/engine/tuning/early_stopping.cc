#include "engine/tuning/early_stopping.h"

#include <algorithm>
#include <cmath>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning {
namespace {

using internal::Loss;

bool Other(const Trial& a, const Trial& b) { return &a != &b && (a.name.empty() || a.name != b.name); }

class KatibMedianStop final : public EarlyStoppingRule {
 public:
  KatibMedianStop(int min_trials, int start_step, Goal goal)
      : min_trials_(min_trials), start_step_(start_step), goal_(goal) {}
  bool ShouldStop(const Trial& trial, const History& history) const override {
    if (static_cast<int>(trial.intermediate.size()) < start_step_) return false;
    double sum = 0;
    int count = 0;
    for (const Trial& t : history) {
      if (!Other(t, trial) || t.state != TrialState::kCompleted || t.intermediate.empty()) continue;
      const size_t k = std::min<size_t>(start_step_, t.intermediate.size());
      double s = 0;
      for (size_t i = 0; i < k; ++i) s += t.intermediate[i];
      sum += s / static_cast<double>(k);
      ++count;
    }
    if (count < min_trials_ || count == 0) return false;
    const double threshold = sum / count;
    return Loss(goal_, trial.intermediate.back()) > Loss(goal_, threshold);
  }

 private:
  int min_trials_, start_step_;
  Goal goal_;
};

class TrueMedianStop final : public EarlyStoppingRule {
 public:
  TrueMedianStop(int min_trials, int start_step, Goal goal)
      : min_trials_(min_trials), start_step_(start_step), goal_(goal) {}
  bool ShouldStop(const Trial& trial, const History& history) const override {
    const size_t step = trial.intermediate.size();
    if (static_cast<int>(step) < start_step_ || step == 0) return false;
    std::vector<double> averages;
    for (const Trial& t : history) {
      if (!Other(t, trial) || t.state != TrialState::kCompleted || t.intermediate.empty()) continue;
      const size_t k = std::min(step, t.intermediate.size());
      double s = 0;
      for (size_t i = 0; i < k; ++i) s += Loss(goal_, t.intermediate[i]);
      averages.push_back(s / static_cast<double>(k));
    }
    if (static_cast<int>(averages.size()) < min_trials_ || averages.empty()) return false;
    std::sort(averages.begin(), averages.end());
    const size_t m = averages.size();
    const double median = m % 2 ? averages[m / 2] : (averages[m / 2 - 1] + averages[m / 2]) / 2;
    double best = INFINITY;
    for (double v : trial.intermediate) best = std::min(best, Loss(goal_, v));
    return best > median;
  }

 private:
  int min_trials_, start_step_;
  Goal goal_;
};

class Asha final : public EarlyStoppingRule {
 public:
  Asha(double min_resource, double eta, int rate, Goal goal)
      : min_resource_(min_resource), eta_(eta), rate_(rate), goal_(goal) {}
  bool ShouldStop(const Trial& trial, const History& history) const override {
    const size_t step = trial.intermediate.size();
    // Is `step` a rung?
    for (int k = 0;; ++k) {
      const double rung = min_resource_ * std::pow(eta_, k + rate_);
      const size_t r = static_cast<size_t>(std::llround(rung));
      if (r > step) return false;
      if (r != step || r == 0) continue;
      std::vector<double> values{Loss(goal_, trial.intermediate[r - 1])};
      for (const Trial& t : history) {
        if (Other(t, trial) && t.intermediate.size() >= r) {
          values.push_back(Loss(goal_, t.intermediate[r - 1]));
        }
      }
      std::sort(values.begin(), values.end());
      const size_t keep = std::max<size_t>(1, static_cast<size_t>(values.size() / eta_));
      return Loss(goal_, trial.intermediate[r - 1]) > values[keep - 1];
    }
  }

 private:
  double min_resource_, eta_;
  int rate_;
  Goal goal_;
};

}  // namespace

Result<std::unique_ptr<EarlyStoppingRule>> MakeEarlyStoppingRule(const AlgorithmSpec& spec,
                                                                 Goal goal) {
  internal::Settings s(spec, "spec.earlyStopping");
  std::unique_ptr<EarlyStoppingRule> rule;
  if (spec.name == "medianstop" || spec.name == "truemedianstop") {
    SKIFF_ASSIGN_OR_RETURN(int min_trials, s.Int("min_trials_required", 3, 0, 1000000));
    SKIFF_ASSIGN_OR_RETURN(int start_step, s.Int("start_step", 4, 1, 1000000));
    if (spec.name == "medianstop") {
      rule = std::make_unique<KatibMedianStop>(min_trials, start_step, goal);
    } else {
      rule = std::make_unique<TrueMedianStop>(min_trials, start_step, goal);
    }
  } else if (spec.name == "asha") {
    SKIFF_ASSIGN_OR_RETURN(double min_resource, s.Number("min_resource", 1, 1, 1e9));
    SKIFF_ASSIGN_OR_RETURN(double eta, s.Number("reduction_factor", 3, 1.0 + 1e-9, 1e6));
    SKIFF_ASSIGN_OR_RETURN(int rate, s.Int("min_early_stopping_rate", 0, 0, 100));
    rule = std::make_unique<Asha>(min_resource, eta, rate, goal);
  } else {
    return InvalidArgument("spec.earlyStopping.algorithmName: unknown rule \"" + spec.name +
                           "\" (known: medianstop, truemedianstop, asha)");
  }
  SKIFF_RETURN_IF_ERROR(s.CheckAllUsed());
  return rule;
}

}  // namespace skiff::tuning
