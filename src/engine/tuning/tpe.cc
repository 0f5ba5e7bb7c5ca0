// Tree-structured Parzen Estimator, following Optuna 3.1's TPESampler (Bergstra et al. 2011):
// completed trials are split into the best `gamma` share ("below") and the rest ("above"); each
// group becomes a Parzen estimator (a mixture of truncated normals in the unit cube, one per
// observation plus a wide prior); `n_EI_candidates` draws from the "below" mixture are scored by
// log l(x) - log g(x) and the best is suggested. Univariate TPE does this one parameter at a
// time with Optuna's neighbour-distance bandwidths; multivariate TPE draws whole points from one
// kernel per candidate with Scott-like bandwidths (Falkner et al.'s BOHB variant, as Optuna).
// Running trials join the "above" group (constant liar), so parallel suggestions spread out.
//
// Two departures from Optuna's defaults, both measured on held-out seeds (bench/tuning/README.md)
// and in the direction Watanabe (2023, "Tree-structured Parzen Estimator: understanding its
// algorithm components") found: the magic clip's lower bound on a kernel's bandwidth shrinks as
// (n + 2)^-1.2 instead of 1 / (n + 2), floored at 0.001 of the range instead of 0.01, so kernels
// may narrow around good points late in a run; and multivariate kernels are half as wide as
// Optuna's (0.1 n^(-1/(d+4)) of the range instead of 0.2).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning::internal {
namespace {

constexpr double kEps = 1e-12;

// Magic clip: a kernel is at least max(kMinBandwidth, (n + 2)^-kClipExponent) wide, n being the
// group's observations (Optuna: max(0.01, 1 / (n + 2)), i.e. exponent 1 and floor 0.01).
constexpr double kClipExponent = 1.2;
constexpr double kMinBandwidth = 0.001;
// Multivariate kernels: kMultivariateScale n^(-1/(d+4)) of the range (Optuna: 0.2).
constexpr double kMultivariateScale = 0.1;

double MagicClip(size_t n_obs) {
  return std::max(kMinBandwidth, std::pow(static_cast<double>(n_obs) + 2.0, -kClipExponent));
}

struct TpeOptions {
  double gamma = 0.1;  // share of completed trials in "below", capped at 25 trials
  double prior_weight = 1.0;
  int n_ei_candidates = 24;
  int n_startup_trials = 10;
  bool multivariate = false;
};

// Optuna's default_weights: older observations fade linearly once there are more than 25.
std::vector<double> Weights(size_t n) {
  std::vector<double> w(n, 1.0);
  if (n >= 25) {
    const size_t ramp = n - 25;
    for (size_t i = 0; i < ramp; ++i) {
      w[i] = ramp == 1 ? 1.0 / n
                       : 1.0 / n + (1.0 - 1.0 / n) * static_cast<double>(i) / (ramp - 1);
    }
  }
  return w;
}

double LogAddExp(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// Optuna's univariate bandwidths: each kernel's sigma is the larger distance to its neighbours
// among all centres (prior's included) and the range ends; with consider_endpoints=false the
// lowest and highest centres use their inner neighbour's distance only.
void NeighbourBandwidths(const double* mu, double* sigma, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mu[a] < mu[b]; });
  std::vector<double> sorted(n + 2);
  sorted[0] = 0;
  sorted[n + 1] = 1;
  for (size_t i = 0; i < n; ++i) sorted[i + 1] = mu[order[i]];
  std::vector<double> s(n);
  for (size_t i = 0; i < n; ++i) {
    s[i] = std::max(sorted[i + 1] - sorted[i], sorted[i + 2] - sorted[i + 1]);
  }
  if (n >= 2) {
    s[0] = sorted[2] - sorted[1];
    s[n - 1] = sorted[n] - sorted[n - 1];
  }
  for (size_t i = 0; i < n; ++i) sigma[order[i]] = s[i];
}

// A Parzen estimator over the unit cube for the observations of one group.
class Parzen {
 public:
  // `obs[i]` are unit-cube points in trial order.
  Parzen(const SearchSpace& space, const std::vector<const std::vector<double>*>& obs,
         const TpeOptions& o)
      : dims_(space.size()), n_(obs.size() + 1) {
    // Component weights: observations then the prior.
    std::vector<double> w = Weights(obs.size());
    w.push_back(o.prior_weight);
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    log_w_.resize(n_);
    for (size_t k = 0; k < n_; ++k) log_w_[k] = std::log(w[k] / total);
    cum_w_.resize(n_);
    double c = 0;
    for (size_t k = 0; k < n_; ++k) cum_w_[k] = (c += w[k] / total);

    mu_.assign(dims_ * n_, 0.5);
    sigma_.assign(dims_ * n_, 1.0);
    log_norm_.assign(dims_ * n_, 0.0);
    cat_.resize(dims_);
    const size_t nobs = obs.size();
    for (size_t d = 0; d < dims_; ++d) {
      const Parameter& p = space.parameter(d);
      if (p.IsList()) {
        const size_t k = p.list.size();
        std::vector<double>& table = cat_[d];
        table.assign(n_ * k, 0.0);
        for (size_t i = 0; i < n_; ++i) {
          double* row = &table[i * k];
          for (size_t j = 0; j < k; ++j) row[j] = o.prior_weight / static_cast<double>(n_);
          if (i < nobs) {
            const size_t idx = std::min(k - 1, static_cast<size_t>((*obs[i])[d] * k));
            row[idx] += 1;
          } else {
            for (size_t j = 0; j < k; ++j) row[j] = 1.0 / k;  // the prior: uniform
          }
          const double s = std::accumulate(row, row + k, 0.0);
          for (size_t j = 0; j < k; ++j) row[j] = std::log(row[j] / s);
        }
        continue;
      }
      // Observations first, the prior (centre, whole range) last. As in Optuna, the prior's
      // centre takes part in the neighbour bandwidths and counts in the magic clip.
      double* mu = &mu_[d * n_];
      double* sg = &sigma_[d * n_];
      for (size_t i = 0; i < nobs; ++i) mu[i] = (*obs[i])[d];
      mu[nobs] = 0.5;
      if (o.multivariate) {
        const double s =
            kMultivariateScale * std::pow(std::max<double>(nobs, 1), -1.0 / (dims_ + 4));
        for (size_t i = 0; i < n_; ++i) sg[i] = s;
      } else {
        NeighbourBandwidths(mu, sg, n_);
      }
      const double min_sigma = MagicClip(nobs);
      for (size_t i = 0; i < nobs; ++i) sg[i] = std::clamp(sg[i], min_sigma, 1.0);
      sg[nobs] = 1.0;  // the prior
      for (size_t i = 0; i < n_; ++i) {
        const double mass = NormalCdf((1 - mu[i]) / sg[i]) - NormalCdf((0 - mu[i]) / sg[i]);
        // Optuna 3.1 scores kernels by the standard normal density of the standardized distance
        // over the truncated mass, without the 1/sigma of a proper density (its truncnorm.logpdf
        // omits the scale), so a wide kernel counts as much at its centre as a narrow one. That
        // shifts l(x)/g(x) towards the dense clusters; measured side by side it is what makes
        // Optuna's TPE better on Levy, Ackley and Rosenbrock, so Skiff scores the same way.
        log_norm_[d * n_ + i] = -std::log(std::max(mass, kEps)) - 0.5 * std::log(2 * M_PI);
      }
    }
  }

  size_t PickComponent(Rng& rng) const {
    const double u = rng.Uniform();
    return std::min<size_t>(n_ - 1, std::upper_bound(cum_w_.begin(), cum_w_.end(), u) -
                                        cum_w_.begin());
  }

  // Draws coordinate `d` from component `k`.
  double Draw(const SearchSpace& space, size_t d, size_t k, Rng& rng) const {
    const Parameter& p = space.parameter(d);
    if (p.IsList()) {
      const size_t kk = p.list.size();
      const double* row = &cat_[d][k * kk];
      double u = rng.Uniform(), c = 0;
      size_t j = 0;
      for (; j + 1 < kk; ++j) {
        c += std::exp(row[j]);
        if (u < c) break;
      }
      return (static_cast<double>(j) + 0.5) / static_cast<double>(kk);
    }
    const double mu = mu_[d * n_ + k], sg = sigma_[d * n_ + k];
    const double a = NormalCdf(-mu / sg), b = NormalCdf((1 - mu) / sg);
    double x;
    if (b - a > 1e-12) {
      x = mu + sg * NormalQuantile(std::clamp(a + rng.Uniform() * (b - a), 1e-300, 1 - 1e-16));
    } else {
      x = rng.Uniform();
    }
    return std::clamp(x, 0.0, 1.0);
  }

  // log density of coordinate d at x under component k (without the component weight).
  double LogKernel(const SearchSpace& space, size_t d, size_t k, double x) const {
    const Parameter& p = space.parameter(d);
    if (p.IsList()) {
      const size_t kk = p.list.size();
      const size_t j = std::min(kk - 1, static_cast<size_t>(x * kk));
      return cat_[d][k * kk + j];
    }
    const double z = (x - mu_[d * n_ + k]) / sigma_[d * n_ + k];
    return log_norm_[d * n_ + k] - 0.5 * z * z;
  }

  // Univariate mixture log density of coordinate d.
  double LogPdf1(const SearchSpace& space, size_t d, double x) const {
    double acc = -INFINITY;
    for (size_t k = 0; k < n_; ++k) acc = LogAddExp(acc, log_w_[k] + LogKernel(space, d, k, x));
    return acc;
  }

  // Joint mixture log density (product kernels).
  double LogPdf(const SearchSpace& space, const std::vector<double>& x) const {
    double acc = -INFINITY;
    for (size_t k = 0; k < n_; ++k) {
      double l = log_w_[k];
      for (size_t d = 0; d < dims_; ++d) l += LogKernel(space, d, k, x[d]);
      acc = LogAddExp(acc, l);
    }
    return acc;
  }

 private:
  size_t dims_, n_;
  std::vector<double> log_w_, cum_w_;
  std::vector<double> mu_, sigma_, log_norm_;  // [d * n_ + k]
  std::vector<std::vector<double>> cat_;       // per list dim: [k * choices + j] log probs
};

class TpeSampler final : public Sampler {
 public:
  TpeSampler(const SearchSpace& space, TpeOptions o, Goal goal, uint64_t seed)
      : space_(space), o_(o), goal_(goal), seed_(seed) {
    if (space.size() <= ScrambledSobol::MaxDims()) {
      startup_.emplace(space.size(), true, MixSeed({seed, 0x545045, 0x514d43}));
    }
  }

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    Rng rng(CallSeed(seed_, o_.multivariate ? 0x4d545045 : 0x545045, history));
    struct Obs {
      const std::vector<double>* point;
      double loss;
      size_t order;
    };
    std::vector<Obs> done;
    std::vector<std::vector<double>> pending;
    for (size_t i = 0; i < history.size(); ++i) {
      const Trial& t = history[i];
      if (t.point.size() != space_.size()) continue;
      if (t.HasObjective() && std::isfinite(*t.objective)) {
        done.push_back({&t.point, Loss(goal_, *t.objective), i});
      } else if (t.state == TrialState::kRunning) {
        pending.push_back(t.point);
      }
    }
    SuggestResult out;
    for (int s = 0; s < n; ++s) {
      std::vector<double> point;
      if (static_cast<int>(done.size()) < o_.n_startup_trials) {
        // Start-up trials: a scrambled Sobol' stream indexed by the trial count (each point
        // uniform, together evenly spread), like `random`; beyond 40 parameters, uniform.
        point = startup_ ? startup_->Point(history.size() + s) : RandomPoint(space_, rng);
      } else {
        point = SampleOne(done, pending, rng);
      }
      out.suggestions.push_back(MakeSuggestion(space_, point));
      pending.push_back(out.suggestions.back().point);
    }
    return out;
  }

 private:
  template <typename ObsVec>
  std::vector<double> SampleOne(const ObsVec& done, const std::vector<std::vector<double>>& pending,
                                Rng& rng) const {
    std::vector<size_t> by_loss(done.size());
    std::iota(by_loss.begin(), by_loss.end(), 0);
    std::stable_sort(by_loss.begin(), by_loss.end(),
                     [&](size_t a, size_t b) { return done[a].loss < done[b].loss; });
    const size_t n_below = std::clamp<size_t>(
        static_cast<size_t>(std::ceil(o_.gamma * static_cast<double>(done.size()))), 1, 25);
    std::vector<bool> is_below(done.size(), false);
    for (size_t i = 0; i < n_below && i < by_loss.size(); ++i) is_below[by_loss[i]] = true;
    std::vector<const std::vector<double>*> below, above;
    for (size_t i = 0; i < done.size(); ++i) {  // trial order, for the weights
      (is_below[i] ? below : above).push_back(done[i].point);
    }
    for (const auto& p : pending) above.push_back(&p);  // constant liar: running = worst

    const Parzen l(space_, below, o_), g(space_, above, o_);
    const size_t dims = space_.size();
    std::vector<double> best(dims);
    if (o_.multivariate) {
      double best_score = -INFINITY;
      std::vector<double> x(dims);
      for (int c = 0; c < o_.n_ei_candidates; ++c) {
        const size_t k = l.PickComponent(rng);
        for (size_t d = 0; d < dims; ++d) x[d] = l.Draw(space_, d, k, rng);
        const double score = l.LogPdf(space_, x) - g.LogPdf(space_, x);
        if (score > best_score || c == 0) {
          best_score = score;
          best = x;
        }
      }
      return best;
    }
    for (size_t d = 0; d < dims; ++d) {
      double best_score = -INFINITY;
      for (int c = 0; c < o_.n_ei_candidates; ++c) {
        const double x = l.Draw(space_, d, l.PickComponent(rng), rng);
        const double score = l.LogPdf1(space_, d, x) - g.LogPdf1(space_, d, x);
        if (score > best_score || c == 0) {
          best_score = score;
          best[d] = x;
        }
      }
    }
    return best;
  }

  SearchSpace space_;
  TpeOptions o_;
  Goal goal_;
  uint64_t seed_;
  std::optional<ScrambledSobol> startup_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> NewTpeSampler(const SearchSpace& space, Settings& s, Goal goal,
                                               uint64_t seed, bool multivariate) {
  TpeOptions o;
  o.multivariate = multivariate;
  SKIFF_ASSIGN_OR_RETURN(o.gamma, s.Number("gamma", o.gamma, 1e-9, 1));
  SKIFF_ASSIGN_OR_RETURN(o.prior_weight, s.Number("prior_weight", o.prior_weight, 1e-9, 1e9));
  SKIFF_ASSIGN_OR_RETURN(o.n_ei_candidates,
                         s.Int("n_EI_candidates", o.n_ei_candidates, 1, 1000000));
  SKIFF_ASSIGN_OR_RETURN(o.n_startup_trials,
                         s.Int("n_startup_trials", o.n_startup_trials, 0, 1000000));
  return std::unique_ptr<Sampler>(std::make_unique<TpeSampler>(space, o, goal, seed));
}

}  // namespace skiff::tuning::internal
