// CMA-ES (Hansen's (mu/mu_w, lambda) evolution strategy with rank-one and rank-mu updates and
// cumulative step-size adaptation) in the unit cube, with IPOP and BIPOP restarts. The update is
// the one in Hansen's 2016 tutorial as the `cmaes` package behind Optuna's CmaEsSampler has it:
// negative ("active") weights for the worse half of the population, no cap on the step-size
// change; the start is Optuna's (mean at the centre, sigma0 = 1/6 of the range).
//
// Stateless like every sampler: each suggestion carries `cmaes.restart`, `cmaes.generation`
// and `cmaes.index`; Suggest replays the completed generations from the history (their points
// as evaluated, sorted by loss) to rebuild the mean, step size and covariance, then draws the
// next members of the current generation from a stream seeded by (seed, restart, generation,
// index). A generation is complete once `popsize` members have an objective; failed members
// are replaced by further draws. Members outside the cube are redrawn (up to 100 times) and
// then clipped, as the `cmaes` library Optuna uses does.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning::internal {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

enum class Restart { kNone, kIpop, kBipop };

struct CmaOptions {
  double sigma = 1.0 / 6;  // in unit-cube units, like Optuna's min_range / 6
  Restart restart = Restart::kNone;
  int popsize = 0;         // 0: 4 + floor(3 ln d)
};

class Cma {
 public:
  Cma(size_t d, VectorXd mean, double sigma, int lambda)
      : d_(d), m_(std::move(mean)), sigma_(sigma), sigma0_(sigma), lambda_(lambda) {
    // Hansen's (2016) default weights for all lambda members: positive for the better half,
    // negative ("active" CMA) for the worse half, scaled as the `cmaes` package Optuna uses.
    const int mu = lambda / 2;
    mu_ = mu;
    VectorXd wp(lambda);
    for (int i = 0; i < lambda; ++i) wp[i] = std::log((lambda + 1) / 2.0) - std::log(i + 1.0);
    const double n = static_cast<double>(d);
    mueff_ = std::pow(wp.head(mu).sum(), 2) / wp.head(mu).squaredNorm();
    const double neg_sum = -wp.tail(lambda - mu).sum();
    const double mueff_minus =
        neg_sum > 0 ? std::pow(neg_sum, 2) / wp.tail(lambda - mu).squaredNorm() : 0;
    cc_ = (4 + mueff_ / n) / (n + 4 + 2 * mueff_ / n);
    cs_ = (mueff_ + 2) / (n + mueff_ + 5);
    c1_ = 2 / ((n + 1.3) * (n + 1.3) + mueff_);
    cmu_ = std::min(1 - c1_ - 1e-8, 2 * (mueff_ - 2 + 1 / mueff_) / ((n + 2) * (n + 2) + mueff_));
    const double min_alpha = std::min({1 + c1_ / cmu_, 1 + 2 * mueff_minus / (mueff_ + 2),
                                       (1 - c1_ - cmu_) / (n * cmu_)});
    double pos_sum = 0;
    for (int i = 0; i < lambda; ++i) pos_sum += std::max(0.0, wp[i]);
    w_.resize(lambda);
    for (int i = 0; i < lambda; ++i) {
      w_[i] = wp[i] >= 0 ? wp[i] / pos_sum : min_alpha * wp[i] / std::max(neg_sum, 1e-300);
    }
    damps_ = 1 + 2 * std::max(0.0, std::sqrt((mueff_ - 1) / (n + 1)) - 1) + cs_;
    chin_ = std::sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    C_ = MatrixXd::Identity(d, d);
    B_ = MatrixXd::Identity(d, d);
    D_ = VectorXd::Ones(d);
    pc_ = VectorXd::Zero(d);
    ps_ = VectorXd::Zero(d);
  }

  int lambda() const { return lambda_; }

  std::vector<double> Sample(uint64_t seed) const {
    Rng rng(seed);
    VectorXd x(d_);
    for (int attempt = 0; attempt < 100; ++attempt) {
      VectorXd z(d_);
      for (size_t i = 0; i < d_; ++i) z[i] = rng.Normal();
      x = m_ + sigma_ * (B_ * D_.cwiseProduct(z));
      if ((x.array() >= 0).all() && (x.array() <= 1).all()) break;
    }
    std::vector<double> out(d_);
    for (size_t i = 0; i < d_; ++i) out[i] = std::clamp(x[i], 0.0, 1.0);
    return out;
  }

  // One generation: `sorted` holds all lambda members' points, best first.
  void Tell(const std::vector<std::vector<double>>& sorted, double best, double worst) {
    ++generation_;
    const int lambda = lambda_;
    MatrixXd Y(d_, lambda);
    for (int i = 0; i < lambda; ++i) {
      for (size_t j = 0; j < d_; ++j) Y(j, i) = (sorted[i][j] - m_[j]) / sigma_;
    }
    const VectorXd yw = Y.leftCols(mu_) * w_.head(mu_);
    m_ += sigma_ * yw;
    const MatrixXd c_inv_half = B_ * D_.cwiseInverse().asDiagonal() * B_.transpose();
    ps_ = (1 - cs_) * ps_ + std::sqrt(cs_ * (2 - cs_) * mueff_) * (c_inv_half * yw);
    const double n = static_cast<double>(d_);
    const double ps_norm = ps_.norm();
    sigma_ *= std::exp((cs_ / damps_) * (ps_norm / chin_ - 1));
    sigma_ = std::min(sigma_, 1e32);
    const bool hsig = ps_norm / std::sqrt(1 - std::pow(1 - cs_, 2.0 * (generation_ + 1))) <
                      (1.4 + 2 / (n + 1)) * chin_;
    pc_ = (1 - cc_) * pc_ + (hsig ? std::sqrt(cc_ * (2 - cc_) * mueff_) : 0.0) * yw;
    // Negative weights act on Mahalanobis-normalized steps so they cannot break C.
    VectorXd w_io = w_;
    for (int i = mu_; i < lambda; ++i) {
      if (w_[i] < 0) w_io[i] *= n / ((c_inv_half * Y.col(i)).squaredNorm() + 1e-8);
    }
    const MatrixXd rank_mu = Y * w_io.asDiagonal() * Y.transpose();
    const double delta_h = hsig ? 0.0 : cc_ * (2 - cc_);
    C_ = (1 + c1_ * delta_h - c1_ - cmu_ * w_.sum()) * C_ + c1_ * (pc_ * pc_.transpose()) +
         cmu_ * rank_mu;
    C_ = (C_ + C_.transpose()) / 2;
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(C_);
    B_ = es.eigenvectors();
    D_ = es.eigenvalues().unaryExpr([](double v) { return v < 0 ? 1e-8 : v; }).cwiseSqrt();
    C_ = B_ * D_.cwiseAbs2().asDiagonal() * B_.transpose();
    fun_hist_.push_back(best);
    const size_t keep = 10 + static_cast<size_t>(std::ceil(30 * n / lambda_));
    if (fun_hist_.size() > keep) fun_hist_.pop_front();
    last_range_ = worst - best;
  }

  // Hansen's termination criteria that signal a restart is due.
  bool ShouldStop() const {
    const double n = static_cast<double>(d_);
    const size_t keep = 10 + static_cast<size_t>(std::ceil(30 * n / lambda_));
    if (fun_hist_.size() >= keep) {
      auto [lo, hi] = std::minmax_element(fun_hist_.begin(), fun_hist_.end());
      if (*hi - *lo < 1e-12 && last_range_ < 1e-12) return true;
    }
    const double tolx = 1e-12 * sigma0_;
    if ((sigma_ * pc_.cwiseAbs().array() < tolx).all() &&
        (sigma_ * C_.diagonal().cwiseSqrt().array() < tolx).all()) {
      return true;
    }
    if (sigma_ * D_.maxCoeff() > 1e4) return true;
    if (D_.maxCoeff() / D_.minCoeff() > 1e7) return true;  // condition number of C above 1e14
    // In the unit cube a step size far below the resolution of any objective is the same.
    if (sigma_ * D_.maxCoeff() < 1e-10) return true;
    return false;
  }

 private:
  size_t d_;
  VectorXd m_;
  double sigma_, sigma0_;
  int lambda_;
  int mu_ = 0;
  VectorXd w_;
  double mueff_, cc_, cs_, c1_, cmu_, damps_, chin_;
  MatrixXd C_, B_;
  VectorXd D_, pc_, ps_;
  int generation_ = 0;
  std::deque<double> fun_hist_;
  double last_range_ = INFINITY;
};

struct Member {
  int index;
  const Trial* trial;
};

class CmaEsSampler final : public Sampler {
 public:
  CmaEsSampler(const SearchSpace& space, CmaOptions o, Goal goal, uint64_t seed)
      : space_(space), o_(o), goal_(goal), seed_(seed) {
    const double n = static_cast<double>(space.size());
    lambda0_ = o.popsize > 0 ? o.popsize : 4 + static_cast<int>(std::floor(3 * std::log(n)));
    lambda0_ = std::max(lambda0_, 2);
  }

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    // (restart, generation) -> members
    std::map<std::pair<int, int>, std::vector<Member>> groups;
    for (const Trial& t : history) {
      auto r = t.labels.find("cmaes.restart"), g = t.labels.find("cmaes.generation"),
           i = t.labels.find("cmaes.index");
      if (r == t.labels.end() || g == t.labels.end() || i == t.labels.end()) continue;
      if (t.point.size() != space_.size()) continue;
      groups[{std::stoi(r->second), std::stoi(g->second)}].push_back({std::stoi(i->second), &t});
    }
    const size_t d = space_.size();
    int restart = 0, generation = 0;
    int large_restarts = 0;
    double large_budget = 0, small_budget = 0;
    bool small_regime = false;
    Cma cma(d, VectorXd::Constant(d, 0.5), o_.sigma, lambda0_);
    while (true) {
      auto it = groups.find({restart, generation});
      std::vector<std::pair<double, const Trial*>> done;
      if (it != groups.end()) {
        std::sort(it->second.begin(), it->second.end(),
                  [](const Member& a, const Member& b) { return a.index < b.index; });
        for (const Member& m : it->second) {
          if (m.trial->HasObjective() && std::isfinite(*m.trial->objective)) {
            done.push_back({Loss(goal_, *m.trial->objective), m.trial});
          }
        }
      }
      if (static_cast<int>(done.size()) < cma.lambda()) break;
      done.resize(cma.lambda());
      std::stable_sort(done.begin(), done.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<std::vector<double>> sorted;
      for (const auto& [loss, t] : done) sorted.push_back(t->point);
      cma.Tell(sorted, done.front().first, done.back().first);
      (small_regime ? small_budget : large_budget) += cma.lambda();
      ++generation;
      if (o_.restart != Restart::kNone && cma.ShouldStop()) {
        ++restart;
        generation = 0;
        Rng rng(MixSeed({seed_, 0x434d41, static_cast<uint64_t>(restart)}));
        VectorXd mean(d);
        for (size_t j = 0; j < d; ++j) mean[j] = rng.Uniform();
        int lambda = lambda0_;
        double sigma = o_.sigma;
        small_regime = false;
        if (o_.restart == Restart::kIpop) {
          lambda = lambda0_ << std::min(restart, 20);
        } else if (large_restarts == 0 || small_budget >= large_budget) {
          ++large_restarts;
          lambda = lambda0_ << std::min(large_restarts, 20);
        } else {
          small_regime = true;
          const double u = rng.Uniform();
          const double large = static_cast<double>(lambda0_ << std::min(large_restarts, 20));
          lambda = std::max(2, static_cast<int>(std::floor(
                                   lambda0_ * std::pow(0.5 * large / lambda0_, u * u))));
          sigma = o_.sigma * std::pow(10.0, -2 * rng.Uniform());
        }
        cma = Cma(d, mean, sigma, lambda);
      }
    }
    // Draw the next members of (restart, generation).
    int next_index = 0, occupied = 0;
    if (auto it = groups.find({restart, generation}); it != groups.end()) {
      for (const Member& m : it->second) {
        next_index = std::max(next_index, m.index + 1);
        occupied += m.trial->state != TrialState::kFailed;
      }
    }
    SuggestResult out;
    for (int k = 0; k < n && occupied < cma.lambda(); ++k, ++occupied, ++next_index) {
      const uint64_t s = MixSeed({seed_, static_cast<uint64_t>(restart),
                                  static_cast<uint64_t>(generation),
                                  static_cast<uint64_t>(next_index)});
      Suggestion sg = MakeSuggestion(space_, cma.Sample(s));
      sg.labels["cmaes.restart"] = std::to_string(restart);
      sg.labels["cmaes.generation"] = std::to_string(generation);
      sg.labels["cmaes.index"] = std::to_string(next_index);
      out.suggestions.push_back(std::move(sg));
    }
    return out;
  }

 private:
  SearchSpace space_;
  CmaOptions o_;
  Goal goal_;
  uint64_t seed_;
  int lambda0_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> NewCmaEsSampler(const SearchSpace& space, Settings& s, Goal goal,
                                                 uint64_t seed) {
  CmaOptions o;
  SKIFF_ASSIGN_OR_RETURN(o.sigma, s.Number("sigma", o.sigma, 1e-6, 10));
  SKIFF_ASSIGN_OR_RETURN(std::string restart,
                         s.Choice("restart_strategy", "none", {"none", "ipop", "bipop"}));
  o.restart = restart == "ipop" ? Restart::kIpop
              : restart == "bipop" ? Restart::kBipop
                                   : Restart::kNone;
  SKIFF_ASSIGN_OR_RETURN(o.popsize, s.Int("popsize", 0, 0, 100000));
  return std::unique_ptr<Sampler>(std::make_unique<CmaEsSampler>(space, o, goal, seed));
}

}  // namespace skiff::tuning::internal
