// Hyperband as a sampler: brackets run one after the other; within a bracket each rung waits
// for the previous one to finish, then promotes its best trials (new Trials whose parent is the
// promoted one, with the resource parameter raised). Labels `hyperband.bracket` and
// `hyperband.rung` carry the position of each Trial, so the schedule is replayed from history.
#include "engine/tuning/hyperband.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning {

std::vector<HyperbandBracket> HyperbandSchedule(double r_l, double eta) {
  const int s_max = static_cast<int>(std::floor(std::log(r_l) / std::log(eta) + 1e-9));
  const double budget = (s_max + 1) * r_l;
  std::vector<HyperbandBracket> out;
  for (int s = s_max; s >= 0; --s) {
    HyperbandBracket b{s, {}};
    const int n = static_cast<int>(std::ceil(budget / r_l * std::pow(eta, s) / (s + 1) - 1e-9));
    const double r = r_l * std::pow(eta, -s);
    for (int i = 0; i <= s; ++i) {
      b.rungs.push_back({static_cast<int>(std::floor(n * std::pow(eta, -i) + 1e-9)),
                         r * std::pow(eta, i)});
    }
    out.push_back(std::move(b));
  }
  return out;
}

namespace internal {
namespace {

class HyperbandSampler final : public Sampler {
 public:
  HyperbandSampler(const SearchSpace& space, int resource, double r_l, double eta, Goal goal,
                   uint64_t seed)
      : space_(space), resource_(resource), schedule_(HyperbandSchedule(r_l, eta)), goal_(goal),
        seed_(seed) {}

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    Rng rng(CallSeed(seed_, 0x4842, history));
    SuggestResult out;
    for (const HyperbandBracket& b : schedule_) {
      for (size_t i = 0; i < b.rungs.size(); ++i) {
        std::vector<const Trial*> rung = Members(history, b.s, static_cast<int>(i));
        int want = b.rungs[i].trials;
        std::vector<const Trial*> promotable;
        if (i > 0) {
          for (const Trial* t : Members(history, b.s, static_cast<int>(i) - 1)) {
            if (t->HasObjective()) promotable.push_back(t);
          }
          std::stable_sort(promotable.begin(), promotable.end(), [&](const Trial* a, const Trial* c) {
            return Loss(goal_, *a->objective) < Loss(goal_, *c->objective);
          });
          want = std::min<int>(want, static_cast<int>(promotable.size()));
          promotable.resize(want);
        }
        if (static_cast<int>(rung.size()) < want) {
          std::set<std::string> promoted;
          for (const Trial* t : rung) {
            auto it = t->labels.find("hyperband.parent");
            if (it != t->labels.end()) promoted.insert(it->second);
          }
          for (int k = static_cast<int>(rung.size());
               k < want && static_cast<int>(out.suggestions.size()) < n; ++k) {
            Suggestion s;
            if (i == 0) {
              s = MakeSuggestion(space_, RandomPoint(space_, rng));
            } else {
              const Trial* parent = nullptr;
              for (const Trial* t : promotable) {
                if (!promoted.count(t->name)) {
                  parent = t;
                  break;
                }
              }
              if (!parent) break;
              promoted.insert(parent->name);
              s = MakeSuggestion(space_, parent->point);
              s.parent_trial = parent->name;
              s.labels["hyperband.parent"] = parent->name;
            }
            const Parameter& p = space_.parameter(resource_);
            const double r = b.rungs[i].resource;
            s.assignment[resource_].value = p.type == ParameterType::kInt
                                                ? std::to_string(std::llround(std::max(1.0, r)))
                                                : FormatNumber(r);
            s.labels["hyperband.bracket"] = std::to_string(b.s);
            s.labels["hyperband.rung"] = std::to_string(i);
            out.suggestions.push_back(std::move(s));
          }
          return out;  // the rest of this rung first
        }
        for (const Trial* t : rung) {
          if (t->state == TrialState::kRunning) return out;  // wait for the rung
        }
      }
    }
    out.exhausted = true;
    return out;
  }

 private:
  static std::vector<const Trial*> Members(const History& h, int s, int rung) {
    std::vector<const Trial*> out;
    const std::string bs = std::to_string(s), rs = std::to_string(rung);
    for (const Trial& t : h) {
      auto b = t.labels.find("hyperband.bracket"), r = t.labels.find("hyperband.rung");
      if (b != t.labels.end() && r != t.labels.end() && b->second == bs && r->second == rs) {
        out.push_back(&t);
      }
    }
    return out;
  }

  SearchSpace space_;
  int resource_;
  std::vector<HyperbandBracket> schedule_;
  Goal goal_;
  uint64_t seed_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> NewHyperbandSampler(const SearchSpace& space, Settings& s,
                                                     Goal goal, uint64_t seed) {
  if (!s.Has("resource_name")) {
    return InvalidArgument("spec.algorithm.algorithmSettings: hyperband needs resource_name");
  }
  if (!s.Has("r_l")) return InvalidArgument("spec.algorithm.algorithmSettings: hyperband needs r_l");
  std::vector<std::string> names;
  for (const Parameter& p : space.parameters()) {
    if (!p.IsList()) names.push_back(p.name);
  }
  SKIFF_ASSIGN_OR_RETURN(std::string resource, s.Choice("resource_name", "", names));
  SKIFF_ASSIGN_OR_RETURN(double eta, s.Number("eta", 3, 1.0 + 1e-9, 1e6));
  SKIFF_ASSIGN_OR_RETURN(double r_l, s.Number("r_l", 1, 1e-9, 1e12));
  return std::unique_ptr<Sampler>(
      std::make_unique<HyperbandSampler>(space, space.Index(resource), r_l, eta, goal, seed));
}

}  // namespace internal
}  // namespace skiff::tuning
