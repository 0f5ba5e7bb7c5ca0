// The `Store` holds every resource Skiff knows ({apiVersion, kind, metadata, spec, status}), an
// event log that watchers read, and keyed side records (offloaded workflow node status, memoize
// caches). Implementations: SQLite (embedded default, `sqlite_store.h`) and PostgreSQL (shared by
// several processes or machines, `postgres_store.h`); one conformance suite
// (`store_conformance.h`) runs against each.
//
// Semantics follow the Kubernetes API server:
//  * Objects are identified by (kind, namespace, name). Cluster-scoped kinds use namespace "".
//  * `Create` assigns `metadata.uid`, `metadata.resourceVersion`, `metadata.generation` = 1 and
//    `metadata.creationTimestamp`; a `metadata.generateName` with no name gets a random suffix.
//    The rest of the object, `status` included, is stored as given (the API edge drops `status`
//    on POST, as Kubernetes does). A missing `metadata.namespace` means cluster-scoped ("").
//  * Every successful write bumps the store-wide resource version (a strictly increasing
//    integer, rendered as a decimal string in `metadata.resourceVersion`) and appends one event.
//  * `Update` replaces metadata and spec but keeps the stored `status`; `UpdateStatus` replaces
//    only `status`. If the caller's `metadata.resourceVersion` is set and differs from the stored
//    one, the write fails with `Conflict` (optimistic concurrency). `generation` increases when
//    `spec` (anything but metadata and status) changes. A write that changes nothing succeeds
//    without a new resource version or event, as in Kubernetes.
//  * `Delete` removes the object and, recursively, every object whose
//    `metadata.ownerReferences[*].uid` names it (cascading, like background propagation), plus
//    the side records owned by each removed uid. Each removal is its own DELETED event.
//  * `Commit` applies several writes in one transaction: all succeed or none do. Record writes
//    (`kPutRecord`, `kDeleteRecords`) do not bump the resource version and make no events.
//  * Watchers registered with `Watch` receive events in resource-version order after the
//    transaction that produced them has committed, without polling. Callbacks run on the writing
//    thread and must be quick (typically: post to an event loop).
//
// Thread-safety: implementations are thread-safe. Several processes may open the same SQLite
// file or PostgreSQL database; watchers only see writes made through their own `Store` object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::store {

struct ObjectKey {
  std::string kind;
  std::string ns;  // "" for cluster-scoped kinds
  std::string name;
};

struct ListOptions {
  // Kubernetes label selector syntax: "a=b,c!=d,e in (x,y),f notin (z),g,!h". Empty = all.
  std::string label_selector;
  // Only "metadata.name=x", "metadata.namespace=x" and "status.phase=x" (and "!=" forms).
  std::string field_selector;
  int64_t limit = 0;  // 0 = no limit
};

struct ListResult {
  std::vector<Json> items;       // ordered by (namespace, name)
  int64_t resource_version = 0;  // the store's version when the list was read
};

enum class EventType { kAdded, kModified, kDeleted };
std::string_view EventTypeName(EventType t);  // "ADDED", "MODIFIED", "DELETED"

struct WatchEvent {
  EventType type;
  int64_t resource_version;
  Json object;  // for kDeleted: the object as it was last stored
};

struct WatchOptions {
  std::string kind;  // "" = every kind
  std::string ns;    // "" = every namespace
};

// Unregisters its watcher when destroyed.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

// One write inside a `Commit`.
struct Write {
  enum class Op { kCreate, kUpdate, kUpdateStatus, kUpdateWithStatus, kDelete, kPutRecord, kDeleteRecords };
  Op op;
  Json object;             // kCreate, kUpdate, kUpdateStatus, kUpdateWithStatus
  ObjectKey key;           // kDelete
  std::string collection;  // kPutRecord, kDeleteRecords
  std::string owner;       // kPutRecord, kDeleteRecords (usually an object's uid)
  std::string record_key;  // kPutRecord
  Json record;             // kPutRecord
  // kPutRecord: the record already serialised (then `record` is unused), for a writer that keeps
  // its own representation and can write JSON text without building a `Json` first.
  std::string record_text;

  static Write Create(Json obj) { return {Op::kCreate, std::move(obj), {}, {}, {}, {}, {}, {}}; }
  static Write Update(Json obj) { return {Op::kUpdate, std::move(obj), {}, {}, {}, {}, {}, {}}; }
  static Write UpdateStatus(Json obj) {
    return {Op::kUpdateStatus, std::move(obj), {}, {}, {}, {}, {}, {}};
  }
  // Update and UpdateStatus of one object as a single write (one version, one event): for an
  // in-process component that owns both, e.g. the kubelet finishing a Pod (outputs annotation
  // and final status). Not exposed through the API, which keeps the two apart.
  static Write UpdateWithStatus(Json obj) {
    return {Op::kUpdateWithStatus, std::move(obj), {}, {}, {}, {}, {}, {}};
  }
  static Write Delete(ObjectKey key) {
    return {Op::kDelete, {}, std::move(key), {}, {}, {}, {}, {}};
  }
  static Write PutRecord(std::string collection, std::string owner, std::string key, Json value) {
    return {Op::kPutRecord,  {}, {}, std::move(collection), std::move(owner), std::move(key),
            std::move(value), {}};
  }
  // PutRecord with the value given as JSON text (not validated: the writer vouches for it).
  static Write PutRecordText(std::string collection, std::string owner, std::string key,
                             std::string json_text) {
    return {Op::kPutRecord, {}, {}, std::move(collection), std::move(owner), std::move(key), {},
            std::move(json_text)};
  }
  static Write DeleteRecords(std::string collection, std::string owner) {
    return {Op::kDeleteRecords, {}, {}, std::move(collection), std::move(owner), {}, {}, {}};
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // --- resources ---
  virtual Result<Json> Create(Json obj) = 0;
  virtual Result<Json> Get(const ObjectKey& key) = 0;
  virtual Result<ListResult> List(std::string_view kind, std::string_view ns,
                                  const ListOptions& opts = {}) = 0;
  virtual Result<Json> Update(Json obj) = 0;
  virtual Result<Json> UpdateStatus(Json obj) = 0;
  virtual Status Delete(const ObjectKey& key) = 0;

  // Applies `writes` atomically. Returns, for each write, the stored object (kCreate, kUpdate,
  // kUpdateStatus), the deleted object (kDelete) or null (record writes). Fails with the first
  // failing write's status, prefixed by "writes[i]".
  virtual Result<std::vector<Json>> Commit(std::vector<Write> writes) = 0;

  // --- events ---
  virtual int64_t CurrentResourceVersion() = 0;
  // Events with resource_version > `after`, oldest first (at most `limit`, 0 = all). Fails with
  // `FailedPrecondition` ("too old resource version") when the log no longer reaches back there.
  virtual Result<std::vector<WatchEvent>> EventsSince(int64_t after, const WatchOptions& opts,
                                                      int64_t limit = 0) = 0;
  virtual std::unique_ptr<WatchHandle> Watch(const WatchOptions& opts,
                                             std::function<void(const WatchEvent&)> cb) = 0;
  // Like `Watch`, for a watcher that keeps events after its callback returns (e.g. to hand them
  // to an event loop): it shares the event instead of copying it, which matters for large
  // objects (a Workflow with a 700-task spec). This default wraps `Watch` and copies.
  virtual std::unique_ptr<WatchHandle> WatchShared(
      const WatchOptions& opts, std::function<void(std::shared_ptr<const WatchEvent>)> cb);
  // Drops events older than the newest `keep`.
  virtual Status CompactEvents(int64_t keep) = 0;
  // True if another process may have written since the previous call (SQLite: `PRAGMA
  // data_version` moved). Used by `Informer` to poll the event log only when needed; stores
  // without a cheap check answer true.
  virtual bool ExternalChanges() { return true; }

  // --- side records: (collection, owner, key) -> JSON ---
  virtual Result<Json> GetRecord(std::string_view collection, std::string_view owner,
                                 std::string_view key) = 0;  // NotFound if absent
  virtual Result<std::map<std::string, Json>> GetRecords(std::string_view collection,
                                                         std::string_view owner) = 0;
  // The records of `owner` with the given keys (absent keys are left out): one query where the
  // store can, for callers that would otherwise look up hundreds of keys one by one (the memo
  // entries of a run's cache hits). The default asks for each key.
  virtual Result<std::map<std::string, Json>> GetRecordsByKey(std::string_view collection, std::string_view owner,
                                                              const std::vector<std::string>& keys);
};

// Opens (creating and migrating as needed) the SQLite store in `path`.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// Connects to the PostgreSQL store at `url` (a libpq URL such as
// `postgresql://user@host:5432/skiff`, optionally `?schema=NAME`; see postgres_store.h), creating
// and migrating its tables as needed.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url);

// Opens the store `spec` names: a `postgresql://` or `postgres://` URL is a PostgreSQL store,
// anything else the path of a SQLite file. Both with default options.
Result<std::unique_ptr<Store>> OpenStore(const std::string& spec);

// Helpers shared by implementations and callers.
ObjectKey KeyOf(const Json& obj);
std::string KeyString(const ObjectKey& key);    // "Kind ns/name" or "Kind name"
int64_t ParseResourceVersion(const Json& obj);  // 0 if absent or malformed
// Evaluates a label selector against `labels` (an object of strings).
Result<bool> MatchesLabelSelector(std::string_view selector, const Json& labels);

}  // namespace skiff::store
