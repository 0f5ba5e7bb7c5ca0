// KServe's V1 protocol: `POST /v1/models/{m}:predict` with `{"instances": [...]}` (or
// `{"inputs": [...]}`) answered by `{"predictions": [...]}`, plus the conversions between
// instances and tensors that runtimes need (rectangular numeric instances become a tensor whose
// first dimension is the batch).
//
// Free functions; thread-compatible.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"
#include "serving/protocol/tensor.h"

namespace skiff::serving {

struct V1Request {
  Json instances = Json::array();  // the list under "instances" or "inputs"
  bool from_inputs_key = false;    // the client used "inputs"
  Json body;                       // the whole request, for runtimes that read other keys
};

Result<V1Request> ParseV1Request(std::string_view body);
std::string EncodeV1Request(const Json& instances);

// `{"predictions": [...]}`.
std::string EncodeV1Response(const Json& predictions);
Result<Json> ParseV1Response(std::string_view body);  // the predictions list

// Rectangular numeric (or boolean) instances -> a tensor of `datatype`, shape [n, ...].
Result<Tensor> InstancesToTensor(const Json& instances, DataType datatype = DataType::kFp32);
// A tensor -> nested predictions along its shape (a scalar list for rank 1).
Json TensorToPredictions(const Tensor& tensor);

}  // namespace skiff::serving
