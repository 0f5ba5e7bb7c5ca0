#include "serving/protocol/v2_fast.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace skiff::serving::internal {

namespace {

// A cursor over JSON text that accepts only what the simple shape needs. Every method returns
// false on anything else, and the caller then gives up on the fast path.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Peek(char c) {
    Ws();
    return p_ < end_ && *p_ == c;
  }
  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++p_;
    return true;
  }
  bool AtEnd() {
    Ws();
    return p_ == end_;
  }
  // A string of printable ASCII without escapes.
  bool PlainString(std::string_view* out) {
    if (!Consume('"')) return false;
    const char* start = p_;
    while (p_ < end_ && *p_ != '"') {
      auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20 || c >= 0x80 || c == '\\') return false;
      ++p_;
    }
    if (p_ == end_) return false;
    *out = std::string_view(start, static_cast<size_t>(p_ - start));
    ++p_;
    return true;
  }
  // A number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(std::string_view* out, bool* integral) {
    Ws();
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    *integral = true;
    if (p_ < end_ && *p_ == '.') {
      *integral = false;
      ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      *integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    *out = std::string_view(start, static_cast<size_t>(p_ - start));
    return true;
  }
  // An array of numbers, flat or nested to any depth up to `kMaxDepth` (row-major data, as
  // the general codec flattens it), calling `f(token, integral)` for each number in order;
  // strings and literals are not skipped over (they make this fail, as does `f` returning false).
  template <typename F>
  bool Array(F&& f, int depth = 0) {
    if (depth > kMaxDepth || !Consume('[')) return false;
    if (Consume(']')) return true;
    for (;;) {
      if (Peek('[')) {
        if (!Array(f, depth + 1)) return false;
      } else {
        std::string_view num;
        bool integral = false;
        if (!Number(&num, &integral) || !f(num, integral)) return false;
      }
      if (Consume(',')) continue;
      if (Consume(']')) return true;
      return false;
    }
  }
  // The text of such an array, brackets included.
  bool ArrayText(std::string_view* out) {
    Ws();
    const char* start = p_;
    if (!Array([](std::string_view, bool) { return true; })) return false;
    *out = std::string_view(start, static_cast<size_t>(p_ - start));
    return true;
  }
  // `{}` (parameters with nothing in them).
  bool EmptyObject() { return Consume('{') && Consume('}'); }

 private:
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  static constexpr int kMaxDepth = 32;
  const char* p_;
  const char* end_;
};

// A number token as a JSON reader holds it and then hands it out as a double: integer tokens
// as integers first (so "-0" is 0, not -0.0), others (and integers past 64 bits) as doubles.
bool ToDouble(const char* first, const char* last, bool integral, double* out) {
  if (integral) {
    int64_t i = 0;
    auto [ptr, ec] = std::from_chars(first, last, i);
    if (ec == std::errc() && ptr == last) {
      *out = static_cast<double>(i);
      return true;
    }
    uint64_t u = 0;
    auto [uptr, uec] = std::from_chars(first, last, u);
    if (uec == std::errc() && uptr == last) {
      *out = static_cast<double>(u);
      return true;
    }
  }
  auto [ptr, ec] = std::from_chars(first, last, *out);
  return ec == std::errc() && ptr == last && std::isfinite(*out);
}

// One number token as `T`, exactly as the general codec would store it; false where it might
// decide otherwise (a float for an integer type, a value out of range, ...).
template <typename T>
bool ToElement(std::string_view num, bool integral, T* out) {
  const char* first = num.data();
  const char* last = num.data() + num.size();
  if constexpr (std::is_floating_point_v<T>) {
    double v = 0;
    if (!ToDouble(first, last, integral, &v)) return false;
    if constexpr (std::is_same_v<T, float>) {
      if (std::abs(v) > std::numeric_limits<float>::max()) return false;
    }
    *out = static_cast<T>(v);
    return true;
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!integral || *first == '-') return false;
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || ptr != last || v > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(v);
    return true;
  } else {
    if (!integral) return false;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || ptr != last || v < std::numeric_limits<T>::min() ||
        v > std::numeric_limits<T>::max()) {
      return false;
    }
    *out = static_cast<T>(v);
    return true;
  }
}

// The numbers of an array (text from `Scanner::ArrayText`), flattened, as `T`, exactly as the
// general codec would store them; false where it might decide otherwise (floats for an integer
// type, values out of range, ...).
template <typename T>
bool ParseNumbers(std::string_view array, std::vector<T>* out) {
  Scanner s(array);
  bool ok = s.Array([out](std::string_view num, bool integral) {
    T v{};
    if (!ToElement(num, integral, &v)) return false;
    out->push_back(v);
    return true;
  });
  return ok && s.AtEnd();
}

template <typename T>
std::optional<Tensor> TypedTensor(DataType datatype, std::vector<int64_t> shape, std::string_view data,
                                  int64_t count) {
  std::vector<T> values;
  values.reserve(static_cast<size_t>(count));
  if (!ParseNumbers<T>(data, &values) || static_cast<int64_t>(values.size()) != count) return std::nullopt;
  auto t = Tensor::FromValues<T>(std::move(shape), values, datatype);
  if (!t.ok()) return std::nullopt;
  return std::move(*t);
}

std::optional<Tensor> MakeTensor(DataType datatype, std::vector<int64_t> shape, std::string_view data) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > (int64_t{1} << 40) / d)) return std::nullopt;
    count *= d;
  }
  switch (datatype) {
    case DataType::kFp32: return TypedTensor<float>(datatype, std::move(shape), data, count);
    case DataType::kFp64: return TypedTensor<double>(datatype, std::move(shape), data, count);
    case DataType::kInt8: return TypedTensor<int8_t>(datatype, std::move(shape), data, count);
    case DataType::kInt16: return TypedTensor<int16_t>(datatype, std::move(shape), data, count);
    case DataType::kInt32: return TypedTensor<int32_t>(datatype, std::move(shape), data, count);
    case DataType::kInt64: return TypedTensor<int64_t>(datatype, std::move(shape), data, count);
    case DataType::kUint8: return TypedTensor<uint8_t>(datatype, std::move(shape), data, count);
    case DataType::kUint16: return TypedTensor<uint16_t>(datatype, std::move(shape), data, count);
    case DataType::kUint32: return TypedTensor<uint32_t>(datatype, std::move(shape), data, count);
    case DataType::kUint64: return TypedTensor<uint64_t>(datatype, std::move(shape), data, count);
    default: return std::nullopt;  // BOOL, FP16, BF16, BYTES: the general codec
  }
}

// One input object; its keys in any order, each once.
std::optional<InferInput> ParseInput(Scanner& s) {
  if (!s.Consume('{')) return std::nullopt;
  std::string_view name, datatype, data;
  std::vector<int64_t> shape;
  bool have_name = false, have_type = false, have_shape = false, have_data = false, have_params = false;
  if (!s.Consume('}')) {
    for (;;) {
      std::string_view key;
      if (!s.PlainString(&key) || !s.Consume(':')) return std::nullopt;
      if (key == "name" && !have_name) {
        if (!s.PlainString(&name) || name.empty()) return std::nullopt;
        have_name = true;
      } else if (key == "datatype" && !have_type) {
        if (!s.PlainString(&datatype)) return std::nullopt;
        have_type = true;
      } else if (key == "shape" && !have_shape) {
        std::string_view dims;
        if (!s.ArrayText(&dims) || dims.find('[', 1) != std::string_view::npos) return std::nullopt;
        std::vector<int64_t> parsed;
        if (!ParseNumbers<int64_t>(dims, &parsed)) return std::nullopt;
        for (int64_t d : parsed) {
          if (d < 0) return std::nullopt;
        }
        shape = std::move(parsed);
        have_shape = true;
      } else if (key == "data" && !have_data) {
        if (!s.ArrayText(&data)) return std::nullopt;
        have_data = true;
      } else if (key == "parameters" && !have_params) {
        if (!s.EmptyObject()) return std::nullopt;
        have_params = true;
      } else {
        return std::nullopt;
      }
      if (s.Consume(',')) continue;
      if (s.Consume('}')) break;
      return std::nullopt;
    }
  }
  if (!have_name || !have_type || !have_shape || !have_data) return std::nullopt;
  auto dt = ParseDataType(datatype);
  if (!dt) return std::nullopt;
  auto tensor = MakeTensor(*dt, std::move(shape), data);
  if (!tensor) return std::nullopt;
  InferInput in;
  in.name = std::string(name);
  in.tensor = std::move(*tensor);
  return in;
}

// Appends `s` as a JSON string: directly when it is plain, else as the general codec writes it.
void AppendString(std::string* out, std::string_view s) {
  bool plain = true;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (!plain) {
    *out += DumpJson(Json(std::string(s)));
    return;
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

template <typename T>
void AppendInteger(std::string* out, T v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out->append(buf, ptr);
}

// A double the way JSON readers take it back exactly: the shortest text that round-trips, with
// ".0" on integral values (as the general codec writes them); not-finite values are null.
void AppendDouble(std::string* out, double v) {
  if (!std::isfinite(v)) {
    *out += "null";
    return;
  }
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  std::string_view text(buf, static_cast<size_t>(ptr - buf));
  out->append(text);
  if (text.find_first_of(".e") == std::string_view::npos) *out += ".0";
}

template <typename T>
void AppendValues(std::string* out, const Tensor& t) {
  out->push_back('[');
  bool first = true;
  for (T v : t.values<T>()) {
    if (!first) out->push_back(',');
    first = false;
    if constexpr (std::is_floating_point_v<T>) {
      AppendDouble(out, static_cast<double>(v));
    } else {
      AppendInteger(out, v);
    }
  }
  out->push_back(']');
}

bool AppendData(std::string* out, const Tensor& t) {
  switch (t.datatype()) {
    case DataType::kFp32: AppendValues<float>(out, t); return true;
    case DataType::kFp64: AppendValues<double>(out, t); return true;
    case DataType::kInt8: AppendValues<int8_t>(out, t); return true;
    case DataType::kInt16: AppendValues<int16_t>(out, t); return true;
    case DataType::kInt32: AppendValues<int32_t>(out, t); return true;
    case DataType::kInt64: AppendValues<int64_t>(out, t); return true;
    case DataType::kUint8: AppendValues<uint8_t>(out, t); return true;
    case DataType::kUint16: AppendValues<uint16_t>(out, t); return true;
    case DataType::kUint32: AppendValues<uint32_t>(out, t); return true;
    case DataType::kUint64: AppendValues<uint64_t>(out, t); return true;
    default: return false;
  }
}

bool NoParameters(const Json& p) { return p.is_null() || (p.is_object() && p.empty()); }

}  // namespace

std::optional<InferRequest> ParseSimpleInferRequest(std::string_view body) {
  Scanner s(body);
  if (!s.Consume('{')) return std::nullopt;
  InferRequest req;
  bool have_id = false, have_params = false, have_inputs = false;
  if (s.Consume('}')) return std::nullopt;  // no inputs: the general codec's error
  for (;;) {
    std::string_view key;
    if (!s.PlainString(&key) || !s.Consume(':')) return std::nullopt;
    if (key == "id" && !have_id) {
      std::string_view id;
      if (!s.PlainString(&id)) return std::nullopt;
      req.id = std::string(id);
      have_id = true;
    } else if (key == "parameters" && !have_params) {
      if (!s.EmptyObject()) return std::nullopt;
      have_params = true;
    } else if (key == "inputs" && !have_inputs) {
      if (!s.Consume('[')) return std::nullopt;
      if (!s.Consume(']')) {
        for (;;) {
          auto in = ParseInput(s);
          if (!in) return std::nullopt;
          for (const auto& other : req.inputs) {
            if (other.name == in->name) return std::nullopt;  // the general codec's error
          }
          req.inputs.push_back(std::move(*in));
          if (s.Consume(',')) continue;
          if (s.Consume(']')) break;
          return std::nullopt;
        }
      }
      have_inputs = true;
    } else {
      return std::nullopt;
    }
    if (s.Consume(',')) continue;
    if (s.Consume('}')) break;
    return std::nullopt;
  }
  if (!have_inputs || !s.AtEnd()) return std::nullopt;
  return req;
}

bool EncodeSimpleInferResponse(const InferResponse& response, std::string* out) {
  if (!NoParameters(response.parameters)) return false;
  for (const auto& o : response.outputs) {
    if (!NoParameters(o.parameters)) return false;
    switch (o.tensor.datatype()) {
      case DataType::kBool:
      case DataType::kFp16:
      case DataType::kBf16:
      case DataType::kBytes: return false;
      default: break;
    }
  }
  size_t mark = out->size();
  size_t elements = 0;
  for (const auto& o : response.outputs) elements += static_cast<size_t>(o.tensor.element_count());
  out->reserve(mark + 96 + elements * 24);
  // Keys in the order the general codec (a sorted JSON object) writes them.
  *out += "{\"id\":";
  AppendString(out, response.id);
  *out += ",\"model_name\":";
  AppendString(out, response.model_name);
  if (!response.model_version.empty()) {
    *out += ",\"model_version\":";
    AppendString(out, response.model_version);
  }
  *out += ",\"outputs\":[";
  bool first = true;
  for (const auto& o : response.outputs) {
    if (!first) out->push_back(',');
    first = false;
    *out += "{\"data\":";
    if (!AppendData(out, o.tensor)) {
      out->resize(mark);
      return false;
    }
    *out += ",\"datatype\":\"";
    *out += DataTypeName(o.tensor.datatype());
    *out += "\",\"name\":";
    AppendString(out, o.name);
    *out += ",\"shape\":[";
    for (size_t i = 0; i < o.tensor.shape().size(); ++i) {
      if (i) out->push_back(',');
      AppendInteger(out, o.tensor.shape()[i]);
    }
    *out += "]}";
  }
  *out += "]}";
  return true;
}

}  // namespace skiff::serving::internal
