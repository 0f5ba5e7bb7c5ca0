// Sobol' sequence (Bratley & Fox's construction with Joe & Kuo's primitive polynomials and
// initial direction numbers, "new-joe-kuo-6" table, dimensions 2..40), optionally scrambled by
// a random linear matrix scramble plus digital shift (Matoušek), which keeps the net property.
#include <algorithm>
#include <set>

#include "engine/tuning/sampler_internal.h"

namespace skiff::tuning::internal {
namespace {

struct DirectionEntry {
  int degree;      // s: degree of the primitive polynomial
  unsigned a;      // its inner coefficients as bits
  unsigned m[8];   // initial direction numbers m_1..m_s (odd, m_k < 2^k)
};

// Joe & Kuo (2008), new-joe-kuo-6.21201, dimensions 2 to 40 (dimension 1 is van der Corput).
constexpr DirectionEntry kDirections[] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},
    {7, 50, {1, 3, 1, 3, 5, 53, 69}},
    {7, 55, {1, 1, 5, 5, 23, 33, 13}},
    {7, 56, {1, 1, 7, 7, 1, 61, 123}},
    {7, 59, {1, 1, 7, 9, 13, 61, 49}},
    {7, 62, {1, 3, 3, 5, 3, 55, 33}},
    {8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},
    {8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},
    {8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},
};
constexpr size_t kMaxDims = 1 + sizeof(kDirections) / sizeof(kDirections[0]);
constexpr int kBits = 32;

// Direction numbers v_1..v_32 of one dimension, as 32-bit fractions (bit 31 = first digit).
std::vector<uint32_t> DirectionNumbers(size_t dim) {
  std::vector<uint32_t> v(kBits);
  if (dim == 0) {
    for (int k = 0; k < kBits; ++k) v[k] = uint32_t{1} << (kBits - 1 - k);
    return v;
  }
  const DirectionEntry& e = kDirections[dim - 1];
  const int s = e.degree;
  for (int k = 0; k < s && k < kBits; ++k) v[k] = e.m[k] << (kBits - 1 - k);
  for (int k = s; k < kBits; ++k) {
    uint32_t x = v[k - s] ^ (v[k - s] >> s);
    for (int i = 1; i < s; ++i) {
      if ((e.a >> (s - 1 - i)) & 1) x ^= v[k - i];
    }
    v[k] = x;
  }
  return v;
}

}  // namespace

ScrambledSobol::ScrambledSobol(size_t dims, bool scramble, uint64_t seed)
    : directions_(dims), shift_(dims, 0) {
  Rng rng(seed);
  for (size_t d = 0; d < dims; ++d) {
    directions_[d] = DirectionNumbers(d);
    if (!scramble) continue;
    // Lower-triangular binary matrix with a unit diagonal: row r mixes digits 0..r.
    uint32_t rows[kBits];
    for (int r = 0; r < kBits; ++r) {
      const uint32_t below = r == 0 ? 0 : static_cast<uint32_t>(rng.Next() >> 32) &
                                               ~((uint32_t{1} << (kBits - r)) - 1);
      rows[r] = below | (uint32_t{1} << (kBits - 1 - r));
    }
    for (auto& v : directions_[d]) {
      uint32_t out = 0;
      for (int r = 0; r < kBits; ++r) {
        if (__builtin_parity(rows[r] & v)) out |= uint32_t{1} << (kBits - 1 - r);
      }
      v = out;
    }
    shift_[d] = static_cast<uint32_t>(rng.Next() >> 32);
  }
}

size_t ScrambledSobol::MaxDims() { return kMaxDims; }

std::vector<double> ScrambledSobol::Point(uint64_t index) const {
  std::vector<double> p(directions_.size());
  // Gray-code order (Antonov & Saleev), the order other libraries list the points in.
  const uint64_t gray = index ^ (index >> 1);
  for (size_t d = 0; d < p.size(); ++d) {
    uint32_t x = shift_[d];
    for (int k = 0; k < kBits && (gray >> k); ++k) {
      if ((gray >> k) & 1) x ^= directions_[d][k];
    }
    p[d] = static_cast<double>(x) * 0x1.0p-32;
  }
  return p;
}

namespace {

class SobolSampler final : public Sampler {
 public:
  SobolSampler(const SearchSpace& space, bool scramble, uint64_t seed)
      : space_(space), seq_(space.size(), scramble, MixSeed({seed, 0x536f626f6c})) {}

  std::vector<double> Point(uint64_t index) const { return seq_.Point(index); }

  Result<SuggestResult> Suggest(const History& history, int n) const override {
    uint64_t next = 0;
    for (const Trial& t : history) {
      auto it = t.labels.find("sobol.index");
      if (it != t.labels.end()) next = std::max<uint64_t>(next, std::stoull(it->second) + 1);
    }
    SuggestResult out;
    for (int i = 0; i < n; ++i, ++next) {
      Suggestion s = MakeSuggestion(space_, Point(next));
      s.labels["sobol.index"] = std::to_string(next);
      out.suggestions.push_back(std::move(s));
    }
    return out;
  }

 private:
  SearchSpace space_;
  ScrambledSobol seq_;
};

}  // namespace


Result<std::unique_ptr<Sampler>> NewSobolSampler(const SearchSpace& space, Settings& s,
                                                 uint64_t seed) {
  Result<std::string> scramble = s.Choice("scramble", "true", {"true", "false"});
  if (!scramble.ok()) return scramble.status();
  const bool scrambled = *scramble == "true";
  if (space.size() > kMaxDims) {
    return InvalidArgument("spec.parameters: sobol supports up to " + std::to_string(kMaxDims) +
                           " parameters");
  }
  return std::unique_ptr<Sampler>(std::make_unique<SobolSampler>(space, scrambled, seed));
}

}  // namespace skiff::tuning::internal
