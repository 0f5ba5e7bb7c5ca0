#include "controllers/serving/isvc_controller.h"

#include <algorithm>
#include <cstdio>

#include "common/fs.h"
#include "common/ids.h"
#include "common/log.h"
#include "controllers/runtime/conditions.h"
#include "controllers/runtime/queued_object.h"
#include "controllers/training/training_controller.h"
#include "kinds/serving/inference_service.h"

namespace skiff::controllers {

namespace {

using kserve::Component;
using kserve::InferenceService;
using kserve::StorageScheme;

constexpr const char* kIsvcLabel = "serving.kserve.io/inferenceservice";
constexpr const char* kComponentLabel = "component";
constexpr const char* kRevisionLabel = "serving.knative.dev/revision";
constexpr const char* kConfigurationLabel = "serving.knative.dev/configuration";
constexpr const char* kPortAnnotation = "serving.skiff.dev/port";
constexpr const char* kConcurrencyAnnotation = "serving.skiff.dev/container-concurrency";
constexpr const char* kTimeoutAnnotation = "serving.skiff.dev/timeout-seconds";
constexpr int64_t kDefaultTimeoutSeconds = 300;  // Knative's revision-timeout-seconds

// KServe's rule for component conditions: the transition time moves only when the status does.
void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  Json c = {{"type", type}, {"status", value}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  Json kept = Json::array();
  for (const auto& old : status["conditions"]) {
    if (StringField(old, "type") != type) {
      kept.push_back(old);
      continue;
    }
    if (StringField(old, "status") == value)
      c["lastTransitionTime"] = StringField(old, "lastTransitionTime", now);
  }
  kept.push_back(std::move(c));
  // Stable order, as KServe lists them: alphabetical by type.
  std::vector<Json> sorted(kept.begin(), kept.end());
  std::sort(sorted.begin(), sorted.end(), [](const Json& a, const Json& b) {
    return StringField(a, "type") < StringField(b, "type");
  });
  status["conditions"] = Json(sorted);
}

bool PodReady(const Json& pod) {
  const Json& st = pod.value("status", Json::object());
  if (StringField(st, "phase") != "Running") return false;
  const Json* c = FindCondition(st, "Ready");
  return c != nullptr && StringField(*c, "status") == "True";
}

// Why a replica fails to come up, or "" if it does not (yet) fail.
std::string PodFailure(const Json& pod) {
  const Json& st = pod.value("status", Json::object());
  if (StringField(st, "phase") == "Failed") {
    std::string m = StringField(st, "message", StringField(st, "reason", "the replica failed"));
    return m;
  }
  if (PodReady(pod)) return "";
  for (const auto& cs : st.value("containerStatuses", Json::array())) {
    if (IntField(cs, "restartCount", 0) < 1) continue;
    const Json last = cs.value("lastState", Json::object());
    if (const Json* t = FindField(last, "terminated")) {
      std::string m = "container " + StringField(cs, "name") + " exited with code " +
                      std::to_string(IntField(*t, "exitCode", -1));
      if (!StringField(*t, "message").empty()) m += ": " + StringField(*t, "message");
      return m;
    }
    return "container " + StringField(cs, "name") + " restarted";
  }
  return "";
}

std::string RevisionName(const std::string& isvc, const std::string& component, int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05lld", static_cast<long long>(n));
  return isvc + "-" + component + "-" + buf;
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

int32_t PodPort(const Json& pod) {
  const Json& a = pod["metadata"].value("annotations", Json::object());
  return static_cast<int32_t>(std::atoi(StringField(a, kPortAnnotation, "0").c_str()));
}

// One traffic target, as Knative's TrafficTarget.
struct Target {
  std::string revision;
  int64_t percent = 0;
  bool latest = false;
  std::string tag;
};

}  // namespace

std::string RevisionKey(const std::string& ns, const std::string& isvc,
                        const std::string& revision) {
  return ns + "/" + isvc + "/" + revision;
}
std::string ServiceKey(const std::string& ns, const std::string& isvc) { return ns + "/" + isvc; }

InferenceServiceController::InferenceServiceController(store::Store& store, EventLoop& loop,
                                                       store::Informer& informer,
                                                       IsvcControllerOptions options)
    : store_(store),
      loop_(loop),
      informer_(informer),
      options_(std::move(options)),
      queue_(
          loop, [this](const std::string& key) { return Reconcile(key); }, options_.queue),
      alive_(std::make_shared<bool>(true)) {
  if (!options_.allocate_port) options_.allocate_port = AllocateLocalPort;
  if (options_.skiff_binary.empty()) options_.skiff_binary = SelfExePath();
}

InferenceServiceController::~InferenceServiceController() {
  *alive_ = false;
  for (auto& [url, f] : fetches_) {
    if (f->thread.joinable()) f->thread.join();
  }
  if (options_.stats != nullptr) options_.stats->SetActivationHandler(nullptr);
  if (sample_timer_ != 0) loop_.Cancel(sample_timer_);
}

Status InferenceServiceController::Start() {
  informer_.AddHandler(kserve::kKind, [this](const store::WatchEvent& ev) { OnIsvcEvent(ev); });
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) { OnPodEvent(ev); });
  SKIFF_ASSIGN_OR_RETURN(store::ListResult list, store_.List(kserve::kKind, ""));
  for (const auto& obj : list.items) queue_.Add(QueueKey(obj));
  if (options_.stats != nullptr) {
    std::weak_ptr<bool> alive = alive_;
    options_.stats->SetActivationHandler(
        [this, alive](const std::string& service_key, const std::string& revision_key) {
          // Called on a gateway thread: hand it to the loop.
          loop_.Post([this, alive, service_key, revision_key] {
            auto a = alive.lock();
            if (a && *a) Activate(service_key, revision_key);
          });
        });
  }
  queue_.Start();
  sample_timer_ = loop_.After(options_.sample_interval, [this] { Sample(); });
  return OkStatus();
}

std::map<std::string, InferenceServiceController::RevisionReplicas>
InferenceServiceController::ReplicaSnapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return snapshot_;
}

int32_t InferenceServiceController::DesiredReplicas(const std::string& revision_key) const {
  auto it = scalers_.find(revision_key);
  return it == scalers_.end() ? -1 : it->second.desired;
}

void InferenceServiceController::OnIsvcEvent(const store::WatchEvent& ev) {
  std::string key = QueueKey(ev.object);
  if (ev.type == store::EventType::kDeleted) {
    const Json& md = ev.object["metadata"];
    std::string prefix = ServiceKey(StringField(md, "namespace"), StringField(md, "name")) + "/";
    for (auto it = scalers_.begin(); it != scalers_.end();) {
      it = it->first.rfind(prefix, 0) == 0 ? scalers_.erase(it) : std::next(it);
    }
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    for (auto it = snapshot_.begin(); it != snapshot_.end();) {
      it = it->first.rfind(prefix, 0) == 0 ? snapshot_.erase(it) : std::next(it);
    }
    queue_.Drop(key);
  } else {
    queue_.Add(key);
  }
}

void InferenceServiceController::OnPodEvent(const store::WatchEvent& ev) {
  const Json& meta = ev.object["metadata"];
  for (const auto& ref : meta.value("ownerReferences", Json::array())) {
    if (!ref.value("controller", false) || StringField(ref, "kind") != kserve::kKind) continue;
    queue_.Add(QueueKey(kserve::kKind, StringField(meta, "namespace"), StringField(ref, "name")));
  }
}

// (6) One sample per revision per second, zeros included, as Knative's scraper.
void InferenceServiceController::Sample() {
  sample_timer_ = loop_.After(options_.sample_interval, [this] { Sample(); });
  std::map<std::string, autoscale::Sample> samples;
  if (options_.stats != nullptr) samples = options_.stats->TakeSamples();
  const TimePoint now = loop_.clock().Now();
  for (auto& [key, s] : scalers_) {
    auto it = samples.find(key);
    s.autoscaler->Record(now, it == samples.end() ? autoscale::Sample{} : it->second);
  }
}

// (9) A request is waiting for a revision with no ready replica.
void InferenceServiceController::Activate(const std::string& service_key,
                                          const std::string& revision_key) {
  size_t slash = service_key.find('/');
  if (slash == std::string::npos) return;
  activations_.insert(revision_key);
  queue_.Add(QueueKey(kserve::kKind, service_key.substr(0, slash), service_key.substr(slash + 1)));
}

ReconcileResult InferenceServiceController::Reconcile(const std::string& key) {
  auto got = GetQueuedObject(store_, queue_, key);
  if (!got.ok()) return ReconcileResult::Error(got.status());
  if (!got->has_value()) return ReconcileResult::Ok();
  const Json& obj = **got;
  const std::string ns = StringField(obj["metadata"], "namespace");
  const std::string name = StringField(obj["metadata"], "name");
  const TimePoint now_tp = loop_.clock().Now();
  const std::string now = FormatRfc3339(now_tp);
  const Json& md = obj["metadata"];
  const std::string uid = StringField(md, "uid");
  Json status = obj.value("status", Json::object());
  if (!status.is_object()) status = Json::object();
  status["observedGeneration"] = IntField(md, "generation", 0);
  status["url"] = "http://" + name + "." + ns + "." + options_.domain;
  status["address"] = {{"url", "http://" + name + "." + ns + ".svc.cluster.local"}};
  std::vector<store::Write> writes;
  std::vector<store::ObjectKey> to_delete;
  auto commit = [&]() -> Status {
    if (status != obj.value("status", Json::object())) {
      Json updated = obj;
      updated["status"] = status;
      writes.insert(writes.begin(), store::Write::UpdateStatus(std::move(updated)));
    }
    if (!writes.empty()) {
      auto r = store_.Commit(std::move(writes));
      if (!r.ok()) return r.status();
    }
    for (const auto& k : to_delete) {
      Status s = store_.Delete(k);
      if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    }
    return OkStatus();
  };

  auto parsed = kserve::ParseInferenceService(obj);
  if (!parsed.ok()) {
    // The API validates on the way in; an object stored anyway fails visibly.
    SetCondition(status, "Ready", "False", "InvalidSpec", parsed.status().message(), now);
    Status s = commit();
    return s.ok() ? ReconcileResult::Ok() : ReconcileResult::Error(s);
  }
  const InferenceService& isvc = *parsed;

  auto records = store_.GetRecords(kIsvcRevisionRecords, uid);
  if (!records.ok()) return ReconcileResult::Error(records.status());
  std::map<std::string, Json> recs = *records;
  auto put_record = [&](const std::string& rkey) {
    writes.push_back(store::Write::PutRecord(kIsvcRevisionRecords, uid, rkey, recs[rkey]));
  };

  auto pods_list = store_.List("Pod", ns, {std::string(kIsvcLabel) + "=" + name, "", 0});
  if (!pods_list.ok()) return ReconcileResult::Error(pods_list.status());
  std::map<std::string, std::vector<const Json*>> pods_by_revision;
  std::set<std::string> pod_names;
  std::set<int32_t> taken = handed_out_;
  for (const auto& p : pods_list->items) {
    bool owned = false;
    for (const auto& ref : p["metadata"].value("ownerReferences", Json::array())) {
      if (StringField(ref, "uid") == uid) owned = true;
    }
    if (!owned) continue;
    const Json& labels = p["metadata"].value("labels", Json::object());
    pods_by_revision[StringField(labels, kRevisionLabel)].push_back(&p);
    pod_names.insert(StringField(p["metadata"], "name"));
    taken.insert(PodPort(p));
  }

  std::map<std::string, RevisionReplicas> replicas_now;
  Duration requeue{0};
  auto requeue_at_most = [&](Duration d) {
    if (d <= Duration(0)) d = std::chrono::milliseconds(1);
    if (requeue == Duration(0) || d < requeue) requeue = d;
  };
  Json owner = Json::array({{{"apiVersion", kserve::kApiVersion},
                             {"kind", kserve::kKind},
                             {"name", name},
                             {"uid", uid},
                             {"controller", true},
                             {"blockOwnerDeletion", true}}});
  Json components = Json::object();
  Json model_status = Json::object();
  bool all_ready = true;
  bool ingress_ready = true;

  std::vector<const Component*> comps = {&isvc.predictor};
  if (isvc.transformer) comps.push_back(&*isvc.transformer);
  for (const Component* cp : comps) {
    const Component& c = *cp;
    const std::string cname = c.kind;
    const std::string config = name + "-" + cname;
    const std::string cond_type = cname == "predictor" ? "PredictorReady" : "TransformerReady";
    std::map<int64_t, std::string> revs;  // number -> revision name
    for (const auto& [k, r] : recs) {
      if (StringField(r, "component") == cname && IntField(r, "number", 0) > 0)
        revs[IntField(r, "number", 0)] = k;
    }
    std::string fail_reason, fail_message;
    std::string storage_pending;  // a download of the new revision's model is running

    // (1) A new revision when the spec changed, if it can run here.
    Status host = kserve::HostRuntimeError(c);
    bool changed = revs.empty() || StringField(recs[revs.rbegin()->second], "fingerprint") !=
                                       c.revision_fingerprint;
    if (changed && !host.ok()) {
      // The same order as `HostRuntimeError` checks.
      if (!c.custom && kserve::HostModelServerFormat(c.model_format).empty()) {
        fail_reason = "NoSupportingRuntime";
      } else if (!c.custom && c.storage.scheme == StorageScheme::kNone) {
        fail_reason = "NoStorageUri";
      } else if (c.storage.scheme == StorageScheme::kRemote) {
        fail_reason = "StorageUnreachable";
      } else {
        fail_reason = "NoHostCommand";
      }
      fail_message = host.message();
    } else if (changed) {
      std::string model_path;
      Status resolved = OkStatus();
      bool pending = false;
      if (c.storage.scheme != StorageScheme::kNone) {
        auto p = ResolveModelPath(c, isvc.ns, key, &pending);
        if (p.ok()) {
          model_path = *p;
        } else {
          resolved = p.status();
        }
      }
      if (pending) {
        storage_pending = "downloading " + c.storage.uri;
      } else if (!resolved.ok()) {
        fail_reason = "StorageInitializerFailed";
        fail_message = resolved.message();
        requeue_at_most(Seconds(10));  // the model may appear
      } else {
        int64_t n = revs.empty() ? 1 : revs.rbegin()->first + 1;
        std::string rev = RevisionName(name, cname, n);
        Json& r = recs[rev];
        r = {{"component", cname},
             {"number", n},
             {"fingerprint", c.revision_fingerprint},
             {"created", now},
             {"custom", c.custom},
             {"format", kserve::HostModelServerFormat(c.model_format)},
             {"modelFormat", c.model_format},
             {"storageUri", c.storage.uri},
             {"modelPath", model_path},
             {"container", c.container},
             {"scalingAnnotations", c.scaling_annotations},
             {"containerConcurrency", c.container_concurrency},
             {"timeoutSeconds", c.timeout_s.value_or(kDefaultTimeoutSeconds)},
             {"ready", false}};
        if (c.batcher) {
          Json b = Json::object();
          if (c.batcher->max_batch_size) b["maxBatchSize"] = *c.batcher->max_batch_size;
          if (c.batcher->max_latency_ms) b["maxLatency"] = *c.batcher->max_latency_ms;
          r["batcher"] = b;
        }
        put_record(rev);
        revs[n] = rev;
        LogInfo("inference service revision created",
                {{"isvc", ns + "/" + name}, {"revision", rev}});
      }
    }

    // Observe each revision's replicas.
    std::map<std::string, int32_t> ready_pods;
    std::string latest_failure;
    std::string latest_ready;
    int32_t failed_copies = 0;
    for (const auto& [n, rev] : revs) {
      int32_t ready = 0;
      for (const Json* p : pods_by_revision[rev]) {
        if (PodReady(*p)) ++ready;
      }
      ready_pods[rev] = ready;
      Json& r = recs[rev];
      if (ready > 0 && !r.value("ready", false)) {
        r["ready"] = true;
        put_record(rev);
      }
      if (r.value("ready", false)) latest_ready = rev;
    }
    const std::string latest = revs.empty() ? "" : revs.rbegin()->second;
    if (!latest.empty()) {
      for (const Json* p : pods_by_revision[latest]) {
        std::string f = PodFailure(*p);
        if (!f.empty()) {
          latest_failure = f;
          ++failed_copies;
        }
      }
    }
    const bool latest_is_ready = !latest.empty() && recs[latest].value("ready", false);

    // (2-4) Traffic.
    const std::string rollout_key = "rollout-" + cname;
    Json rollout = recs.count(rollout_key) ? recs[rollout_key] : Json::object();
    const Json rollout_before = rollout;
    std::string rolled = StringField(rollout, "latestRolledoutRevision");
    std::string previous = StringField(rollout, "previousRolledoutRevision");
    std::vector<Target> traffic;
    if (!latest.empty()) {
      if (c.canary_traffic_percent && !rolled.empty() && rolled != latest) {
        int64_t p = *c.canary_traffic_percent;
        traffic.push_back({latest, p, true, "latest"});
        traffic.push_back({rolled, 100 - p, false, "prev"});
      } else {
        if (latest_is_ready && rolled != latest) {
          if (!rolled.empty()) previous = rolled;
          rolled = latest;
        }
        std::string target = latest_is_ready ? latest : !rolled.empty() ? rolled : latest;
        traffic.push_back({target, 100, target == latest, ""});
      }
    }
    if (!rolled.empty()) rollout["latestRolledoutRevision"] = rolled;
    if (!previous.empty()) rollout["previousRolledoutRevision"] = previous;
    if (rollout != rollout_before) {
      recs[rollout_key] = rollout;
      put_record(rollout_key);
    }

    // (5-9) Replicas per revision.
    std::map<std::string, int64_t> percent;
    std::set<std::string> in_traffic;
    for (const auto& t : traffic) {
      percent[t.revision] += t.percent;
      in_traffic.insert(t.revision);
    }
    for (const auto& [n, rev] : revs) {
      const Json& r = recs[rev];
      const std::string rkey = RevisionKey(ns, name, rev);
      const bool activated = activations_.count(rkey) != 0;
      auto scaler = scalers_.find(rkey);
      // A revision in the traffic list at 0 % (reached by its tag) that was activated keeps its
      // autoscaler until that wants no replica.
      const bool tagged_and_busy = in_traffic.count(rev) != 0 && scaler != scalers_.end() &&
                                   scaler->second.for_activation && scaler->second.desired > 0;
      const bool wanted =
          percent[rev] > 0 || (rev == latest && !latest_is_ready) || activated || tagged_and_busy ||
          (scaler != scalers_.end() && scaler->second.activation_floor_until > now_tp);
      int32_t want = 0;
      if (wanted) {
        Scaler& s = scalers_[rkey];
        if (!s.autoscaler) {
          auto spec = autoscale::ResolveScalingSpec(r.value("scalingAnnotations", Json::object()),
                                                    IntField(r, "containerConcurrency", 0));
          if (!spec.ok()) {
            scalers_.erase(rkey);
            fail_reason = "InvalidScaling";
            fail_message = spec.status().message();
            continue;
          }
          s.autoscaler = std::make_unique<autoscale::Autoscaler>(*spec, now_tp, ready_pods[rev]);
          s.service_key = ServiceKey(ns, name);
          int32_t initial = std::max(spec->initial_scale, spec->min_scale);
          if (spec->max_scale > 0) initial = std::min(initial, spec->max_scale);
          // A restart finds the replicas already there: keep them until the first decision.
          s.desired =
              std::max<int32_t>(initial, static_cast<int32_t>(pods_by_revision[rev].size()));
          s.next_decision = now_tp + spec->tick_interval;
        }
        s.for_activation = percent[rev] == 0 && (activated || s.for_activation);
        // Knative's `Reachable`: a revision no route sends traffic to ignores min-scale.
        if (s.autoscaler->spec().reachable == s.for_activation) {
          autoscale::ScalingSpec spec = s.autoscaler->spec();
          spec.reachable = !s.for_activation;
          s.autoscaler->Update(spec);
        }
        if (activated) {
          activations_.erase(rkey);
          s.activation_floor_until = now_tp + 2 * s.autoscaler->spec().tick_interval;
          if (s.desired < 1) s.desired = std::max(1, s.autoscaler->spec().activation_scale);
        }
        if (now_tp >= s.next_decision) {
          autoscale::Decision d = s.autoscaler->Decide(now_tp, ready_pods[rev]);
          if (d.desired_scale) s.desired = *d.desired_scale;
          s.next_decision = d.next_decision > now_tp ? d.next_decision
                                                     : now_tp + s.autoscaler->spec().tick_interval;
        }
        want = s.desired;
        if (now_tp < s.activation_floor_until) want = std::max(want, 1);
        requeue_at_most(s.next_decision - now_tp);
      } else {
        scalers_.erase(rkey);
        activations_.erase(rkey);
      }
      std::vector<const Json*>& pods = pods_by_revision[rev];
      const int32_t have = static_cast<int32_t>(pods.size());
      if (want > 0 || have > 0) replicas_now[rkey] = {want, ready_pods[rev], have};
      if (have > want) {
        // (7) Not-ready replicas first, then the newest.
        std::vector<const Json*> order = pods;
        std::sort(order.begin(), order.end(), [](const Json* a, const Json* b) {
          bool ra = PodReady(*a), rb = PodReady(*b);
          if (ra != rb) return !ra;
          std::string ca = StringField((*a)["metadata"], "creationTimestamp");
          std::string cb = StringField((*b)["metadata"], "creationTimestamp");
          if (ca != cb) return ca > cb;
          return StringField((*a)["metadata"], "name") > StringField((*b)["metadata"], "name");
        });
        for (int32_t i = 0; i < have - want; ++i) {
          to_delete.push_back(
              {"Pod", ns, StringField((*order[static_cast<size_t>(i)])["metadata"], "name")});
        }
      }
      for (int32_t i = have, index = 0; i < want; ++i) {
        std::string pod_name;
        do {
          pod_name = rev + "-deployment-" + std::to_string(index++);
        } while (pod_names.count(pod_name));
        pod_names.insert(pod_name);
        auto port = options_.allocate_port(Fnv1a(uid + "/" + pod_name), taken);
        if (!port.ok()) return ReconcileResult::Error(port.status());
        taken.insert(*port);
        handed_out_.insert(*port);
        writes.push_back(store::Write::Create(NewReplicaPod(isvc, r, rev, pod_name, *port, owner)));
      }
    }

    // Status of the component.
    Json cs = Json::object();
    if (!latest.empty()) cs["latestCreatedRevision"] = latest;
    if (!latest_ready.empty()) cs["latestReadyRevision"] = latest_ready;
    if (!rolled.empty()) cs["latestRolledoutRevision"] = rolled;
    if (!previous.empty()) cs["previousRolledoutRevision"] = previous;
    const std::string host_name = config + "." + ns + "." + options_.domain;
    cs["url"] = "http://" + host_name;
    cs["address"] = {{"url", "http://" + config + "." + ns + ".svc.cluster.local"}};
    Json tj = Json::array();
    for (const auto& t : traffic) {
      Json e = {{"revisionName", t.revision}, {"percent", t.percent}, {"latestRevision", t.latest}};
      if (!t.tag.empty()) {
        e["tag"] = t.tag;
        e["url"] = "http://" + t.tag + "-" + host_name;
      }
      tj.push_back(std::move(e));
    }
    cs["traffic"] = tj;
    components[cname] = cs;

    bool traffic_ready = !traffic.empty();
    for (const auto& t : traffic) {
      if (t.percent > 0 && !recs[t.revision].value("ready", false)) traffic_ready = false;
    }
    if (!traffic_ready) ingress_ready = false;
    std::string value = "True", reason, message;
    if (!fail_reason.empty()) {
      value = "False";
      reason = fail_reason;
      message = fail_message;
    } else if (!storage_pending.empty()) {
      value = "Unknown";
      reason = "StorageInitializing";
      message = storage_pending;
    } else if (!latest_failure.empty() && !latest_is_ready) {
      value = "False";
      reason = "RevisionFailed";
      message = "Revision \"" + latest + "\" failed with message: " + latest_failure + ".";
    } else if (!latest_is_ready) {
      value = "Unknown";
      reason = "RevisionMissing";
      message = "Configuration \"" + config + "\" is waiting for a Revision to become ready.";
    } else if (!traffic_ready) {
      value = "Unknown";
      reason = "RevisionMissing";
      message = "Revision with traffic is not ready yet.";
    }
    SetCondition(status, cond_type, value, reason, message, now);
    if (value != "True") all_ready = false;

    if (cname == "predictor") {
      // KServe's ModelStatus for the revision that is (or is becoming) the served one.
      const std::string served = latest;
      int32_t ready = served.empty() ? 0 : ready_pods[served];
      int32_t total = served.empty() ? 0 : static_cast<int32_t>(pods_by_revision[served].size());
      std::string state, transition;
      Json failure;
      if (!fail_reason.empty() &&
          (fail_reason == "NoSupportingRuntime" || fail_reason == "NoHostCommand" ||
           fail_reason == "NoStorageUri" || fail_reason == "StorageUnreachable")) {
        state = "FailedToLoad";
        transition = "InvalidSpec";
        failure = {{"reason", fail_reason == "NoSupportingRuntime" ? "NoSupportingRuntime"
                                                                   : "InvalidPredictorSpec"},
                   {"message", fail_message}};
      } else if (!fail_reason.empty()) {
        state = "FailedToLoad";
        transition = "BlockedByFailedLoad";
        failure = {{"reason", "ModelLoadFailed"}, {"message", fail_message}};
      } else if (!latest_failure.empty() && ready == 0) {
        state = "FailedToLoad";
        transition = "BlockedByFailedLoad";
        failure = {{"reason", "ModelLoadFailed"}, {"message", latest_failure}};
      } else if (ready > 0) {
        state = "Loaded";
        transition = "UpToDate";
      } else if (latest_is_ready) {
        state = "Standby";  // scaled to zero: loads when used
        transition = "UpToDate";
      } else if (total > 0) {
        state = "Loading";
        transition = "InProgress";
      } else {
        state = "Pending";
        transition = "InProgress";
      }
      model_status = {{"transitionStatus", transition},
                      {"states", {{"activeModelState", state}, {"targetModelState", state}}},
                      {"copies", {{"totalCopies", ready}, {"failedCopies", failed_copies}}}};
      if (!failure.is_null()) model_status["lastFailureInfo"] = failure;
    }
  }
  // An activation for a revision this pass did not know (deleted, mistyped) is dropped.
  const std::string service_prefix = ServiceKey(ns, name) + "/";
  for (auto it = activations_.lower_bound(service_prefix);
       it != activations_.end() && it->rfind(service_prefix, 0) == 0;) {
    it = activations_.erase(it);
  }
  status["components"] = components;
  status["modelStatus"] = model_status;
  SetCondition(status, "IngressReady", ingress_ready ? "True" : "False",
               ingress_ready ? "" : "PredictorIngressNotReady",
               ingress_ready ? "" : "No revision with traffic is ready yet.", now);
  const bool ready = all_ready && ingress_ready;
  std::string why;
  for (const auto& c : status["conditions"]) {
    if (StringField(c, "type") != "Ready" && StringField(c, "status") != "True" && why.empty()) {
      why = StringField(c, "message");
    }
  }
  SetCondition(status, "Ready", ready ? "True" : "False", ready ? "" : "ComponentsNotReady",
               ready ? "" : why, now);

  Status s = commit();
  if (!s.ok()) return ReconcileResult::Error(s);
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    for (auto it = snapshot_.lower_bound(service_prefix);
         it != snapshot_.end() && it->first.rfind(service_prefix, 0) == 0;) {
      it = snapshot_.erase(it);
    }
    snapshot_.insert(replicas_now.begin(), replicas_now.end());
  }
  if (requeue > Duration(0)) return ReconcileResult::After(requeue);
  return ReconcileResult::Ok();
}

Json InferenceServiceController::NewReplicaPod(const InferenceService& isvc, const Json& rev_record,
                                               const std::string& revision,
                                               const std::string& pod_name, int32_t port,
                                               const Json& owner) const {
  const std::string cname = StringField(rev_record, "component");
  const std::string config = isvc.name + "-" + cname;
  Json labels = {{kIsvcLabel, isvc.name},
                 {kComponentLabel, cname},
                 {kRevisionLabel, revision},
                 {kConfigurationLabel, config}};
  Json annotations = {
      {kPortAnnotation, std::to_string(port)},
      {kConcurrencyAnnotation, std::to_string(IntField(rev_record, "containerConcurrency", 0))},
      {kTimeoutAnnotation,
       std::to_string(IntField(rev_record, "timeoutSeconds", kDefaultTimeoutSeconds))},
      // Until it is first ready the replica is probed every 10 ms (as Knative's queue-proxy
      // probes a starting container), so a revision scaling from zero serves as soon as the
      // model is loaded rather than at the next 1 s probe period.
      {"probes.skiff.dev/initial-readiness-period-ms", "10"}};
  const Json& written = rev_record.value("container", Json::object());
  Json container = Json::object();
  container["name"] = kserve::kServerContainer;
  if (written.contains("image")) container["image"] = written["image"];
  if (written.contains("resources")) container["resources"] = written["resources"];
  if (written.contains("workingDir")) container["workingDir"] = written["workingDir"];
  Json env = written.value("env", Json::array());
  if (!env.is_array()) env = Json::array();
  auto set_env = [&env](const std::string& k, const std::string& v) {
    for (auto& e : env) {
      if (StringField(e, "name") == k) {
        e = {{"name", k}, {"value", v}};
        return;
      }
    }
    env.push_back({{"name", k}, {"value", v}});
  };
  set_env("PORT", std::to_string(port));
  set_env("K_SERVICE", config);
  set_env("K_CONFIGURATION", config);
  set_env("K_REVISION", revision);
  // The predictor, as a transformer reaches it: by its KServe host name, which the Pod resolves
  // to this machine (a host alias), at the gateway's port; the gateway routes
  // "<isvc>-predictor.<ns>..." to the predictor, past the transformer.
  const std::string predictor_host = isvc.name + "-predictor." + isvc.ns + "." + options_.domain;
  const std::string gateway = options_.gateway_address ? options_.gateway_address() : std::string();
  const std::string gateway_port = gateway.substr(gateway.rfind(':') + 1);
  if (cname == "transformer") {
    set_env("PREDICTOR_HOST", predictor_host);
    if (!gateway.empty()) set_env("SKIFF_GATEWAY", gateway);
  }
  if (rev_record.value("custom", false)) {
    for (const char* f :
         {"command", "args", "ports", "livenessProbe", "startupProbe", "readinessProbe"}) {
      if (written.contains(f)) container[f] = written[f];
    }
    if (!container.contains("readinessProbe")) {
      container["readinessProbe"] = {{"tcpSocket", {{"port", port}}}, {"periodSeconds", 1}};
    }
    if (cname == "transformer" && !gateway.empty()) {
      // KServe's arguments for a custom transformer: --model_name unless given, then
      // --predictor_host and --http_port (the kserve Python library's ModelServer reads them).
      Json args = container.value("args", Json::array());
      if (!args.is_array()) args = Json::array();
      bool named = false;
      for (const auto& a : args) named = named || (a.is_string() && a.get<std::string>() == "--model_name");
      if (!named) {
        args.push_back("--model_name");
        args.push_back(isvc.name);
      }
      for (const std::string& a : {std::string("--predictor_host"), predictor_host + ":" + gateway_port,
                                   std::string("--http_port"), std::to_string(port)}) {
        args.push_back(a);
      }
      container["args"] = args;
    }
    if (!StringField(rev_record, "modelPath").empty())
      set_env("STORAGE_URI", StringField(rev_record, "modelPath"));
  } else {
    Json cmd = Json::array({options_.skiff_binary, "model-server", "--model-name", isvc.name,
                            "--model-dir", StringField(rev_record, "modelPath"), "--format",
                            StringField(rev_record, "format"), "--port", std::to_string(port)});
    if (const Json* b = FindField(rev_record, "batcher"); b != nullptr && b->is_object()) {
      // KServe's batcher defaults: 32 instances, 5000 ms.
      cmd.push_back("--max-batch-size");
      cmd.push_back(std::to_string(IntField(*b, "maxBatchSize", 32)));
      cmd.push_back("--max-latency-ms");
      cmd.push_back(std::to_string(IntField(*b, "maxLatency", 5000)));
    }
    container["command"] = cmd;
    container["readinessProbe"] = {{"httpGet", {{"path", "/v2/health/ready"}, {"port", port}}},
                                   {"periodSeconds", 1},
                                   {"failureThreshold", 3}};
  }
  container["env"] = env;
  Json spec = {{"restartPolicy", "Always"}, {"containers", Json::array({container})}};
  if (cname == "transformer") {
    spec["hostAliases"] = Json::array({{{"ip", "127.0.0.1"}, {"hostnames", Json::array({predictor_host})}}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", pod_name},
            {"namespace", isvc.ns},
            {"labels", labels},
            {"annotations", annotations},
            {"ownerReferences", owner}}},
          {"spec", spec}};
}

}  // namespace skiff::controllers
