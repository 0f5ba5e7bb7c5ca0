#include "engine/tuning/search_space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "engine/tuning/rng.h"

namespace skiff::tuning {
namespace {

constexpr double kPriorSigmas = 3.0;  // normal priors: (max - min) / 6 is one sigma

std::string Path(std::string_view base, size_t i, std::string_view field = "") {
  std::string p = std::string(base) + "[" + std::to_string(i) + "]";
  if (!field.empty()) p += "." + std::string(field);
  return p;
}

Status FieldError(const std::string& path, std::string_view message) {
  return InvalidArgument(path + ": " + std::string(message));
}

// Katib writes numbers as strings ("0.01"); YAML without quotes gives JSON numbers. Both work.
Result<double> ParseNumber(const Json& v, const std::string& path, std::string* text) {
  if (v.is_number()) {
    double d = v.get<double>();
    if (text) *text = FormatNumber(d);
    return d;
  }
  if (!v.is_string()) return FieldError(path, "must be a number");
  const std::string s = v.get<std::string>();
  double d = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, d);
  if (ec != std::errc() || ptr != end || !std::isfinite(d)) {
    return FieldError(path, "\"" + s + "\" is not a number");
  }
  if (text) *text = s;
  return d;
}

int DecimalsOf(const std::string& text) {
  if (text.find_first_of("eE") != std::string::npos) return -1;
  auto dot = text.find('.');
  if (dot == std::string::npos) return 0;
  return static_cast<int>(text.size() - dot - 1);
}

bool IsLog(Distribution d) {
  return d == Distribution::kLogUniform || d == Distribution::kLogNormal;
}
bool IsNormal(Distribution d) {
  return d == Distribution::kNormal || d == Distribution::kLogNormal;
}

// The continuous range [lo, hi] in transformed (log or linear) space that u in [0, 1] covers.
struct Range {
  double lo, hi;
};
Range TransformedRange(const Parameter& p) {
  const double half = p.step > 0 && !IsLog(p.distribution) ? p.step / 2 : 0;
  if (IsLog(p.distribution)) return {std::log(p.min), std::log(p.max)};
  return {p.min - half, p.max + half};
}

double Forward(const Parameter& p, double x) {  // value -> u (before snapping)
  const Range r = TransformedRange(p);
  if (r.hi <= r.lo) return 0.5;
  const double t = IsLog(p.distribution) ? std::log(std::max(x, 1e-300)) : x;
  double u;
  if (IsNormal(p.distribution)) {
    const double mu = (r.lo + r.hi) / 2, sigma = (r.hi - r.lo) / (2 * kPriorSigmas);
    const double a = NormalCdf(-kPriorSigmas), b = NormalCdf(kPriorSigmas);
    u = (NormalCdf((t - mu) / sigma) - a) / (b - a);
  } else {
    u = (t - r.lo) / (r.hi - r.lo);
  }
  return std::clamp(u, 0.0, 1.0);
}

double Inverse(const Parameter& p, double u) {  // u -> value (before snapping)
  const Range r = TransformedRange(p);
  if (r.hi <= r.lo) return p.min;
  u = std::clamp(u, 0.0, 1.0);
  double t;
  if (IsNormal(p.distribution)) {
    const double mu = (r.lo + r.hi) / 2, sigma = (r.hi - r.lo) / (2 * kPriorSigmas);
    const double a = NormalCdf(-kPriorSigmas), b = NormalCdf(kPriorSigmas);
    const double q = std::clamp(a + u * (b - a), 1e-300, 1 - 1e-16);
    t = std::clamp(mu + sigma * NormalQuantile(q), r.lo, r.hi);
  } else {
    t = r.lo + u * (r.hi - r.lo);
  }
  double x = IsLog(p.distribution) ? std::exp(t) : t;
  return std::clamp(x, p.min, p.max);
}

double SnapValue(const Parameter& p, double x) {
  if (p.step > 0) {
    const double count = static_cast<double>(p.Cardinality());
    double k = std::clamp(std::round((x - p.min) / p.step), 0.0, count - 1);
    x = p.min + k * p.step;
    if (p.type == ParameterType::kInt) {
      x = std::round(x);
    } else if (p.decimals >= 0 && p.decimals <= 15) {
      const double scale = std::pow(10.0, p.decimals);
      x = std::round(x * scale) / scale;
    }
  }
  return std::clamp(x, p.min, p.max);
}

size_t ListIndex(size_t k, double u) {
  return std::min(k - 1, static_cast<size_t>(std::max(0.0, u) * static_cast<double>(k)));
}

}  // namespace

double NormalQuantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  double x;
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - 0.02425) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step against erfc.
  const double e = NormalCdf(x) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

std::string FormatNumber(double value) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "0";
  return std::string(buf, ptr);
}

size_t Parameter::Cardinality() const {
  if (IsList()) return list.size();
  if (step <= 0) return 0;
  return static_cast<size_t>(std::floor((max - min) / step + 1e-9)) + 1;
}

Result<SearchSpace> SearchSpace::FromKatibJson(const Json& parameters, std::string_view path) {
  if (!parameters.is_array() || parameters.empty()) {
    return FieldError(std::string(path), "must be a non-empty list of parameters");
  }
  std::vector<Parameter> out;
  std::set<std::string> names;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const Json& item = parameters[i];
    if (!item.is_object()) return FieldError(Path(path, i), "must be an object");
    Parameter p;
    p.name = StringField(item, "name");
    if (p.name.empty()) return FieldError(Path(path, i, "name"), "is required");
    if (!names.insert(p.name).second) {
      return FieldError(Path(path, i, "name"), "duplicate parameter \"" + p.name + "\"");
    }
    const std::string type = StringField(item, "parameterType");
    if (type == "double") {
      p.type = ParameterType::kDouble;
    } else if (type == "int") {
      p.type = ParameterType::kInt;
    } else if (type == "discrete") {
      p.type = ParameterType::kDiscrete;
    } else if (type == "categorical") {
      p.type = ParameterType::kCategorical;
    } else {
      return FieldError(Path(path, i, "parameterType"),
                        "must be one of double, int, discrete, categorical (got \"" + type + "\")");
    }
    const Json* fs = FindField(item, "feasibleSpace");
    const std::string fpath = Path(path, i, "feasibleSpace");
    if (!fs || !fs->is_object()) return FieldError(fpath, "is required");
    const std::string dist = StringField(*fs, "distribution");
    if (dist.empty() || dist == "uniform") {
      p.distribution = Distribution::kUniform;
    } else if (dist == "logUniform") {
      p.distribution = Distribution::kLogUniform;
    } else if (dist == "normal") {
      p.distribution = Distribution::kNormal;
    } else if (dist == "logNormal") {
      p.distribution = Distribution::kLogNormal;
    } else {
      return FieldError(fpath + ".distribution",
                        "must be one of uniform, logUniform, normal, logNormal (got \"" + dist +
                            "\")");
    }
    const Json* list = FindField(*fs, "list");
    if (p.IsList()) {
      if (!list || !list->is_array() || list->empty()) {
        return FieldError(fpath + ".list", "is required for " + type + " parameters");
      }
      std::set<std::string> seen;
      for (size_t j = 0; j < list->size(); ++j) {
        const std::string lpath = fpath + ".list[" + std::to_string(j) + "]";
        std::string text = (*list)[j].is_string() ? (*list)[j].get<std::string>()
                                                  : ScalarToString((*list)[j]);
        if (p.type == ParameterType::kDiscrete) {
          std::string parsed;
          SKIFF_ASSIGN_OR_RETURN(double v, ParseNumber((*list)[j], lpath, &parsed));
          p.numbers.push_back(v);
          text = parsed;
        }
        if (!seen.insert(text).second) return FieldError(lpath, "duplicate value \"" + text + "\"");
        p.list.push_back(text);
      }
      p.distribution = Distribution::kUniform;  // lists are always drawn uniformly
    } else {
      if (list && !list->is_null()) {
        return FieldError(fpath + ".list", "is only allowed for discrete and categorical");
      }
      const Json* jmin = FindField(*fs, "min");
      const Json* jmax = FindField(*fs, "max");
      if (!jmin) return FieldError(fpath + ".min", "is required for " + type + " parameters");
      if (!jmax) return FieldError(fpath + ".max", "is required for " + type + " parameters");
      std::string min_text, step_text;
      SKIFF_ASSIGN_OR_RETURN(p.min, ParseNumber(*jmin, fpath + ".min", &min_text));
      SKIFF_ASSIGN_OR_RETURN(p.max, ParseNumber(*jmax, fpath + ".max", nullptr));
      if (p.max < p.min) return FieldError(fpath + ".max", "must not be below min");
      if (const Json* jstep = FindField(*fs, "step"); jstep && !jstep->is_null()) {
        SKIFF_ASSIGN_OR_RETURN(p.step, ParseNumber(*jstep, fpath + ".step", &step_text));
        if (p.step <= 0) return FieldError(fpath + ".step", "must be positive");
      }
      if (p.type == ParameterType::kInt) {
        if (p.min != std::floor(p.min)) return FieldError(fpath + ".min", "must be an integer");
        if (p.max != std::floor(p.max)) return FieldError(fpath + ".max", "must be an integer");
        if (p.step == 0) p.step = 1;
        if (p.step != std::floor(p.step)) return FieldError(fpath + ".step", "must be an integer");
      }
      if (IsLog(p.distribution) && p.min <= 0) {
        return FieldError(fpath + ".min", "must be positive for a " + dist + " distribution");
      }
      if (p.step > 0) {
        const int dm = DecimalsOf(min_text), ds = DecimalsOf(step_text);
        p.decimals = (dm < 0 || ds < 0) ? -1 : std::max(dm, ds);
      }
    }
    out.push_back(std::move(p));
  }
  return SearchSpace(std::move(out));
}

int SearchSpace::Index(std::string_view name) const {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (parameters_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

double SearchSpace::DecodeNumber(size_t i, double u) const {
  const Parameter& p = parameters_[i];
  if (p.IsList()) {
    const size_t k = ListIndex(p.list.size(), u);
    return p.type == ParameterType::kDiscrete ? p.numbers[k] : static_cast<double>(k);
  }
  return SnapValue(p, Inverse(p, u));
}

double SearchSpace::Snap(size_t i, double u) const {
  const Parameter& p = parameters_[i];
  u = std::clamp(u, 0.0, 1.0);
  if (p.IsList()) {
    const size_t k = p.list.size();
    return (static_cast<double>(ListIndex(k, u)) + 0.5) / static_cast<double>(k);
  }
  if (p.step <= 0) return u;
  return Forward(p, DecodeNumber(i, u));
}

std::vector<double> SearchSpace::Snap(const std::vector<double>& point) const {
  std::vector<double> out(point.size());
  for (size_t i = 0; i < point.size(); ++i) out[i] = Snap(i, point[i]);
  return out;
}

std::vector<double> SearchSpace::DecodeNumbers(const std::vector<double>& point) const {
  std::vector<double> out(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) out[i] = DecodeNumber(i, point[i]);
  return out;
}

Assignment SearchSpace::Decode(const std::vector<double>& point) const {
  Assignment out;
  out.reserve(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Parameter& p = parameters_[i];
    std::string value;
    if (p.IsList()) {
      value = p.list[ListIndex(p.list.size(), point[i])];
    } else {
      const double x = DecodeNumber(i, point[i]);
      value = p.type == ParameterType::kInt ? std::to_string(static_cast<long long>(x))
                                            : FormatNumber(x);
    }
    out.push_back({p.name, std::move(value)});
  }
  return out;
}

Result<double> SearchSpace::EncodeNumber(size_t i, double x) const {
  const Parameter& p = parameters_[i];
  if (p.type == ParameterType::kCategorical) {
    if (x < 0 || x >= static_cast<double>(p.list.size()) || x != std::floor(x)) {
      return InvalidArgument(p.name + ": no category with index " + FormatNumber(x));
    }
    return (x + 0.5) / static_cast<double>(p.list.size());
  }
  if (p.type == ParameterType::kDiscrete) {
    for (size_t k = 0; k < p.numbers.size(); ++k) {
      if (std::abs(p.numbers[k] - x) <= 1e-12 * std::max(1.0, std::abs(x))) {
        return (static_cast<double>(k) + 0.5) / static_cast<double>(p.numbers.size());
      }
    }
    return InvalidArgument(p.name + ": " + FormatNumber(x) + " is not in the list");
  }
  const double tol = 1e-9 * std::max(1.0, std::abs(p.max - p.min));
  if (x < p.min - tol || x > p.max + tol) {
    return InvalidArgument(p.name + ": " + FormatNumber(x) + " is outside [" +
                           FormatNumber(p.min) + ", " + FormatNumber(p.max) + "]");
  }
  return Forward(p, SnapValue(p, x));
}

Result<double> SearchSpace::EncodeValue(size_t i, std::string_view value) const {
  const Parameter& p = parameters_[i];
  if (p.type == ParameterType::kCategorical) {
    for (size_t k = 0; k < p.list.size(); ++k) {
      if (p.list[k] == value) return EncodeNumber(i, static_cast<double>(k));
    }
    return InvalidArgument(p.name + ": \"" + std::string(value) + "\" is not in the list");
  }
  std::string text;
  auto number = ParseNumber(Json(std::string(value)), p.name, &text);
  if (!number.ok()) return number.status();
  return EncodeNumber(i, *number);
}

Result<std::vector<double>> SearchSpace::Encode(const Assignment& assignment) const {
  std::vector<double> point(parameters_.size(), -1);
  for (const auto& a : assignment) {
    const int i = Index(a.name);
    if (i < 0) return InvalidArgument("unknown parameter \"" + a.name + "\"");
    SKIFF_ASSIGN_OR_RETURN(point[i], EncodeValue(static_cast<size_t>(i), a.value));
  }
  for (size_t i = 0; i < point.size(); ++i) {
    if (point[i] < 0) return InvalidArgument("no value for parameter \"" + parameters_[i].name + "\"");
  }
  return point;
}

Result<std::vector<double>> SearchSpace::GridCoordinates(size_t i) const {
  const Parameter& p = parameters_[i];
  const size_t k = p.Cardinality();
  if (k == 0) {
    return InvalidArgument("parameter \"" + p.name +
                           "\": grid search needs feasibleSpace.step for double parameters");
  }
  std::vector<double> out;
  out.reserve(k);
  for (size_t j = 0; j < k; ++j) {
    if (p.IsList()) {
      out.push_back((static_cast<double>(j) + 0.5) / static_cast<double>(k));
    } else {
      out.push_back(Forward(p, SnapValue(p, p.min + static_cast<double>(j) * p.step)));
    }
  }
  return out;
}

}  // namespace skiff::tuning
