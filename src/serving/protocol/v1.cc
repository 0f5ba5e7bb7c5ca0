#include "serving/protocol/v1.h"

namespace skiff::serving {

namespace {

// Checks that `v` has exactly the shape `shape` from `depth` on.
Status CheckRectangular(const Json& v, size_t depth, const std::vector<int64_t>& shape,
                        const std::string& path) {
  if (depth == shape.size()) {
    if (v.is_array()) {
      return InvalidArgument("instances are not rectangular: " + path + " is a list, expected a "
                             "scalar");
    }
    return OkStatus();
  }
  if (!v.is_array() || static_cast<int64_t>(v.size()) != shape[depth]) {
    return InvalidArgument("instances are not rectangular: " + path + " should be a list of " +
                           std::to_string(shape[depth]) + " elements");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    SKIFF_RETURN_IF_ERROR(
        CheckRectangular(v[i], depth + 1, shape, path + "[" + std::to_string(i) + "]"));
  }
  return OkStatus();
}

Json Nest(const Json& flat, const std::vector<int64_t>& shape, size_t dim, size_t& pos) {
  if (dim == shape.size()) return flat[pos++];
  Json out = Json::array();
  for (int64_t i = 0; i < shape[dim]; ++i) out.push_back(Nest(flat, shape, dim + 1, pos));
  return out;
}

}  // namespace

Result<V1Request> ParseV1Request(std::string_view body) {
  auto j = ParseJson(body);
  if (!j.ok()) return InvalidArgument("Unrecognized request format: " + j.status().message());
  if (!j->is_object()) return InvalidArgument("Unrecognized request format: expected an object");
  V1Request req;
  if (auto it = j->find("instances"); it != j->end()) {
    if (!it->is_array()) return InvalidArgument("Expected \"instances\" to be a list");
    req.instances = *it;
  } else if (auto in = j->find("inputs"); in != j->end()) {
    if (!in->is_array()) return InvalidArgument("Expected \"inputs\" to be a list");
    req.instances = *in;
    req.from_inputs_key = true;
  } else {
    return InvalidArgument("Expected \"instances\" or \"inputs\" in the request");
  }
  req.body = std::move(*j);
  return req;
}

std::string EncodeV1Request(const Json& instances) {
  return DumpJson(Json{{"instances", instances}});
}

std::string EncodeV1Response(const Json& predictions) {
  return DumpJson(Json{{"predictions", predictions}});
}

Result<Json> ParseV1Response(std::string_view body) {
  auto j = ParseJson(body);
  if (!j.ok()) return InvalidArgument("malformed V1 response: " + j.status().message());
  if (!j->is_object() || !j->contains("predictions")) {
    return InvalidArgument("V1 response must have \"predictions\"");
  }
  return (*j)["predictions"];
}

Result<Tensor> InstancesToTensor(const Json& instances, DataType datatype) {
  if (!instances.is_array()) return InvalidArgument("Expected \"instances\" to be a list");
  // The shape follows the first element at each depth; every other element must agree.
  std::vector<int64_t> shape;
  for (const Json* v = &instances; v->is_array(); v = &(*v)[0]) {
    shape.push_back(static_cast<int64_t>(v->size()));
    if (v->empty()) break;
  }
  SKIFF_RETURN_IF_ERROR(CheckRectangular(instances, 0, shape, "instances"));
  return Tensor::FromJson(datatype, std::move(shape), instances);
}

Json TensorToPredictions(const Tensor& tensor) {
  Json flat = tensor.ToJson();
  if (tensor.shape().empty()) return flat;  // a scalar tensor: one-element list
  size_t pos = 0;
  return Nest(flat, tensor.shape(), 0, pos);
}

}  // namespace skiff::serving
