// The write plumbing shared by the transactional stores (see transactional_store.h).
#include "store/transactional_store.h"

#include <optional>
#include <utility>

#include "common/log.h"

namespace skiff::store {

TransactionalStore::TransactionalStore(const TransactionalStoreOptions& options)
    : clock_(options.clock != nullptr ? *options.clock : SystemClock::Get()),
      cache_(options.object_cache_entries),
      events_retained_(options.events_retained),
      compact_every_writes_(options.compact_every_writes) {}

TransactionalStore::~TransactionalStore() = default;

Status TransactionalStore::ResolveDocument(StoredObject& stored, std::string_view data, bool take) {
  if (take) {
    if (std::optional<Json> cached = cache_.Take(stored.key, stored.uid, stored.rv)) {
      stored.obj = std::move(*cached);
      return OkStatus();
    }
  } else if (const Json* cached = cache_.Find(stored.key, stored.uid, stored.rv)) {
    stored.obj = *cached;
    return OkStatus();
  }
  SKIFF_ASSIGN_OR_RETURN(stored.obj, ParseStored(data, KeyString(stored.key)));
  return OkStatus();
}

Result<std::vector<Json>> TransactionalStore::RunWrites(std::vector<Write> writes,
                                                        bool prefix_errors) {
  std::vector<Json> results;
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    WriteTxn txn;
    std::vector<WriteOutcome> outcomes;
    Status st = [&]() -> Status {
      SKIFF_ASSIGN_OR_RETURN(txn.rv, BeginWrite());
      const int64_t start_rv = txn.rv;
      SKIFF_ASSIGN_OR_RETURN(outcomes, ApplyWrites(*this, txn, writes, clock_, prefix_errors));
      if (txn.rv != start_rv && events_retained_ > 0 && compact_every_writes_ > 0 &&
          ++writes_since_compaction_ >= compact_every_writes_) {
        writes_since_compaction_ = 0;
        SKIFF_RETURN_IF_ERROR(CompactLocked(events_retained_, txn.rv));
      }
      return CommitWrite(txn, start_rv);
    }();
    if (!st.ok()) {
      RollbackWrite();
      return st;
    }
    RefreshCache(cache_, txn);
    // Only copy objects for the watchers when there are any; otherwise move them out.
    const bool watched = dispatcher_.HasWatchers();
    results = WriteResults(txn, outcomes, watched);
    // Still under mu_, so tickets follow commit order.
    if (watched) ticket = dispatcher_.Enqueue(std::move(txn.events));
  }
  dispatcher_.Publish(ticket);
  return results;
}

Result<Json> TransactionalStore::RunOne(Write write) {
  std::vector<Write> writes;
  writes.push_back(std::move(write));
  SKIFF_ASSIGN_OR_RETURN(std::vector<Json> results, RunWrites(std::move(writes), false));
  return std::move(results[0]);
}

Result<Json> TransactionalStore::Create(Json obj) { return RunOne(Write::Create(std::move(obj))); }

Result<Json> TransactionalStore::Update(Json obj) { return RunOne(Write::Update(std::move(obj))); }

Result<Json> TransactionalStore::UpdateStatus(Json obj) {
  return RunOne(Write::UpdateStatus(std::move(obj)));
}

Status TransactionalStore::Delete(const ObjectKey& key) {
  return RunOne(Write::Delete(key)).status();
}

Result<std::vector<Json>> TransactionalStore::Commit(std::vector<Write> writes) {
  return RunWrites(std::move(writes), true);
}

std::unique_ptr<WatchHandle> TransactionalStore::Watch(const WatchOptions& opts,
                                                       std::function<void(const WatchEvent&)> cb) {
  return dispatcher_.Watch(opts, std::move(cb));
}

std::unique_ptr<WatchHandle> TransactionalStore::WatchShared(
    const WatchOptions& opts, std::function<void(std::shared_ptr<const WatchEvent>)> cb) {
  return dispatcher_.WatchShared(opts, std::move(cb));
}

Status TransactionalStore::CompactEvents(int64_t keep) {
  if (keep < 0) return InvalidArgument("keep: must not be negative");
  std::lock_guard<std::mutex> lock(mu_);
  Status st = [&]() -> Status {
    WriteTxn txn;
    SKIFF_ASSIGN_OR_RETURN(txn.rv, BeginWrite());
    SKIFF_RETURN_IF_ERROR(CompactLocked(keep, txn.rv));
    return CommitWrite(txn, txn.rv);
  }();
  if (!st.ok()) RollbackWrite();
  return st;
}

Result<StoredObject> TransactionalStore::LoadForWrite(const ObjectKey& key) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<StoredObject> stored, Load(key, /*take=*/true));
  if (!stored) return NotFound(KeyString(key) + " not found");
  return std::move(*stored);
}

Result<Json> TransactionalStore::Get(const ObjectKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_RETURN_IF_ERROR(PrepareRead());
  SKIFF_ASSIGN_OR_RETURN(std::optional<StoredObject> stored, Load(key, /*take=*/false));
  if (!stored) return NotFound(KeyString(key) + " not found");
  return std::move(stored->obj);
}

int64_t TransactionalStore::CurrentResourceVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<int64_t> rv = [&]() -> Result<int64_t> {
    SKIFF_RETURN_IF_ERROR(PrepareRead());
    return ReadResourceVersion();
  }();
  if (!rv.ok()) {
    LogError("store: reading the resource version failed", {{"error", rv.status().ToString()}});
    return 0;
  }
  return *rv;
}

}  // namespace skiff::store
