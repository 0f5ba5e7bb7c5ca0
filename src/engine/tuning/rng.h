// A small, portable pseudo-random generator (xoshiro256**, seeded through SplitMix64) with the
// few distributions the samplers need. Standard-library distributions are implementation-defined,
// so the engine draws its own numbers: a seed gives the same suggestions on every platform.
// Thread-compatible value type.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace skiff::tuning {

// Mixes 64-bit words into one seed (SplitMix64 finalizer over a running hash).
inline uint64_t MixSeed(std::initializer_list<uint64_t> words) {
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (uint64_t w : words) {
    h ^= w + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
  }
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) {
      x += 0x9E3779B97F4A7C15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      s = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  // Uniform integer in [0, n); n > 0.
  uint64_t Below(uint64_t n) {
    // Lemire's multiply-shift; the tiny bias for huge n does not matter here.
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  bool Bernoulli(double p) { return Uniform() < p; }

  // Standard normal (Marsaglia's polar method, spare value kept).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2 * Uniform() - 1;
      v = 2 * Uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double f = std::sqrt(-2 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// Standard normal CDF and its inverse (Acklam's rational approximation refined by one Halley
// step; absolute error below 1e-13), used to encode normal priors and by truncated normals.
inline double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double NormalQuantile(double p);

}  // namespace skiff::tuning
