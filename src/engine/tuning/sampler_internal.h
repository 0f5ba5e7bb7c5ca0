// Shared pieces of the sampler implementations; not part of the module's interface.
#pragma once

#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/tuning/rng.h"
#include "engine/tuning/sampler.h"

namespace skiff::tuning::internal {

// Reads `algorithmSettings` by name, remembering which were used so unknown names are reported.
class Settings {
 public:
  Settings(const AlgorithmSpec& spec, std::string path) : spec_(spec), path_(std::move(path)) {}
  Result<double> Number(std::string_view name, double fallback, double lo, double hi);
  Result<int> Int(std::string_view name, int fallback, int lo, int hi);
  Result<std::string> Choice(std::string_view name, std::string_view fallback,
                             const std::vector<std::string>& allowed);
  Result<std::string> String(std::string_view name, std::string_view fallback);
  bool Has(std::string_view name) const;
  // InvalidArgument for the first setting no getter asked for.
  Status CheckAllUsed() const;

 private:
  const std::string* Find(std::string_view name, size_t* index);
  const AlgorithmSpec& spec_;
  std::string path_;
  std::set<size_t> used_;
};

// Objective values as losses (minimize): negated for maximize.
inline double Loss(Goal goal, double objective) {
  return goal == Goal::kMaximize ? -objective : objective;
}

// Uniform point in the unit cube, snapped onto allowed values.
std::vector<double> RandomPoint(const SearchSpace& space, Rng& rng);

Suggestion MakeSuggestion(const SearchSpace& space, std::vector<double> point);

// A seed for one Suggest call: depends on the sampler seed, a salt and the history's size.
inline uint64_t CallSeed(uint64_t seed, uint64_t salt, const History& history) {
  return MixSeed({seed, salt, static_cast<uint64_t>(history.size())});
}

// Sobol' points in [0,1)^dims (Joe-Kuo directions, Gray-code order), optionally with a random
// linear matrix scramble and digital shift drawn from `seed`: with the shift each point is
// uniform on the cube, and every prefix of 2^k points stays a (t,k,s)-net.
class ScrambledSobol {
 public:
  ScrambledSobol(size_t dims, bool scramble, uint64_t seed);
  std::vector<double> Point(uint64_t index) const;
  static size_t MaxDims();

 private:
  std::vector<std::vector<uint32_t>> directions_;
  std::vector<uint32_t> shift_;
};

Result<std::unique_ptr<Sampler>> NewRandomSampler(const SearchSpace& space, Settings& s,
                                                  uint64_t seed);
Result<std::unique_ptr<Sampler>> NewGridSampler(const SearchSpace& space);
Result<std::unique_ptr<Sampler>> NewSobolSampler(const SearchSpace& space, Settings& s,
                                                 uint64_t seed);
Result<std::unique_ptr<Sampler>> NewTpeSampler(const SearchSpace& space, Settings& s, Goal goal,
                                               uint64_t seed, bool multivariate);
Result<std::unique_ptr<Sampler>> NewGpSampler(const SearchSpace& space, Settings& s, Goal goal,
                                              uint64_t seed);
Result<std::unique_ptr<Sampler>> NewCmaEsSampler(const SearchSpace& space, Settings& s, Goal goal,
                                                 uint64_t seed);
Result<std::unique_ptr<Sampler>> NewHyperbandSampler(const SearchSpace& space, Settings& s,
                                                     Goal goal, uint64_t seed);
Result<std::unique_ptr<Sampler>> NewPbtSampler(const SearchSpace& space, Settings& s, Goal goal,
                                               uint64_t seed);

}  // namespace skiff::tuning::internal
