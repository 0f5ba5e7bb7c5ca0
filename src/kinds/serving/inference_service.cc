#include "kinds/serving/inference_service.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace skiff::kserve {

namespace {

// The framework keys of KServe's `PredictorSpec` (legacy form), each a model format name.
const char* const kFrameworkKeys[] = {"sklearn", "xgboost",    "tensorflow", "pytorch",
                                      "triton",  "onnx",       "lightgbm",   "paddle",
                                      "pmml",    "huggingface"};

// Fields of a model spec (`model` or a framework key) that describe the model, not the
// container.
const char* const kModelFields[] = {"modelFormat",     "runtime",    "runtimeVersion",
                                    "protocolVersion", "storageUri", "storage"};

Result<std::optional<int64_t>> OptInt(const Json& obj, const char* key, const std::string& where,
                                      int64_t min,
                                      int64_t max = std::numeric_limits<int64_t>::max()) {
  const Json* v = FindField(obj, key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  int64_t n = 0;
  if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()) {
    n = static_cast<int64_t>(v->get<double>());
  } else {
    return InvalidArgument(where + "." + key + ": must be an integer");
  }
  if (n < min) return InvalidArgument(where + "." + key + ": must be >= " + std::to_string(min));
  if (n > max) return InvalidArgument(where + "." + key + ": must be <= " + std::to_string(max));
  return std::optional<int64_t>(n);
}

Result<std::string> OptString(const Json& obj, const char* key, const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return InvalidArgument(where + "." + key + ": must be a string");
  return v->get<std::string>();
}

// The server container of a custom component and its sidecars.
Status ParseContainers(const Json& list, const std::string& where, Component& c) {
  if (!list.is_array() || list.empty())
    return InvalidArgument(where + ": must be a non-empty list");
  int server = -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return InvalidArgument(at + ": must be an object");
    const Json* name = FindField(list[i], "name");
    if (name != nullptr && !name->is_string())
      return InvalidArgument(at + ".name: must be a string");
    if (StringField(list[i], "name") == kServerContainer) {
      if (server >= 0) return InvalidArgument(at + ".name: \"kserve-container\" appears twice");
      server = static_cast<int>(i);
    }
    for (const char* f : {"command", "args"}) {
      const Json* v = FindField(list[i], f);
      if (v == nullptr) continue;
      if (!v->is_array()) return InvalidArgument(at + "." + f + ": must be a list of strings");
      for (const auto& s : *v) {
        if (!s.is_string()) return InvalidArgument(at + "." + f + ": must be a list of strings");
      }
    }
  }
  if (server < 0) {
    if (list.size() > 1) {
      return InvalidArgument(where + ": one container must be named \"kserve-container\"");
    }
    server = 0;
  }
  c.container = list[static_cast<size_t>(server)];
  c.container["name"] = kServerContainer;
  for (size_t i = 0; i < list.size(); ++i) {
    if (static_cast<int>(i) != server) c.sidecars.push_back(list[i]);
  }
  c.custom = true;
  return OkStatus();
}

// `model` or a legacy framework key.
Status ParseModelSpec(const Json& m, const std::string& where, const std::string& framework,
                      Component& c) {
  if (!m.is_object()) return InvalidArgument(where + ": must be an object");
  if (framework.empty()) {
    const Json* mf = FindField(m, "modelFormat");
    if (mf == nullptr || !mf->is_object()) {
      return InvalidArgument(where + ".modelFormat: required (an object with a name)");
    }
    SKIFF_ASSIGN_OR_RETURN(c.model_format, OptString(*mf, "name", where + ".modelFormat"));
    if (c.model_format.empty()) return InvalidArgument(where + ".modelFormat.name: required");
    SKIFF_ASSIGN_OR_RETURN(c.model_format_version,
                           OptString(*mf, "version", where + ".modelFormat"));
    SKIFF_ASSIGN_OR_RETURN(c.runtime, OptString(m, "runtime", where));
  } else {
    c.model_format = framework;
  }
  std::transform(c.model_format.begin(), c.model_format.end(), c.model_format.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  SKIFF_ASSIGN_OR_RETURN(c.runtime_version, OptString(m, "runtimeVersion", where));
  SKIFF_ASSIGN_OR_RETURN(c.protocol_version, OptString(m, "protocolVersion", where));
  if (!c.protocol_version.empty() && c.protocol_version != "v1" && c.protocol_version != "v2" &&
      c.protocol_version != "grpc-v1" && c.protocol_version != "grpc-v2") {
    return InvalidArgument(where +
                           ".protocolVersion: must be one of v1, v2, grpc-v1, grpc-v2 (got \"" +
                           c.protocol_version + "\")");
  }
  SKIFF_ASSIGN_OR_RETURN(std::string uri, OptString(m, "storageUri", where));
  if (!uri.empty()) {
    SKIFF_ASSIGN_OR_RETURN(c.storage, ParseStorageUri(uri, where + ".storageUri"));
  }
  // The rest is the server container's overrides (env, args, resources, ...).
  Json container = Json::object();
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (std::find_if(std::begin(kModelFields), std::end(kModelFields),
                     [&](const char* f) { return it.key() == f; }) != std::end(kModelFields)) {
      continue;
    }
    container[it.key()] = it.value();
  }
  if (const Json* env = FindField(container, "env"); env != nullptr && !env->is_array()) {
    return InvalidArgument(where + ".env: must be a list");
  }
  container["name"] = kServerContainer;
  c.container = std::move(container);
  return OkStatus();
}

Status ParseExtension(const Json& spec, const std::string& where, Component& c) {
  {
    SKIFF_ASSIGN_OR_RETURN(auto v, OptInt(spec, "minReplicas", where, 0, 100000));
    if (v) c.min_replicas = static_cast<int32_t>(*v);
  }
  {
    SKIFF_ASSIGN_OR_RETURN(auto v, OptInt(spec, "maxReplicas", where, 0, 100000));
    if (v) c.max_replicas = static_cast<int32_t>(*v);
  }
  if (c.max_replicas > 0 && c.min_replicas > c.max_replicas) {
    return InvalidArgument(where + ".minReplicas: cannot be greater than maxReplicas (" +
                           std::to_string(c.min_replicas) + " > " + std::to_string(c.max_replicas) +
                           ")");
  }
  {
    SKIFF_ASSIGN_OR_RETURN(auto v, OptInt(spec, "scaleTarget", where, 1));
    if (v) c.scale_target = static_cast<int32_t>(*v);
  }
  SKIFF_ASSIGN_OR_RETURN(c.scale_metric, OptString(spec, "scaleMetric", where));
  if (c.scale_metric == "cpu" || c.scale_metric == "memory") {
    return InvalidArgument(where + ".scaleMetric: \"" + c.scale_metric +
                           "\" needs Knative's HPA autoscaler class, which skiff does not run "
                           "(use concurrency or rps)");
  }
  if (!c.scale_metric.empty() && c.scale_metric != "concurrency" && c.scale_metric != "rps") {
    return InvalidArgument(where +
                           ".scaleMetric: must be one of cpu, memory, concurrency, rps (got \"" +
                           c.scale_metric + "\")");
  }
  {
    SKIFF_ASSIGN_OR_RETURN(auto v, OptInt(spec, "containerConcurrency", where, 0, 1000));
    if (v) c.container_concurrency = *v;
  }
  SKIFF_ASSIGN_OR_RETURN(c.timeout_s, OptInt(spec, "timeout", where, 1, 3600));
  SKIFF_ASSIGN_OR_RETURN(c.canary_traffic_percent,
                         OptInt(spec, "canaryTrafficPercent", where, 0, 100));
  if (const Json* b = FindField(spec, "batcher"); b != nullptr && !b->is_null()) {
    const std::string bw = where + ".batcher";
    if (!b->is_object()) return InvalidArgument(bw + ": must be an object");
    Batcher batcher;
    SKIFF_ASSIGN_OR_RETURN(auto size, OptInt(*b, "maxBatchSize", bw, 1, 1 << 20));
    SKIFF_ASSIGN_OR_RETURN(auto latency, OptInt(*b, "maxLatency", bw, 1, 3600 * 1000));
    SKIFF_ASSIGN_OR_RETURN(auto timeout, OptInt(*b, "timeout", bw, 1, 3600));
    if (size) batcher.max_batch_size = static_cast<int32_t>(*size);
    if (latency) batcher.max_latency_ms = static_cast<int32_t>(*latency);
    if (timeout) batcher.timeout_s = static_cast<int32_t>(*timeout);
    c.batcher = batcher;
  }
  if (const Json* l = FindField(spec, "logger"); l != nullptr && !l->is_null()) {
    const std::string lw = where + ".logger";
    if (!l->is_object()) return InvalidArgument(lw + ": must be an object");
    Logger logger;
    SKIFF_ASSIGN_OR_RETURN(std::string mode, OptString(*l, "mode", lw));
    if (!mode.empty()) logger.mode = mode;
    if (logger.mode != "all" && logger.mode != "request" && logger.mode != "response") {
      return InvalidArgument(lw + ".mode: must be one of all, request, response (got \"" + mode +
                             "\")");
    }
    SKIFF_ASSIGN_OR_RETURN(logger.url, OptString(*l, "url", lw));
    c.logger = logger;
  }
  return OkStatus();
}

// KServe's ksvc reconciler: the isvc's annotations, then the component's, then its fields.
Status ResolveScaling(const Json& isvc_annotations, const Json& spec, const std::string& where,
                      Component& c) {
  Json a = Json::object();
  auto take = [&](const Json& from) {
    if (!from.is_object()) return;
    for (auto it = from.begin(); it != from.end(); ++it) {
      if (it.key().rfind("autoscaling.knative.dev/", 0) == 0)
        a[it.key()] = ScalarToString(it.value());
    }
  };
  take(isvc_annotations);
  if (const Json* ca = FindField(spec, "annotations")) take(*ca);
  if (FindField(spec, "minReplicas") != nullptr ||
      !a.contains(std::string(autoscale::kMinScaleAnnotation))) {
    a[std::string(autoscale::kMinScaleAnnotation)] = std::to_string(c.min_replicas);
  } else {
    // An annotation without the field: the annotation says what minReplicas is.
    c.min_replicas = static_cast<int32_t>(
        std::max<int64_t>(0, std::atoll(StringField(a, autoscale::kMinScaleAnnotation).c_str())));
  }
  if (c.max_replicas > 0) {
    a[std::string(autoscale::kMaxScaleAnnotation)] = std::to_string(c.max_replicas);
  } else if (a.contains(std::string(autoscale::kMaxScaleAnnotation))) {
    c.max_replicas = static_cast<int32_t>(
        std::max<int64_t>(0, std::atoll(StringField(a, autoscale::kMaxScaleAnnotation).c_str())));
  }
  if (c.scale_target)
    a[std::string(autoscale::kTargetAnnotation)] = std::to_string(*c.scale_target);
  if (!c.scale_metric.empty()) a[std::string(autoscale::kMetricAnnotation)] = c.scale_metric;
  auto spec_or = autoscale::ResolveScalingSpec(a, c.container_concurrency);
  if (!spec_or.ok()) {
    return InvalidArgument(where + " (autoscaling): " + spec_or.status().message());
  }
  c.scaling = *spec_or;
  c.scaling_annotations = std::move(a);
  return OkStatus();
}

Result<Component> ParseComponent(const Json& spec, const Json& isvc_annotations,
                                 const std::string& kind) {
  const std::string where = "spec." + kind;
  if (!spec.is_object()) return InvalidArgument(where + ": must be an object");
  Component c;
  c.kind = kind;
  std::vector<std::string> forms;
  for (const char* k : kFrameworkKeys) {
    if (FindField(spec, k) != nullptr) forms.push_back(k);
  }
  if (FindField(spec, "model") != nullptr) forms.push_back("model");
  const Json* containers = FindField(spec, "containers");
  if (containers != nullptr) forms.push_back("containers");
  if (kind == "transformer") {
    if (containers == nullptr)
      return InvalidArgument(where + ".containers: required for a transformer");
    if (forms.size() > 1) {
      return InvalidArgument(where + ": a transformer is custom containers only (found " +
                             forms[0] + ")");
    }
  } else if (forms.size() != 1) {
    std::string got;
    for (const auto& f : forms) got += (got.empty() ? "" : ", ") + f;
    return InvalidArgument(where +
                           ": exactly one of model, sklearn, xgboost, tensorflow, pytorch, triton, "
                           "onnx, lightgbm, paddle, pmml, huggingface or containers must be "
                           "specified" +
                           (got.empty() ? std::string(" (found none)") : " (found " + got + ")"));
  }
  if (forms[0] == "containers") {
    SKIFF_RETURN_IF_ERROR(ParseContainers(*containers, where + ".containers", c));
    // KServe reads a custom container's model location from its STORAGE_URI variable.
    for (const auto& e : c.container.value("env", Json::array())) {
      if (StringField(e, "name") == "STORAGE_URI" && !StringField(e, "value").empty()) {
        SKIFF_ASSIGN_OR_RETURN(c.storage, ParseStorageUri(StringField(e, "value"),
                                                          where + ".containers.env.STORAGE_URI"));
      }
    }
  } else {
    const std::string& f = forms[0];
    SKIFF_RETURN_IF_ERROR(ParseModelSpec(spec[f], where + "." + f, f == "model" ? "" : f, c));
  }
  SKIFF_RETURN_IF_ERROR(ParseExtension(spec, where, c));
  SKIFF_RETURN_IF_ERROR(ResolveScaling(isvc_annotations, spec, where, c));
  Json fingerprint = spec;
  fingerprint.erase("canaryTrafficPercent");
  c.revision_fingerprint =
      DumpJson({{"spec", fingerprint}, {"annotations", c.scaling_annotations}});
  return c;
}

const char* SchemeName(StorageScheme s) {
  switch (s) {
    case StorageScheme::kNone:
      return "none";
    case StorageScheme::kLocalPath:
      return "path";
    case StorageScheme::kFile:
      return "file";
    case StorageScheme::kPvc:
      return "pvc";
    case StorageScheme::kHttp:
      return "http";
    case StorageScheme::kHttps:
      return "https";
    case StorageScheme::kRemote:
      return "remote";
  }
  return "?";
}

}  // namespace

Result<StorageUri> ParseStorageUri(std::string_view uri, std::string_view where) {
  StorageUri s;
  s.uri = std::string(uri);
  const std::string w(where);
  auto starts = [&](std::string_view p) { return uri.substr(0, p.size()) == p; };
  if (uri.empty()) return s;
  if (uri[0] == '/') {
    s.scheme = StorageScheme::kLocalPath;
    s.path = std::string(uri);
  } else if (starts("file://")) {
    s.scheme = StorageScheme::kFile;
    s.path = std::string(uri.substr(7));
    if (s.path.empty() || s.path[0] != '/') {
      return InvalidArgument(w + ": file:// needs an absolute path (file:///models/iris), got \"" +
                             s.uri + "\"");
    }
  } else if (starts("pvc://")) {
    s.scheme = StorageScheme::kPvc;
    std::string rest(uri.substr(6));
    size_t slash = rest.find('/');
    s.claim = rest.substr(0, slash);
    s.path = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (s.claim.empty())
      return InvalidArgument(w + ": pvc:// needs a claim name (pvc://<claim>/<path>)");
    if (s.path.find("..") != std::string::npos)
      return InvalidArgument(w + ": the path may not contain \"..\"");
  } else if (starts("http://") || starts("https://")) {
    s.scheme = starts("https://") ? StorageScheme::kHttps : StorageScheme::kHttp;
    if (uri.size() <= (s.scheme == StorageScheme::kHttps ? 8u : 7u)) {
      return InvalidArgument(w + ": missing host in \"" + s.uri + "\"");
    }
  } else if (starts("gs://") || starts("s3://") || starts("hdfs://") || starts("webhdfs://") ||
             starts("hf://") || starts("oci://")) {
    s.scheme = StorageScheme::kRemote;
  } else {
    return InvalidArgument(
        w + ": unsupported storage URI \"" + s.uri +
        "\" (supported: gs://, s3://, pvc://, file://, http://, https://, hdfs://, "
        "webhdfs://, hf://, oci://, or an absolute path)");
  }
  return s;
}

std::string HostModelServerFormat(std::string_view model_format) {
  // pytorch: a TorchScript model.pt, in builds with the TorchScript runtime (-DSKIFF_WITH_TORCH=ON);
  // elsewhere the replica's model server refuses it and says why.
  if (model_format == "sklearn" || model_format == "xgboost" || model_format == "pytorch") {
    return std::string(model_format);
  }
  return "";
}

Status HostRuntimeError(const Component& c) {
  if (!c.custom && HostModelServerFormat(c.model_format).empty()) {
    return FailedPrecondition("no host runtime for modelFormat " + c.model_format +
                              " (this host serves sklearn, xgboost and TorchScript pytorch with skiff model-server, and "
                              "custom containers as host processes)");
  }
  if (!c.custom && c.storage.scheme == StorageScheme::kNone) {
    // KServe allows it (a runtime image may carry the model); here the model comes from storage.
    return FailedPrecondition("storageUri: required to serve modelFormat " + c.model_format +
                              " on this host");
  }
  if (c.storage.scheme == StorageScheme::kRemote) {
    std::string scheme = c.storage.uri.substr(0, c.storage.uri.find(':'));
    return FailedPrecondition("storageUri " + c.storage.uri + ": scheme " + scheme +
                              " is not reachable from this host (use file://, a path, pvc:// or "
                              "http(s)://)");
  }
  if (c.custom && !c.container.contains("command")) {
    return FailedPrecondition(
        "container kserve-container: images are not run on this host; give "
        "the container a command (and args) to run as a host process");
  }
  return OkStatus();
}

Result<InferenceService> ParseInferenceService(const Json& obj) {
  if (!obj.is_object()) return InvalidArgument("an InferenceService must be an object");
  if (StringField(obj, "apiVersion") != kApiVersion) {
    return InvalidArgument("apiVersion: must be serving.kserve.io/v1beta1 (got \"" +
                           StringField(obj, "apiVersion") + "\")");
  }
  InferenceService isvc;
  const Json& md = obj.value("metadata", Json::object());
  isvc.name = StringField(md, "name");
  if (isvc.name.empty()) return InvalidArgument("metadata.name: required");
  isvc.ns = StringField(md, "namespace", "default");
  if (isvc.ns.empty()) isvc.ns = "default";
  isvc.uid = StringField(md, "uid");
  isvc.generation = IntField(md, "generation", 0);
  const Json annotations = md.value("annotations", Json::object());
  const Json* spec = FindField(obj, "spec");
  if (spec == nullptr || !spec->is_object()) return InvalidArgument("spec: required");
  const Json* predictor = FindField(*spec, "predictor");
  if (predictor == nullptr) return InvalidArgument("spec.predictor: required");
  SKIFF_ASSIGN_OR_RETURN(isvc.predictor, ParseComponent(*predictor, annotations, "predictor"));
  if (const Json* t = FindField(*spec, "transformer"); t != nullptr && !t->is_null()) {
    SKIFF_ASSIGN_OR_RETURN(isvc.transformer, ParseComponent(*t, annotations, "transformer"));
  }
  if (const Json* e = FindField(*spec, "explainer"); e != nullptr && !e->is_null()) {
    return InvalidArgument("spec.explainer: explainers are not supported");
  }
  return isvc;
}

Json DescribePlan(const InferenceService& isvc) {
  Json plan = Json::object();
  auto one = [&](const Component& c) {
    Json j = Json::object();
    j["revisionNames"] = isvc.name + "-" + c.kind + "-NNNNN";
    if (c.custom) {
      j["server"] = "custom container kserve-container";
      if (c.container.contains("command")) j["command"] = c.container["command"];
      if (c.container.contains("args")) j["args"] = c.container["args"];
    } else {
      j["modelFormat"] = c.model_format;
      if (!c.model_format_version.empty()) j["modelFormatVersion"] = c.model_format_version;
      if (!c.runtime.empty()) j["runtime"] = c.runtime;
      std::string fmt = HostModelServerFormat(c.model_format);
      j["server"] = fmt.empty() ? "none" : "skiff model-server --format " + fmt;
    }
    if (!c.protocol_version.empty()) j["protocolVersion"] = c.protocol_version;
    if (c.storage.scheme != StorageScheme::kNone) {
      j["storage"] = {{"uri", c.storage.uri}, {"scheme", SchemeName(c.storage.scheme)}};
      if (!c.storage.claim.empty()) j["storage"]["claim"] = c.storage.claim;
      if (!c.storage.path.empty()) j["storage"]["path"] = c.storage.path;
    }
    Status host = HostRuntimeError(c);
    j["runsOnThisHost"] = host.ok() ? Json("yes") : Json("no: " + host.message());
    j["replicas"] = {{"min", c.min_replicas},
                     {"max", c.max_replicas == 0 ? Json("unbounded") : Json(c.max_replicas)}};
    j["containerConcurrency"] = c.container_concurrency;
    if (c.timeout_s) j["timeoutSeconds"] = *c.timeout_s;
    if (c.canary_traffic_percent) j["canaryTrafficPercent"] = *c.canary_traffic_percent;
    const auto& s = c.scaling;
    j["autoscaling"] = {{"class", "kpa"},
                        {"metric", std::string(autoscale::MetricName(s.metric))},
                        {"targetPerPod", s.target},
                        {"totalPerPod", s.total},
                        {"stableWindow", FormatGoDuration(s.stable_window)},
                        {"panicWindow", FormatGoDuration(s.panic_window)},
                        {"minScale", s.min_scale},
                        {"maxScale", s.max_scale},
                        {"initialScale", s.initial_scale},
                        {"scaleToZero", s.min_scale == 0}};
    if (!c.scaling_annotations.empty()) j["annotations"] = c.scaling_annotations;
    if (c.batcher) {
      Json b = Json::object();
      if (c.batcher->max_batch_size) b["maxBatchSize"] = *c.batcher->max_batch_size;
      if (c.batcher->max_latency_ms) b["maxLatencyMs"] = *c.batcher->max_latency_ms;
      if (c.batcher->timeout_s) b["timeoutSeconds"] = *c.batcher->timeout_s;
      j["batcher"] = b;
    }
    if (c.logger) j["logger"] = {{"mode", c.logger->mode}, {"url", c.logger->url}};
    if (!c.sidecars.empty()) j["sidecars"] = c.sidecars.size();
    return j;
  };
  plan["url"] = "http://" + isvc.name + "." + isvc.ns + ".example.com";
  plan["predictor"] = one(isvc.predictor);
  if (isvc.transformer) plan["transformer"] = one(*isvc.transformer);
  return plan;
}

PrinterRow PrinterColumns(const Json& obj) {
  PrinterRow row;
  const Json st = obj.value("status", Json::object());
  if (!st.is_object()) return row;
  row.url = StringField(st, "url");
  for (const auto& c : st.value("conditions", Json::array())) {
    if (StringField(c, "type") == "Ready") row.ready = StringField(c, "status");
  }
  const Json p = st.value("components", Json::object()).value("predictor", Json::object());
  for (const auto& t : p.value("traffic", Json::array())) {
    std::string pct = std::to_string(IntField(t, "percent", 0));
    if (t.value("latestRevision", false)) {
      row.latest = pct;
    } else if (StringField(t, "tag") == "prev" || row.prev.empty()) {
      row.prev = pct;
    }
  }
  row.latest_ready_revision = StringField(p, "latestReadyRevision");
  row.previous_rolledout_revision = StringField(p, "previousRolledoutRevision");
  return row;
}

}  // namespace skiff::kserve
