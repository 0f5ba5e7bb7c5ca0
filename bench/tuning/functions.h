// Benchmark functions (minimization) with their boxes and known minima.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace skiff::tuning::bench {

struct Function {
  std::string name;
  std::vector<double> lo, hi;
  double (*f)(const std::vector<double>&);
  double optimum;
};

inline double Branin(const std::vector<double>& x) {
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10,
               t = 1 / (8 * M_PI);
  const double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
  return a * u * u + s * (1 - t) * std::cos(x[0]) + s;
}

inline double Hartmann6(const std::vector<double>& x) {
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                 {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                 {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                 {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  double s = 0;
  for (int i = 0; i < 4; ++i) {
    double e = 0;
    for (int j = 0; j < 6; ++j) e += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
    s += alpha[i] * std::exp(-e);
  }
  return -s;
}

inline double Rosenbrock(const std::vector<double>& x) {
  double s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    s += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return s;
}

inline double Ackley(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  double s1 = 0, s2 = 0;
  for (double v : x) {
    s1 += v * v;
    s2 += std::cos(2 * M_PI * v);
  }
  return -20 * std::exp(-0.2 * std::sqrt(s1 / n)) - std::exp(s2 / n) + 20 + M_E;
}

inline double Levy(const std::vector<double>& x) {
  const size_t n = x.size();
  auto w = [&](size_t i) { return 1 + (x[i] - 1) / 4; };
  double s = std::pow(std::sin(M_PI * w(0)), 2);
  for (size_t i = 0; i + 1 < n; ++i) {
    s += std::pow(w(i) - 1, 2) * (1 + 10 * std::pow(std::sin(M_PI * w(i) + 1), 2));
  }
  s += std::pow(w(n - 1) - 1, 2) * (1 + std::pow(std::sin(2 * M_PI * w(n - 1)), 2));
  return s;
}

inline double StyblinskiTang(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v * v * v - 16 * v * v + 5 * v;
  return s / 2;
}

inline std::vector<Function> Functions() {
  auto box = [](size_t d, double lo, double hi) {
    return std::make_pair(std::vector<double>(d, lo), std::vector<double>(d, hi));
  };
  std::vector<Function> out;
  out.push_back({"branin", {-5, 0}, {10, 15}, Branin, 0.397887});
  auto [h6lo, h6hi] = box(6, 0, 1);
  out.push_back({"hartmann6", h6lo, h6hi, Hartmann6, -3.32237});
  auto [rlo, rhi] = box(4, -5, 10);
  out.push_back({"rosenbrock4", rlo, rhi, Rosenbrock, 0});
  auto [alo, ahi] = box(5, -32.768, 32.768);
  out.push_back({"ackley5", alo, ahi, Ackley, 0});
  auto [llo, lhi] = box(4, -10, 10);
  out.push_back({"levy4", llo, lhi, Levy, 0});
  auto [slo, shi] = box(4, -5, 5);
  out.push_back({"styblinski_tang4", slo, shi, StyblinskiTang, -39.16599 * 4});
  return out;
}

}  // namespace skiff::tuning::bench
