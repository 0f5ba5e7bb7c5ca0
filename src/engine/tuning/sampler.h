// Samplers: Katib's suggestion algorithms as pure functions of (seed, history, n).
//
// A controller keeps the Experiment's Trials; before creating new ones it calls
// `Sampler::Suggest(history, n)` with every Trial so far (completed, failed, early-stopped and
// still running) and creates what comes back. A sampler keeps no state between calls: its
// random stream is derived from the seed and the history, and algorithms with an internal state
// (CMA-ES, Hyperband, PBT) rebuild it from the history, using the `labels` they attached to
// their earlier suggestions. So a restarted controller asks again and gets the same answer, and
// a failed create is retried without skew.
//
// Running (pending) trials take part: model-based samplers treat them as a "constant liar"
// (the worst value seen) so parallel suggestions spread out instead of piling onto one point,
// and several suggestions from one call are drawn the same way, one after the other.
//
// Suggest returns fewer than n when the algorithm must wait for running trials (the rest of a
// Hyperband rung, a CMA-ES generation) and sets `exhausted` when it will never suggest again
// (grid done, Hyperband's last bracket finished).
//
// Samplers are immutable after construction; `Suggest` is const and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "engine/tuning/search_space.h"

namespace skiff::tuning {

enum class Goal { kMinimize, kMaximize };

enum class TrialState {
  kRunning,       // created, no final objective yet
  kCompleted,     // objective known
  kEarlyStopped,  // stopped by an early-stopping rule; objective is the last reported value
  kFailed,        // no objective
};

struct Trial {
  std::string name;
  std::vector<double> point;  // unit-cube encoding (SearchSpace::Encode)
  TrialState state = TrialState::kRunning;
  std::optional<double> objective;  // as the user reports it (not negated for maximize)
  std::map<std::string, std::string> labels;  // copied from the Suggestion that created it
  // Objective reports by step (epoch), for PBT and early stopping.
  std::vector<double> intermediate;

  bool HasObjective() const {
    return objective.has_value() &&
           (state == TrialState::kCompleted || state == TrialState::kEarlyStopped);
  }
};

// Trials in creation order.
using History = std::vector<Trial>;

struct Suggestion {
  std::vector<double> point;
  Assignment assignment;
  // Bookkeeping the sampler needs back in later histories (store them on the Trial).
  std::map<std::string, std::string> labels;
  // PBT and Hyperband promotions: the Trial whose checkpoint the new Trial starts from.
  std::string parent_trial;
};

struct SuggestResult {
  std::vector<Suggestion> suggestions;
  bool exhausted = false;
};

// Katib's `spec.algorithm` / `spec.earlyStopping`: a name and string settings.
struct AlgorithmSpec {
  std::string name;
  std::vector<std::pair<std::string, std::string>> settings;
};
Result<AlgorithmSpec> ParseAlgorithmSpec(const Json& algorithm,
                                         std::string_view path = "spec.algorithm");

struct SamplerOptions {
  Goal goal = Goal::kMinimize;
  uint64_t seed = 0;  // `random_state` in the settings overrides it
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual Result<SuggestResult> Suggest(const History& history, int n) const = 0;
};

// Builds the sampler named by `spec.name` (random, grid, sobol, tpe, multivariate-tpe,
// bayesianoptimization, cmaes, hyperband, pbt). Unknown names and settings, and bad setting
// values, are InvalidArgument naming `spec.algorithm.algorithmSettings[i]`.
Result<std::unique_ptr<Sampler>> MakeSampler(const AlgorithmSpec& spec, const SearchSpace& space,
                                             const SamplerOptions& options);

// The names MakeSampler accepts.
std::vector<std::string> SamplerNames();

}  // namespace skiff::tuning
