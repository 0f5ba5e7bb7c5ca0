// Hyperband's schedule (Li et al., 2018), as Katib's `hyperband` computes it from `r_l` (the
// maximum resource per trial) and `eta`: s_max = floor(log_eta(r_l)), B = (s_max + 1) r_l;
// bracket s (s_max down to 0) starts n = ceil(B / r_l * eta^s / (s + 1)) trials at
// r = r_l * eta^-s, and rung i keeps floor(n * eta^-i) of them at r * eta^i.
// Pure function; thread-safe.
#pragma once

#include <vector>

namespace skiff::tuning {

struct HyperbandRung {
  int trials;       // n_i
  double resource;  // r_i
};
struct HyperbandBracket {
  int s;
  std::vector<HyperbandRung> rungs;
};

std::vector<HyperbandBracket> HyperbandSchedule(double r_l, double eta);

}  // namespace skiff::tuning
