// Fast paths of the V2 JSON codec (v2.h) for the shape nearly every inference request and
// response has: named numeric tensors with row-major `data`, no parameters, no output selection, no
// binary extension. The request scanner reads the body once, straight into the tensors' typed
// buffers, and the response writer appends to one string; neither builds a `Json` tree, which
// was a fifth of the model server's CPU per request on the benchmark (bench/serving/README.md).
//
// They never decide anything the general codec would decide differently: whatever they do not
// recognise — another shape, and every malformed input — makes them step aside (nullopt /
// false), and the general codec answers, with its error messages. v2_test.cc checks that both
// paths agree. Free functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "serving/protocol/v2.h"

namespace skiff::serving::internal {

// The request, when `body` (all JSON, no binary section) has the simple shape:
// `{"id": "...", "parameters": {}, "inputs": [{"name", "shape", "datatype", "data",
// "parameters": {}}...]}` with `id` and the `parameters` optional, numeric datatypes other
// than FP16/BF16, `data` flat or nested, plain ASCII strings; nullopt otherwise.
std::optional<InferRequest> ParseSimpleInferRequest(std::string_view body);

// Appends the JSON body of `response` when it has the simple shape (no parameters, numeric
// outputs other than FP16/BF16) and returns true; returns false and appends nothing otherwise.
// The caller checks that the request asked for no binary outputs.
bool EncodeSimpleInferResponse(const InferResponse& response, std::string* out);

// The general codec, for the tests that compare the two.
EncodedBody EncodeInferResponseGeneral(const InferResponse& response, const InferRequest* request);

}  // namespace skiff::serving::internal
