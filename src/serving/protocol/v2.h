// KServe's V2 inference protocol (the Open Inference Protocol) over REST: inference requests and
// responses in JSON, with the binary tensor extension (an `Inference-Header-Content-Length`
// header gives the length of the JSON header; tensors whose parameters carry
// `binary_data_size` follow it as raw little-endian bytes, in order). Also the metadata and
// health bodies. Pure codecs: no HTTP server; the gateway and the model server call these.
//
// Errors are `Status` values whose message is what KServe puts in `{"error": ...}`; `HttpError`
// maps them to KServe's HTTP statuses. Free functions and plain structs; thread-compatible.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "serving/protocol/tensor.h"

namespace skiff::serving {

inline constexpr std::string_view kInferenceHeaderContentLength =
    "Inference-Header-Content-Length";
inline constexpr std::string_view kBinaryContentType = "application/octet-stream";
inline constexpr std::string_view kJsonContentType = "application/json";

struct InferInput {
  std::string name;
  Tensor tensor;
  Json parameters = Json::object();  // without `binary_data_size`, which the codec manages
};

struct RequestedOutput {
  std::string name;
  Json parameters = Json::object();
  bool binary_data = false;  // `parameters.binary_data`
};

struct InferRequest {
  std::string id;
  Json parameters = Json::object();
  std::vector<InferInput> inputs;
  std::vector<RequestedOutput> outputs;
  // The request parameter `binary_data_output`: every output in binary form.
  bool binary_data_output = false;

  const InferInput* FindInput(std::string_view name) const;
};

struct InferOutput {
  std::string name;
  Tensor tensor;
  Json parameters = Json::object();
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  Json parameters = Json::object();
  std::vector<InferOutput> outputs;
};

// An encoded HTTP body: when `header_length` is set, the body is binary and the header
// `Inference-Header-Content-Length` must carry it.
struct EncodedBody {
  std::string body;
  std::optional<size_t> header_length;
  std::string_view content_type = kJsonContentType;
};

// Parses a request body. `header_length` is the value of `Inference-Header-Content-Length`
// (nullopt when absent: the whole body is JSON).
Result<InferRequest> ParseInferRequest(std::string_view body,
                                       std::optional<size_t> header_length = std::nullopt);
// Parses the header's value ("123"); errors are 400s.
Result<size_t> ParseHeaderLength(std::string_view value);

// Encodes a request; with `binary_inputs` every input goes in the binary section.
EncodedBody EncodeInferRequest(const InferRequest& request, bool binary_inputs = false);

// Encodes a response; outputs go in binary form when the request asked for it
// (`binary_data_output`, or the requested output's `binary_data`).
EncodedBody EncodeInferResponse(const InferResponse& response,
                                const InferRequest* request = nullptr);
Result<InferResponse> ParseInferResponse(std::string_view body,
                                         std::optional<size_t> header_length = std::nullopt);

// Keeps only the outputs the request asked for (all when it named none); an unknown name is a
// 400 naming the output.
Status SelectOutputs(InferResponse& response, const InferRequest& request);

// Metadata (`GET /v2`, `GET /v2/models/{m}[/versions/{v}]`).
struct ServerMetadata {
  std::string name = "skiff";
  std::string version;
  std::vector<std::string> extensions;
};
Json ToJson(const ServerMetadata& m);

struct TensorMetadata {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;  // -1 for a variable dimension
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};
Json ToJson(const ModelMetadata& m);
Result<ModelMetadata> ParseModelMetadata(const Json& j);

// Checks a request against a model's declared inputs: every declared input present with its
// datatype and a shape that matches (-1 matches any size); unknown inputs rejected.
Status ValidateAgainstMetadata(const InferRequest& request, const ModelMetadata& metadata);

// KServe's errors.
Status ModelNotFound(std::string_view model, std::string_view version = "");
Status ModelNotReady(std::string_view model);
Status ServerNotReady();

// An error as an HTTP status and KServe's `{"error": "..."}` body.
struct HttpError {
  int status = 500;
  Json body;
};
HttpError ToHttpError(const Status& status);

}  // namespace skiff::serving
