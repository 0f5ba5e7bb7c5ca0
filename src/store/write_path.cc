// The store-independent write path (see write_path.h).
#include "store/write_path.h"

#include <deque>
#include <exception>
#include <optional>
#include <unordered_set>

#include "common/ids.h"

namespace skiff::store {
namespace {

constexpr int kGenerateNameAttempts = 8;

bool IsNonEmptyString(const Json* v) {
  return v != nullptr && v->is_string() && !v->get_ref<const std::string&>().empty();
}

// The fields every resource needs to be stored and found again.
Status ValidateKeyFields(const Json& obj, bool allow_generate_name) {
  if (!obj.is_object()) return InvalidArgument("object: must be a JSON object");
  if (!IsNonEmptyString(FindField(obj, "kind"))) return InvalidArgument("kind: required");
  const Json* meta = FindField(obj, "metadata");
  if (meta == nullptr || !meta->is_object()) return InvalidArgument("metadata.name: required");
  for (const char* field : {"name", "generateName", "namespace", "uid", "resourceVersion"}) {
    const Json* v = FindField(*meta, field);
    if (v != nullptr && !v->is_null() && !v->is_string()) {
      return InvalidArgument(std::string("metadata.") + field + ": must be a string");
    }
  }
  if (!IsNonEmptyString(FindField(*meta, "name")) &&
      !(allow_generate_name && IsNonEmptyString(FindField(*meta, "generateName")))) {
    return InvalidArgument("metadata.name: required");
  }
  return OkStatus();
}

// Create and Update also store labels and owner links, so those must be well-formed.
Status ValidateObject(const Json& obj, bool create) {
  SKIFF_RETURN_IF_ERROR(ValidateKeyFields(obj, create));
  if (!IsNonEmptyString(FindField(obj, "apiVersion"))) {
    return InvalidArgument("apiVersion: required");
  }
  const Json& meta = obj["metadata"];
  const Json* labels = FindField(meta, "labels");
  if (labels != nullptr && !labels->is_null() && !labels->is_object()) {
    return InvalidArgument("metadata.labels: must be an object");
  }
  const Json* refs = FindField(meta, "ownerReferences");
  if (refs != nullptr && !refs->is_null()) {
    if (!refs->is_array()) return InvalidArgument("metadata.ownerReferences: must be a list");
    for (size_t i = 0; i < refs->size(); ++i) {
      if (!IsNonEmptyString(FindField((*refs)[i], "uid"))) {
        return InvalidArgument("metadata.ownerReferences[" + std::to_string(i) + "].uid: required");
      }
    }
  }
  return OkStatus();
}

// Optimistic concurrency and the immutable uid, checked against the stored object.
Status CheckPreconditions(const Json& obj, const StoredObject& stored) {
  const Json& meta = obj["metadata"];
  const Json* rv = FindField(meta, "resourceVersion");
  if (rv != nullptr && rv->is_string() && !rv->get_ref<const std::string&>().empty()) {
    int64_t want = ParseResourceVersion(obj);
    if (want <= 0) {
      return InvalidArgument("metadata.resourceVersion: invalid value \"" + rv->get<std::string>() +
                             "\"");
    }
    if (want != stored.rv) {
      return Conflict("Operation cannot be fulfilled on " + KeyString(stored.key) +
                      ": the object has been modified; please apply your changes to the latest "
                      "version and try again");
    }
  }
  const Json* uid = FindField(meta, "uid");
  if (IsNonEmptyString(uid) && uid->get_ref<const std::string&>() != stored.uid) {
    return InvalidArgument("metadata.uid: field is immutable (stored " + stored.uid + ", got " +
                           uid->get<std::string>() + ")");
  }
  return OkStatus();
}

// True if anything other than metadata and status differs (Kubernetes' rule for custom
// resources: such changes bump metadata.generation).
bool SpecChanged(const Json& a, const Json& b) {
  auto counts = [](const std::string& key) { return key != "metadata" && key != "status"; };
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!counts(it.key())) continue;
    auto other = b.find(it.key());
    if (other == b.end() || *other != *it) return true;
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (counts(it.key()) && !a.contains(it.key())) return true;
  }
  return false;
}

const Json* OwnerRefs(const Json& obj) {
  const Json* meta = FindField(obj, "metadata");
  const Json* refs = meta != nullptr ? FindField(*meta, "ownerReferences") : nullptr;
  return refs != nullptr && refs->is_array() && !refs->empty() ? refs : nullptr;
}

// One write transaction's worth of `ApplyWrites`.
class WriteApplier {
 public:
  WriteApplier(WriteTarget& target, WriteTxn& txn, const Clock& clock)
      : target_(target), txn_(txn), clock_(clock) {}

  Result<WriteOutcome> Apply(Write& write);

 private:
  Result<WriteOutcome> Create(Json obj);
  Result<WriteOutcome> Update(Json obj, bool with_status);
  Result<WriteOutcome> UpdateStatus(Json obj);
  Result<WriteOutcome> Delete(const ObjectKey& key);
  Status DeleteOne(StoredObject& victim, int* event);
  Result<int> AppendEvent(EventType type, const ObjectKey& key, const std::string& uid, int64_t rv,
                          const std::string& data, Json obj);

  WriteTarget& target_;
  WriteTxn& txn_;
  const Clock& clock_;
};

Result<WriteOutcome> WriteApplier::Apply(Write& write) {
  switch (write.op) {
    case Write::Op::kCreate:
      return Create(std::move(write.object));
    case Write::Op::kUpdate:
      return Update(std::move(write.object), /*with_status=*/false);
    case Write::Op::kUpdateStatus:
      return UpdateStatus(std::move(write.object));
    case Write::Op::kUpdateWithStatus:
      return Update(std::move(write.object), /*with_status=*/true);
    case Write::Op::kDelete:
      return Delete(write.key);
    case Write::Op::kPutRecord:
      if (write.collection.empty()) return InvalidArgument("collection: required");
      SKIFF_RETURN_IF_ERROR(target_.PutRecord(
          write.collection, write.owner, write.record_key,
          write.record_text.empty() ? DumpJson(write.record) : write.record_text));
      return WriteOutcome{};
    case Write::Op::kDeleteRecords:
      if (write.collection.empty()) return InvalidArgument("collection: required");
      SKIFF_RETURN_IF_ERROR(target_.DeleteRecords(write.collection, write.owner));
      return WriteOutcome{};
  }
  return InvalidArgument("unknown write op");
}

Result<int> WriteApplier::AppendEvent(EventType type, const ObjectKey& key, const std::string& uid,
                                      int64_t rv, const std::string& data, Json obj) {
  SKIFF_RETURN_IF_ERROR(target_.InsertEvent(type, key, rv, data));
  txn_.events.push_back(WatchEvent{type, rv, std::move(obj)});
  txn_.event_keys.emplace_back(key, uid);
  return static_cast<int>(txn_.events.size() - 1);
}

Result<WriteOutcome> WriteApplier::Create(Json obj) {
  SKIFF_RETURN_IF_ERROR(ValidateObject(obj, /*create=*/true));
  ObjectKey key = KeyOf(obj);
  const bool generated = key.name.empty();
  const int64_t rv = txn_.rv + 1;
  const std::string uid = NewUid();
  {
    Json& meta = obj["metadata"];
    meta["uid"] = uid;
    meta["resourceVersion"] = std::to_string(rv);
    meta["generation"] = 1;
    meta["creationTimestamp"] = FormatRfc3339(clock_.Now());
  }
  for (int attempt = 1;; ++attempt) {
    if (generated) {
      key.name = obj["metadata"]["generateName"].get<std::string>() + RandomSuffix(5);
      obj["metadata"]["name"] = key.name;
    }
    std::string data = DumpJson(obj);
    Status st = target_.InsertObject(key, uid, rv, 1, data, obj);
    if (st.code() == StatusCode::kAlreadyExists && generated && attempt < kGenerateNameAttempts) {
      continue;
    }
    SKIFF_RETURN_IF_ERROR(st);
    SKIFF_RETURN_IF_ERROR(target_.LinkOwners(uid, OwnerRefs(obj), /*replace=*/false));
    txn_.rv = rv;
    SKIFF_ASSIGN_OR_RETURN(int event,
                           AppendEvent(EventType::kAdded, key, uid, rv, data, std::move(obj)));
    return WriteOutcome{event, {}};
  }
}

Result<WriteOutcome> WriteApplier::Update(Json obj, bool with_status) {
  SKIFF_RETURN_IF_ERROR(ValidateObject(obj, /*create=*/false));
  ObjectKey key = KeyOf(obj);
  SKIFF_ASSIGN_OR_RETURN(StoredObject stored, target_.LoadForWrite(key));
  SKIFF_RETURN_IF_ERROR(CheckPreconditions(obj, stored));

  // System fields come from the stored object; `status` is only written through UpdateStatus.
  {
    Json& meta = obj["metadata"];
    const Json& old_meta = stored.obj["metadata"];
    meta["uid"] = stored.uid;
    meta["resourceVersion"] = std::to_string(stored.rv);
    meta["generation"] = stored.generation;
    if (const Json* created = FindField(old_meta, "creationTimestamp")) {
      meta["creationTimestamp"] = *created;
    } else {
      meta.erase("creationTimestamp");
    }
  }
  if (with_status) {
    if (obj.contains("status") && obj["status"].is_null()) obj.erase("status");
  } else if (const Json* status = FindField(stored.obj, "status")) {
    obj["status"] = *status;
  } else {
    obj.erase("status");
  }
  if (obj == stored.obj) return WriteOutcome{-1, std::move(stored.obj)};

  const int64_t rv = txn_.rv + 1;
  const int64_t generation = stored.generation + (SpecChanged(obj, stored.obj) ? 1 : 0);
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  obj["metadata"]["generation"] = generation;
  std::string data = DumpJson(obj);
  SKIFF_RETURN_IF_ERROR(target_.UpdateObject(key, stored.uid, rv, generation, data, obj));
  const Json* old_refs = OwnerRefs(stored.obj);
  const Json* new_refs = OwnerRefs(obj);
  if ((old_refs == nullptr) != (new_refs == nullptr) ||
      (old_refs != nullptr && *old_refs != *new_refs)) {
    SKIFF_RETURN_IF_ERROR(target_.LinkOwners(stored.uid, new_refs, /*replace=*/true));
  }
  txn_.rv = rv;
  SKIFF_ASSIGN_OR_RETURN(
      int event, AppendEvent(EventType::kModified, key, stored.uid, rv, data, std::move(obj)));
  return WriteOutcome{event, {}};
}

Result<WriteOutcome> WriteApplier::UpdateStatus(Json obj) {
  SKIFF_RETURN_IF_ERROR(ValidateKeyFields(obj, /*allow_generate_name=*/false));
  ObjectKey key = KeyOf(obj);
  SKIFF_ASSIGN_OR_RETURN(StoredObject stored, target_.LoadForWrite(key));
  SKIFF_RETURN_IF_ERROR(CheckPreconditions(obj, stored));

  Json* status = obj.is_object() && obj.contains("status") ? &obj["status"] : nullptr;
  if (status != nullptr && status->is_null()) status = nullptr;
  const Json* old_status = FindField(stored.obj, "status");
  const bool unchanged =
      status == nullptr ? old_status == nullptr : old_status != nullptr && *old_status == *status;
  if (unchanged) return WriteOutcome{-1, std::move(stored.obj)};

  if (status != nullptr) {
    stored.obj["status"] = std::move(*status);
  } else {
    stored.obj.erase("status");
  }
  const int64_t rv = txn_.rv + 1;
  stored.obj["metadata"]["resourceVersion"] = std::to_string(rv);
  std::string data = DumpJson(stored.obj);
  SKIFF_RETURN_IF_ERROR(
      target_.UpdateObject(key, stored.uid, rv, stored.generation, data, stored.obj));
  txn_.rv = rv;
  SKIFF_ASSIGN_OR_RETURN(int event, AppendEvent(EventType::kModified, key, stored.uid, rv, data,
                                                std::move(stored.obj)));
  return WriteOutcome{event, {}};
}

Status WriteApplier::DeleteOne(StoredObject& victim, int* event) {
  SKIFF_RETURN_IF_ERROR(target_.DeleteObject(victim.uid));
  const int64_t rv = txn_.rv + 1;
  victim.obj["metadata"]["resourceVersion"] = std::to_string(rv);
  std::string data = DumpJson(victim.obj);
  txn_.rv = rv;
  SKIFF_ASSIGN_OR_RETURN(*event, AppendEvent(EventType::kDeleted, victim.key, victim.uid, rv, data,
                                             std::move(victim.obj)));
  return OkStatus();
}

Result<WriteOutcome> WriteApplier::Delete(const ObjectKey& key) {
  if (key.kind.empty()) return InvalidArgument("kind: required");
  if (key.name.empty()) return InvalidArgument("metadata.name: required");
  SKIFF_ASSIGN_OR_RETURN(StoredObject root, target_.LoadForWrite(key));

  std::unordered_set<std::string> seen{root.uid};
  std::deque<StoredRow> pending;
  int root_event = -1;
  std::optional<StoredObject> next(std::move(root));
  while (next) {
    StoredObject victim = std::move(*next);
    next.reset();
    // Collect dependents before DeleteObject drops the owner links.
    SKIFF_ASSIGN_OR_RETURN(std::vector<StoredRow> deps, target_.Dependents(victim.uid));
    for (StoredRow& dep : deps) {
      if (seen.insert(dep.uid).second) pending.push_back(std::move(dep));
    }
    int event = -1;
    SKIFF_RETURN_IF_ERROR(DeleteOne(victim, &event));
    if (root_event < 0) root_event = event;
    if (pending.empty()) break;
    StoredRow& p = pending.front();
    Result<Json> parsed = ParseJson(p.data);
    if (!parsed.ok()) return Internal(KeyString(p.key) + ": stored JSON is corrupt");
    next.emplace();
    next->key = std::move(p.key);
    next->uid = std::move(p.uid);
    next->obj = std::move(parsed).value();
    pending.pop_front();
  }
  return WriteOutcome{root_event, {}};
}

}  // namespace

Result<std::vector<WriteOutcome>> ApplyWrites(WriteTarget& target, WriteTxn& txn,
                                              std::vector<Write>& writes, const Clock& clock,
                                              bool prefix_errors) {
  WriteApplier applier(target, txn, clock);
  std::vector<WriteOutcome> outcomes;
  outcomes.reserve(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    Result<WriteOutcome> out = [&]() -> Result<WriteOutcome> {
      try {
        return applier.Apply(writes[i]);
      } catch (const std::exception& e) {
        // A document of an unexpected shape that slipped past validation.
        return InvalidArgument(std::string("malformed object: ") + e.what());
      }
    }();
    if (!out.ok()) {
      if (!prefix_errors) return out.status();
      return out.status().WithPrefix("writes[" + std::to_string(i) + "]");
    }
    outcomes.push_back(std::move(out).value());
  }
  return outcomes;
}

std::vector<Json> WriteResults(WriteTxn& txn, std::vector<WriteOutcome>& outcomes,
                               bool keep_events) {
  std::vector<Json> results;
  results.reserve(outcomes.size());
  for (WriteOutcome& out : outcomes) {
    if (out.event < 0) {
      results.push_back(std::move(out.value));
    } else if (keep_events) {
      results.push_back(txn.events[out.event].object);
    } else {
      results.push_back(std::move(txn.events[out.event].object));
    }
  }
  return results;
}

void RefreshCache(ObjectCache& cache, const WriteTxn& txn) {
  for (size_t i = 0; i < txn.events.size(); ++i) {
    const auto& [key, uid] = txn.event_keys[i];
    if (txn.events[i].type == EventType::kDeleted) {
      cache.Erase(key);
    } else {
      cache.Put(key, uid, txn.events[i].resource_version, txn.events[i].object);
    }
  }
}

Result<Json> ParseStored(std::string_view data, std::string_view what) {
  Result<Json> parsed = ParseJson(data);
  if (!parsed.ok())
    return Internal(std::string(what) + ": stored JSON is corrupt: " + parsed.status().message());
  return parsed;
}

Result<EventType> ParseEventType(std::string_view text) {
  if (text == "ADDED") return EventType::kAdded;
  if (text == "MODIFIED") return EventType::kModified;
  if (text == "DELETED") return EventType::kDeleted;
  return Internal("events: unknown event type \"" + std::string(text) + "\"");
}

}  // namespace skiff::store
