#include "controllers/training/training_controller.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <vector>

#include "common/log.h"
#include "controllers/runtime/conditions.h"
#include "controllers/runtime/queued_object.h"
#include "kinds/training/training_env.h"
#include "controllers/training/training_pods.h"
#include "kinds/training/training_job.h"

namespace skiff::controllers {

namespace {

using training::ReplicaSpec;
using training::TrainingJob;
using namespace training_pods;  // NOLINT: the label names and the child builders


const char* const kKinds[] = {"PyTorchJob", "TFJob", "XGBoostJob", "PaddleJob", "MPIJob"};

// Upstream's `UpdateJobConditions`: a condition with the same status and reason is left alone;
// otherwise the old one of the type is removed (Running and Restarting replace each other;
// Succeeded/Failed turn Running False) and the new one appended.
void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  if (const Json* c = FindCondition(status, type);
      c != nullptr && StringField(*c, "status") == value && StringField(*c, "reason") == reason) {
    return;
  }
  std::string transition = now;
  if (const Json* c = FindCondition(status, type);
      c != nullptr && StringField(*c, "status") == value) {
    transition = StringField(*c, "lastTransitionTime", now);
  }
  Json kept = Json::array();
  for (auto c : status["conditions"]) {
    std::string t = StringField(c, "type");
    if (type == "Restarting" && t == "Running") continue;
    if (type == "Running" && t == "Restarting") continue;
    if (t == type) continue;
    if ((type == "Failed" || type == "Succeeded" || (type == "Suspended" && value == "True")) &&
        t == "Running" && StringField(c, "status") == "True") {
      c["status"] = "False";
      c["lastUpdateTime"] = now;
      c["lastTransitionTime"] = now;
    }
    kept.push_back(std::move(c));
  }
  kept.push_back({{"type", type},
                  {"status", value},
                  {"reason", reason},
                  {"message", message},
                  {"lastUpdateTime", now},
                  {"lastTransitionTime", transition}});
  status["conditions"] = std::move(kept);
}

std::string Phase(const Json& pod) {
  return StringField(pod.value("status", Json::object()), "phase");
}

int64_t ContainerRestarts(const Json& pod) {
  int64_t n = 0;
  const Json& st = pod.value("status", Json::object());
  for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& c : st.value(field, Json::array())) n += IntField(c, "restartCount", 0);
  }
  return n;
}

// The exit code of the container that counts (the framework's default container, else the
// first one); -1 if none terminated.
int64_t ExitCode(const TrainingJob& job, const Json& pod) {
  const Json& st = pod.value("status", Json::object());
  const Json statuses = st.value("containerStatuses", Json::array());
  std::string want = job.default_container;
  if (want.empty()) {
    const Json containers = pod.value("spec", Json::object()).value("containers", Json::array());
    if (!containers.empty()) want = StringField(containers[0], "name");
  }
  for (const auto& c : statuses) {
    if (!want.empty() && StringField(c, "name") != want) continue;
    const Json state = c.value("state", Json::object());
    if (const Json* t = FindField(state, "terminated")) return IntField(*t, "exitCode", -1);
    const Json last = c.value("lastState", Json::object());
    if (const Json* t = FindField(last, "terminated")) return IntField(*t, "exitCode", -1);
  }
  return -1;
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

Result<int32_t> AllocateLocalPort(uint64_t hint, const std::set<int32_t>& taken) {
  constexpr int32_t kLow = 20000, kSpan = 40000;
  for (int32_t i = 0; i < kSpan; ++i) {
    int32_t port = kLow + static_cast<int32_t>((hint + static_cast<uint64_t>(i)) % kSpan);
    if (taken.count(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Internal("socket: cannot probe ports");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  return Unavailable("no free TCP port on 127.0.0.1");
}

TrainingController::TrainingController(store::Store& store, EventLoop& loop,
                                       store::Informer& informer, const Clock& clock,
                                       TrainingControllerOptions options)
    : store_(store),
      informer_(informer),
      clock_(clock),
      options_(std::move(options)),
      queue_(
          loop, [this](const std::string& key) { return Reconcile(key); }, options_.queue) {
  if (!options_.allocate_port) options_.allocate_port = AllocateLocalPort;
}

TrainingController::~TrainingController() = default;

Status TrainingController::Start() {
  for (const char* kind : kKinds) {
    informer_.AddHandler(kind, [this](const store::WatchEvent& ev) { OnJobEvent(ev); });
  }
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) { OnChildEvent(ev); });
  informer_.AddHandler("Service", [this](const store::WatchEvent& ev) { OnChildEvent(ev); });
  for (const char* kind : kKinds) {
    SKIFF_ASSIGN_OR_RETURN(store::ListResult list, store_.List(kind, ""));
    for (const auto& job : list.items) queue_.Add(QueueKey(job));
  }
  queue_.Start();
  return OkStatus();
}

void TrainingController::OnJobEvent(const store::WatchEvent& ev) {
  std::string key = QueueKey(ev.object);
  if (ev.type == store::EventType::kDeleted) {
    queue_.Drop(key);
  } else {
    queue_.Add(key);
  }
}

void TrainingController::OnChildEvent(const store::WatchEvent& ev) {
  const Json& meta = ev.object["metadata"];
  for (const auto& ref : meta.value("ownerReferences", Json::array())) {
    if (!ref.value("controller", false)) continue;
    if (!training::IsTrainingKind(StringField(ref, "kind"))) continue;
    queue_.Add(QueueKey(StringField(ref, "kind"), StringField(meta, "namespace"),
                        StringField(ref, "name")));
  }
}

// When a running replica counts as stalled: its last output (the newest modification time of
// the files `output_files` names for the framework's container), or the container's start if it
// printed nothing since, plus the job's progress deadline. Empty if it cannot be told.
std::optional<TimePoint> TrainingController::ProgressDue(const training::TrainingJob& job,
                                                         const Json& pod) const {
  if (!options_.output_files || !job.progress_deadline_seconds) return std::nullopt;
  const Json& st = pod.value("status", Json::object());
  std::string container = job.default_container;
  const Json containers = pod["spec"].value("containers", Json::array());
  if (container.empty() && !containers.empty()) container = StringField(containers[0], "name");
  std::optional<TimePoint> last;
  for (const auto& c : st.value("containerStatuses", Json::array())) {
    if (StringField(c, "name") != container) continue;
    const Json state = c.value("state", Json::object());
    if (const Json* running = FindField(state, "running")) {
      if (auto t = ParseRfc3339(StringField(*running, "startedAt")); t.ok()) last = *t;
    }
  }
  if (!last) {
    if (auto t = ParseRfc3339(StringField(st, "startTime")); t.ok()) last = *t;
  }
  if (!last) return std::nullopt;
  for (const auto& path : options_.output_files(StringField(pod["metadata"], "uid"), container)) {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) continue;
    TimePoint mtime{std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::seconds(sb.st_mtim.tv_sec) + std::chrono::nanoseconds(sb.st_mtim.tv_nsec))};
    last = std::max(*last, mtime);
  }
  return *last + std::chrono::seconds(*job.progress_deadline_seconds);
}

ReconcileResult TrainingController::Reconcile(const std::string& key) {
  auto got = GetQueuedObject(store_, queue_, key);
  if (!got.ok()) return ReconcileResult::Error(got.status());
  if (!got->has_value()) return ReconcileResult::Ok();
  const Json& obj = **got;
  const std::string kind = StringField(obj, "kind");
  const std::string ns = StringField(obj["metadata"], "namespace");
  const std::string name = StringField(obj["metadata"], "name");
  const TimePoint now_tp = clock_.Now();
  const std::string now = FormatRfc3339(now_tp);
  Json status = obj.value("status", Json::object());
  if (!status.is_object()) status = Json::object();
  auto commit_status = [&](std::vector<store::Write> writes) -> Status {
    if (status != obj.value("status", Json::object())) {
      Json updated = obj;
      updated["status"] = status;
      writes.insert(writes.begin(), store::Write::UpdateStatus(std::move(updated)));
    }
    if (writes.empty()) return OkStatus();
    auto r = store_.Commit(std::move(writes));
    return r.ok() ? OkStatus() : r.status();
  };

  auto parsed = training::ParseTrainingJob(obj);
  if (!parsed.ok()) {
    // The API validates on the way in; a job stored anyway (older version, direct store
    // write) fails visibly instead of being retried forever.
    SetCondition(status, "Failed", "True", kind + "Failed", parsed.status().message(), now);
    Status s = commit_status({});
    return s.ok() ? ReconcileResult::Ok() : ReconcileResult::Error(s);
  }
  const TrainingJob& job = *parsed;
  const std::string uid = job.uid;
  const std::string ns_name = job.ns + "/" + job.name;
  const bool finished = HasTrueCondition(status, "Succeeded") || HasTrueCondition(status, "Failed");

  // Side records: per replica, its allocated port and the restarts recorded for it.
  auto records = store_.GetRecords(kTrainingReplicaRecords, uid);
  if (!records.ok()) return ReconcileResult::Error(records.status());
  std::map<std::string, Json> recs = *records;
  std::vector<store::Write> writes;
  auto put_record = [&](const std::string& rkey) {
    writes.push_back(store::Write::PutRecord(kTrainingReplicaRecords, uid, rkey, recs[rkey]));
  };

  // Children.
  std::string selector = std::string(kJobNameLabel) + "=" + job.name;
  auto pods_list = store_.List("Pod", job.ns, {selector, "", 0});
  if (!pods_list.ok()) return ReconcileResult::Error(pods_list.status());
  auto svc_list = store_.List("Service", job.ns, {selector, "", 0});
  if (!svc_list.ok()) return ReconcileResult::Error(svc_list.status());
  auto owned = [&](const Json& o) {
    for (const auto& ref : o["metadata"].value("ownerReferences", Json::array())) {
      if (StringField(ref, "uid") == uid) return true;
    }
    return false;
  };
  std::map<std::string, const Json*> pods, services;
  for (const auto& p : pods_list->items) {
    if (owned(p)) pods[StringField(p["metadata"], "name")] = &p;
  }
  for (const auto& s : svc_list->items) {
    if (owned(s)) services[StringField(s["metadata"], "name")] = &s;
  }
  std::vector<store::ObjectKey> to_delete;
  auto delete_replica = [&](const std::string& rname) {
    if (pods.count(rname)) to_delete.push_back({"Pod", job.ns, rname});
    if (services.count(rname)) to_delete.push_back({"Service", job.ns, rname});
  };

  // The local network: allocate (once, recorded) a port per replica.
  training::Network net;
  net.local = options_.local_network;
  net.loopback = options_.loopback;
  if (net.local && !finished) {
    std::set<int32_t> taken = handed_out_;
    for (const auto& [k, r] : recs) taken.insert(static_cast<int32_t>(IntField(r, "port", 0)));
    for (const auto& r : job.replicas) {
      for (int32_t i = 0; i < r.replicas; ++i) {
        std::string pk = training::PortKey(r.type, i);
        if (recs.count(pk) && IntField(recs[pk], "port", 0) > 0) continue;
        auto port = options_.allocate_port(Fnv1a(uid + "/" + pk), taken);
        if (!port.ok()) return ReconcileResult::Error(port.status());
        taken.insert(*port);
        handed_out_.insert(*port);
        recs[pk]["port"] = *port;
        recs[pk]["restarts"] = IntField(recs[pk], "restarts", 0);
        put_record(pk);
      }
    }
  }
  for (const auto& [k, r] : recs) net.ports[k] = static_cast<int32_t>(IntField(r, "port", 0));

  // (1) Created.
  if (FindCondition(status, "Created") == nullptr) {
    SetCondition(status, "Created", "True", job.kind + "Created",
                 job.kind + " " + job.name + " is created.", now);
  }

  // Per replica type: observe the Pods.
  struct TypeCounts {
    int32_t active = 0, succeeded = 0, failed = 0, running = 0;
  };
  std::map<std::string, TypeCounts> counts;
  std::map<std::string, std::vector<bool>> succeeded_index;
  int64_t restarts = 0;
  std::string fail_type;
  int32_t fail_count = 0;
  bool restarting = false;
  std::string restart_type;
  std::string restart_why = "failed";
  std::string stall_failure;
  TimePoint next_progress_check = TimePoint::max();
  std::vector<std::pair<const ReplicaSpec*, int32_t>> missing;
  for (const auto& r : job.replicas) {
    TypeCounts& tc = counts[r.type];
    succeeded_index[r.type].assign(static_cast<size_t>(r.replicas), false);
    for (int32_t i = 0; i < r.replicas; ++i) {
      std::string rname = training::ReplicaName(job, r.type, i);
      std::string pk = training::PortKey(r.type, i);
      int64_t recorded = IntField(recs[pk], "restarts", 0);
      restarts += recorded;
      auto it = pods.find(rname);
      if (it == pods.end()) {
        missing.emplace_back(&r, i);
        continue;
      }
      const Json& pod = *it->second;
      int64_t pod_restart = std::strtoll(
          StringField(pod["metadata"].value("annotations", Json::object()), kRestartAnnotation, "0")
              .c_str(),
          nullptr, 10);
      std::string phase = Phase(pod);
      if (pod_restart < recorded) {
        // A Pod this controller already decided to replace (a crash came before the deletion).
        if (!pod["metadata"].contains("deletionTimestamp"))
          to_delete.push_back({"Pod", job.ns, rname});
        missing.emplace_back(nullptr, 0);  // counted as pending recreation, nothing to create yet
        ++tc.active;
        continue;
      }
      restarts += ContainerRestarts(pod);
      if (phase == "Succeeded") {
        ++tc.succeeded;
        succeeded_index[r.type][static_cast<size_t>(i)] = true;
      } else if (phase == "Failed") {
        int64_t code = ExitCode(job, pod);
        // A Pod that failed without any container exit (it could not start: bad command,
        // unschedulable) fails the job whatever the policy: recreating it would only loop.
        bool retry =
            code >= 0 && (r.restart_policy == "OnFailure" || r.restart_policy == "Always" ||
                          (r.restart_policy == "ExitCode" && code >= 128));
        if (retry && !finished && !job.run_policy.suspend) {
          // (3) Record the restart first; the deletion follows the commit.
          recs[pk]["restarts"] = recorded + 1;
          put_record(pk);
          restarts += 1;
          to_delete.push_back({"Pod", job.ns, rname});
          restarting = true;
          restart_type = r.type;
          ++tc.failed;
        } else {
          ++tc.failed;
          if (fail_type.empty() || fail_type == r.type) {
            fail_type = r.type;
            ++fail_count;
          }
        }
      } else {
        ++tc.active;
        if (phase == "Running") ++tc.running;
        // (12) A running replica without output for progress-deadline-seconds is stalled: it
        // is killed (its Pod deleted) and, unless its policy is Never, recreated like a replica
        // that exited with 137, counted against backoffLimit.
        if (phase == "Running" && job.progress_deadline_seconds && !finished &&
            !job.run_policy.suspend && !pod["metadata"].contains("deletionTimestamp")) {
          std::optional<TimePoint> due = ProgressDue(job, pod);
          if (due && now_tp < *due) {
            next_progress_check = std::min(next_progress_check, *due);
          } else if (due) {
            const std::string why = "made no progress for " +
                                    std::to_string(*job.progress_deadline_seconds) + "s";
            LogInfo("training replica stalled", {{"pod", job.ns + "/" + rname}, {"why", why}});
            to_delete.push_back({"Pod", job.ns, rname});
            if (r.restart_policy != "Never") {
              recs[pk]["restarts"] = recorded + 1;
              put_record(pk);
              restarts += 1;
              restarting = true;
              restart_type = r.type;
              restart_why = why;
            } else if (stall_failure.empty()) {
              stall_failure = job.kind + " " + ns_name + " has failed because replica " + rname +
                              " " + why + ".";
            }
          }
        }
      }
    }
  }
  missing.erase(std::remove_if(missing.begin(), missing.end(),
                               [](const auto& m) { return m.first == nullptr; }),
                missing.end());

  // (11) Scaling: a replica whose index is no longer below its type's `replicas` (or whose type
  // is gone from the spec) is deleted with its Service, as upstream's ReconcilePods does; the
  // ones added are created below like any missing replica.
  if (!finished && !job.run_policy.suspend) {
    std::set<std::string> wanted;
    for (const auto& r : job.replicas) {
      for (int32_t i = 0; i < r.replicas; ++i) wanted.insert(training::ReplicaName(job, r.type, i));
    }
    auto scaled_away = [&](const Json& o) {
      const Json labels = o["metadata"].value("labels", Json::object());
      return labels.contains(kReplicaTypeLabel) && labels.contains(kReplicaIndexLabel) &&
             !wanted.count(StringField(o["metadata"], "name"));
    };
    for (const auto& [pname, pod] : pods) {
      if (scaled_away(*pod) && !(*pod)["metadata"].contains("deletionTimestamp"))
        to_delete.push_back({"Pod", job.ns, pname});
    }
    for (const auto& [sname, svc] : services) {
      if (scaled_away(*svc)) to_delete.push_back({"Service", job.ns, sname});
    }
  }

  Duration requeue{0};
  std::string fail_reason, fail_message;
  const bool suspend = job.run_policy.suspend;
  bool delete_everything = false;
  bool newly_finished = false;

  if (!finished) {
    // (10) Suspension.
    if (suspend) {
      delete_everything = true;
      for (auto& [t, tc] : counts) tc = TypeCounts{};
      SetCondition(status, "Suspended", "True", job.kind + "Suspended",
                   job.kind + " " + job.name + " is suspended.", now);
      status.erase("startTime");
    } else {
      if (HasTrueCondition(status, "Suspended")) {
        SetCondition(status, "Suspended", "False", job.kind + "Resumed",
                     job.kind + " " + job.name + " is resumed.", now);
        status["startTime"] = now;
      }
      if (!status.contains("startTime")) status["startTime"] = now;
    }

    // (4) A replica failed for good.
    if (!suspend && !fail_type.empty()) {
      fail_message = job.kind + " " + ns_name + " has failed because " +
                     std::to_string(fail_count) + " " + fail_type + " replica(s) failed.";
    }
    if (!suspend && fail_message.empty()) fail_message = stall_failure;
    // (5) Backoff limit.
    if (!suspend && fail_message.empty() && job.run_policy.backoff_limit) {
      int32_t limit = *job.run_policy.backoff_limit;
      if (limit == 0 ? restarts > 0 : restarts >= limit) {
        fail_message =
            "Job " + job.name + " has failed because it has reached the specified backoff limit";
      }
    }
    // (6) Deadline.
    if (!suspend && fail_message.empty() && job.run_policy.active_deadline_seconds) {
      auto start = ParseRfc3339(StringField(status, "startTime"));
      if (start.ok()) {
        TimePoint deadline = *start + std::chrono::seconds(*job.run_policy.active_deadline_seconds);
        if (now_tp >= deadline) {
          fail_message = "Job " + job.name +
                         " has failed because it was active longer than specified deadline";
        } else {
          requeue = deadline - now_tp;
        }
      }
    }
    if (!fail_message.empty()) fail_reason = job.kind + "Failed";

    // (7) Success rules.
    bool success = false;
    if (!suspend && fail_reason.empty()) {
      auto all_done = [&](const char* type) {
        const ReplicaSpec* r = job.Find(type);
        return r != nullptr && counts[type].succeeded == r->replicas;
      };
      auto first_done = [&](const char* type) {
        const auto& v = succeeded_index[type];
        return !v.empty() && v[0];
      };
      switch (job.framework) {
        case training::Framework::kTensorFlow:
          if (job.Find("Chief")) {
            success = all_done("Chief");
          } else if (job.Find("Master")) {
            success = all_done("Master");
          } else if (job.success_policy == "AllWorkers") {
            success = all_done("Worker");
          } else {
            success = first_done("Worker");
          }
          break;
        case training::Framework::kPyTorch:
          if (job.Find("Master")) {
            success = all_done("Master");
          } else if (job.elastic) {
            success = counts["Worker"].succeeded > 0;
          } else {
            success = all_done("Worker");
          }
          break;
        case training::Framework::kXGBoost:
          success = all_done("Master");
          break;
        case training::Framework::kPaddle:
          success = job.Find("Master") ? all_done("Master") : all_done("Worker");
          break;
        case training::Framework::kMPI:
          success = all_done("Launcher");
          break;
      }
    }

    if (!fail_reason.empty()) {
      SetCondition(status, "Failed", "True", fail_reason, fail_message, now);
      status["completionTime"] = now;
      newly_finished = true;
      requeue = Duration(0);
    } else if (success) {
      SetCondition(status, "Succeeded", "True", job.kind + "Succeeded",
                   job.kind + " " + ns_name + " successfully completed.", now);
      status["completionTime"] = now;
      newly_finished = true;
      requeue = Duration(0);
    } else if (!suspend) {
      // (2, 3) Running / Restarting.
      std::string lead = job.MasterType();
      if (lead.empty() || !job.Find(lead)) lead = "Worker";
      if (restarting) {
        SetCondition(status, "Restarting", "True", job.kind + "Restarting",
                     job.kind + " " + ns_name + " is restarting because 1 " + restart_type +
                         " replica(s) " + restart_why + ".",
                     now);
      } else if (counts[lead].running > 0) {
        SetCondition(status, "Running", "True", job.kind + "Running",
                     job.kind + " " + ns_name + " is running.", now);
      }
      // (1, 3) Create what is missing.
      training::Network& n = net;
      int32_t gang = job.run_policy.min_available.value_or(job.TotalReplicas());
      if (job.framework == training::Framework::kMPI &&
          job.launcher_creation_policy == "WaitForWorkersReady" && !job.run_policy.min_available) {
        gang = job.Find("Worker") ? job.Find("Worker")->replicas : 0;
      }
      // Only the job's first Pods form a gang: replicas added later (scaling up, a recreated
      // replica) join replicas that already run, and waiting for a full gang could only
      // deadlock (the kubelet would also refuse a second gang size under the same name).
      if (!pods.empty()) gang = 0;
      Plan plan{job, n, options_, gang};
      bool workers_ready =
          !job.Find("Worker") || counts["Worker"].running == job.Find("Worker")->replicas;
      for (const auto& [r, i] : missing) {
        if (job.framework == training::Framework::kMPI && r->type == "Launcher" &&
            job.launcher_creation_policy == "WaitForWorkersReady" && !workers_ready) {
          continue;
        }
        std::string pk = training::PortKey(r->type, i);
        writes.push_back(
            store::Write::Create(NewPod(plan, *r, i, IntField(recs[pk], "restarts", 0))));
        ++counts[r->type].active;
      }
      if (job.framework == training::Framework::kMPI) {
        if (!services.count(job.name)) writes.push_back(store::Write::Create(NewMpiService(job)));
        auto cm = store_.Get({"ConfigMap", job.ns, job.name + "-config"});
        if (!cm.ok() && cm.status().code() == StatusCode::kNotFound) {
          writes.push_back(store::Write::Create(NewMpiConfigMap(job, n)));
        }
      } else {
        for (const auto& r : job.replicas) {
          for (int32_t i = 0; i < r.replicas; ++i) {
            if (!services.count(training::ReplicaName(job, r.type, i))) {
              writes.push_back(store::Write::Create(NewService(plan, r, i)));
            }
          }
        }
      }
    }
  }

  // (8) Cleaning after the end, and after a crash interrupted it.
  if (finished || newly_finished) {
    const std::string& policy = job.run_policy.clean_pod_policy;
    for (const auto& [pname, pod] : pods) {
      std::string phase = Phase(*pod);
      bool del = policy == "All" || (policy == "Running" &&
                                     (phase == "Running" || phase == "Pending" || phase.empty()));
      if (del) delete_replica(pname);
    }
    if (policy != "None" && job.framework == training::Framework::kMPI &&
        services.count(job.name) && policy == "All") {
      to_delete.push_back({"Service", job.ns, job.name});
    }
    // (9) TTL after finishing.
    if (job.run_policy.ttl_seconds_after_finished) {
      auto t = ParseRfc3339(StringField(status, "completionTime"));
      if (t.ok()) {
        TimePoint expiry = *t + std::chrono::seconds(*job.run_policy.ttl_seconds_after_finished);
        if (now_tp >= expiry) {
          Status s = store_.Delete({kind, ns, name});
          if (!s.ok() && s.code() != StatusCode::kNotFound) return ReconcileResult::Error(s);
          LogInfo("training job deleted after ttlSecondsAfterFinished",
                  {{"job", kind + "/" + ns_name}});
          queue_.Drop(key);
          return ReconcileResult::Ok();
        }
        requeue = expiry - now_tp;
      }
    }
  }
  if (delete_everything) {
    for (const auto& [pname, pod] : pods) {
      if (!(*pod)["metadata"].contains("deletionTimestamp"))
        to_delete.push_back({"Pod", job.ns, pname});
    }
    for (const auto& [sname, svc] : services) to_delete.push_back({"Service", job.ns, sname});
  }

  // replicaStatuses, as upstream writes them.
  Json rs = Json::object();
  for (const auto& r : job.replicas) {
    const TypeCounts& tc = counts[r.type];
    Json e = {{"selector", std::string(kJobNameLabel) + "=" + job.name + "," + kReplicaTypeLabel +
                               "=" + r.lower()}};
    if (tc.active) e["active"] = tc.active;
    if (tc.succeeded) e["succeeded"] = tc.succeeded;
    if (tc.failed) e["failed"] = tc.failed;
    rs[r.type] = e;
  }
  if (!(finished || newly_finished) || !status.contains("replicaStatuses"))
    status["replicaStatuses"] = rs;
  if (newly_finished) status["replicaStatuses"] = rs;

  Status cs = commit_status(std::move(writes));
  if (!cs.ok()) return ReconcileResult::Error(cs);
  for (const auto& k : to_delete) {
    Status s = store_.Delete(k);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return ReconcileResult::Error(s);
  }
  if (newly_finished && job.run_policy.ttl_seconds_after_finished) {
    requeue = std::chrono::seconds(*job.run_policy.ttl_seconds_after_finished);
    if (requeue == Duration(0)) requeue = std::chrono::milliseconds(1);
  }
  if (!finished && !newly_finished && next_progress_check != TimePoint::max()) {
    Duration until = next_progress_check - now_tp;
    if (requeue == Duration(0) || until < requeue) requeue = until;
  }
  if (requeue > Duration(0)) return ReconcileResult::After(requeue);
  return ReconcileResult::Ok();
}

}  // namespace skiff::controllers
