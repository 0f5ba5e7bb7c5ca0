// Early-stopping rules: given a running Trial's intermediate objective reports (one per step)
// and the other Trials, decide whether to stop it now.
//   - `medianstop`: Katib's rule under Katib's name. After `start_step` reports, once at least
//     `min_trials_required` Trials have completed, stop a Trial whose latest value is worse
//     than the MEAN over completed Trials of their average of the first `start_step` reports
//     (Katib's service computes that mean and calls it the median; we keep its behaviour).
//   - `truemedianstop`: the median rule of Google Vizier: at step s >= start_step, stop a Trial
//     whose best value so far is worse than the median of the other completed Trials' running
//     averages over their first s reports.
//   - `asha`: asynchronous successive halving for Hyperband-style budgets. Rungs sit at steps
//     min_resource * reduction_factor^(k + min_early_stopping_rate); on reaching a rung a Trial
//     continues only if its value there is among the best 1/reduction_factor of all Trials that
//     reached the rung (at least the best one always continues).
// Rules are immutable and thread-safe.
#pragma once

#include <memory>

#include "engine/tuning/sampler.h"

namespace skiff::tuning {

class EarlyStoppingRule {
 public:
  virtual ~EarlyStoppingRule() = default;
  // `trial` is one of `history` (matched by name) or a Trial not yet in it.
  virtual bool ShouldStop(const Trial& trial, const History& history) const = 0;
};

// Builds the rule named by Katib's `spec.earlyStopping` (medianstop, truemedianstop, asha).
Result<std::unique_ptr<EarlyStoppingRule>> MakeEarlyStoppingRule(const AlgorithmSpec& spec,
                                                                 Goal goal);

}  // namespace skiff::tuning
