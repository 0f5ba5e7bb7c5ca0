// Population Based Training (Jaderberg et al., 2017), Katib's `pbt`, in synchronous
// generations: generation 0 is `n_population` random members; once every member of generation
// g has finished, member j of generation g+1 either continues member j (its checkpoint and
// hyperparameters) or, if j ranked in the bottom `truncation_threshold`, exploits a member of
// the top `truncation_threshold` (copies its checkpoint: `parent_trial`) and explores: each
// hyperparameter is resampled with `resample_probability`, else multiplied by 0.8 or 1.2
// (lists move one entry). The controller hands checkpoints over; this only decides.
#include <algorithm>
#include <cmath>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning::internal {
namespace {

class PbtSampler final : public Sampler {
 public:
  PbtSampler(const SearchSpace& space, int population, double truncation, double resample,
             Goal goal, uint64_t seed)
      : space_(space), population_(population), truncation_(truncation), resample_(resample),
        goal_(goal), seed_(seed) {}

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    std::vector<std::vector<const Trial*>> gens;
    for (const Trial& t : history) {
      auto g = t.labels.find("pbt.generation"), m = t.labels.find("pbt.member");
      if (g == t.labels.end() || m == t.labels.end()) continue;
      const size_t gi = std::stoul(g->second), mi = std::stoul(m->second);
      if (gi >= gens.size()) gens.resize(gi + 1);
      auto& gen = gens[gi];
      if (mi >= gen.size()) gen.resize(mi + 1, nullptr);
      gen[mi] = &t;
    }
    // Fill the last generation; once it is full and finished, start the next one.
    SuggestResult out;
    size_t target = 0;
    if (!gens.empty()) {
      target = gens.size() - 1;
      if (Full(gens[target])) {
        for (const Trial* t : gens[target]) {
          if (t && t->state == TrialState::kRunning) return out;  // wait for the generation
        }
        ++target;
      }
    }
    std::vector<const Trial*> existing = target < gens.size() ? gens[target]
                                                              : std::vector<const Trial*>{};
    existing.resize(population_, nullptr);
    for (int j = 0; j < population_ && static_cast<int>(out.suggestions.size()) < n; ++j) {
      if (existing[j]) continue;
      Rng rng(MixSeed({seed_, 0x504254, target, static_cast<uint64_t>(j)}));
      Suggestion s;
      if (target == 0) {
        s = MakeSuggestion(space_, RandomPoint(space_, rng));
      } else {
        s = Next(gens[target - 1], j, rng);
      }
      s.labels["pbt.generation"] = std::to_string(target);
      s.labels["pbt.member"] = std::to_string(j);
      out.suggestions.push_back(std::move(s));
    }
    return out;
  }

 private:
  bool Full(const std::vector<const Trial*>& gen) const {
    if (static_cast<int>(gen.size()) < population_) return false;
    return std::all_of(gen.begin(), gen.begin() + population_, [](const Trial* t) { return t; });
  }

  Suggestion Next(const std::vector<const Trial*>& prev, int j, Rng& rng) const {
    std::vector<int> order(population_);
    for (int i = 0; i < population_; ++i) order[i] = i;
    auto loss = [&](int i) {
      return prev[i]->HasObjective() ? Loss(goal_, *prev[i]->objective) : INFINITY;
    };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return loss(a) < loss(b); });
    const int cut = std::max(1, static_cast<int>(std::floor(truncation_ * population_)));
    const int rank = static_cast<int>(std::find(order.begin(), order.end(), j) - order.begin());
    Suggestion s;
    if (rank < population_ - cut) {  // keep going
      s = MakeSuggestion(space_, prev[j]->point);
      s.parent_trial = prev[j]->name;
      return s;
    }
    const Trial* parent = prev[order[rng.Below(cut)]];
    std::vector<double> point = parent->point;
    for (size_t d = 0; d < point.size(); ++d) {
      const Parameter& p = space_.parameter(d);
      if (rng.Bernoulli(resample_)) {
        point[d] = rng.Uniform();
      } else if (p.IsList()) {
        const double step = 1.0 / static_cast<double>(p.list.size());
        point[d] = std::clamp(point[d] + (rng.Bernoulli(0.5) ? step : -step), 0.0, 1.0);
      } else {
        const double v = space_.DecodeNumber(d, point[d]) * (rng.Bernoulli(0.5) ? 0.8 : 1.2);
        auto u = space_.EncodeNumber(d, std::clamp(v, p.min, p.max));
        if (u.ok()) point[d] = *u;
      }
    }
    s = MakeSuggestion(space_, point);
    s.parent_trial = parent->name;
    return s;
  }

  SearchSpace space_;
  int population_;
  double truncation_, resample_;
  Goal goal_;
  uint64_t seed_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> NewPbtSampler(const SearchSpace& space, Settings& s, Goal goal,
                                               uint64_t seed) {
  SKIFF_ASSIGN_OR_RETURN(int population, s.Int("n_population", 40, 2, 100000));
  SKIFF_ASSIGN_OR_RETURN(double truncation, s.Number("truncation_threshold", 0.2, 0, 0.5));
  SKIFF_ASSIGN_OR_RETURN(double resample, s.Number("resample_probability", 0, 0, 1));
  if (s.Has("suggestion_trial_dir")) {
    SKIFF_ASSIGN_OR_RETURN(std::string dir, s.String("suggestion_trial_dir", ""));
  }
  return std::unique_ptr<Sampler>(
      std::make_unique<PbtSampler>(space, population, truncation, resample, goal, seed));
}

}  // namespace skiff::tuning::internal
