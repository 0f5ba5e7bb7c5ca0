#include "serving/protocol/v2.h"

#include "serving/protocol/v2_fast.h"

#include <algorithm>
#include <set>

namespace skiff::serving {

namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Result<Json> ParseJsonObject(std::string_view text, std::string_view what) {
  auto j = ParseJson(text);
  if (!j.ok()) return InvalidArgument("malformed " + std::string(what) + ": " + j.status().message());
  if (!j->is_object()) return InvalidArgument(std::string(what) + " must be a JSON object");
  return std::move(*j);
}

// The JSON header and the binary section of a body.
struct Split {
  std::string_view header;
  std::string_view binary;
};
Result<Split> SplitBody(std::string_view body, std::optional<size_t> header_length) {
  if (!header_length) return Split{body, {}};
  if (*header_length > body.size()) {
    return InvalidArgument(std::string(kInferenceHeaderContentLength) + " (" +
                           std::to_string(*header_length) + ") exceeds the body size (" +
                           std::to_string(body.size()) + ")");
  }
  return Split{body.substr(0, *header_length), body.substr(*header_length)};
}

Result<Json> OptionalParameters(const Json& obj, std::string_view where) {
  auto it = obj.find("parameters");
  if (it == obj.end() || it->is_null()) return Json::object();
  if (!it->is_object()) return InvalidArgument(std::string(where) + "parameters must be an object");
  return *it;
}

// Reads one tensor ({name, shape, datatype, parameters, data}) of a request or response.
// `kind` is "input" or "output"; binary data is consumed from `binary` at `offset`.
struct ParsedTensor {
  std::string name;
  Tensor tensor;
  Json parameters;
};
Result<ParsedTensor> ParseTensor(const Json& j, std::string_view kind, size_t index,
                                 std::string_view binary, size_t& offset) {
  if (!j.is_object()) {
    return InvalidArgument(std::string(kind) + " " + std::to_string(index) + " must be an object");
  }
  auto name_it = j.find("name");
  if (name_it == j.end() || !name_it->is_string() || name_it->get<std::string>().empty()) {
    return InvalidArgument(std::string(kind) + " " + std::to_string(index) +
                           " must have a non-empty string \"name\"");
  }
  ParsedTensor out;
  out.name = name_it->get<std::string>();
  const std::string where = std::string(kind) + " " + Quote(out.name) + ": ";

  auto dt_it = j.find("datatype");
  if (dt_it == j.end() || !dt_it->is_string()) {
    return InvalidArgument(where + "missing string \"datatype\"");
  }
  auto datatype = ParseDataType(dt_it->get<std::string>());
  if (!datatype) {
    return InvalidArgument(where + "unsupported datatype " + Quote(dt_it->get<std::string>()) +
                           " (expected BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64 "
                           "or BYTES)");
  }
  auto shape_it = j.find("shape");
  if (shape_it == j.end() || !shape_it->is_array()) {
    return InvalidArgument(where + "missing array \"shape\"");
  }
  std::vector<int64_t> shape;
  for (const auto& d : *shape_it) {
    if (d.is_number_unsigned()) {
      if (d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return InvalidArgument(where + "shape dimension " + DumpJson(d) + " is too large");
      }
      shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    } else {
      return InvalidArgument(where + "shape dimensions must be non-negative integers, got " +
                             DumpJson(d));
    }
  }
  auto params = OptionalParameters(j, where);
  if (!params.ok()) return params.status();
  out.parameters = std::move(*params);

  auto size_it = out.parameters.find("binary_data_size");
  auto data_it = j.find("data");
  if (size_it != out.parameters.end()) {
    if (!size_it->is_number_unsigned()) {
      return InvalidArgument(where + "parameters.binary_data_size must be a non-negative integer");
    }
    if (data_it != j.end()) {
      return InvalidArgument(where + "has both \"data\" and parameters.binary_data_size");
    }
    auto size = size_it->get<uint64_t>();
    if (size > binary.size() - offset) {
      return InvalidArgument(where + "binary_data_size " + std::to_string(size) +
                             " exceeds the " + std::to_string(binary.size() - offset) +
                             " bytes of binary data left");
    }
    auto tensor = Tensor::FromBinary(*datatype, std::move(shape),
                                     binary.substr(offset, static_cast<size_t>(size)));
    if (!tensor.ok()) return tensor.status().WithPrefix(std::string(kind) + " " + Quote(out.name));
    offset += static_cast<size_t>(size);
    out.tensor = std::move(*tensor);
    out.parameters.erase("binary_data_size");
    return out;
  }
  if (data_it == j.end()) {
    return InvalidArgument(where + "missing \"data\" (or parameters.binary_data_size)");
  }
  auto tensor = Tensor::FromJson(*datatype, std::move(shape), *data_it);
  if (!tensor.ok()) return tensor.status().WithPrefix(std::string(kind) + " " + Quote(out.name));
  out.tensor = std::move(*tensor);
  return out;
}

Status CheckBinaryConsumed(std::string_view binary, size_t offset) {
  if (offset != binary.size()) {
    return InvalidArgument("binary data has " + std::to_string(binary.size() - offset) +
                           " bytes not claimed by any binary_data_size");
  }
  return OkStatus();
}

Json TensorJson(std::string_view name, const Tensor& t, const Json& parameters, bool binary,
                std::string& binary_out) {
  Json j = {{"name", name},
            {"datatype", DataTypeName(t.datatype())},
            {"shape", t.shape()}};
  Json params = parameters.is_object() ? parameters : Json::object();
  if (binary) {
    std::string bytes = t.ToBinary();
    params["binary_data_size"] = bytes.size();
    binary_out += bytes;
  }
  if (!params.empty()) j["parameters"] = std::move(params);
  if (!binary) j["data"] = t.ToJson();
  return j;
}

EncodedBody Finish(const Json& header, const std::string& binary, bool any_binary) {
  EncodedBody out;
  out.body = DumpJson(header);
  if (any_binary) {
    out.header_length = out.body.size();
    out.body += binary;
    out.content_type = kBinaryContentType;
  }
  return out;
}

Result<bool> BoolParameter(const Json& params, std::string_view key, std::string_view where) {
  auto it = params.find(std::string(key));
  if (it == params.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return InvalidArgument(std::string(where) + "parameters." + std::string(key) +
                           " must be a boolean");
  }
  return it->get<bool>();
}

}  // namespace

const InferInput* InferRequest::FindInput(std::string_view name) const {
  for (const auto& i : inputs) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

Result<size_t> ParseHeaderLength(std::string_view value) {
  if (value.empty() || value.size() > 18 ||
      value.find_first_not_of("0123456789") != std::string_view::npos) {
    return InvalidArgument(std::string(kInferenceHeaderContentLength) + " must be a byte count, got " +
                           Quote(value));
  }
  return static_cast<size_t>(std::stoull(std::string(value)));
}

Result<InferRequest> ParseInferRequest(std::string_view body, std::optional<size_t> header_length) {
  if (!header_length) {
    if (auto fast = internal::ParseSimpleInferRequest(body)) return std::move(*fast);
  }
  SKIFF_ASSIGN_OR_RETURN(Split split, SplitBody(body, header_length));
  SKIFF_ASSIGN_OR_RETURN(Json j, ParseJsonObject(split.header, "inference request"));
  InferRequest req;
  if (auto it = j.find("id"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return InvalidArgument("\"id\" must be a string");
    req.id = it->get<std::string>();
  }
  SKIFF_ASSIGN_OR_RETURN(req.parameters, OptionalParameters(j, ""));
  SKIFF_ASSIGN_OR_RETURN(req.binary_data_output,
                         BoolParameter(req.parameters, "binary_data_output", ""));
  req.parameters.erase("binary_data_output");

  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) {
    return InvalidArgument("inference request must have an \"inputs\" list");
  }
  size_t offset = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < inputs->size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(ParsedTensor t, ParseTensor((*inputs)[i], "input", i, split.binary, offset));
    if (!seen.insert(t.name).second) {
      return InvalidArgument("input " + Quote(t.name) + " appears more than once");
    }
    req.inputs.push_back({std::move(t.name), std::move(t.tensor), std::move(t.parameters)});
  }
  SKIFF_RETURN_IF_ERROR(CheckBinaryConsumed(split.binary, offset));

  if (auto outputs = j.find("outputs"); outputs != j.end() && !outputs->is_null()) {
    if (!outputs->is_array()) return InvalidArgument("\"outputs\" must be a list");
    for (size_t i = 0; i < outputs->size(); ++i) {
      const Json& o = (*outputs)[i];
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string()) {
        return InvalidArgument("output " + std::to_string(i) + " must have a string \"name\"");
      }
      RequestedOutput out;
      out.name = o["name"].get<std::string>();
      std::string where = "output " + Quote(out.name) + ": ";
      SKIFF_ASSIGN_OR_RETURN(out.parameters, OptionalParameters(o, where));
      SKIFF_ASSIGN_OR_RETURN(out.binary_data, BoolParameter(out.parameters, "binary_data", where));
      out.parameters.erase("binary_data");
      req.outputs.push_back(std::move(out));
    }
  }
  return req;
}

EncodedBody EncodeInferRequest(const InferRequest& request, bool binary_inputs) {
  Json j = Json::object();
  if (!request.id.empty()) j["id"] = request.id;
  Json params = request.parameters.is_object() ? request.parameters : Json::object();
  if (request.binary_data_output) params["binary_data_output"] = true;
  if (!params.empty()) j["parameters"] = std::move(params);
  std::string binary;
  j["inputs"] = Json::array();
  for (const auto& in : request.inputs) {
    j["inputs"].push_back(TensorJson(in.name, in.tensor, in.parameters, binary_inputs, binary));
  }
  if (!request.outputs.empty()) {
    j["outputs"] = Json::array();
    for (const auto& o : request.outputs) {
      Json out = {{"name", o.name}};
      Json p = o.parameters.is_object() ? o.parameters : Json::object();
      if (o.binary_data) p["binary_data"] = true;
      if (!p.empty()) out["parameters"] = std::move(p);
      j["outputs"].push_back(std::move(out));
    }
  }
  return Finish(j, binary, binary_inputs && !request.inputs.empty());
}

EncodedBody EncodeInferResponse(const InferResponse& response, const InferRequest* request) {
  if (request == nullptr || (!request->binary_data_output && request->outputs.empty())) {
    EncodedBody out;
    if (internal::EncodeSimpleInferResponse(response, &out.body)) return out;
  }
  return internal::EncodeInferResponseGeneral(response, request);
}

EncodedBody internal::EncodeInferResponseGeneral(const InferResponse& response,
                                                 const InferRequest* request) {
  Json j = {{"model_name", response.model_name}};
  if (!response.model_version.empty()) j["model_version"] = response.model_version;
  j["id"] = response.id;
  if (response.parameters.is_object() && !response.parameters.empty()) {
    j["parameters"] = response.parameters;
  }
  std::string binary;
  bool any_binary = false;
  j["outputs"] = Json::array();
  for (const auto& out : response.outputs) {
    bool as_binary = false;
    if (request) {
      as_binary = request->binary_data_output;
      for (const auto& r : request->outputs) {
        if (r.name == out.name && r.binary_data) as_binary = true;
      }
    }
    any_binary = any_binary || as_binary;
    j["outputs"].push_back(TensorJson(out.name, out.tensor, out.parameters, as_binary, binary));
  }
  return Finish(j, binary, any_binary);
}

Result<InferResponse> ParseInferResponse(std::string_view body,
                                         std::optional<size_t> header_length) {
  SKIFF_ASSIGN_OR_RETURN(Split split, SplitBody(body, header_length));
  SKIFF_ASSIGN_OR_RETURN(Json j, ParseJsonObject(split.header, "inference response"));
  InferResponse resp;
  auto name = j.find("model_name");
  if (name == j.end() || !name->is_string()) {
    return InvalidArgument("inference response must have a string \"model_name\"");
  }
  resp.model_name = name->get<std::string>();
  resp.model_version = StringField(j, "model_version");
  resp.id = StringField(j, "id");
  SKIFF_ASSIGN_OR_RETURN(resp.parameters, OptionalParameters(j, ""));
  auto outputs = j.find("outputs");
  if (outputs == j.end() || !outputs->is_array()) {
    return InvalidArgument("inference response must have an \"outputs\" list");
  }
  size_t offset = 0;
  for (size_t i = 0; i < outputs->size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(ParsedTensor t,
                           ParseTensor((*outputs)[i], "output", i, split.binary, offset));
    resp.outputs.push_back({std::move(t.name), std::move(t.tensor), std::move(t.parameters)});
  }
  SKIFF_RETURN_IF_ERROR(CheckBinaryConsumed(split.binary, offset));
  return resp;
}

Status SelectOutputs(InferResponse& response, const InferRequest& request) {
  if (request.outputs.empty()) return OkStatus();
  std::vector<InferOutput> kept;
  for (const auto& r : request.outputs) {
    auto it = std::find_if(response.outputs.begin(), response.outputs.end(),
                           [&](const InferOutput& o) { return o.name == r.name; });
    if (it == response.outputs.end()) {
      return InvalidArgument("requested output " + Quote(r.name) + " is not produced by model " +
                             Quote(response.model_name));
    }
    kept.push_back(*it);
  }
  response.outputs = std::move(kept);
  return OkStatus();
}

Json ToJson(const ServerMetadata& m) {
  return {{"name", m.name}, {"version", m.version}, {"extensions", m.extensions}};
}

namespace {
Json TensorMetadataJson(const TensorMetadata& t) {
  return {{"name", t.name}, {"datatype", DataTypeName(t.datatype)}, {"shape", t.shape}};
}
Result<std::vector<TensorMetadata>> ParseTensorMetadata(const Json& j, std::string_view key) {
  std::vector<TensorMetadata> out;
  auto it = j.find(std::string(key));
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return InvalidArgument(std::string(key) + " must be a list");
  for (const auto& t : *it) {
    TensorMetadata m;
    m.name = StringField(t, "name");
    auto dt = ParseDataType(StringField(t, "datatype"));
    if (m.name.empty() || !dt) {
      return InvalidArgument(std::string(key) + ": each tensor needs a name and a known datatype");
    }
    m.datatype = *dt;
    if (auto s = t.find("shape"); s != t.end() && s->is_array()) {
      for (const auto& d : *s) {
        if (!d.is_number_integer() || d.get<int64_t>() < -1) {
          return InvalidArgument(std::string(key) + " " + Quote(m.name) +
                                 ": shape dimensions must be integers >= -1");
        }
        m.shape.push_back(d.get<int64_t>());
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}
}  // namespace

Json ToJson(const ModelMetadata& m) {
  Json j = {{"name", m.name}};
  if (!m.versions.empty()) j["versions"] = m.versions;
  j["platform"] = m.platform;
  j["inputs"] = Json::array();
  for (const auto& t : m.inputs) j["inputs"].push_back(TensorMetadataJson(t));
  j["outputs"] = Json::array();
  for (const auto& t : m.outputs) j["outputs"].push_back(TensorMetadataJson(t));
  return j;
}

Result<ModelMetadata> ParseModelMetadata(const Json& j) {
  if (!j.is_object()) return InvalidArgument("model metadata must be an object");
  ModelMetadata m;
  m.name = StringField(j, "name");
  if (m.name.empty()) return InvalidArgument("model metadata must have a \"name\"");
  m.platform = StringField(j, "platform");
  if (auto v = j.find("versions"); v != j.end() && v->is_array()) {
    for (const auto& s : *v) m.versions.push_back(ScalarToString(s));
  }
  SKIFF_ASSIGN_OR_RETURN(m.inputs, ParseTensorMetadata(j, "inputs"));
  SKIFF_ASSIGN_OR_RETURN(m.outputs, ParseTensorMetadata(j, "outputs"));
  return m;
}

Status ValidateAgainstMetadata(const InferRequest& request, const ModelMetadata& metadata) {
  for (const auto& in : request.inputs) {
    auto it = std::find_if(metadata.inputs.begin(), metadata.inputs.end(),
                           [&](const TensorMetadata& t) { return t.name == in.name; });
    if (it == metadata.inputs.end()) {
      return InvalidArgument("input " + Quote(in.name) + " is not an input of model " +
                             Quote(metadata.name));
    }
    if (it->datatype != in.tensor.datatype()) {
      return InvalidArgument("input " + Quote(in.name) + ": datatype " +
                             std::string(DataTypeName(in.tensor.datatype())) +
                             " does not match the model's " +
                             std::string(DataTypeName(it->datatype)));
    }
    const auto& shape = in.tensor.shape();
    bool match = shape.size() == it->shape.size();
    for (size_t d = 0; match && d < shape.size(); ++d) {
      match = it->shape[d] == -1 || it->shape[d] == shape[d];
    }
    if (!match) {
      Json expected = it->shape;
      return InvalidArgument("input " + Quote(in.name) + ": shape " + in.tensor.ShapeString() +
                             " does not match the model's " + DumpJson(expected));
    }
  }
  for (const auto& t : metadata.inputs) {
    if (!request.FindInput(t.name)) {
      return InvalidArgument("missing input " + Quote(t.name) + " of model " +
                             Quote(metadata.name));
    }
  }
  return OkStatus();
}

Status ModelNotFound(std::string_view model, std::string_view version) {
  if (version.empty()) return NotFound("Model with name " + std::string(model) + " does not exist.");
  return NotFound("Model with name " + std::string(model) + " and version " +
                  std::string(version) + " does not exist.");
}

Status ModelNotReady(std::string_view model) {
  return Unavailable("Model with name " + std::string(model) + " is not ready.");
}

Status ServerNotReady() { return Unavailable("Server is not ready."); }

HttpError ToHttpError(const Status& status) {
  int code = 500;
  switch (status.code()) {
    case StatusCode::kOk: code = 200; break;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition: code = 400; break;
    case StatusCode::kNotFound: code = 404; break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict: code = 409; break;
    case StatusCode::kPermissionDenied: code = 403; break;
    case StatusCode::kUnavailable: code = 503; break;
    case StatusCode::kDeadlineExceeded: code = 504; break;
    case StatusCode::kUnimplemented: code = 501; break;
    case StatusCode::kInternal: code = 500; break;
  }
  return {code, Json{{"error", status.message()}}};
}

}  // namespace skiff::serving
