#include "serving/server/model_server.h"

#include "common/metrics.h"
#include "serving/protocol/routes.h"
#include "serving/protocol/v1.h"
#include "serving/protocol/v2.h"

namespace skiff::serving {

namespace {

void SetJson(api::HttpResponse& resp, int status, const Json& body) {
  resp.status = status;
  resp.content_type = "application/json";
  resp.body = body.dump();
}

void SetError(api::HttpResponse& resp, const Status& s) {
  HttpError e = ToHttpError(s);
  SetJson(resp, e.status, e.body);
}

}  // namespace

ModelServer::ModelServer(std::string model_name, std::string version)
    : name_(std::move(model_name)), version_(std::move(version)) {}

void ModelServer::SetRuntime(std::unique_ptr<Runtime> runtime) {
  owned_ = std::move(runtime);
  if (batching_) {
    Runtime* rt = owned_.get();
    batcher_ = std::make_unique<Batcher>([rt](const Tensor& rows) { return rt->Predict(rows); }, *batching_);
  }
  runtime_.store(owned_.get());
}

Status ModelServer::CheckModel(const std::string& model, const std::string& version) const {
  if (model != name_ || (!version.empty() && version != version_)) return ModelNotFound(model, version);
  return OkStatus();
}

Json ModelServer::Metadata() const {
  ModelMetadata m;
  m.name = name_;
  m.versions = {version_};
  Runtime* rt = runtime_.load();
  m.platform = rt != nullptr ? rt->platform() : "";
  int64_t nf = rt != nullptr ? rt->num_features() : -1;
  m.inputs.push_back({"input-0", DataType::kFp32, {-1, nf}});
  m.outputs.push_back({"output-0", rt != nullptr && rt->platform() == "sklearn" ? DataType::kInt64 : DataType::kFp32,
                       {-1}});
  return ToJson(m);
}

bool ModelServer::AnswersInline(const api::HttpRequest& req) const {
  if (req.method != "POST") return true;  // health, metadata: no model call
  Runtime* rt = runtime_.load();
  if (rt == nullptr) return true;  // answered 503 at once
  return !batcher_ && !rt->blocks();
}

void ModelServer::Handle(const api::HttpRequest& req, api::HttpResponse& resp) {
  if (req.method == "GET" && req.path == "/metrics") {
    // What the batcher did (a model server without one reports zeros), in Prometheus' format.
    Metrics m;
    m.Declare("skiff_model_batch_calls_total", Metrics::Type::kCounter, "Runtime calls made by the batcher.");
    m.Declare("skiff_model_batched_requests_total", Metrics::Type::kCounter,
              "Requests served through the batcher.");
    m.Inc("skiff_model_batch_calls_total", {{"model", name_}}, batcher_ ? batcher_->calls() : 0);
    m.Inc("skiff_model_batched_requests_total", {{"model", name_}}, batcher_ ? batcher_->requests() : 0);
    resp.status = 200;
    resp.content_type = "text/plain; version=0.0.4";
    resp.body = m.Expose();
    return;
  }
  auto route = ParseRoute(req.method, req.path);
  if (!route.ok()) return SetError(resp, route.status());
  const Route& r = *route;
  auto health = [&](const HealthAnswer& a) { SetJson(resp, a.status, a.body); };
  Status s;
  switch (r.kind) {
    case RouteKind::kRootLive: return SetJson(resp, 200, Json{{"status", "alive"}});
    case RouteKind::kV1ListModels: return SetJson(resp, 200, Json{{"models", Json::array({name_})}});
    case RouteKind::kV1ModelStatus:
      if (s = CheckModel(r.model, ""); !s.ok()) return SetError(resp, s);
      return SetJson(resp, 200, V1ModelStatus(name_, ready()));
    case RouteKind::kV1Predict:
      if (s = CheckModel(r.model, ""); !s.ok()) return SetError(resp, s);
      if (s = V1Predict(req, resp); !s.ok()) return SetError(resp, s);
      return;
    case RouteKind::kV1Explain:
      if (s = CheckModel(r.model, ""); !s.ok()) return SetError(resp, s);
      return SetError(resp, Unimplemented("explain is not supported by this model server"));
    case RouteKind::kV2ServerMetadata: {
      ServerMetadata m;
      m.version = "0.1.0";
      m.extensions = {"binary_tensor_data"};
      return SetJson(resp, 200, ToJson(m));
    }
    case RouteKind::kV2ServerLive: return health(ServerLiveAnswer(true));
    case RouteKind::kV2ServerReady: return health(ServerReadyAnswer(ready()));
    case RouteKind::kV2ModelMetadata:
      if (s = CheckModel(r.model, r.version); !s.ok()) return SetError(resp, s);
      return SetJson(resp, 200, Metadata());
    case RouteKind::kV2ModelReady:
      if (s = CheckModel(r.model, r.version); !s.ok()) return SetError(resp, s);
      return health(ModelReadyAnswer(name_, ready()));
    case RouteKind::kV2Infer:
      if (s = CheckModel(r.model, r.version); !s.ok()) return SetError(resp, s);
      if (s = V2Infer(req, resp); !s.ok()) return SetError(resp, s);
      return;
  }
  SetError(resp, NotFound("unknown route"));
}

Status ModelServer::V1Predict(const api::HttpRequest& req, api::HttpResponse& resp) {
  Runtime* rt = runtime_.load();
  if (rt == nullptr) return ModelNotReady(name_);
  SKIFF_ASSIGN_OR_RETURN(V1Request v1, ParseV1Request(req.body));
  SKIFF_ASSIGN_OR_RETURN(Tensor batch, InstancesToTensor(v1.instances, DataType::kFp32));
  SKIFF_ASSIGN_OR_RETURN(Tensor out, batcher_ ? batcher_->Predict(batch) : rt->Predict(batch));
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body = EncodeV1Response(TensorToPredictions(out));
  return OkStatus();
}

Status ModelServer::V2Infer(const api::HttpRequest& req, api::HttpResponse& resp) {
  Runtime* rt = runtime_.load();
  if (rt == nullptr) return ModelNotReady(name_);
  std::optional<size_t> header_length;
  if (std::string h = req.Header("inference-header-content-length"); !h.empty()) {
    SKIFF_ASSIGN_OR_RETURN(header_length, ParseHeaderLength(h));
  }
  SKIFF_ASSIGN_OR_RETURN(InferRequest in, ParseInferRequest(req.body, header_length));
  if (in.inputs.size() != 1) {
    return InvalidArgument("expected 1 input, got " + std::to_string(in.inputs.size()));
  }
  // Rows of concurrent requests share one runtime call when batching is on (any [n, features]
  // input, whatever its datatype; the runtimes predict on floats either way).
  const Tensor& x = in.inputs[0].tensor;
  const bool batch = batcher_ && x.shape().size() == 2 && x.datatype() != DataType::kBytes;
  SKIFF_ASSIGN_OR_RETURN(Tensor out, batch ? batcher_->Predict(x) : rt->Predict(x));
  InferResponse r;
  r.model_name = name_;
  r.model_version = version_;
  r.id = in.id;
  r.outputs.push_back({"output-0", std::move(out), Json::object()});
  SKIFF_RETURN_IF_ERROR(SelectOutputs(r, in));
  EncodedBody body = EncodeInferResponse(r, &in);
  resp.status = 200;
  resp.content_type = std::string(body.content_type);
  if (body.header_length) {
    resp.headers.emplace_back(std::string(kInferenceHeaderContentLength), std::to_string(*body.header_length));
  }
  resp.body = std::move(body.body);
  return OkStatus();
}

}  // namespace skiff::serving
