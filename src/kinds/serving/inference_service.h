// KServe's InferenceService (`serving.kserve.io/v1beta1`) parsed, validated and normalized into
// the model the serving controller works on: one `Component` per predictor and transformer,
// each with its model format (or custom container), storage URI, replica bounds and the Knative
// autoscaling spec its fields and annotations resolve to.
//
// Accepted predictor forms (exactly one per predictor, as KServe's `PredictorSpec`):
//   * `model: {modelFormat: {name, version}, runtime, storageUri, protocolVersion, ...}`
//   * the legacy framework keys `sklearn`, `xgboost`, `pytorch`, `tensorflow`, `triton`,
//     `onnx`, `lightgbm`, `paddle`, `pmml`, `huggingface` (same fields)
//   * `containers` (the one named `kserve-container`, or the only one, is the server)
// A transformer is `containers` only. The component extension fields (`minReplicas` default 1,
// `maxReplicas`, `scaleTarget`, `scaleMetric`, `containerConcurrency`, `timeout`,
// `canaryTrafficPercent`, `batcher`, `logger`) are validated with KServe's bounds and mapped to
// `autoscaling.knative.dev/*` annotations as KServe's ksvc reconciler does (explicit fields win
// over annotations), then resolved with `autoscale::ResolveScalingSpec`.
//
// What parses is what KServe accepts; whether it runs on this host is a separate question
// (`HostRuntimeError`): sklearn and xgboost run as `skiff model-server`, custom containers as
// host processes; TensorFlow, Triton, ONNX, PyTorch and the rest are valid but have no host
// runtime here. `scaleMetric` cpu/memory (Knative's HPA class) is rejected at parse time.
//
// Errors are InvalidArgument and start with the field's path:
// `spec.predictor.minReplicas: must be >= 0`.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "engine/autoscale/config.h"

namespace skiff::kserve {

inline constexpr const char* kApiVersion = "serving.kserve.io/v1beta1";
inline constexpr const char* kKind = "InferenceService";
// The main container of a component, as KServe names it.
inline constexpr const char* kServerContainer = "kserve-container";

struct Batcher {
  std::optional<int32_t> max_batch_size;  // requests per runtime call
  std::optional<int32_t> max_latency_ms;  // how long a batch may wait to fill
  std::optional<int32_t> timeout_s;
};

struct Logger {
  std::string mode = "all";  // all | request | response
  std::string url;
};

// Where a model's files come from, as its scheme says.
enum class StorageScheme { kNone, kLocalPath, kFile, kPvc, kHttp, kHttps, kRemote };

struct StorageUri {
  StorageScheme scheme = StorageScheme::kNone;
  std::string uri;    // as written
  std::string path;   // kLocalPath/kFile: the absolute path; kPvc: the path inside the claim
  std::string claim;  // kPvc: the claim's name
};

struct Component {
  std::string kind;  // "predictor" | "transformer"
  // The model format ("sklearn", "xgboost", "tensorflow", ...); empty for a custom container.
  std::string model_format;
  std::string model_format_version;
  std::string runtime;           // model.runtime (a ServingRuntime name), recorded only
  std::string runtime_version;   // legacy runtimeVersion, recorded only
  std::string protocol_version;  // "v1" | "v2" | "grpc-v1" | "grpc-v2"; empty: the runtime's
  StorageUri storage;
  // The server container: for a model format, the overrides the user gave (env, args,
  // resources, ...), name `kserve-container`; for a custom component, the container itself.
  Json container = Json::object();
  // Containers besides the server (sidecars), as written.
  Json sidecars = Json::array();
  bool custom = false;

  int32_t min_replicas = 1;
  int32_t max_replicas = 0;  // 0: unbounded
  std::optional<int32_t> scale_target;
  std::string scale_metric;           // "concurrency" | "rps" | "" (Knative's default)
  int64_t container_concurrency = 0;  // 0: unlimited
  std::optional<int64_t> timeout_s;
  std::optional<int64_t> canary_traffic_percent;
  std::optional<Batcher> batcher;
  std::optional<Logger> logger;

  // The `autoscaling.knative.dev/*` annotations of the revision (the isvc's and the
  // component's, with KServe's fields mapped over them) and the spec they resolve to.
  Json scaling_annotations = Json::object();
  autoscale::ScalingSpec scaling;

  // What makes a revision: the component's spec except `canaryTrafficPercent` (which moves
  // traffic, not code), plus the scaling annotations; canonical JSON.
  std::string revision_fingerprint;
};

struct InferenceService {
  std::string name, ns, uid;
  int64_t generation = 0;
  Component predictor;
  std::optional<Component> transformer;
};

// Parses, validates and defaults one InferenceService object ({apiVersion, kind, metadata,
// spec}); a missing namespace is "default".
Result<InferenceService> ParseInferenceService(const Json& obj);

// Parses a `storageUri` (`where` names the field in errors). Accepted as KServe accepts them:
// `gs://`, `s3://`, `pvc://`, `file://`, `http(s)://`, `hdfs://`, `webhdfs://`, `hf://`,
// `oci://` and absolute paths.
Result<StorageUri> ParseStorageUri(std::string_view uri, std::string_view where);

// The `skiff model-server --format` for a model format, or "" if none runs on this host.
std::string HostModelServerFormat(std::string_view model_format);

// OK if the component can run on this host; else FailedPrecondition saying why ("no host
// runtime for modelFormat tensorflow ...", "storageUri gs://...: scheme gs is not reachable
// from this host ...").
Status HostRuntimeError(const Component& c);

// The normalized plan as JSON (what `skiff describe inferenceservice` prints): per component
// its format, host runtime, storage, replicas, autoscaling and traffic settings.
Json DescribePlan(const InferenceService& isvc);

// KServe's printer columns for a stored object: URL, READY (the Ready condition's status), PREV
// (percent of the `prev`-tagged, else non-latest, predictor traffic), LATEST (percent of the
// latest revision), as `kubectl get isvc` shows them; "" where unknown.
struct PrinterRow {
  std::string url, ready, prev, latest, latest_ready_revision, previous_rolledout_revision;
};
PrinterRow PrinterColumns(const Json& obj);

}  // namespace skiff::kserve
