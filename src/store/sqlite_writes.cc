// The write path of `SqliteStore`: each `Write` applied inside the caller's BEGIN IMMEDIATE
// transaction, with mu_ held. Kubernetes API server semantics (see store.h):
//  * Create: new uid, resourceVersion, generation 1, creationTimestamp; generateName + 5 random
//    characters (retried on collision); AlreadyExists on an existing key. A caller-set
//    resourceVersion or uid is ignored, as the API server fills these system fields.
//  * Update: the caller's object with the stored status, uid and creationTimestamp; generation
//    +1 when anything but metadata and status changed.
//  * UpdateStatus: the stored object with the caller's status.
//  * UpdateWithStatus: Update that takes the caller's status too (one version, one event).
//  * Both: `Conflict` on a stale metadata.resourceVersion; a changed uid is `InvalidArgument`
//    (immutable). A write that changes nothing returns the stored object without bumping the
//    version or emitting an event, as Kubernetes does.
//  * Delete: breadth-first through owner links, owner before dependents; records owned by each
//    removed uid go too. Each removal gets its own version and DELETED event.
// JSON is serialized once per write; that one string goes to both `objects` and `events`.
#include <sqlite3.h>

#include <deque>
#include <optional>
#include <unordered_set>

#include "common/ids.h"
#include "store/sqlite_store_impl.h"

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

}  // namespace

Result<SqliteStore::Outcome> SqliteStore::ApplyWrite(Txn& txn, Write& write) {
  switch (write.op) {
    case Write::Op::kCreate:
      return ApplyCreate(txn, std::move(write.object));
    case Write::Op::kUpdate:
      return ApplyUpdate(txn, std::move(write.object));
    case Write::Op::kUpdateStatus:
      return ApplyUpdateStatus(txn, std::move(write.object));
    case Write::Op::kUpdateWithStatus:
      return ApplyUpdate(txn, std::move(write.object), /*with_status=*/true);
    case Write::Op::kDelete:
      return ApplyDelete(txn, write.key);
    case Write::Op::kPutRecord:
      SKIFF_RETURN_IF_ERROR(ApplyPutRecord(write));
      return Outcome{};
    case Write::Op::kDeleteRecords:
      SKIFF_RETURN_IF_ERROR(ApplyDeleteRecords(write));
      return Outcome{};
  }
  return InvalidArgument("unknown write op");
}

Result<int> SqliteStore::AppendEvent(Txn& txn, EventType type, const ObjectKey& key,
                                     const std::string& uid, int64_t rv, const std::string& data,
                                     Json obj) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kInsertEvent));
  st.Bind(1, rv).Bind(2, EventTypeName(type)).Bind(3, key.kind).Bind(4, key.ns).Bind(5, key.name);
  st.Bind(6, data);
  SKIFF_RETURN_IF_ERROR(st.Run());
  txn.events.push_back(WatchEvent{type, rv, std::move(obj)});
  txn.event_keys.emplace_back(key, uid);
  return static_cast<int>(txn.events.size() - 1);
}

Status SqliteStore::WriteObjectRow(const char* sql, const ObjectKey& key, const std::string& uid,
                                   int64_t rv, int64_t generation, const std::string& data) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql));
  st.Bind(1, key.kind).Bind(2, key.ns).Bind(3, key.name).Bind(4, uid).Bind(5, rv);
  st.Bind(6, generation).Bind(7, data);
  Status s = st.Run();
  if (!s.ok() && st.last_error() == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return AlreadyExists(KeyString(key) + " already exists");
  }
  if (!s.ok() && (st.last_error() & 0xff) == SQLITE_CONSTRAINT) {
    return Internal("uid " + uid +
                    " is already taken (is the random generator shared?): " + s.message());
  }
  return s;
}

Status SqliteStore::LinkOwners(const std::string& uid, const Json& obj, bool replace) {
  if (replace) {
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt del, db_->Prepare(sql::kDeleteOwnersOfChild));
    del.Bind(1, uid);
    SKIFF_RETURN_IF_ERROR(del.Run());
  }
  const Json* refs = OwnerRefs(obj);
  if (refs == nullptr) return OkStatus();
  for (const Json& ref : *refs) {
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt ins, db_->Prepare(sql::kInsertOwner));
    ins.Bind(1, ref["uid"].get_ref<const std::string&>()).Bind(2, uid);
    SKIFF_RETURN_IF_ERROR(ins.Run());
  }
  return OkStatus();
}

Result<StoredObject> SqliteStore::LoadForWrite(const ObjectKey& key) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<StoredObject> stored, Load(key, /*take=*/true));
  if (!stored) return NotFound(KeyString(key) + " not found");
  return std::move(*stored);
}

Result<SqliteStore::Outcome> SqliteStore::ApplyCreate(Txn& txn, Json obj) {
  SKIFF_RETURN_IF_ERROR(ValidateObject(obj, /*create=*/true));
  ObjectKey key = KeyOf(obj);
  const bool generated = key.name.empty();
  const int64_t rv = txn.rv + 1;
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
    Status st = WriteObjectRow(sql::kInsertObject, key, uid, rv, 1, data);
    if (st.code() == StatusCode::kAlreadyExists && generated && attempt < kGenerateNameAttempts) {
      continue;
    }
    SKIFF_RETURN_IF_ERROR(st);
    SKIFF_RETURN_IF_ERROR(LinkOwners(uid, obj, /*replace=*/false));
    txn.rv = rv;
    SKIFF_ASSIGN_OR_RETURN(int event,
                           AppendEvent(txn, EventType::kAdded, key, uid, rv, data, std::move(obj)));
    return Outcome{event, {}};
  }
}

Result<SqliteStore::Outcome> SqliteStore::ApplyUpdate(Txn& txn, Json obj, bool with_status) {
  SKIFF_RETURN_IF_ERROR(ValidateObject(obj, /*create=*/false));
  ObjectKey key = KeyOf(obj);
  SKIFF_ASSIGN_OR_RETURN(StoredObject stored, LoadForWrite(key));
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
  if (obj == stored.obj) return Outcome{-1, std::move(stored.obj)};

  const int64_t rv = txn.rv + 1;
  const int64_t generation = stored.generation + (SpecChanged(obj, stored.obj) ? 1 : 0);
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  obj["metadata"]["generation"] = generation;
  std::string data = DumpJson(obj);
  SKIFF_RETURN_IF_ERROR(WriteObjectRow(sql::kUpdateObject, key, stored.uid, rv, generation, data));
  const Json* old_refs = OwnerRefs(stored.obj);
  const Json* new_refs = OwnerRefs(obj);
  if ((old_refs == nullptr) != (new_refs == nullptr) ||
      (old_refs != nullptr && *old_refs != *new_refs)) {
    SKIFF_RETURN_IF_ERROR(LinkOwners(stored.uid, obj, /*replace=*/true));
  }
  txn.rv = rv;
  SKIFF_ASSIGN_OR_RETURN(
      int event, AppendEvent(txn, EventType::kModified, key, stored.uid, rv, data, std::move(obj)));
  return Outcome{event, {}};
}

Result<SqliteStore::Outcome> SqliteStore::ApplyUpdateStatus(Txn& txn, Json obj) {
  SKIFF_RETURN_IF_ERROR(ValidateKeyFields(obj, /*allow_generate_name=*/false));
  ObjectKey key = KeyOf(obj);
  SKIFF_ASSIGN_OR_RETURN(StoredObject stored, LoadForWrite(key));
  SKIFF_RETURN_IF_ERROR(CheckPreconditions(obj, stored));

  Json* status = obj.is_object() && obj.contains("status") ? &obj["status"] : nullptr;
  if (status != nullptr && status->is_null()) status = nullptr;
  const Json* old_status = FindField(stored.obj, "status");
  const bool unchanged =
      status == nullptr ? old_status == nullptr : old_status != nullptr && *old_status == *status;
  if (unchanged) return Outcome{-1, std::move(stored.obj)};

  if (status != nullptr) {
    stored.obj["status"] = std::move(*status);
  } else {
    stored.obj.erase("status");
  }
  const int64_t rv = txn.rv + 1;
  stored.obj["metadata"]["resourceVersion"] = std::to_string(rv);
  std::string data = DumpJson(stored.obj);
  SKIFF_RETURN_IF_ERROR(
      WriteObjectRow(sql::kUpdateObject, key, stored.uid, rv, stored.generation, data));
  txn.rv = rv;
  SKIFF_ASSIGN_OR_RETURN(int event, AppendEvent(txn, EventType::kModified, key, stored.uid, rv,
                                                data, std::move(stored.obj)));
  return Outcome{event, {}};
}

Status SqliteStore::DeleteOne(Txn& txn, StoredObject& victim, int* event) {
  const std::string& uid = victim.uid;
  for (const char* statement : {sql::kDeleteObject, sql::kDeleteOwnersOfChild,
                                sql::kDeleteLinksOfOwner, sql::kDeleteOwnerRecords}) {
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(statement));
    st.Bind(1, uid);
    SKIFF_RETURN_IF_ERROR(st.Run());
  }
  const int64_t rv = txn.rv + 1;
  victim.obj["metadata"]["resourceVersion"] = std::to_string(rv);
  std::string data = DumpJson(victim.obj);
  txn.rv = rv;
  SKIFF_ASSIGN_OR_RETURN(*event, AppendEvent(txn, EventType::kDeleted, victim.key, uid, rv, data,
                                             std::move(victim.obj)));
  return OkStatus();
}

Result<SqliteStore::Outcome> SqliteStore::ApplyDelete(Txn& txn, const ObjectKey& key) {
  if (key.kind.empty()) return InvalidArgument("kind: required");
  if (key.name.empty()) return InvalidArgument("metadata.name: required");
  SKIFF_ASSIGN_OR_RETURN(StoredObject root, LoadForWrite(key));

  // Dependents wait as JSON text, parsed only when deleted: a fan-out of 10,000 Pods would
  // otherwise hold every parsed document twice (queue and events).
  struct Pending {
    ObjectKey key;
    std::string uid;
    std::string data;
  };
  std::unordered_set<std::string> seen{root.uid};
  std::deque<Pending> pending;
  int root_event = -1;
  std::optional<StoredObject> next(std::move(root));
  while (next) {
    StoredObject victim = std::move(*next);
    next.reset();
    // Collect dependents before DeleteOne drops the owner links.
    {
      SKIFF_ASSIGN_OR_RETURN(SqliteStmt deps, db_->Prepare(sql::kSelectDependents));
      deps.Bind(1, victim.uid);
      for (;;) {
        SKIFF_ASSIGN_OR_RETURN(bool row, deps.Step());
        if (!row) break;
        std::string uid(deps.ColumnText(3));
        if (!seen.insert(uid).second) continue;
        pending.push_back(
            Pending{ObjectKey{std::string(deps.ColumnText(0)), std::string(deps.ColumnText(1)),
                              std::string(deps.ColumnText(2))},
                    std::move(uid), std::string(deps.ColumnText(4))});
      }
    }
    int event = -1;
    SKIFF_RETURN_IF_ERROR(DeleteOne(txn, victim, &event));
    if (root_event < 0) root_event = event;
    if (pending.empty()) break;
    Pending& p = pending.front();
    Result<Json> parsed = ParseJson(p.data);
    if (!parsed.ok()) return Internal(KeyString(p.key) + ": stored JSON is corrupt");
    next.emplace();
    next->key = std::move(p.key);
    next->uid = std::move(p.uid);
    next->obj = std::move(parsed).value();
    pending.pop_front();
  }
  return Outcome{root_event, {}};
}

Status SqliteStore::ApplyPutRecord(const Write& write) {
  if (write.collection.empty()) return InvalidArgument("collection: required");
  std::string data = DumpJson(write.record);
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kPutRecord));
  st.Bind(1, write.collection).Bind(2, write.owner).Bind(3, write.record_key).Bind(4, data);
  return st.Run();
}

Status SqliteStore::ApplyDeleteRecords(const Write& write) {
  if (write.collection.empty()) return InvalidArgument("collection: required");
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kDeleteRecords));
  st.Bind(1, write.collection).Bind(2, write.owner);
  return st.Run();
}

}  // namespace skiff::store
