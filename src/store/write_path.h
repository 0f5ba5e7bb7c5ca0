// The store-independent half of the write path: what each kind of `Write` does to an object,
// written once against `WriteTarget`, the row-level operations that each `Store` implementation
// provides inside its own write transaction (sqlite_writes.cc, postgres_writes.cc). Kubernetes
// API server semantics (see store.h):
//  * Create: new uid, resourceVersion, generation 1, creationTimestamp; generateName + 5 random
//    characters (retried on collision); AlreadyExists on an existing key. A caller-set
//    resourceVersion or uid is ignored, as the API server fills these system fields.
//  * Update: the caller's object with the stored status, uid and creationTimestamp; generation
//    +1 when anything but metadata and status changed.
//  * UpdateStatus: the stored object with the caller's status.
//  * UpdateWithStatus: Update that takes the caller's status too (one version, one event).
//  * All three: `Conflict` on a stale metadata.resourceVersion; a changed uid is
//    `InvalidArgument` (immutable). A write that changes nothing returns the stored object
//    without bumping the version or emitting an event, as Kubernetes does.
//  * Delete: breadth-first through owner links, owner before dependents; records owned by each
//    removed uid go too. Each removal gets its own version and DELETED event.
// JSON is serialized once per write; that one string goes to both the object row and the event.
//
// Not thread-safe: the store calls these with its own lock held, inside its write transaction,
// and rolls the transaction back when they fail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"
#include "store/object_cache.h"
#include "store/store.h"

namespace skiff::store {

// An object as stored, parsed.
struct StoredObject {
  ObjectKey key;
  std::string uid;
  int64_t rv = 0;
  int64_t generation = 0;
  Json obj;
};

// An object found through owner links, its document still unparsed: a cascade through a fan-out
// of 10,000 Pods would otherwise hold every parsed document twice (queue and events).
struct StoredRow {
  ObjectKey key;
  std::string uid;
  std::string data;
};

// The row-level operations of one store, run inside its open write transaction. Failures are
// returned as `Status` (the store maps its driver's errors), never thrown.
class WriteTarget {
 public:
  // The object at `key`, or `NotFound`. A store with an `ObjectCache` may hand over (take) the
  // cached document: the caller is about to replace it.
  virtual Result<StoredObject> LoadForWrite(const ObjectKey& key) = 0;
  // A new object row; `AlreadyExists` if `key` is taken. `obj` is `data`, parsed (for stores
  // that index fields of it).
  virtual Status InsertObject(const ObjectKey& key, const std::string& uid, int64_t rv,
                              int64_t generation, const std::string& data, const Json& obj) = 0;
  // Replaces the row of the existing object `uid` at `key`.
  virtual Status UpdateObject(const ObjectKey& key, const std::string& uid, int64_t rv,
                              int64_t generation, const std::string& data, const Json& obj) = 0;
  // Records that `uid` depends on each `refs[*].uid` (`refs` may be null); with `replace`, the
  // links `uid` had before are dropped first.
  virtual Status LinkOwners(const std::string& uid, const Json* refs, bool replace) = 0;
  // Appends one row to the event log.
  virtual Status InsertEvent(EventType type, const ObjectKey& key, int64_t rv,
                             const std::string& data) = 0;
  // The objects whose owner links name `uid`, ordered by (kind, namespace, name).
  virtual Result<std::vector<StoredRow>> Dependents(const std::string& uid) = 0;
  // Removes the object `uid`, its owner links (both directions) and the records it owns.
  virtual Status DeleteObject(const std::string& uid) = 0;
  virtual Status PutRecord(const std::string& collection, const std::string& owner,
                           const std::string& key, const std::string& data) = 0;
  virtual Status DeleteRecords(const std::string& collection, const std::string& owner) = 0;

 protected:
  ~WriteTarget() = default;
};

// What one write transaction has done so far.
struct WriteTxn {
  int64_t rv = 0;                  // the last resource version handed out (the store's at start)
  std::vector<WatchEvent> events;  // in resource-version order
  // For each event, the object's key and uid, to refresh an `ObjectCache` after the commit.
  std::vector<std::pair<ObjectKey, std::string>> event_keys;
};

// What one write returns: the object of `txn.events[event]`, or `value` when it made no event
// (a no-op update, a record write).
struct WriteOutcome {
  int event = -1;
  Json value;
};

// Applies `writes` in order through `target`, stamping `metadata.creationTimestamp` from
// `clock`. On failure returns the first failing write's status, prefixed by "writes[i]" when
// `prefix_errors`; the caller then rolls its transaction back. A malformed document that makes
// the JSON library throw is reported as `InvalidArgument`.
Result<std::vector<WriteOutcome>> ApplyWrites(WriteTarget& target, WriteTxn& txn,
                                              std::vector<Write>& writes, const Clock& clock,
                                              bool prefix_errors);

// After the commit: each write's result. Objects are moved out of `txn.events` unless
// `keep_events` (the events still go to watchers), in which case they are copied.
std::vector<Json> WriteResults(WriteTxn& txn, std::vector<WriteOutcome>& outcomes,
                               bool keep_events);

// After the commit: stores the written objects in `cache` and drops the deleted ones.
void RefreshCache(ObjectCache& cache, const WriteTxn& txn);

// Parsing what a store read back. Corrupt JSON or an unknown type is `Internal`.
Result<Json> ParseStored(std::string_view data, std::string_view what);
Result<EventType> ParseEventType(std::string_view text);

}  // namespace skiff::store
