#include "controllers/schedule/cron_controller.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "common/log.h"
#include "controllers/runtime/queued_object.h"
#include "controllers/schedule/cron_schedule.h"

namespace skiff::controllers {

namespace {

bool Finished(const Json& wf) {
  std::string phase = StringField(wf.value("status", Json::object()), "phase");
  return phase == "Succeeded" || phase == "Failed" || phase == "Error";
}

Json ObjectReference(const Json& wf) {
  const Json& meta = wf["metadata"];
  return {{"apiVersion", "argoproj.io/v1alpha1"},
          {"kind", "Workflow"},
          {"namespace", StringField(meta, "namespace")},
          {"name", StringField(meta, "name")},
          {"uid", StringField(meta, "uid")}};
}

Json NewWorkflow(const Json& cron, TimePoint scheduled) {
  const Json& meta = cron["metadata"];
  const Json spec = cron.value("spec", Json::object());
  std::string name = StringField(meta, "name");
  int64_t unix = std::chrono::duration_cast<Seconds>(scheduled.time_since_epoch()).count();
  Json wf_meta = {{"name", name + "-" + std::to_string(unix)},
                  {"namespace", StringField(meta, "namespace")},
                  {"labels", Json::object()},
                  {"annotations", Json::object()}};
  if (const Json* m = FindField(spec, "workflowMetadata"); m != nullptr && m->is_object()) {
    for (const char* field : {"labels", "annotations"}) {
      if (const Json* kv = FindField(*m, field); kv != nullptr && kv->is_object())
        wf_meta[field] = *kv;
    }
  }
  wf_meta["labels"][kCronWorkflowLabel] = name;
  wf_meta["annotations"][kScheduledTimeAnnotation] = FormatRfc3339(scheduled);
  wf_meta["ownerReferences"] = Json::array({{{"apiVersion", "argoproj.io/v1alpha1"},
                                             {"kind", "CronWorkflow"},
                                             {"name", name},
                                             {"uid", StringField(meta, "uid")},
                                             {"controller", true},
                                             {"blockOwnerDeletion", true}}});
  return {{"apiVersion", "argoproj.io/v1alpha1"},
          {"kind", "Workflow"},
          {"metadata", std::move(wf_meta)},
          {"spec", spec.value("workflowSpec", Json::object())}};
}

// Argo's condition list: one entry per type.
void SetCondition(Json& status, const std::string& type, const std::string& message) {
  Json conds = Json::array();
  for (const auto& c : status.value("conditions", Json::array())) {
    if (StringField(c, "type") != type) conds.push_back(c);
  }
  if (!message.empty()) conds.push_back({{"type", type}, {"status", "True"}, {"message", message}});
  if (conds.empty()) {
    status.erase("conditions");
  } else {
    status["conditions"] = std::move(conds);
  }
}

}  // namespace

CronWorkflowController::CronWorkflowController(store::Store& store, EventLoop& loop,
                                               store::Informer& informer, const Clock& clock,
                                               WorkQueueOptions queue_options)
    : store_(store),
      informer_(informer),
      clock_(clock),
      queue_(
          loop, [this](const std::string& key) { return Reconcile(key); }, queue_options) {}

Status CronWorkflowController::Start() {
  informer_.AddHandler("CronWorkflow", [this](const store::WatchEvent& ev) {
    std::string key = QueueKey(ev.object);
    if (ev.type == store::EventType::kDeleted) {
      queue_.Drop(key);
    } else {
      queue_.Add(key);
    }
  });
  // A child that finishes (or goes) changes `status.active` and may allow a Forbid run.
  informer_.AddHandler("Workflow", [this](const store::WatchEvent& ev) {
    const Json& meta = ev.object["metadata"];
    std::string cron = StringField(meta.value("labels", Json::object()), kCronWorkflowLabel);
    if (cron.empty()) return;
    if (ev.type == store::EventType::kDeleted || Finished(ev.object) ||
        ev.type == store::EventType::kAdded) {
      queue_.Add(QueueKey("CronWorkflow", StringField(meta, "namespace"), cron));
    }
  });
  SKIFF_ASSIGN_OR_RETURN(store::ListResult list, store_.List("CronWorkflow", ""));
  for (const auto& cron : list.items) queue_.Add(QueueKey(cron));
  queue_.Start();
  return OkStatus();
}

ReconcileResult CronWorkflowController::Reconcile(const std::string& key) {
  auto got = GetQueuedObject(store_, queue_, key);
  if (!got.ok()) return ReconcileResult::Error(got.status());
  if (!got->has_value()) return ReconcileResult::Ok();
  const Json& cron = **got;
  const std::string ns = StringField(cron["metadata"], "namespace");
  const std::string name = StringField(cron["metadata"], "name");
  const Json& meta = cron["metadata"];
  const Json spec = cron.value("spec", Json::object());
  const std::string uid = StringField(meta, "uid");
  const TimePoint now = clock_.Now();
  Json status = cron.value("status", Json::object());
  if (!status.is_object()) status = Json::object();

  // Children: this CronWorkflow's Workflows (by label, and owned by this very object).
  auto listed = store_.List("Workflow", ns, {std::string(kCronWorkflowLabel) + "=" + name, "", 0});
  if (!listed.ok()) return ReconcileResult::Error(listed.status());
  std::vector<const Json*> running, succeeded, failed;
  for (const auto& wf : listed->items) {
    bool owned = false;
    for (const auto& ref : wf["metadata"].value("ownerReferences", Json::array())) {
      owned = owned || StringField(ref, "uid") == uid;
    }
    if (!owned) continue;
    if (!Finished(wf)) {
      running.push_back(&wf);
    } else if (StringField(wf["status"], "phase") == "Succeeded") {
      succeeded.push_back(&wf);
    } else {
      failed.push_back(&wf);
    }
  }

  // (5) History: keep the newest finished children.
  std::vector<std::string> to_delete;
  auto prune = [&](std::vector<const Json*>& done, int64_t keep) {
    std::sort(done.begin(), done.end(), [](const Json* a, const Json* b) {
      std::string fa = StringField((*a)["status"], "finishedAt"),
                  fb = StringField((*b)["status"], "finishedAt");
      if (fa != fb) return fa > fb;
      return StringField((*a)["metadata"], "name") > StringField((*b)["metadata"], "name");
    });
    for (size_t i = static_cast<size_t>(std::max<int64_t>(keep, 0)); i < done.size(); ++i) {
      to_delete.push_back(StringField((*done[i])["metadata"], "name"));
    }
  };
  prune(succeeded, IntField(spec, "successfulJobsHistoryLimit", 3));
  prune(failed, IntField(spec, "failedJobsHistoryLimit", 1));

  // (7) The schedules.
  std::vector<std::string> exprs;
  if (const Json* list = FindField(spec, "schedules"); list != nullptr && list->is_array()) {
    for (const auto& s : *list) {
      if (s.is_string()) exprs.push_back(s.get<std::string>());
    }
  }
  if (std::string one = StringField(spec, "schedule"); !one.empty()) exprs.push_back(one);
  std::vector<CronSchedule> schedules;
  std::string spec_error;
  if (exprs.empty()) spec_error = "cron schedule is required";
  for (const auto& e : exprs) {
    auto s = CronSchedule::Parse(e, StringField(spec, "timezone"));
    if (!s.ok()) {
      spec_error = "cron schedule " + e + " is malformed: " + s.status().message();
      break;
    }
    schedules.push_back(std::move(*s));
  }
  SetCondition(status, "SpecError", spec_error);

  std::vector<store::Write> writes;
  std::string started;  // the Workflow this pass creates, if any
  Duration requeue{0};
  const bool suspend = spec.value("suspend", false);
  if (spec_error.empty() && !suspend) {  // (6)
    // The most recent due time since the last run (or creation), and the next one.
    TimePoint anchor{};
    if (auto last = ParseRfc3339(StringField(status, "lastScheduledTime")); last.ok()) {
      anchor = *last;
    } else if (auto created = ParseRfc3339(StringField(meta, "creationTimestamp")); created.ok()) {
      anchor = *created;
    } else {
      anchor = now;
    }
    const Json* sds_field = FindField(spec, "startingDeadlineSeconds");
    const bool has_sds = sds_field != nullptr && sds_field->is_number_integer();
    // Times older than both the grace and the deadline would never run: do not walk them.
    Duration window = std::max<Duration>(
        kOnTimeGrace, has_sds ? Seconds(sds_field->get<int64_t>()) : Duration(0));
    TimePoint from = std::max(anchor, now - window - Seconds(1));
    std::optional<TimePoint> due;
    TimePoint next = TimePoint::max();
    for (const auto& s : schedules) {
      TimePoint t = s.Next(from);
      for (int guard = 0; t <= now && guard < 100000; ++guard) {
        if (t > anchor && (!due || t > *due)) due = t;
        t = s.Next(t);
      }
      next = std::min(next, t);
    }
    if (due) {
      bool on_time = now - *due <= kOnTimeGrace;
      bool within_deadline = has_sds && now < *due + Seconds(sds_field->get<int64_t>());
      std::string policy = StringField(spec, "concurrencyPolicy", "Allow");
      Json wf = NewWorkflow(cron, *due);
      std::string wf_name = StringField(wf["metadata"], "name");
      bool exists = std::any_of(listed->items.begin(), listed->items.end(), [&](const Json& w) {
        return StringField(w["metadata"], "name") == wf_name;
      });
      if (exists) {
        // T's Workflow exists though the status does not say so (e.g. the status was reset):
        // record it, create nothing.
        status["lastScheduledTime"] = FormatRfc3339(*due);
      } else if (!on_time && !within_deadline) {
        LogInfo("cron workflow missed a scheduled time",
                {{"cronworkflow", ns + "/" + name}, {"scheduledTime", FormatRfc3339(*due)}});
      } else if (policy == "Forbid" && !running.empty()) {
        LogInfo(
            "cron workflow skipped a run: concurrencyPolicy Forbid and a workflow is active",
            {{"cronworkflow", ns + "/" + name}, {"scheduledTime", FormatRfc3339(*due)}});  // (3)
      } else {
        if (policy == "Replace") {  // (4)
          for (const Json* r : running) {
            Json stop = *r;
            stop["spec"]["shutdown"] = "Terminate";
            writes.push_back(store::Write::Update(std::move(stop)));
          }
        }
        writes.push_back(store::Write::Create(std::move(wf)));  // (1, 2)
        status["lastScheduledTime"] = FormatRfc3339(*due);
        started = wf_name;
      }
    }
    if (next != TimePoint::max()) requeue = next - now;
  }

  Json active = Json::array();
  for (const Json* r : running) active.push_back(ObjectReference(*r));
  if (active.empty()) {
    status.erase("active");
  } else {
    status["active"] = std::move(active);
  }
  if (status != cron.value("status", Json::object())) {
    Json updated = cron;
    updated["status"] = status;
    writes.push_back(store::Write::UpdateStatus(std::move(updated)));
  }
  if (!writes.empty()) {
    auto r = store_.Commit(std::move(writes));
    if (!r.ok()) return ReconcileResult::Error(r.status());
    if (!started.empty()) {
      LogInfo("cron workflow started a workflow",
              {{"cronworkflow", ns + "/" + name}, {"workflow", started}});
    }
  }
  for (const auto& n : to_delete) {
    Status s = store_.Delete({"Workflow", ns, n});
    if (!s.ok() && s.code() != StatusCode::kNotFound) return ReconcileResult::Error(s);
  }
  if (requeue > Duration(0)) return ReconcileResult::After(requeue);
  return ReconcileResult::Ok();
}

}  // namespace skiff::controllers
