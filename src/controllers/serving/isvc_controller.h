// The InferenceService controller (KServe's control plane, with Knative Serving's revisions,
// routes and KPA folded in). Each InferenceService becomes, per component (predictor, optional
// transformer):
//   * revisions `<isvc>-<component>-00001`, `-00002`, ...: every change of the component's spec
//     (except `canaryTrafficPercent`) or of its autoscaling annotations is a new revision; the
//     revision's spec, resolved model path and whether it was ever ready are kept as store
//     records (collection `isvc-revisions`, owner = the isvc's uid, key = revision name), with
//     the rollout state (`rollout-<component>`: latest and previous rolled-out revisions);
//   * replica Pods `<revision>-deployment-<n>`, owned by the isvc, labelled
//     `serving.kserve.io/inferenceservice`, `component`, `serving.knative.dev/revision`,
//     `serving.knative.dev/configuration`, annotated with `serving.skiff.dev/port`,
//     `serving.skiff.dev/container-concurrency` and `serving.skiff.dev/timeout-seconds`. A
//     model-format replica runs `skiff model-server --model-name <isvc> --model-dir <resolved>
//     --format <f> --port <port>` with an httpGet readiness probe on `/v2/health/ready`; a custom
//     container runs its own command with `PORT` (tcpSocket readiness unless it has a probe);
//     a transformer also gets `PREDICTOR_HOST` and `SKIFF_GATEWAY`;
//   * `status`: `url`, `address.url`, conditions `PredictorReady` (`TransformerReady`),
//     `IngressReady`, `Ready`, `components.<c>.{latestCreatedRevision, latestReadyRevision,
//     latestRolledoutRevision, previousRolledoutRevision, traffic, url}`, `modelStatus`,
//     `observedGeneration`. The gateway routes from `traffic` and the Pods.
//
// Storage (`storageUri`), resolved once per revision when it is created: a path or `file://`
// as is; `pvc://<claim>/<path>` under `<data_dir>/volumes/<ns>/<claim>` (where the local
// kubelet mounts the claim); `http(s)://` downloaded into `<data_dir>/models/cache/<key>/`,
// key = sha256(URL + ETag or Content-Length), so replicas and later revisions of the same
// content never download again; the download runs off the loop (condition `StorageInitializing`
// meanwhile). Other schemes are valid but unreachable here (condition).
//
// Rollout of a component (numbers are used by tests):
//   1 spec changed --> new revision N (latestCreatedRevision), Pods at its initial scale
//   2 no canaryTrafficPercent: traffic 100% on the newest ready revision; once the latest is
//     ready it is rolled out (previousRolledoutRevision := the former latestRolledoutRevision)
//   3 canaryTrafficPercent p with an earlier rolled-out revision: the latest gets p% (tag
//     `latest`), the rolled-out one 100-p% (tag `prev`); p = 0 pins (and rolls back to) the
//     rolled-out one
//   4 canaryTrafficPercent removed --> 2 (promotion)
//   5 a revision without traffic (and not the latest still becoming ready) loses its Pods
// Scaling of each revision with traffic (numbers continue):
//   6 one `autoscale::Autoscaler` per revision; every second the controller takes
//     `RevisionStats::TakeSamples()` and records one sample per revision (zeros included);
//     every 2 s `Decide(now, ready pods)` sets the desired replicas, within min/max
//   7 scale down deletes not-ready Pods first, then the newest
//   8 desired 0 (minReplicas 0, idle past the stable window and grace period): no Pods
//   9 activation: `RevisionStats::RequestActivation` for a revision at zero enqueues the
//     isvc at once and its next pass creates one Pod without waiting for a decision; the
//     revision keeps at least one Pod for two decision intervals, until its samples show;
//     a revision at 0 % reached by its tag keeps an autoscaler (unreachable: min-scale
//     ignored, as Knative) until it wants no replica again
//
// Threading: runs on one EventLoop; events come from a store Informer through a `WorkQueue`.
// The activation handler it installs on `RevisionStats` only posts to the loop.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "controllers/runtime/work_queue.h"
#include "engine/autoscale/autoscaler.h"
#include "serving/stats/stats.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::kserve {
struct Component;
struct InferenceService;
}  // namespace skiff::kserve

namespace skiff::controllers {

inline constexpr const char* kIsvcRevisionRecords = "isvc-revisions";

// What an HTTP server says about a model file before it is downloaded.
struct RemoteObjectInfo {
  int status = 0;
  std::string etag;
  int64_t content_length = -1;
};

struct IsvcControllerOptions {
  WorkQueueOptions queue;
  // The data dir: PVCs live in `volumes/<ns>/<claim>`, downloaded models in `models/cache`.
  std::string data_dir;
  // The skiff binary the replicas run (`<skiff_binary> model-server ...`).
  std::string skiff_binary;
  // The server's own address for transformers (`SKIFF_GATEWAY`), "127.0.0.1:<port>", read when
  // a replica is made (a server on port 0 knows its port only once it listens); null or "": not
  // set.
  std::function<std::string()> gateway_address;
  std::string domain = "example.com";
  // Per-request counts from the gateway; may be null (no traffic is ever seen then).
  serving::RevisionStats* stats = nullptr;
  // Returns a free TCP port not in `taken` (default: `AllocateLocalPort`).
  std::function<Result<int32_t>(uint64_t hint, const std::set<int32_t>& taken)> allocate_port;
  // HTTP for `http(s)://` storage: a HEAD and a GET into a file. Unset: such URIs fail with
  // a condition saying so.
  std::function<Result<RemoteObjectInfo>(const std::string& url)> http_head;
  std::function<Status(const std::string& url, const std::string& dest_file)> http_download;
  // Seconds between samples and between decisions (Knative: 1 s and 2 s).
  Duration sample_interval = Seconds(1);
};

class InferenceServiceController {
 public:
  InferenceServiceController(store::Store& store, EventLoop& loop, store::Informer& informer,
                             IsvcControllerOptions options);
  ~InferenceServiceController();
  InferenceServiceController(const InferenceServiceController&) = delete;
  InferenceServiceController& operator=(const InferenceServiceController&) = delete;

  // Registers with the informer, queues every InferenceService and starts the sampling timer.
  Status Start();
  // One reconcile pass for "InferenceService/ns/name" (the queue calls it; public for tests).
  ReconcileResult Reconcile(const std::string& key);

  // Autoscaler state, for tests and `/metrics`: the desired replicas of a revision key
  // ("ns/isvc/revision"); -1 if it has no autoscaler.
  int32_t DesiredReplicas(const std::string& revision_key) const;
  size_t autoscalers() const { return scalers_.size(); }
  // Per revision key, as of its isvc's last pass: what `/metrics` shows. Thread-safe.
  struct RevisionReplicas {
    int32_t desired = 0;  // wanted by the autoscaler (0 without one)
    int32_t ready = 0;
    int32_t pods = 0;
  };
  std::map<std::string, RevisionReplicas> ReplicaSnapshot() const;
  // Models fetched over HTTP by this controller (a cache hit does not count).
  int64_t downloads() const { return downloads_.load(); }

 private:
  struct Scaler {
    std::unique_ptr<autoscale::Autoscaler> autoscaler;
    int32_t desired = 0;
    TimePoint next_decision{};
    TimePoint activation_floor_until{};
    // Kept only for activation (its revision has 0 % of the traffic, reached by its tag).
    bool for_activation = false;
    std::string service_key;
  };
  void OnIsvcEvent(const store::WatchEvent& ev);
  void OnPodEvent(const store::WatchEvent& ev);
  void Sample();
  void Activate(const std::string& service_key, const std::string& revision_key);
  // The model's local path for a new revision (see "Storage" above). An http(s) model is
  // fetched on a thread of its own (the loop serves every controller and the kubelet): while
  // it runs `*pending` is set, and the isvc `key` is queued again when it ends.
  Result<std::string> ResolveModelPath(const kserve::Component& c, const std::string& ns,
                                       const std::string& key, bool* pending);
  // One background fetch per URL (loop thread only, except `thread`'s own writes to `result`,
  // which the loop reads after joining it).
  struct Fetch {
    std::thread thread;
    bool finished = false;
    std::optional<Result<std::string>> result;
    std::set<std::string> waiting;  // isvc queue keys to wake
  };
  Json NewReplicaPod(const kserve::InferenceService& isvc, const Json& rev_record,
                     const std::string& revision, const std::string& pod_name, int32_t port,
                     const Json& owner) const;

  store::Store& store_;
  EventLoop& loop_;
  store::Informer& informer_;
  IsvcControllerOptions options_;
  WorkQueue queue_;
  std::map<std::string, Scaler> scalers_;  // by revision key
  std::set<std::string> activations_;      // revision keys activated since their last pass
  std::set<int32_t> handed_out_;           // ports allocated by this process
  EventLoop::TimerId sample_timer_ = 0;
  std::map<std::string, std::shared_ptr<Fetch>> fetches_;  // by URL
  std::atomic<int64_t> downloads_{0};
  mutable std::mutex snapshot_mu_;
  std::map<std::string, RevisionReplicas> snapshot_;  // GUARDED_BY(snapshot_mu_)
  std::shared_ptr<bool> alive_;
};

// "ns/isvc/revision" and "ns/isvc", the keys of `serving::RevisionStats`.
std::string RevisionKey(const std::string& ns, const std::string& isvc,
                        const std::string& revision);
std::string ServiceKey(const std::string& ns, const std::string& isvc);

}  // namespace skiff::controllers
