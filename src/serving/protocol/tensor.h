// A typed tensor as the Open Inference Protocol (KServe V2) carries it: a datatype, a shape and
// the elements in row-major order. Fixed-size types live in one contiguous little-endian buffer
// (what the binary tensor extension puts on the wire and what a runtime wants); BYTES elements
// are a list of strings. Conversions to float/double serve runtimes that compute in floating
// point; FP16 and BF16 are converted with IEEE round-to-nearest-even.
//
// A value type; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::serving {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kBf16,
  kFp32,
  kFp64,
  kBytes,
};

// "BOOL", "UINT8", ... "FP32", "BYTES".
std::string_view DataTypeName(DataType t);
std::optional<DataType> ParseDataType(std::string_view name);
// Bytes per element; 0 for BYTES (variable).
size_t DataTypeSize(DataType t);

// IEEE half and bfloat16 conversions (bit patterns in uint16_t).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t b);

// The C++ element type of each fixed-size datatype (bool is stored as one byte, 0 or 1; FP16
// and BF16 as their 16-bit patterns).
template <typename T>
struct ElementOf;
template <> struct ElementOf<uint8_t> { static constexpr DataType kType = DataType::kUint8; };
template <> struct ElementOf<uint16_t> { static constexpr DataType kType = DataType::kUint16; };
template <> struct ElementOf<uint32_t> { static constexpr DataType kType = DataType::kUint32; };
template <> struct ElementOf<uint64_t> { static constexpr DataType kType = DataType::kUint64; };
template <> struct ElementOf<int8_t> { static constexpr DataType kType = DataType::kInt8; };
template <> struct ElementOf<int16_t> { static constexpr DataType kType = DataType::kInt16; };
template <> struct ElementOf<int32_t> { static constexpr DataType kType = DataType::kInt32; };
template <> struct ElementOf<int64_t> { static constexpr DataType kType = DataType::kInt64; };
template <> struct ElementOf<float> { static constexpr DataType kType = DataType::kFp32; };
template <> struct ElementOf<double> { static constexpr DataType kType = DataType::kFp64; };

class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor (empty strings for BYTES). Dimensions must be >= 0.
  Tensor(DataType datatype, std::vector<int64_t> shape);

  // From typed values; `values.size()` must equal the shape's element count.
  template <typename T>
  static Result<Tensor> FromValues(std::vector<int64_t> shape, const std::vector<T>& values,
                                   DataType datatype = ElementOf<T>::kType) {
    Tensor t(datatype, std::move(shape));
    if (static_cast<int64_t>(values.size()) != t.element_count() ||
        DataTypeSize(datatype) != sizeof(T)) {
      return InvalidArgument("tensor of shape " + t.ShapeString() + " and datatype " +
                             std::string(DataTypeName(datatype)) + " cannot hold " +
                             std::to_string(values.size()) + " values of that size");
    }
    if (!values.empty()) std::memcpy(t.buffer_.data(), values.data(), values.size() * sizeof(T));
    return t;
  }
  static Result<Tensor> FromBools(std::vector<int64_t> shape, const std::vector<bool>& values);
  static Result<Tensor> FromStrings(std::vector<int64_t> shape, std::vector<std::string> values);
  // Converts doubles to any numeric datatype (rounding toward zero for integers).
  static Result<Tensor> FromDoubles(DataType datatype, std::vector<int64_t> shape,
                                    const std::vector<double>& values);

  // From the JSON `data` of a V2 tensor: flat or nested row-major arrays. Errors describe the
  // offending element; callers prefix the tensor's name.
  static Result<Tensor> FromJson(DataType datatype, std::vector<int64_t> shape, const Json& data);
  // From the binary tensor extension: raw little-endian elements, or for BYTES each element
  // as a 4-byte little-endian length followed by its bytes.
  static Result<Tensor> FromBinary(DataType datatype, std::vector<int64_t> shape,
                                   std::string_view bytes);

  DataType datatype() const { return datatype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t element_count() const;
  std::string ShapeString() const;  // "[2, 4]"

  // The contiguous buffer of a fixed-size tensor (empty for BYTES).
  std::span<const std::byte> bytes() const { return buffer_; }
  // Typed view; `T` must be the datatype's element type (checked: aborts on mismatch, a bug).
  template <typename T>
  std::span<const T> values() const {
    CheckElement(ElementOf<T>::kType, sizeof(T));
    return {reinterpret_cast<const T*>(buffer_.data()), buffer_.size() / sizeof(T)};
  }
  template <typename T>
  std::span<T> mutable_values() {
    CheckElement(ElementOf<T>::kType, sizeof(T));
    return {reinterpret_cast<T*>(buffer_.data()), buffer_.size() / sizeof(T)};
  }
  const std::vector<std::string>& strings() const { return strings_; }

  // Element `i` as a double; BYTES is an error.
  Result<std::vector<double>> ToDoubles() const;
  Result<std::vector<float>> ToFloats() const;

  // The flat JSON `data` array (numbers, booleans or strings).
  Json ToJson() const;
  // The binary extension's representation.
  std::string ToBinary() const;

  bool operator==(const Tensor& other) const = default;

 private:
  void CheckElement(DataType expected, size_t size) const;
  double ElementAsDouble(int64_t i) const;

  DataType datatype_ = DataType::kFp32;
  std::vector<int64_t> shape_;
  std::vector<std::byte> buffer_;     // fixed-size types, little-endian
  std::vector<std::string> strings_;  // BYTES
};

}  // namespace skiff::serving
