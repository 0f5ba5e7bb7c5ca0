#include "engine/tuning/sampler.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning {
namespace internal {

const std::string* Settings::Find(std::string_view name, size_t* index) {
  for (size_t i = 0; i < spec_.settings.size(); ++i) {
    if (spec_.settings[i].first == name) {
      *index = i;
      used_.insert(i);
      return &spec_.settings[i].second;
    }
  }
  return nullptr;
}

bool Settings::Has(std::string_view name) const {
  for (const auto& [k, v] : spec_.settings) {
    if (k == name) return true;
  }
  return false;
}

Result<std::string> Settings::String(std::string_view name, std::string_view fallback) {
  size_t i = 0;
  const std::string* v = Find(name, &i);
  return v ? *v : std::string(fallback);
}

Result<double> Settings::Number(std::string_view name, double fallback, double lo, double hi) {
  size_t i = 0;
  const std::string* v = Find(name, &i);
  if (!v) return fallback;
  const std::string where = path_ + ".algorithmSettings[" + std::to_string(i) + "].value";
  double d = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
  if (ec != std::errc() || ptr != v->data() + v->size() || !std::isfinite(d)) {
    return InvalidArgument(where + ": " + std::string(name) + " must be a number (got \"" + *v +
                           "\")");
  }
  if (d < lo || d > hi) {
    return InvalidArgument(where + ": " + std::string(name) + " must be in [" + FormatNumber(lo) +
                           ", " + FormatNumber(hi) + "] (got " + *v + ")");
  }
  return d;
}

Result<int> Settings::Int(std::string_view name, int fallback, int lo, int hi) {
  SKIFF_ASSIGN_OR_RETURN(double d, Number(name, fallback, lo, hi));
  if (d != std::floor(d)) {
    size_t i = 0;
    Find(name, &i);
    return InvalidArgument(path_ + ".algorithmSettings[" + std::to_string(i) + "].value: " +
                           std::string(name) + " must be an integer");
  }
  return static_cast<int>(d);
}

Result<std::string> Settings::Choice(std::string_view name, std::string_view fallback,
                                     const std::vector<std::string>& allowed) {
  size_t i = 0;
  const std::string* v = Find(name, &i);
  if (!v) return std::string(fallback);
  if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return InvalidArgument(path_ + ".algorithmSettings[" + std::to_string(i) + "].value: " +
                           std::string(name) + " must be one of " + list + " (got \"" + *v +
                           "\")");
  }
  return *v;
}

Status Settings::CheckAllUsed() const {
  for (size_t i = 0; i < spec_.settings.size(); ++i) {
    if (!used_.count(i)) {
      return InvalidArgument(path_ + ".algorithmSettings[" + std::to_string(i) +
                             "].name: unknown setting \"" + spec_.settings[i].first +
                             "\" for algorithm " + spec_.name);
    }
  }
  return OkStatus();
}

std::vector<double> RandomPoint(const SearchSpace& space, Rng& rng) {
  std::vector<double> p(space.size());
  for (size_t i = 0; i < p.size(); ++i) p[i] = space.Snap(i, rng.Uniform());
  return p;
}

Suggestion MakeSuggestion(const SearchSpace& space, std::vector<double> point) {
  Suggestion s;
  s.point = space.Snap(point);
  s.assignment = space.Decode(s.point);
  return s;
}

namespace {

// Katib's random search. By default the points are a randomized quasi-random stream: a
// Sobol' sequence under a random linear scramble and digital shift drawn from the seed (its own
// stream, not the `sobol` sampler's). Each point is still uniform on the cube, i.e. drawn from
// the parameters' priors, but together they cover the space more evenly than independent
// draws, which finds better points for the same number of trials (bench/tuning). Each trial
// carries its place in the stream in the label `random.index`. `stratified: "false"` (or more
// than 40 parameters) gives independent uniform draws instead.
class RandomSampler final : public Sampler {
 public:
  RandomSampler(const SearchSpace& space, bool stratified, uint64_t seed)
      : space_(space), seed_(seed) {
    if (stratified && space.size() <= ScrambledSobol::MaxDims()) {
      seq_.emplace(space.size(), true, MixSeed({seed, 0x52414e44, 0x514d43}));
    }
  }

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    SuggestResult out;
    if (!seq_) {
      Rng rng(CallSeed(seed_, 0x52414e44, history));
      for (int i = 0; i < n; ++i) {
        out.suggestions.push_back(MakeSuggestion(space_, RandomPoint(space_, rng)));
      }
      return out;
    }
    uint64_t next = 0;
    for (const Trial& t : history) {
      auto it = t.labels.find("random.index");
      if (it != t.labels.end()) next = std::max<uint64_t>(next, std::stoull(it->second) + 1);
    }
    for (int i = 0; i < n; ++i, ++next) {
      Suggestion s = MakeSuggestion(space_, seq_->Point(next));
      s.labels["random.index"] = std::to_string(next);
      out.suggestions.push_back(std::move(s));
    }
    return out;
  }

 private:
  SearchSpace space_;
  uint64_t seed_;
  std::optional<ScrambledSobol> seq_;
};

// Katib's grid: every combination of the parameters' values (doubles need a step), first
// parameter slowest, in order; each Trial carries its index in the label `grid.index`.
class GridSampler final : public Sampler {
 public:
  GridSampler(const SearchSpace& space, std::vector<std::vector<double>> axes, uint64_t total)
      : space_(space), axes_(std::move(axes)), total_(total) {}

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    std::set<uint64_t> used;
    for (const Trial& t : history) {
      auto it = t.labels.find("grid.index");
      if (it != t.labels.end()) used.insert(std::stoull(it->second));
    }
    SuggestResult out;
    for (uint64_t idx = 0; idx < total_ && static_cast<int>(out.suggestions.size()) < n; ++idx) {
      if (used.count(idx)) continue;
      std::vector<double> point(axes_.size());
      uint64_t rest = idx;
      for (size_t d = axes_.size(); d-- > 0;) {
        point[d] = axes_[d][rest % axes_[d].size()];
        rest /= axes_[d].size();
      }
      Suggestion s = MakeSuggestion(space_, std::move(point));
      s.labels["grid.index"] = std::to_string(idx);
      out.suggestions.push_back(std::move(s));
      used.insert(idx);
    }
    out.exhausted = used.size() >= total_;
    return out;
  }

 private:
  SearchSpace space_;
  std::vector<std::vector<double>> axes_;
  uint64_t total_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> NewRandomSampler(const SearchSpace& space, Settings& s,
                                                  uint64_t seed) {
  SKIFF_ASSIGN_OR_RETURN(std::string stratified,
                         s.Choice("stratified", "true", {"true", "false"}));
  return std::unique_ptr<Sampler>(
      std::make_unique<RandomSampler>(space, stratified == "true", seed));
}

Result<std::unique_ptr<Sampler>> NewGridSampler(const SearchSpace& space) {
  std::vector<std::vector<double>> axes;
  uint64_t total = 1;
  for (size_t i = 0; i < space.size(); ++i) {
    auto axis = space.GridCoordinates(i);
    if (!axis.ok()) return axis.status().WithPrefix("spec.parameters[" + std::to_string(i) + "]");
    total *= axis->size();
    if (total > (uint64_t{1} << 40)) return InvalidArgument("spec.parameters: grid is too large");
    axes.push_back(std::move(*axis));
  }
  return std::unique_ptr<Sampler>(std::make_unique<GridSampler>(space, std::move(axes), total));
}

}  // namespace internal

Result<AlgorithmSpec> ParseAlgorithmSpec(const Json& algorithm, std::string_view path) {
  const std::string p(path);
  if (!algorithm.is_object()) return InvalidArgument(p + ": must be an object");
  AlgorithmSpec spec;
  spec.name = StringField(algorithm, "algorithmName");
  if (spec.name.empty()) return InvalidArgument(p + ".algorithmName: is required");
  if (const Json* settings = FindField(algorithm, "algorithmSettings");
      settings && !settings->is_null()) {
    if (!settings->is_array()) return InvalidArgument(p + ".algorithmSettings: must be a list");
    for (size_t i = 0; i < settings->size(); ++i) {
      const Json& s = (*settings)[i];
      const std::string sp = p + ".algorithmSettings[" + std::to_string(i) + "]";
      if (!s.is_object()) return InvalidArgument(sp + ": must be an object");
      std::string name = StringField(s, "name");
      if (name.empty()) return InvalidArgument(sp + ".name: is required");
      const Json* v = FindField(s, "value");
      spec.settings.emplace_back(std::move(name), v ? ScalarToString(*v) : "");
    }
  }
  return spec;
}

std::vector<std::string> SamplerNames() {
  return {"random", "grid", "sobol", "tpe", "multivariate-tpe", "bayesianoptimization", "cmaes",
          "hyperband", "pbt"};
}

Result<std::unique_ptr<Sampler>> MakeSampler(const AlgorithmSpec& spec, const SearchSpace& space,
                                             const SamplerOptions& options) {
  internal::Settings s(spec, "spec.algorithm");
  if (space.size() == 0) return InvalidArgument("spec.parameters: must not be empty");
  SKIFF_ASSIGN_OR_RETURN(double random_state,
                         s.Number("random_state", -1, -1, 9007199254740992.0));
  const uint64_t seed = random_state >= 0 ? static_cast<uint64_t>(random_state) : options.seed;
  Result<std::unique_ptr<Sampler>> sampler = InvalidArgument("");
  const std::string& n = spec.name;
  if (n == "random") {
    sampler = internal::NewRandomSampler(space, s, seed);
  } else if (n == "grid") {
    sampler = internal::NewGridSampler(space);
  } else if (n == "sobol") {
    sampler = internal::NewSobolSampler(space, s, seed);
  } else if (n == "tpe" || n == "multivariate-tpe") {
    sampler = internal::NewTpeSampler(space, s, options.goal, seed, n == "multivariate-tpe");
  } else if (n == "bayesianoptimization") {
    sampler = internal::NewGpSampler(space, s, options.goal, seed);
  } else if (n == "cmaes") {
    sampler = internal::NewCmaEsSampler(space, s, options.goal, seed);
  } else if (n == "hyperband") {
    sampler = internal::NewHyperbandSampler(space, s, options.goal, seed);
  } else if (n == "pbt") {
    sampler = internal::NewPbtSampler(space, s, options.goal, seed);
  } else {
    std::string list;
    for (const auto& a : SamplerNames()) list += (list.empty() ? "" : ", ") + a;
    return InvalidArgument("spec.algorithm.algorithmName: unknown algorithm \"" + n +
                           "\" (known: " + list + ")");
  }
  if (!sampler.ok()) return sampler.status();
  SKIFF_RETURN_IF_ERROR(s.CheckAllUsed());
  return sampler;
}

}  // namespace skiff::tuning
