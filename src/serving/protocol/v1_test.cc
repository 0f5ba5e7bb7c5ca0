#include "serving/protocol/v1.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace skiff::serving {
namespace {

TEST(V1Test, ConformancePayloadDecodesToItsShape) {
  const char* root = std::getenv("SKIFF_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") +
                   "/src/serving/protocol/testdata/v1-sklearn-iris-input.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto req = ParseV1Request(ss.str());
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_FALSE(req->from_inputs_key);
  auto t = InstancesToTensor(req->instances);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(t->values<float>()[4], 6.0f);
}

TEST(V1Test, InputsKeyAndErrors) {
  auto req = ParseV1Request(R"({"inputs": [[1, 2]]})");
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(req->from_inputs_key);
  EXPECT_EQ(ParseV1Request("{}").status().message(),
            "Expected \"instances\" or \"inputs\" in the request");
  EXPECT_EQ(ParseV1Request(R"({"instances": 3})").status().message(),
            "Expected \"instances\" to be a list");
  EXPECT_FALSE(ParseV1Request("nope").ok());
  auto ragged = InstancesToTensor(Json::parse("[[1, 2], [3]]"));
  ASSERT_FALSE(ragged.ok());
  EXPECT_EQ(ragged.status().message(),
            "instances are not rectangular: instances[1] should be a list of 2 elements");
  EXPECT_FALSE(InstancesToTensor(Json::parse("[1, [2]]")).ok());
}

TEST(V1Test, PredictionsRoundTrip) {
  auto t = Tensor::FromValues<int64_t>({2}, {1, 1});
  ASSERT_TRUE(t.ok());
  std::string body = EncodeV1Response(TensorToPredictions(*t));
  EXPECT_EQ(body, R"({"predictions":[1,1]})");  // the sklearn sample's expected answer
  auto p = ParseV1Response(body);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, Json::parse("[1, 1]"));
  auto m = Tensor::FromValues<double>({2, 2}, {0.5, 0.5, 0.25, 0.75});
  EXPECT_EQ(TensorToPredictions(*m), Json::parse("[[0.5, 0.5], [0.25, 0.75]]"));
  EXPECT_EQ(ParseV1Request(EncodeV1Request(Json::parse("[[1]]")))->instances,
            Json::parse("[[1]]"));
}

}  // namespace
}  // namespace skiff::serving
