#include "serving/protocol/tensor.h"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace skiff::serving {

// The buffer is the wire format of the binary extension; hosts we build for are little-endian.
static_assert(std::endian::native == std::endian::little, "tensor buffers assume little-endian");

namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

constexpr TypeInfo kTypes[] = {
    {DataType::kBool, "BOOL", 1},     {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2}, {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8}, {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},   {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},   {DataType::kFp16, "FP16", 2},
    {DataType::kBf16, "BF16", 2},     {DataType::kFp32, "FP32", 4},
    {DataType::kFp64, "FP64", 8},     {DataType::kBytes, "BYTES", 0},
};

bool IsSigned(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}
bool IsUnsigned(DataType t) {
  return t == DataType::kUint8 || t == DataType::kUint16 || t == DataType::kUint32 ||
         t == DataType::kUint64;
}
bool IsFloat(DataType t) {
  return t == DataType::kFp16 || t == DataType::kBf16 || t == DataType::kFp32 ||
         t == DataType::kFp64;
}

template <typename T>
void Put(std::vector<std::byte>& buf, int64_t i, T v) {
  std::memcpy(buf.data() + static_cast<size_t>(i) * sizeof(T), &v, sizeof(T));
}
template <typename T>
T Get(const std::vector<std::byte>& buf, int64_t i) {
  T v;
  std::memcpy(&v, buf.data() + static_cast<size_t>(i) * sizeof(T), sizeof(T));
  return v;
}

void PutSigned(std::vector<std::byte>& buf, DataType t, int64_t i, int64_t v) {
  switch (t) {
    case DataType::kInt8: Put<int8_t>(buf, i, static_cast<int8_t>(v)); break;
    case DataType::kInt16: Put<int16_t>(buf, i, static_cast<int16_t>(v)); break;
    case DataType::kInt32: Put<int32_t>(buf, i, static_cast<int32_t>(v)); break;
    default: Put<int64_t>(buf, i, v); break;
  }
}
void PutUnsigned(std::vector<std::byte>& buf, DataType t, int64_t i, uint64_t v) {
  switch (t) {
    case DataType::kUint8: Put<uint8_t>(buf, i, static_cast<uint8_t>(v)); break;
    case DataType::kUint16: Put<uint16_t>(buf, i, static_cast<uint16_t>(v)); break;
    case DataType::kUint32: Put<uint32_t>(buf, i, static_cast<uint32_t>(v)); break;
    default: Put<uint64_t>(buf, i, v); break;
  }
}
void PutFloat(std::vector<std::byte>& buf, DataType t, int64_t i, double v) {
  switch (t) {
    case DataType::kFp16: Put<uint16_t>(buf, i, FloatToHalf(static_cast<float>(v))); break;
    case DataType::kBf16: Put<uint16_t>(buf, i, FloatToBf16(static_cast<float>(v))); break;
    case DataType::kFp32: Put<float>(buf, i, static_cast<float>(v)); break;
    default: Put<double>(buf, i, v); break;
  }
}

std::pair<int64_t, int64_t> SignedRange(DataType t) {
  switch (t) {
    case DataType::kInt8: return {INT8_MIN, INT8_MAX};
    case DataType::kInt16: return {INT16_MIN, INT16_MAX};
    case DataType::kInt32: return {INT32_MIN, INT32_MAX};
    default: return {INT64_MIN, INT64_MAX};
  }
}
uint64_t UnsignedMax(DataType t) {
  switch (t) {
    case DataType::kUint8: return UINT8_MAX;
    case DataType::kUint16: return UINT16_MAX;
    case DataType::kUint32: return UINT32_MAX;
    default: return UINT64_MAX;
  }
}

void Flatten(const Json& data, std::vector<const Json*>& out) {
  if (data.is_array()) {
    for (const auto& e : data) Flatten(e, out);
  } else {
    out.push_back(&data);
  }
}

Status CheckShape(const std::vector<int64_t>& shape) {
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("shape dimensions must be >= 0, got " + std::to_string(d));
  }
  return OkStatus();
}

Status ElementError(size_t i, const Json& v, DataType t, std::string_view why = "") {
  std::string m = "element " + std::to_string(i) + " (" + DumpJson(v) + ") is not a valid " +
                  std::string(DataTypeName(t));
  if (!why.empty()) m += ": " + std::string(why);
  return InvalidArgument(m);
}

}  // namespace

std::string_view DataTypeName(DataType t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i.name;
  }
  return "FP32";
}

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const auto& i : kTypes) {
    if (i.name == name) return i.type;
  }
  return std::nullopt;
}

size_t DataTypeSize(DataType t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i.size;
  }
  return 0;
}

uint16_t FloatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  }
  int32_t e = static_cast<int32_t>(exp) - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow to inf
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);  // underflow to zero
    mant |= 0x800000u;  // subnormal: shift in the implicit bit
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent
  return static_cast<uint16_t>(half);
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal: normalize
      int32_t e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(x);
}

uint16_t FloatToBf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu)) {
    return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  }
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float Bf16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

Tensor::Tensor(DataType datatype, std::vector<int64_t> shape)
    : datatype_(datatype), shape_(std::move(shape)) {
  int64_t n = element_count();
  if (datatype_ == DataType::kBytes) {
    strings_.resize(static_cast<size_t>(n));
  } else {
    buffer_.resize(static_cast<size_t>(n) * DataTypeSize(datatype_));
  }
}

int64_t Tensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= std::max<int64_t>(d, 0);
  return n;
}

std::string Tensor::ShapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape_[i]);
  }
  return s + "]";
}

void Tensor::CheckElement(DataType expected, size_t size) const {
  bool ok = datatype_ == expected ||
            ((datatype_ == DataType::kFp16 || datatype_ == DataType::kBf16) && size == 2 &&
             expected == DataType::kUint16) ||
            (datatype_ == DataType::kBool && expected == DataType::kUint8);
  if (!ok) std::abort();  // a bug in the caller: the typed view must match the datatype
}

Result<Tensor> Tensor::FromBools(std::vector<int64_t> shape, const std::vector<bool>& values) {
  SKIFF_RETURN_IF_ERROR(CheckShape(shape));
  Tensor t(DataType::kBool, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.element_count()) {
    return InvalidArgument("tensor of shape " + t.ShapeString() + " cannot hold " +
                           std::to_string(values.size()) + " values");
  }
  for (size_t i = 0; i < values.size(); ++i) t.buffer_[i] = std::byte{values[i] ? uint8_t{1} : uint8_t{0}};
  return t;
}

Result<Tensor> Tensor::FromStrings(std::vector<int64_t> shape, std::vector<std::string> values) {
  SKIFF_RETURN_IF_ERROR(CheckShape(shape));
  Tensor t(DataType::kBytes, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.element_count()) {
    return InvalidArgument("tensor of shape " + t.ShapeString() + " cannot hold " +
                           std::to_string(values.size()) + " values");
  }
  t.strings_ = std::move(values);
  return t;
}

Result<Tensor> Tensor::FromDoubles(DataType datatype, std::vector<int64_t> shape,
                                   const std::vector<double>& values) {
  if (datatype == DataType::kBytes) return InvalidArgument("BYTES tensors hold strings");
  SKIFF_RETURN_IF_ERROR(CheckShape(shape));
  Tensor t(datatype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.element_count()) {
    return InvalidArgument("tensor of shape " + t.ShapeString() + " cannot hold " +
                           std::to_string(values.size()) + " values");
  }
  for (size_t i = 0; i < values.size(); ++i) {
    auto idx = static_cast<int64_t>(i);
    double v = values[i];
    if (datatype == DataType::kBool) {
      t.buffer_[i] = std::byte{v != 0 ? uint8_t{1} : uint8_t{0}};
    } else if (IsSigned(datatype)) {
      PutSigned(t.buffer_, datatype, idx, static_cast<int64_t>(v));
    } else if (IsUnsigned(datatype)) {
      PutUnsigned(t.buffer_, datatype, idx, v <= 0 ? 0 : static_cast<uint64_t>(v));
    } else {
      PutFloat(t.buffer_, datatype, idx, v);
    }
  }
  return t;
}

Result<Tensor> Tensor::FromJson(DataType datatype, std::vector<int64_t> shape, const Json& data) {
  SKIFF_RETURN_IF_ERROR(CheckShape(shape));
  Tensor t(datatype, std::move(shape));
  std::vector<const Json*> flat;
  if (!data.is_array()) {
    return InvalidArgument("data must be an array, got " + std::string(data.type_name()));
  }
  Flatten(data, flat);
  if (static_cast<int64_t>(flat.size()) != t.element_count()) {
    return InvalidArgument("shape " + t.ShapeString() + " expects " +
                           std::to_string(t.element_count()) + " elements but data has " +
                           std::to_string(flat.size()));
  }
  for (size_t i = 0; i < flat.size(); ++i) {
    const Json& v = *flat[i];
    auto idx = static_cast<int64_t>(i);
    if (datatype == DataType::kBytes) {
      if (!v.is_string()) return ElementError(i, v, datatype, "expected a string");
      t.strings_[i] = v.get<std::string>();
    } else if (datatype == DataType::kBool) {
      if (v.is_boolean()) {
        t.buffer_[i] = std::byte{v.get<bool>() ? uint8_t{1} : uint8_t{0}};
      } else if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) {
        t.buffer_[i] = std::byte{static_cast<uint8_t>(v.get<int64_t>())};
      } else {
        return ElementError(i, v, datatype, "expected true or false");
      }
    } else if (IsFloat(datatype)) {
      if (!v.is_number()) return ElementError(i, v, datatype, "expected a number");
      PutFloat(t.buffer_, datatype, idx, v.get<double>());
    } else if (IsUnsigned(datatype)) {
      uint64_t u = 0;
      if (v.is_number_unsigned()) {
        u = v.get<uint64_t>();
      } else if (v.is_number_integer()) {
        return ElementError(i, v, datatype, "out of range");  // negative
      } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                 v.get<double>() >= 0 && v.get<double>() < 18446744073709551616.0) {
        u = static_cast<uint64_t>(v.get<double>());
      } else {
        return ElementError(i, v, datatype, v.is_number() ? "not an integer" : "expected a number");
      }
      if (u > UnsignedMax(datatype)) return ElementError(i, v, datatype, "out of range");
      PutUnsigned(t.buffer_, datatype, idx, u);
    } else {  // signed
      int64_t s = 0;
      if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
          return ElementError(i, v, datatype, "out of range");
        }
        s = static_cast<int64_t>(v.get<uint64_t>());
      } else if (v.is_number_integer()) {
        s = v.get<int64_t>();
      } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                 std::abs(v.get<double>()) < 9223372036854775808.0) {
        s = static_cast<int64_t>(v.get<double>());
      } else {
        return ElementError(i, v, datatype, v.is_number() ? "not an integer" : "expected a number");
      }
      auto [lo, hi] = SignedRange(datatype);
      if (s < lo || s > hi) return ElementError(i, v, datatype, "out of range");
      PutSigned(t.buffer_, datatype, idx, s);
    }
  }
  return t;
}

Result<Tensor> Tensor::FromBinary(DataType datatype, std::vector<int64_t> shape,
                                  std::string_view bytes) {
  SKIFF_RETURN_IF_ERROR(CheckShape(shape));
  Tensor t(datatype, std::move(shape));
  if (datatype != DataType::kBytes) {
    if (bytes.size() != t.buffer_.size()) {
      return InvalidArgument("shape " + t.ShapeString() + " of " +
                             std::string(DataTypeName(datatype)) + " expects " +
                             std::to_string(t.buffer_.size()) + " bytes but binary data has " +
                             std::to_string(bytes.size()));
    }
    if (!bytes.empty()) std::memcpy(t.buffer_.data(), bytes.data(), bytes.size());
    if (datatype == DataType::kBool) {
      for (auto& b : t.buffer_) {
        if (b != std::byte{0} && b != std::byte{1}) {
          return InvalidArgument("BOOL binary data must hold bytes 0 or 1");
        }
      }
    }
    return t;
  }
  size_t pos = 0;
  for (size_t i = 0; i < t.strings_.size(); ++i) {
    if (bytes.size() - pos < 4) {
      return InvalidArgument("BYTES binary data ends before element " + std::to_string(i) +
                             "'s 4-byte length");
    }
    uint32_t len;
    std::memcpy(&len, bytes.data() + pos, 4);
    pos += 4;
    if (bytes.size() - pos < len) {
      return InvalidArgument("BYTES element " + std::to_string(i) + " claims " +
                             std::to_string(len) + " bytes but only " +
                             std::to_string(bytes.size() - pos) + " remain");
    }
    t.strings_[i].assign(bytes.data() + pos, len);
    pos += len;
  }
  if (pos != bytes.size()) {
    return InvalidArgument("BYTES binary data has " + std::to_string(bytes.size() - pos) +
                           " bytes beyond the " + std::to_string(t.strings_.size()) +
                           " elements of shape " + t.ShapeString());
  }
  return t;
}

double Tensor::ElementAsDouble(int64_t i) const {
  switch (datatype_) {
    case DataType::kBool: return Get<uint8_t>(buffer_, i) ? 1.0 : 0.0;
    case DataType::kUint8: return Get<uint8_t>(buffer_, i);
    case DataType::kUint16: return Get<uint16_t>(buffer_, i);
    case DataType::kUint32: return Get<uint32_t>(buffer_, i);
    case DataType::kUint64: return static_cast<double>(Get<uint64_t>(buffer_, i));
    case DataType::kInt8: return Get<int8_t>(buffer_, i);
    case DataType::kInt16: return Get<int16_t>(buffer_, i);
    case DataType::kInt32: return Get<int32_t>(buffer_, i);
    case DataType::kInt64: return static_cast<double>(Get<int64_t>(buffer_, i));
    case DataType::kFp16: return HalfToFloat(Get<uint16_t>(buffer_, i));
    case DataType::kBf16: return Bf16ToFloat(Get<uint16_t>(buffer_, i));
    case DataType::kFp32: return Get<float>(buffer_, i);
    case DataType::kFp64: return Get<double>(buffer_, i);
    case DataType::kBytes: return 0;
  }
  return 0;
}

Result<std::vector<double>> Tensor::ToDoubles() const {
  if (datatype_ == DataType::kBytes) {
    return InvalidArgument("a BYTES tensor cannot be converted to numbers");
  }
  std::vector<double> out(static_cast<size_t>(element_count()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = ElementAsDouble(static_cast<int64_t>(i));
  return out;
}

Result<std::vector<float>> Tensor::ToFloats() const {
  if (datatype_ == DataType::kFp32) {
    auto v = values<float>();
    return std::vector<float>(v.begin(), v.end());
  }
  SKIFF_ASSIGN_OR_RETURN(auto d, ToDoubles());
  return std::vector<float>(d.begin(), d.end());
}

Json Tensor::ToJson() const {
  Json out = Json::array();
  int64_t n = element_count();
  for (int64_t i = 0; i < n; ++i) {
    switch (datatype_) {
      case DataType::kBytes: out.push_back(strings_[static_cast<size_t>(i)]); break;
      case DataType::kBool: out.push_back(Get<uint8_t>(buffer_, i) != 0); break;
      case DataType::kUint8: out.push_back(Get<uint8_t>(buffer_, i)); break;
      case DataType::kUint16: out.push_back(Get<uint16_t>(buffer_, i)); break;
      case DataType::kUint32: out.push_back(Get<uint32_t>(buffer_, i)); break;
      case DataType::kUint64: out.push_back(Get<uint64_t>(buffer_, i)); break;
      case DataType::kInt8: out.push_back(Get<int8_t>(buffer_, i)); break;
      case DataType::kInt16: out.push_back(Get<int16_t>(buffer_, i)); break;
      case DataType::kInt32: out.push_back(Get<int32_t>(buffer_, i)); break;
      case DataType::kInt64: out.push_back(Get<int64_t>(buffer_, i)); break;
      case DataType::kFp32: out.push_back(Get<float>(buffer_, i)); break;
      default: out.push_back(ElementAsDouble(i)); break;  // FP16, BF16, FP64
    }
  }
  return out;
}

std::string Tensor::ToBinary() const {
  if (datatype_ != DataType::kBytes) {
    return std::string(reinterpret_cast<const char*>(buffer_.data()), buffer_.size());
  }
  std::string out;
  for (const auto& s : strings_) {
    auto len = static_cast<uint32_t>(s.size());
    char prefix[4];
    std::memcpy(prefix, &len, 4);
    out.append(prefix, 4);
    out += s;
  }
  return out;
}

}  // namespace skiff::serving
