#include "serving/protocol/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace skiff::serving {
namespace {

TEST(DataTypeTest, NamesAndSizes) {
  for (auto name : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                    "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES"}) {
    auto t = ParseDataType(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(DataTypeName(*t), name);
  }
  EXPECT_FALSE(ParseDataType("fp32").has_value());  // case-sensitive
  EXPECT_EQ(DataTypeSize(DataType::kUint64), 8u);
  EXPECT_EQ(DataTypeSize(DataType::kFp16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kBytes), 0u);
}

TEST(HalfTest, ConvertsExactValuesAndRounds) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(-3.0f)), -3.0f);
}

TEST(TensorTest, TypedValuesAndConversions) {
  auto t = Tensor::FromValues<int32_t>({2, 2}, {1, -2, 3, 4});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->element_count(), 4);
  EXPECT_EQ(t->values<int32_t>()[1], -2);
  EXPECT_EQ(t->bytes().size(), 16u);
  EXPECT_EQ(*t->ToDoubles(), (std::vector<double>{1, -2, 3, 4}));
  EXPECT_EQ(*t->ToFloats(), (std::vector<float>{1, -2, 3, 4}));
  EXPECT_FALSE(Tensor::FromValues<int32_t>({3}, {1, 2}).ok());
  auto s = Tensor::FromStrings({2}, {"a", "bc"});
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->ToDoubles().ok());
}

TEST(TensorTest, JsonAcceptsNestedAndFlatData) {
  auto nested = Tensor::FromJson(DataType::kFp32, {2, 2}, Json::parse("[[1, 2], [3, 4.5]]"));
  auto flat = Tensor::FromJson(DataType::kFp32, {2, 2}, Json::parse("[1, 2, 3, 4.5]"));
  ASSERT_TRUE(nested.ok() && flat.ok());
  EXPECT_EQ(*nested, *flat);
  EXPECT_EQ(nested->values<float>()[3], 4.5f);
}

TEST(TensorTest, JsonRejectsSizeAndTypeMismatches) {
  auto r = Tensor::FromJson(DataType::kFp32, {2, 4}, Json::parse("[1, 2, 3]"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "shape [2, 4] expects 8 elements but data has 3");
  r = Tensor::FromJson(DataType::kUint8, {1}, Json::parse("[256]"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("element 0 (256) is not a valid UINT8: out of range"),
            std::string::npos);
  EXPECT_FALSE(Tensor::FromJson(DataType::kUint32, {1}, Json::parse("[-1]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kInt8, {1}, Json::parse("[-129]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kInt32, {1}, Json::parse("[1.5]")).ok());
  EXPECT_TRUE(Tensor::FromJson(DataType::kInt32, {1}, Json::parse("[2.0]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kBool, {1}, Json::parse("[\"yes\"]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kBytes, {1}, Json::parse("[1]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kFp32, {1}, Json::parse("[\"1\"]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kFp32, {-1}, Json::parse("[]")).ok());
  EXPECT_FALSE(Tensor::FromJson(DataType::kFp32, {1}, Json::parse("1")).ok());
}

// Every datatype survives JSON and binary round trips.
struct Case {
  DataType type;
  const char* data;
};
class RoundTripTest : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTripTest, JsonAndBinary) {
  const Case& c = GetParam();
  Json data = Json::parse(c.data);
  auto t = Tensor::FromJson(c.type, {static_cast<int64_t>(data.size())}, data);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->ToJson(), data) << DataTypeName(c.type);
  auto from_json = Tensor::FromJson(c.type, t->shape(), t->ToJson());
  ASSERT_TRUE(from_json.ok());
  EXPECT_EQ(*from_json, *t);
  std::string bin = t->ToBinary();
  if (c.type != DataType::kBytes) {
    EXPECT_EQ(bin.size(), data.size() * DataTypeSize(c.type));
  }
  auto from_bin = Tensor::FromBinary(c.type, t->shape(), bin);
  ASSERT_TRUE(from_bin.ok()) << from_bin.status().ToString();
  EXPECT_EQ(*from_bin, *t);
  // One byte short is rejected.
  if (!bin.empty()) {
    EXPECT_FALSE(Tensor::FromBinary(c.type, t->shape(), bin.substr(0, bin.size() - 1)).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, RoundTripTest,
    ::testing::Values(Case{DataType::kBool, "[true, false, true]"},
                      Case{DataType::kUint8, "[0, 1, 255]"},
                      Case{DataType::kUint16, "[0, 65535]"},
                      Case{DataType::kUint32, "[0, 4294967295]"},
                      Case{DataType::kUint64, "[0, 18446744073709551615]"},
                      Case{DataType::kInt8, "[-128, 0, 127]"},
                      Case{DataType::kInt16, "[-32768, 32767]"},
                      Case{DataType::kInt32, "[-2147483648, 2147483647]"},
                      Case{DataType::kInt64, "[-9223372036854775808, 9223372036854775807]"},
                      Case{DataType::kFp16, "[0.5, -1.25, 65504.0]"},
                      Case{DataType::kBf16, "[1.0, -2.0, 0.5]"},
                      Case{DataType::kFp32, "[1.5, -0.25, 3.0]"},
                      Case{DataType::kFp64, "[0.1, -1e300, 2.5]"},
                      Case{DataType::kBytes, "[\"hello\", \"\", \"caf\\u00e9\"]"}));

TEST(TensorTest, BytesBinaryIsLengthPrefixed) {
  auto t = Tensor::FromStrings({2}, {"ab", "c"});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ToBinary(), std::string("\x02\x00\x00\x00" "ab" "\x01\x00\x00\x00" "c", 11));
  auto bad = Tensor::FromBinary(DataType::kBytes, {2}, std::string("\x05\x00\x00\x00" "ab", 6));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("claims 5 bytes"), std::string::npos);
  EXPECT_FALSE(Tensor::FromBinary(DataType::kBytes, {1},
                                  std::string("\x01\x00\x00\x00" "ab", 6)).ok());  // extra byte
}

}  // namespace
}  // namespace skiff::serving
