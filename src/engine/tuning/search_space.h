// The search space of a Katib Experiment (`spec.parameters`, v1beta1 semantics) and its encoding
// into the unit cube that every sampler works in.
//
// Each parameter is one coordinate u in [0, 1]:
//   - double/int, uniform:     u is linear in the value; with a `step` (ints always have one, 1 by
//     default) the range is widened by half a step on each side before snapping, so every
//     allowed value owns an equal share of [0, 1].
//   - logUniform:              u is linear in log(value) (requires min > 0).
//   - normal / logNormal:      u is the CDF of a normal prior truncated to [min, max] with
//     mu = (min + max) / 2 and sigma = (max - min) / 6 (in log space for logNormal), so a uniform
//     u draws from that prior. (Katib's hyperopt service uses sigma = 1 whatever the range; see
//     docs/design/tuning.md.)
//   - discrete / categorical:  the k values of `list` own equal slices; value i encodes as
//     (i + 0.5) / k.
// `Decode` snaps to steps, rounds ints, picks list entries, and renders each value the way
// Katib writes a parameter assignment (a string). `Encode` is its inverse on allowed values,
// so a controller rebuilds a sampler's history from stored Trials.
//
// Immutable after parsing; thread-safe for concurrent reads.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::tuning {

enum class ParameterType { kDouble, kInt, kDiscrete, kCategorical };
enum class Distribution { kUniform, kLogUniform, kNormal, kLogNormal };

struct Parameter {
  std::string name;
  ParameterType type = ParameterType::kDouble;
  Distribution distribution = Distribution::kUniform;
  double min = 0;
  double max = 0;
  double step = 0;                  // 0: continuous; ints default to 1
  std::vector<std::string> list;    // discrete/categorical values as written
  std::vector<double> numbers;      // discrete values as numbers
  int decimals = -1;                // rounding for stepped doubles (from the text of min/step)

  bool IsList() const {
    return type == ParameterType::kDiscrete || type == ParameterType::kCategorical;
  }
  // Number of distinct values; 0 for a continuous double.
  size_t Cardinality() const;
};

// One `{name, value}` of Katib's `parameterAssignments`.
struct ParameterAssignment {
  std::string name;
  std::string value;
  bool operator==(const ParameterAssignment&) const = default;
};
using Assignment = std::vector<ParameterAssignment>;
inline void PrintTo(const ParameterAssignment& a, std::ostream* os) { *os << a.name << "=" << a.value; }

class SearchSpace {
 public:
  SearchSpace() = default;
  explicit SearchSpace(std::vector<Parameter> parameters) : parameters_(std::move(parameters)) {}

  // Parses Katib's `spec.parameters` array. Errors name the field, e.g.
  // "spec.parameters[2].feasibleSpace.max: must not be below min".
  static Result<SearchSpace> FromKatibJson(const Json& parameters,
                                           std::string_view path = "spec.parameters");

  size_t size() const { return parameters_.size(); }
  const std::vector<Parameter>& parameters() const { return parameters_; }
  const Parameter& parameter(size_t i) const { return parameters_[i]; }
  int Index(std::string_view name) const;  // -1 if absent

  // The value of parameter `i` at unit coordinate `u` as a number (list entries: the number for
  // discrete, the index for categorical).
  double DecodeNumber(size_t i, double u) const;
  // Snaps `u` onto the coordinate of the value it decodes to (identity for continuous doubles).
  double Snap(size_t i, double u) const;
  std::vector<double> Snap(const std::vector<double>& point) const;
  // The assignment at `point` (size() coordinates in [0, 1]; values outside are clamped).
  Assignment Decode(const std::vector<double>& point) const;
  // Numbers for each parameter (see DecodeNumber); used by benchmarks and tests.
  std::vector<double> DecodeNumbers(const std::vector<double>& point) const;
  // Unit coordinate of a value given as Katib's string; InvalidArgument if not allowed.
  Result<double> EncodeValue(size_t i, std::string_view value) const;
  Result<double> EncodeNumber(size_t i, double value) const;
  Result<std::vector<double>> Encode(const Assignment& assignment) const;

  // Every value of a parameter for grid search, as unit coordinates in ascending order;
  // InvalidArgument for a continuous double (Katib's grid needs a `step`).
  Result<std::vector<double>> GridCoordinates(size_t i) const;

 private:
  std::vector<Parameter> parameters_;
};

// Renders a double the way a person writes it: shortest text that reads back to the same value.
std::string FormatNumber(double value);

}  // namespace skiff::tuning
