#include "serving/protocol/v2.h"

#include "serving/protocol/v2_fast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <fstream>
#include <sstream>

namespace skiff::serving {
namespace {

std::string ReadTestdata(const std::string& name) {
  const char* root = std::getenv("SKIFF_SOURCE_DIR");
  std::string dir = root ? std::string(root) + "/src/serving/protocol/testdata/"
                         : std::string("src/serving/protocol/testdata/");
  std::ifstream in(dir + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ErrorOf(std::string_view body, std::optional<size_t> len = std::nullopt) {
  auto r = ParseInferRequest(body, len);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? "" : r.status().message();
}

TEST(V2RequestTest, ConformancePayloadDecodesToItsShape) {
  std::string body = ReadTestdata("v2-sklearn-iris-input.json");
  ASSERT_FALSE(body.empty());
  auto req = ParseInferRequest(body);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_EQ(req->inputs.size(), 1u);
  const auto& in = req->inputs[0];
  EXPECT_EQ(in.name, "input-0");
  EXPECT_EQ(in.tensor.datatype(), DataType::kFp32);
  EXPECT_EQ(in.tensor.shape(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(*in.tensor.ToFloats(), (std::vector<float>{6.8f, 2.8f, 4.8f, 1.4f, 6.0f, 3.4f, 4.5f,
                                                      1.6f}));
}

TEST(V2RequestTest, SpecExampleParses) {
  // required_api.md's example, with "data": [true] for a [3] BOOL corrected to three values.
  auto req = ParseInferRequest(R"({"id": "42",
    "inputs": [{"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
               {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [true, false, true]}],
    "outputs": [{"name": "output0"}]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->id, "42");
  EXPECT_EQ(req->FindInput("input0")->tensor.values<uint32_t>()[3], 4u);
  ASSERT_EQ(req->outputs.size(), 1u);
  EXPECT_EQ(req->outputs[0].name, "output0");
  // The spec's literal example (3 BOOLs, one value) is a size mismatch.
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "input1", "shape": [3], "datatype": "BOOL",
                                    "data": [true]}]})"),
            "input \"input1\": shape [3] expects 3 elements but data has 1");
}

TEST(V2RequestTest, MalformedRequestsNameTheProblem) {
  EXPECT_NE(ErrorOf("{").find("malformed inference request"), std::string::npos);
  EXPECT_EQ(ErrorOf("[]"), "inference request must be a JSON object");
  EXPECT_EQ(ErrorOf("{}"), "inference request must have an \"inputs\" list");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]})"),
            "input 0 must have a non-empty string \"name\"");
  EXPECT_NE(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]})")
                .find("input \"x\": unsupported datatype \"FP8\""),
            std::string::npos);
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": []}]})"),
            "input \"x\": shape dimensions must be non-negative integers, got -1");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]})"),
            "input \"x\": missing \"data\" (or parameters.binary_data_size)");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [1000]}]})"),
            "input \"x\": element 0 (1000) is not a valid INT8: out of range");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},
                                   {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})"),
            "input \"x\" appears more than once");
  EXPECT_EQ(ErrorOf(R"({"id": 5, "inputs": []})"), "\"id\" must be a string");
  EXPECT_EQ(ToHttpError(ParseInferRequest("{}").status()).status, 400);
}

InferRequest SampleRequest() {
  InferRequest req;
  req.id = "r1";
  req.parameters = {{"custom", "x"}};
  req.inputs.push_back({"a", *Tensor::FromValues<float>({2, 2}, {1, 2, 3, 4}), Json::object()});
  req.inputs.push_back({"s", *Tensor::FromStrings({2}, {"hi", "there"}), Json::object()});
  req.inputs.push_back({"b", *Tensor::FromBools({1}, {true}), Json::object()});
  return req;
}

void ExpectSameRequest(const InferRequest& a, const InferRequest& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.parameters, b.parameters);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name);
    EXPECT_EQ(a.inputs[i].tensor, b.inputs[i].tensor) << a.inputs[i].name;
  }
}

TEST(V2RequestTest, JsonRoundTrip) {
  InferRequest req = SampleRequest();
  EncodedBody enc = EncodeInferRequest(req);
  EXPECT_FALSE(enc.header_length.has_value());
  auto back = ParseInferRequest(enc.body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameRequest(req, *back);
}

TEST(V2RequestTest, BinaryExtensionRoundTrip) {
  InferRequest req = SampleRequest();
  req.binary_data_output = true;
  req.outputs.push_back({"out", Json::object(), true});
  EncodedBody enc = EncodeInferRequest(req, /*binary_inputs=*/true);
  ASSERT_TRUE(enc.header_length.has_value());
  EXPECT_EQ(enc.content_type, kBinaryContentType);
  // 16 bytes of FP32, then "hi" and "there" length-prefixed, then one BOOL byte.
  EXPECT_EQ(enc.body.size() - *enc.header_length, 16u + (4 + 2) + (4 + 5) + 1);
  Json header = Json::parse(enc.body.substr(0, *enc.header_length));
  EXPECT_EQ(header["inputs"][0]["parameters"]["binary_data_size"], 16);
  EXPECT_FALSE(header["inputs"][0].contains("data"));
  auto back = ParseInferRequest(enc.body, enc.header_length);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameRequest(req, *back);
  EXPECT_TRUE(back->binary_data_output);
  ASSERT_EQ(back->outputs.size(), 1u);
  EXPECT_TRUE(back->outputs[0].binary_data);
}

TEST(V2RequestTest, BinarySizeMismatchesAreRejected) {
  std::string header =
      R"({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]})";
  std::string body = header + std::string(8, '\0');
  EXPECT_TRUE(ParseInferRequest(body, header.size()).ok());
  EXPECT_EQ(ErrorOf(header + std::string(4, '\0'), header.size()),
            "input \"x\": binary_data_size 8 exceeds the 4 bytes of binary data left");
  EXPECT_EQ(ErrorOf(header + std::string(12, '\0'), header.size()),
            "binary data has 4 bytes not claimed by any binary_data_size");
  EXPECT_NE(ErrorOf(body, body.size() + 1).find("exceeds the body size"), std::string::npos);
  std::string wrong =
      R"({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]})";
  EXPECT_EQ(ErrorOf(wrong + std::string(8, '\0'), wrong.size()),
            "input \"x\": shape [3] of FP32 expects 12 bytes but binary data has 8");
  EXPECT_TRUE(ParseHeaderLength("123").ok());
  EXPECT_FALSE(ParseHeaderLength("-1").ok());
  EXPECT_FALSE(ParseHeaderLength("").ok());
}

TEST(V2ResponseTest, JsonAndBinaryRoundTrips) {
  InferResponse resp;
  resp.model_name = "iris";
  resp.model_version = "1";
  resp.id = "r1";
  resp.outputs.push_back({"predict", *Tensor::FromValues<int64_t>({2}, {1, 2}), Json::object()});
  resp.outputs.push_back({"proba", *Tensor::FromValues<double>({2}, {0.25, 0.75}), Json::object()});

  EncodedBody json = EncodeInferResponse(resp);
  EXPECT_FALSE(json.header_length.has_value());
  Json j = Json::parse(json.body);
  EXPECT_EQ(j["model_name"], "iris");
  EXPECT_EQ(j["outputs"][0]["data"], Json::parse("[1, 2]"));
  EXPECT_EQ(j["outputs"][0]["datatype"], "INT64");
  auto back = ParseInferResponse(json.body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->outputs[1].tensor, resp.outputs[1].tensor);

  // Only "proba" asked for in binary form.
  InferRequest req;
  req.outputs.push_back({"proba", Json::object(), true});
  EncodedBody bin = EncodeInferResponse(resp, &req);
  ASSERT_TRUE(bin.header_length.has_value());
  EXPECT_EQ(bin.body.size() - *bin.header_length, 16u);
  auto back2 = ParseInferResponse(bin.body, bin.header_length);
  ASSERT_TRUE(back2.ok()) << back2.status().ToString();
  EXPECT_EQ(back2->outputs[0].tensor, resp.outputs[0].tensor);
  EXPECT_EQ(back2->outputs[1].tensor, resp.outputs[1].tensor);
  EXPECT_EQ(back2->model_version, "1");
}

TEST(V2ResponseTest, SelectOutputsKeepsRequestedOnes) {
  InferResponse resp;
  resp.model_name = "m";
  resp.outputs.push_back({"a", *Tensor::FromValues<float>({1}, {1}), Json::object()});
  resp.outputs.push_back({"b", *Tensor::FromValues<float>({1}, {2}), Json::object()});
  InferRequest req;
  req.outputs.push_back({"b", Json::object(), false});
  ASSERT_TRUE(SelectOutputs(resp, req).ok());
  ASSERT_EQ(resp.outputs.size(), 1u);
  EXPECT_EQ(resp.outputs[0].name, "b");
  req.outputs[0].name = "c";
  Status s = SelectOutputs(resp, req);
  EXPECT_EQ(s.message(), "requested output \"c\" is not produced by model \"m\"");
}

TEST(V2MetadataTest, ModelMetadataAndValidation) {
  ModelMetadata m;
  m.name = "iris";
  m.versions = {"1"};
  m.platform = "xgboost_ubj";
  m.inputs.push_back({"input-0", DataType::kFp32, {-1, 4}});
  m.outputs.push_back({"predict", DataType::kInt64, {-1}});
  Json j = ToJson(m);
  EXPECT_EQ(j["inputs"][0]["shape"], Json::parse("[-1, 4]"));
  auto back = ParseModelMetadata(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->inputs[0].datatype, DataType::kFp32);

  auto req = ParseInferRequest(
      R"({"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": [1,2,3,4,5,6,7,8]}]})");
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(ValidateAgainstMetadata(*req, m).ok());
  req->inputs[0].tensor = *Tensor::FromValues<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(ValidateAgainstMetadata(*req, m).message(),
            "input \"input-0\": shape [2, 3] does not match the model's [-1,4]");
  req->inputs[0].name = "other";
  EXPECT_EQ(ValidateAgainstMetadata(*req, m).message(),
            "input \"other\" is not an input of model \"iris\"");

  EXPECT_EQ(ToJson(ServerMetadata{"skiff", "0.1", {"binary_tensor_data"}}),
            Json::parse(R"({"name": "skiff", "version": "0.1", "extensions": ["binary_tensor_data"]})"));
}

TEST(V2ErrorsTest, KServeStatusesAndBodies) {
  HttpError e = ToHttpError(ModelNotFound("iris"));
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.body, Json::parse(R"({"error": "Model with name iris does not exist."})"));
  EXPECT_EQ(ToHttpError(ModelNotReady("iris")).status, 503);
  EXPECT_EQ(ToHttpError(InvalidArgument("x")).status, 400);
  EXPECT_EQ(ToHttpError(Internal("x")).status, 500);
  EXPECT_EQ(ToHttpError(Unimplemented("x")).status, 501);
}

// ---- the fast paths (v2_fast.h) against the general codec ----

// The general parser's answer: the fast path is skipped when a header length is given.
Result<InferRequest> General(std::string_view body) { return ParseInferRequest(body, body.size()); }

TEST(V2FastPathTest, SimpleRequestsParseExactlyAsTheGeneralCodecParsesThem) {
  const std::vector<std::string> bodies = {
      R"({"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]}]})",
      R"({ "id" : "r-1", "parameters": {}, "inputs": [ {"data": [1, -2, 3e2, 0.5e-3, -0, 1E+2], "shape": [3, 2],
          "datatype": "FP64", "parameters": { }, "name": "x"} ] })",
      R"({"inputs":[{"name":"a","shape":[3],"datatype":"INT64","data":[9223372036854775807,-9223372036854775808,0]},
                    {"name":"b","shape":[2],"datatype":"UINT8","data":[0,255]},
                    {"name":"c","shape":[0],"datatype":"INT32","data":[]},
                    {"name":"d","shape":[1],"datatype":"FP32","data":[3.4028234663852886e38]}]})",
      R"({"inputs":[]})",
      R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[[1,2],[3,[4]]]},
                    {"name":"y","shape":[0],"datatype":"FP32","data":[[],[[]]]}]})",
      ReadTestdata("v2-sklearn-iris-input.json"),
  };
  for (const std::string& body : bodies) {
    auto fast = internal::ParseSimpleInferRequest(body);
    ASSERT_TRUE(fast.has_value()) << body;
    auto general = General(body);
    ASSERT_TRUE(general.ok()) << general.status().ToString();
    EXPECT_EQ(fast->id, general->id);
    EXPECT_EQ(fast->parameters, general->parameters);
    EXPECT_EQ(fast->binary_data_output, general->binary_data_output);
    EXPECT_TRUE(fast->outputs.empty() && general->outputs.empty());
    ASSERT_EQ(fast->inputs.size(), general->inputs.size()) << body;
    for (size_t i = 0; i < fast->inputs.size(); ++i) {
      EXPECT_EQ(fast->inputs[i].name, general->inputs[i].name);
      EXPECT_EQ(fast->inputs[i].tensor, general->inputs[i].tensor) << body;
      EXPECT_EQ(fast->inputs[i].parameters, general->inputs[i].parameters);
    }
  }
}

TEST(V2FastPathTest, AnythingElseIsLeftToTheGeneralCodec) {
  const std::vector<std::string> bodies = {
      // Other shapes, answered by the general codec.
      R"({"inputs":[{"name":"x","shape":[[2],2],"datatype":"FP32","data":[1,2,3,4]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[true]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP16","data":[1.5]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[2.0]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"y"}]})",
      R"({"id":null,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"inputs":[{"name":"x\u00e9","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"other":1,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      // Errors, whose messages only the general codec writes.
      R"({"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]})",
      R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[128]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[-1]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[01]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1.]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e999]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"NOPE","data":[1]}]})",
      R"({"inputs":[{"name":"","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]} trailing)",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],}]})",
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[[1],2,]}]})",
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[[1] [2]]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})",
      R"({"inputs":[{"name":"x","name":"y","shape":[1],"datatype":"FP32","data":[1]}]})",
      R"({})",
      R"([])",
      "",
  };
  for (const std::string& body : bodies) {
    EXPECT_FALSE(internal::ParseSimpleInferRequest(body).has_value()) << body;
  }
  // And through the public entry point, the general codec's errors are unchanged.
  EXPECT_NE(ErrorOf(bodies[10]).find("expects 3 elements"), std::string::npos) << ErrorOf(bodies[10]);
  EXPECT_NE(ErrorOf(bodies[12]).find("out of range"), std::string::npos) << ErrorOf(bodies[12]);
}

TEST(V2FastPathTest, SimpleResponsesEncodeToTheSameJsonAsTheGeneralCodec) {
  InferResponse resp;
  resp.model_name = "iris";
  resp.model_version = "1";
  resp.id = "say \"hi\"\n";  // escaped by the general string writer
  resp.outputs.push_back({"output-0",
                          *Tensor::FromValues<float>({2, 3}, {0.00558026787f, 0.97116977f, 1.0f, -2.5e-7f,
                                                              3.0e38f, std::numeric_limits<float>::quiet_NaN()}),
                          Json::object()});
  resp.outputs.push_back({"ids", *Tensor::FromValues<int64_t>({2}, {-9223372036854775807LL, 42}), Json::object()});
  resp.outputs.push_back({"u8", *Tensor::FromValues<uint8_t>({2}, {0, 255}), Json::object()});
  resp.outputs.push_back({"d", *Tensor::FromValues<double>({3}, {0.1, 1e21, 123456789.0}), Json::object()});
  std::string fast;
  ASSERT_TRUE(internal::EncodeSimpleInferResponse(resp, &fast));
  EncodedBody general = internal::EncodeInferResponseGeneral(resp, nullptr);
  EXPECT_EQ(Json::parse(fast), Json::parse(general.body)) << fast << "\n" << general.body;
  // NaN is null in both (and no reader takes null back as a number); every other float comes
  // back as the same float.
  EXPECT_TRUE(Json::parse(fast)["outputs"][0]["data"][5].is_null());
  InferResponse finite = resp;
  finite.outputs[0].tensor.mutable_values<float>()[5] = 0.0f;
  std::string fast_finite;
  ASSERT_TRUE(internal::EncodeSimpleInferResponse(finite, &fast_finite));
  auto back = ParseInferResponse(fast_finite);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  auto got = back->outputs[0].tensor.values<float>();
  auto want = finite.outputs[0].tensor.values<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
  EXPECT_EQ(back->outputs[3].tensor, finite.outputs[3].tensor);
  // The public entry point takes the fast path only when no binary output was asked for.
  EXPECT_EQ(EncodeInferResponse(resp).body, fast);
  InferRequest binary;
  binary.binary_data_output = true;
  EXPECT_TRUE(EncodeInferResponse(resp, &binary).header_length.has_value());
  // Parameters or a BYTES output: the general codec.
  InferResponse with_params = resp;
  with_params.parameters = {{"k", 1}};
  std::string none;
  EXPECT_FALSE(internal::EncodeSimpleInferResponse(with_params, &none));
  EXPECT_TRUE(none.empty());
  InferResponse bytes = resp;
  bytes.outputs.push_back({"s", *Tensor::FromStrings({1}, {"x"}), Json::object()});
  EXPECT_FALSE(internal::EncodeSimpleInferResponse(bytes, &none));
}

}  // namespace
}  // namespace skiff::serving
