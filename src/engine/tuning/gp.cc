// Bayesian optimization with a Gaussian process, Katib's `bayesianoptimization` (which runs
// scikit-optimize's gp_minimize): Matérn 5/2 kernel with one length scale per parameter (ARD),
// signal and noise variances, standardized targets. Hyperparameters are fitted by maximizing the
// log marginal likelihood (with weak log-normal priors that keep it away from degenerate length
// scales) using L-BFGS with analytic gradients from two starts. To stay within a few
// milliseconds at hundreds of trials the fit uses at most 50 trials (the best half and an even
// spread of the rest); the posterior then conditions on all of them.
// Acquisition: EI, PI, LCB or gp_hedge (a softmax over the three, rewarded by how well the
// trials each one proposed turned out, as read back from the history), maximized over random
// and local candidates followed by a shrinking local search. Running trials and earlier picks of
// the same call enter the posterior as a constant liar at the worst value seen.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning::internal {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kSqrt5 = 2.23606797749979;
enum class Acq { kEI, kPI, kLCB };
const char* AcqName(Acq a) { return a == Acq::kEI ? "EI" : a == Acq::kPI ? "PI" : "LCB"; }

struct GpOptions {
  int n_initial_points = 10;
  std::string acq_func = "gp_hedge";
  // skopt's default is 0.01; here it would be 0.01 standard deviations of the warped losses,
  // which near the optimum is a large step (Branin: about 0.2) and stops EI from refining the
  // incumbent. Pure EI (0) explores through the posterior variance; `xi` is honoured if set.
  double xi = 0.0;
  double kappa = 1.96;
};

// theta = [log l_1..l_d, log signal variance, log noise variance]
struct Hyper {
  VectorXd log_l;
  double log_sf2 = 0, log_sn2 = std::log(1e-4);
};

double Matern(double r) { return (1 + kSqrt5 * r + 5.0 / 3 * r * r) * std::exp(-kSqrt5 * r); }

MatrixXd Cross(const MatrixXd& A, const MatrixXd& B, const VectorXd& inv_l, double sf2) {
  // A: d x n, B: d x m (columns are points)
  const MatrixXd As = inv_l.asDiagonal() * A, Bs = inv_l.asDiagonal() * B;
  const VectorXd a2 = As.colwise().squaredNorm(), b2 = Bs.colwise().squaredNorm();
  MatrixXd D = -2 * As.transpose() * Bs;
  D.colwise() += a2;
  D.rowwise() += b2.transpose();
  return D.unaryExpr([sf2](double v) { return sf2 * Matern(std::sqrt(std::max(v, 0.0))); });
}

// Negative log posterior of the hyperparameters (marginal likelihood + priors) and its gradient.
double Nlml(const MatrixXd& X, const VectorXd& y, const VectorXd& theta, VectorXd* grad) {
  const long d = X.rows(), n = X.cols();
  const VectorXd inv_l = (-theta.head(d)).array().exp();
  const double sf2 = std::exp(theta[d]), sn2 = std::exp(theta[d + 1]);
  MatrixXd K = Cross(X, X, inv_l, sf2);
  K.diagonal().array() += sn2 + 1e-8;
  Eigen::LLT<MatrixXd> llt(K);
  if (llt.info() != Eigen::Success) return 1e10;
  const VectorXd alpha = llt.solve(y);
  const MatrixXd& L = llt.matrixLLT();
  double nll = 0.5 * y.dot(alpha) + L.diagonal().array().log().sum() + 0.5 * n * std::log(2 * M_PI);
  // Priors: log l ~ N(log 0.5, 1.5^2), log sf2 ~ N(0, 1.5^2), log sn2 ~ N(log 1e-4, 3^2).
  VectorXd prior_grad = VectorXd::Zero(d + 2);
  for (long j = 0; j < d; ++j) {
    const double z = (theta[j] - std::log(0.5)) / 1.5;
    nll += 0.5 * z * z;
    prior_grad[j] = z / 1.5;
  }
  nll += 0.5 * std::pow(theta[d] / 1.5, 2);
  prior_grad[d] = theta[d] / (1.5 * 1.5);
  nll += 0.5 * std::pow((theta[d + 1] - std::log(1e-4)) / 3, 2);
  prior_grad[d + 1] = (theta[d + 1] - std::log(1e-4)) / 9;
  if (grad) {
    MatrixXd W = llt.solve(MatrixXd::Identity(n, n));
    W -= alpha * alpha.transpose();  // dnll/dtheta = 0.5 tr(W dK)
    grad->resize(d + 2);
    // Signal variance: dK = K - noise.
    MatrixXd Kf = K;
    Kf.diagonal().array() -= sn2 + 1e-8;
    (*grad)[d] = 0.5 * (W.cwiseProduct(Kf)).sum();
    (*grad)[d + 1] = 0.5 * sn2 * W.trace();
    // Length scales: dK_ab/dlog l_j = sf2 * 5/3 (1 + sqrt5 r) exp(-sqrt5 r) * (dx_j / l_j)^2.
    MatrixXd G(n, n);
    const MatrixXd Xs = inv_l.asDiagonal() * X;
    for (long a = 0; a < n; ++a) {
      for (long b = 0; b < n; ++b) {
        const double r = (Xs.col(a) - Xs.col(b)).norm();
        G(a, b) = W(a, b) * sf2 * 5.0 / 3 * (1 + kSqrt5 * r) * std::exp(-kSqrt5 * r);
      }
    }
    for (long j = 0; j < d; ++j) {
      double s = 0;
      for (long a = 0; a < n; ++a) {
        for (long b = a + 1; b < n; ++b) {
          const double dx = Xs(j, a) - Xs(j, b);
          s += G(a, b) * dx * dx;
        }
      }
      (*grad)[j] = s;  // 0.5 * 2 (symmetric pairs)
    }
    *grad += prior_grad;
  }
  return nll;
}

// L-BFGS with a backtracking line search, kept inside [lo, hi] by projection.
VectorXd Minimize(const MatrixXd& X, const VectorXd& y, VectorXd x, const VectorXd& lo,
                  const VectorXd& hi, int max_iter, double* best_f) {
  const int m = 6;
  std::vector<VectorXd> S, Y;
  VectorXd g;
  double f = Nlml(X, y, x, &g);
  for (int it = 0; it < max_iter; ++it) {
    VectorXd q = g;
    std::vector<double> alphas(S.size());
    for (int i = static_cast<int>(S.size()) - 1; i >= 0; --i) {
      alphas[i] = S[i].dot(q) / Y[i].dot(S[i]);
      q -= alphas[i] * Y[i];
    }
    if (!S.empty()) q *= S.back().dot(Y.back()) / Y.back().squaredNorm();
    for (size_t i = 0; i < S.size(); ++i) {
      const double beta = Y[i].dot(q) / Y[i].dot(S[i]);
      q += S[i] * (alphas[i] - beta);
    }
    VectorXd dir = -q;
    if (dir.dot(g) >= 0) dir = -g;
    double step = 1.0;
    if (S.empty()) step = std::min(1.0, 1.0 / std::max(1e-12, g.cwiseAbs().maxCoeff()));
    VectorXd xn, gn;
    double fn = f;
    bool moved = false;
    for (int ls = 0; ls < 20; ++ls) {
      xn = (x + step * dir).cwiseMax(lo).cwiseMin(hi);
      fn = Nlml(X, y, xn, &gn);
      if (fn <= f + 1e-4 * g.dot(xn - x)) {
        moved = true;
        break;
      }
      step *= 0.5;
    }
    if (!moved) break;
    const VectorXd s = xn - x, yy = gn - g;
    if (s.dot(yy) > 1e-12) {
      S.push_back(s);
      Y.push_back(yy);
      if (static_cast<int>(S.size()) > m) {
        S.erase(S.begin());
        Y.erase(Y.begin());
      }
    }
    const double df = f - fn;
    x = xn;
    g = gn;
    f = fn;
    if (df < 1e-7 * std::max(1.0, std::abs(f)) || g.cwiseAbs().maxCoeff() < 1e-5) break;
  }
  *best_f = f;
  return x;
}

class Posterior {
 public:
  Posterior(const MatrixXd& X, const VectorXd& y, const Hyper& h)
      : X_(X), inv_l_((-h.log_l).array().exp()), sf2_(std::exp(h.log_sf2)) {
    MatrixXd K = Cross(X, X, inv_l_, sf2_);
    K.diagonal().array() += std::exp(h.log_sn2) + 1e-8;
    llt_.compute(K);
    alpha_ = llt_.solve(y);
  }
  // Means and standard deviations at the columns of C.
  void Predict(const MatrixXd& C, VectorXd* mean, VectorXd* sd) const {
    const MatrixXd Ks = Cross(X_, C, inv_l_, sf2_);  // n x c
    *mean = Ks.transpose() * alpha_;
    const MatrixXd V = llt_.matrixL().solve(Ks);
    *sd = (sf2_ - V.colwise().squaredNorm().array()).cwiseMax(1e-12).sqrt().matrix();
  }

 private:
  MatrixXd X_;
  VectorXd inv_l_;
  double sf2_;
  Eigen::LLT<MatrixXd> llt_;
  VectorXd alpha_;
};

VectorXd Score(Acq acq, const VectorXd& mu, const VectorXd& sd, double best, const GpOptions& o) {
  VectorXd s(mu.size());
  for (long i = 0; i < mu.size(); ++i) {
    if (acq == Acq::kLCB) {
      s[i] = -(mu[i] - o.kappa * sd[i]);
      continue;
    }
    const double imp = best - mu[i] - o.xi, z = imp / sd[i];
    if (acq == Acq::kPI) {
      s[i] = NormalCdf(z);
    } else {
      s[i] = imp * NormalCdf(z) + sd[i] * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
    }
  }
  return s;
}

// Output warping: losses far above the typical one (Rosenbrock's 1e5 walls, a failed run's huge
// value) would dominate a stationary GP's fit and flatten the region that matters. Each loss is
// replaced by log(1 + (y - min) / s) with s the median's distance from the minimum: a monotone
// map, so the best trial stays the best, linear near the minimum (where precision matters) and
// logarithmic in the tail.
VectorXd Warp(const VectorXd& y) {
  const double lo = y.minCoeff();
  std::vector<double> sorted(y.data(), y.data() + y.size());
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double s = sorted[sorted.size() / 2] - lo;
  if (!(s > 1e-12)) return y;
  return ((y.array() - lo) / s).log1p().matrix();
}

class GpSampler final : public Sampler {
 public:
  GpSampler(const SearchSpace& space, GpOptions o, Goal goal, uint64_t seed)
      : space_(space), o_(std::move(o)), goal_(goal), seed_(seed) {
    if (space.size() <= ScrambledSobol::MaxDims()) {
      initial_.emplace(space.size(), true, MixSeed({seed, 0x4750, 0x514d43}));
    }
  }

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    Rng rng(CallSeed(seed_, 0x4750, history));
    const long d = static_cast<long>(space_.size());
    std::vector<const Trial*> done;
    std::vector<std::vector<double>> pending;
    for (const Trial& t : history) {
      if (t.point.size() != space_.size()) continue;
      if (t.HasObjective() && std::isfinite(*t.objective)) {
        done.push_back(&t);
      } else if (t.state == TrialState::kRunning) {
        pending.push_back(t.point);
      }
    }
    SuggestResult out;
    if (static_cast<int>(done.size()) < std::max(o_.n_initial_points, 2)) {
      // Initial design: a scrambled Sobol' stream indexed by the trial count, so the first
      // points cover the space evenly (each is still uniform); beyond 40 parameters, uniform.
      for (int i = 0; i < n; ++i) {
        std::vector<double> p = initial_ ? initial_->Point(history.size() + i)
                                         : RandomPoint(space_, rng);
        out.suggestions.push_back(MakeSuggestion(space_, std::move(p)));
      }
      return out;
    }
    const long nd = static_cast<long>(done.size());
    VectorXd y(nd);
    MatrixXd X(d, nd);
    for (long i = 0; i < nd; ++i) {
      y[i] = Loss(goal_, *done[i]->objective);
      for (long j = 0; j < d; ++j) X(j, i) = done[i]->point[j];
    }
    y = Warp(y);
    const double mean = y.mean();
    double sd = std::sqrt((y.array() - mean).square().sum() / std::max<long>(1, nd - 1));
    if (!(sd > 1e-12)) sd = 1;
    const VectorXd z = (y.array() - mean) / sd;
    const Hyper h = Fit(X, z, rng);
    const double best = z.minCoeff(), lie = z.maxCoeff();

    // gp_hedge: rewards of each acquisition function from the trials it proposed.
    double gains[3] = {0, 0, 0};
    for (long i = 0; i < nd; ++i) {
      auto it = done[i]->labels.find("gp.acq");
      if (it == done[i]->labels.end()) continue;
      for (int a = 0; a < 3; ++a) {
        if (it->second == AcqName(static_cast<Acq>(a))) gains[a] -= z[i];
      }
    }
    for (int k = 0; k < n; ++k) {
      // Condition on completed trials plus running ones at the lie.
      const long np = static_cast<long>(pending.size());
      MatrixXd Xa(d, nd + np);
      VectorXd za(nd + np);
      Xa.leftCols(nd) = X;
      za.head(nd) = z;
      for (long i = 0; i < np; ++i) {
        for (long j = 0; j < d; ++j) Xa(j, nd + i) = pending[i][j];
        za[nd + i] = lie;
      }
      const Posterior post(Xa, za, h);
      Acq acq = Acq::kEI;
      if (o_.acq_func == "gp_hedge") {
        const double mx = *std::max_element(gains, gains + 3);
        double p[3], total = 0;
        for (int a = 0; a < 3; ++a) total += (p[a] = std::exp(gains[a] - mx));
        double u = rng.Uniform() * total;
        int pick = 0;
        while (pick < 2 && u >= p[pick]) u -= p[pick++];
        acq = static_cast<Acq>(pick);
      } else {
        acq = o_.acq_func == "PI" ? Acq::kPI : o_.acq_func == "LCB" ? Acq::kLCB : Acq::kEI;
      }
      std::vector<double> x = Maximize(post, acq, best, X, z, h, rng);
      Suggestion s = MakeSuggestion(space_, x);
      // A point already tried or pending (the acquisition's optimum often sits on a bound,
      // where an evaluated corner can win again) would teach nothing: explore instead.
      auto tried = [&](const std::vector<double>& pt) {
        for (const auto& p : pending) {
          if (p == pt) return true;
        }
        for (const Trial* t : done) {
          if (t->point == pt) return true;
        }
        return false;
      };
      if (tried(s.point)) s = MakeSuggestion(space_, RandomPoint(space_, rng));
      s.labels["gp.acq"] = AcqName(acq);
      pending.push_back(s.point);
      out.suggestions.push_back(std::move(s));
    }
    return out;
  }

 private:
  Hyper Fit(const MatrixXd& X, const VectorXd& z, Rng& rng) const {
    const long d = X.rows(), n = X.cols();
    constexpr long kMaxFit = 50;
    MatrixXd Xf = X;
    VectorXd zf = z;
    if (n > kMaxFit) {
      std::vector<long> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](long a, long b) { return z[a] < z[b]; });
      std::vector<long> pick(order.begin(), order.begin() + kMaxFit / 2);
      const long rest = n - kMaxFit / 2;
      for (long i = 0; i < kMaxFit / 2; ++i) pick.push_back(order[kMaxFit / 2 + i * rest / (kMaxFit / 2)]);
      Xf.resize(d, kMaxFit);
      zf.resize(kMaxFit);
      for (long i = 0; i < kMaxFit; ++i) {
        Xf.col(i) = X.col(pick[i]);
        zf[i] = z[pick[i]];
      }
      const double m = zf.mean();
      double s = std::sqrt((zf.array() - m).square().mean());
      if (!(s > 1e-12)) s = 1;
      zf = (zf.array() - m) / s;
    }
    VectorXd lo(d + 2), hi(d + 2);
    lo.head(d).setConstant(std::log(0.01));
    hi.head(d).setConstant(std::log(20.0));
    lo[d] = std::log(0.05);
    hi[d] = std::log(20.0);
    lo[d + 1] = std::log(1e-6);
    hi[d + 1] = std::log(1.0);
    VectorXd best_theta;
    double best_f = INFINITY;
    for (int start = 0; start < 2; ++start) {
      VectorXd t0(d + 2);
      if (start == 0) {
        t0.head(d).setConstant(std::log(0.5));
        t0[d] = 0;
        t0[d + 1] = std::log(1e-3);
      } else {
        for (long j = 0; j < d + 2; ++j) t0[j] = lo[j] + rng.Uniform() * (hi[j] - lo[j]);
      }
      double f = INFINITY;
      VectorXd t = Minimize(Xf, zf, t0, lo, hi, 30, &f);
      if (f < best_f) {
        best_f = f;
        best_theta = t;
      }
    }
    Hyper h;
    h.log_l = best_theta.head(d);
    h.log_sf2 = best_theta[d];
    h.log_sn2 = best_theta[d + 1];
    return h;
  }

  std::vector<double> Maximize(const Posterior& post, Acq acq, double best, const MatrixXd& X,
                               const VectorXd& z, const Hyper& h, Rng& rng) const {
    const long d = X.rows();
    constexpr long kRandom = 120, kLocal = 100;
    MatrixXd C(d, kRandom + kLocal);
    for (long i = 0; i < kRandom; ++i) {
      for (long j = 0; j < d; ++j) C(j, i) = rng.Uniform();
    }
    // Local candidates around the five best trials, at the scale of the length scales.
    std::vector<long> order(X.cols());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + std::min<long>(5, X.cols()), order.end(),
                      [&](long a, long b) { return z[a] < z[b]; });
    for (long i = 0; i < kLocal; ++i) {
      const long c = order[i % std::min<long>(5, X.cols())];
      const double scale = (i % 2 == 0) ? 0.1 : 0.02;
      for (long j = 0; j < d; ++j) {
        const double l = std::min(1.0, std::exp(h.log_l[j]));
        C(j, kRandom + i) = std::clamp(X(j, c) + scale * l * rng.Normal(), 0.0, 1.0);
      }
    }
    VectorXd mu, sd;
    post.Predict(C, &mu, &sd);
    VectorXd s = Score(acq, mu, sd, best, o_);
    // Shrinking random local search.
    std::vector<long> top(C.cols());
    std::iota(top.begin(), top.end(), 0);
    std::partial_sort(top.begin(), top.begin() + 3, top.end(),
                      [&](long a, long b) { return s[a] > s[b]; });
    VectorXd best_x = C.col(top[0]);
    double best_s = s[top[0]];
    constexpr long kBatch = 12;
    // Starts: the three best candidates and the incumbent (the best trial), so the search can
    // always refine around the best point found so far.
    constexpr int kRounds = 9, kStarts = 4;
    for (int t = 0; t < kStarts; ++t) {
      VectorXd x = t < 3 ? VectorXd(C.col(top[t])) : VectorXd(X.col(order[0]));
      double sx = -INFINITY;
      if (t < 3) {
        sx = s[top[t]];
      } else {
        VectorXd pm, ps;
        post.Predict(x, &pm, &ps);
        sx = Score(acq, pm, ps, best, o_)[0];
      }
      double step = 0.05;
      for (int round = 0; round < kRounds; ++round, step *= 0.5) {
        MatrixXd P(d, kBatch);
        for (long i = 0; i < kBatch; ++i) {
          for (long j = 0; j < d; ++j) {
            const double l = std::min(1.0, std::exp(h.log_l[j]));
            P(j, i) = std::clamp(x[j] + step * l * rng.Normal(), 0.0, 1.0);
          }
        }
        VectorXd pm, ps;
        post.Predict(P, &pm, &ps);
        const VectorXd ss = Score(acq, pm, ps, best, o_);
        long arg;
        const double m = ss.maxCoeff(&arg);
        if (m > sx) {
          sx = m;
          x = P.col(arg);
        }
      }
      if (sx > best_s) {
        best_s = sx;
        best_x = x;
      }
    }
    return std::vector<double>(best_x.data(), best_x.data() + d);
  }

  SearchSpace space_;
  GpOptions o_;
  Goal goal_;
  uint64_t seed_;
  std::optional<ScrambledSobol> initial_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> NewGpSampler(const SearchSpace& space, Settings& s, Goal goal,
                                              uint64_t seed) {
  GpOptions o;
  SKIFF_ASSIGN_OR_RETURN(std::string estimator, s.Choice("base_estimator", "GP", {"GP"}));
  SKIFF_ASSIGN_OR_RETURN(o.n_initial_points, s.Int("n_initial_points", 10, 0, 1000000));
  SKIFF_ASSIGN_OR_RETURN(o.acq_func,
                         s.Choice("acq_func", "gp_hedge", {"gp_hedge", "EI", "PI", "LCB"}));
  SKIFF_ASSIGN_OR_RETURN(std::string optimizer,
                         s.Choice("acq_optimizer", "auto", {"auto", "sampling", "lbfgs"}));
  SKIFF_ASSIGN_OR_RETURN(o.xi, s.Number("xi", o.xi, 0, 100));
  SKIFF_ASSIGN_OR_RETURN(o.kappa, s.Number("kappa", o.kappa, 0, 100));
  return std::unique_ptr<Sampler>(std::make_unique<GpSampler>(space, o, goal, seed));
}

}  // namespace skiff::tuning::internal
