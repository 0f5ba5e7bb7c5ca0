// `TransactionalStore`: the plumbing shared by the stores that run each batch of writes as one
// database transaction (SQLite, PostgreSQL). It owns the lock, the object cache and the watch
// dispatcher, and implements every write of the `Store` interface as: take `mu_`, open a write
// transaction that excludes other writers (`BeginWrite`), apply the writes (`ApplyWrites` over
// the subclass's `WriteTarget` row operations), compact the event log every
// `compact_every_writes` writes, commit, refresh the cache, and publish the events to watchers
// after releasing `mu_` (see watch_dispatcher.h).
//
// A subclass provides the transaction hooks and the `WriteTarget` operations (called with `mu_`
// held) and the reads, which take `mu_` themselves.
//
// Thread-safety: thread-safe; `mu_` serializes all use of the subclass's connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "store/object_cache.h"
#include "store/store.h"
#include "store/watch_dispatcher.h"
#include "store/write_path.h"

namespace skiff::store {

struct TransactionalStoreOptions {
  const Clock* clock = nullptr;  // null: the system clock; must outlive the store
  // Every `compact_every_writes` writes, events older than the newest `events_retained` are
  // dropped. 0 disables it.
  int64_t events_retained = 0;
  int64_t compact_every_writes = 0;
  size_t object_cache_entries = 0;  // 0 disables the cache

  // The same-named fields of a store's own options struct.
  template <typename StoreOptions>
  static TransactionalStoreOptions From(const StoreOptions& options) {
    return {options.clock, options.events_retained, options.compact_every_writes,
            options.object_cache_entries};
  }
};

class TransactionalStore : public Store, protected WriteTarget {
 public:
  Result<Json> Create(Json obj) final;
  Result<Json> Update(Json obj) final;
  Result<Json> UpdateStatus(Json obj) final;
  Status Delete(const ObjectKey& key) final;
  Result<std::vector<Json>> Commit(std::vector<Write> writes) final;
  std::unique_ptr<WatchHandle> Watch(const WatchOptions& opts,
                                     std::function<void(const WatchEvent&)> cb) final;
  std::unique_ptr<WatchHandle> WatchShared(
      const WatchOptions& opts, std::function<void(std::shared_ptr<const WatchEvent>)> cb) final;
  Status CompactEvents(int64_t keep) final;
  Result<Json> Get(const ObjectKey& key) final;
  int64_t CurrentResourceVersion() final;

 protected:
  explicit TransactionalStore(const TransactionalStoreOptions& options);
  ~TransactionalStore() override;

  // --- transaction hooks, called with mu_ held ---
  // Opens a write transaction that excludes every other writer (in any process) until it ends,
  // and returns the current resource version as seen inside it.
  virtual Result<int64_t> BeginWrite() = 0;
  // Inside the open write transaction: drops events with version <= `current_rv - keep`.
  virtual Status CompactLocked(int64_t keep, int64_t current_rv) = 0;
  // Commits. `txn.rv` is the last version handed out; it equals `start_rv` when no write made an
  // event (record writes, no-op updates, compaction).
  virtual Status CommitWrite(const WriteTxn& txn, int64_t start_rv) = 0;
  // Rolls back the open transaction, if any (also after a failed BeginWrite or CommitWrite).
  virtual void RollbackWrite() = 0;

  // --- read hooks, called with mu_ held ---
  // Before a read outside any transaction (e.g. re-establish a lost connection).
  virtual Status PrepareRead() { return OkStatus(); }
  // The object at `key`, if any, with `ResolveDocument` filling its document. With `take`, a
  // cached document is moved out of `cache_` (the caller is about to replace it).
  virtual Result<std::optional<StoredObject>> Load(const ObjectKey& key, bool take) = 0;
  virtual Result<int64_t> ReadResourceVersion() = 0;

  // `WriteTarget::LoadForWrite` through `Load`.
  Result<StoredObject> LoadForWrite(const ObjectKey& key) final;

  // For `Load`, mu_ held: sets `stored.obj` from the cache when it holds
  // `stored`'s (key, uid, rv), else parses `data`. With `take`, the cached document is moved out
  // (the caller is about to replace it).
  Status ResolveDocument(StoredObject& stored, std::string_view data, bool take);

  const Clock& clock_;
  std::mutex mu_;
  ObjectCache cache_;  // guarded by mu_

 private:
  // Runs `writes` in one write transaction, then publishes the events. With `prefix_errors`, a
  // failure is reported as "writes[i]: ...".
  Result<std::vector<Json>> RunWrites(std::vector<Write> writes, bool prefix_errors);
  Result<Json> RunOne(Write write);

  const int64_t events_retained_;
  const int64_t compact_every_writes_;
  int64_t writes_since_compaction_ = 0;  // guarded by mu_
  WatchDispatcher dispatcher_;
};

}  // namespace skiff::store
