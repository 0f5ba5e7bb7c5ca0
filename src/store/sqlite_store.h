// The embedded `Store`: one SQLite file in WAL mode (see README.md for the schema).
//
// Durability: `synchronous=NORMAL`, so a write that returned survives `kill -9` of the process;
// only a power loss may lose the last transactions.
//
// Several processes may open the same file (`skiff get` while `skiff run` writes): every write
// transaction starts with `BEGIN IMMEDIATE`, so writers queue on SQLite's write lock (waiting up
// to `busy_timeout_ms`) instead of failing, and the resource-version counter is read and bumped
// inside that lock, so versions stay strictly increasing across processes. Watchers only see
// writes made through their own store object; other processes' writes are in `EventsSince`.
//
// Thread-safety: thread-safe. One connection per store, guarded by one mutex: SQLite allows one
// writer at a time anyway, and a single connection keeps prepared statements warm. Watch
// callbacks run on the writing thread after the commit, with that mutex released (see
// watch_dispatcher.h), so they may call back into the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "store/store.h"

namespace skiff::store {

struct SqliteStoreOptions {
  // Stamps `metadata.creationTimestamp`. Null means the system clock. Must outlive the store.
  const Clock* clock = nullptr;
  // How long a writer waits for another process's write lock before failing with `Unavailable`.
  int busy_timeout_ms = 30000;
  // Automatic compaction: every `compact_every_writes` writes through this store object, events
  // older than the newest `events_retained` are dropped. 0 disables it.
  int64_t events_retained = 100000;
  int64_t compact_every_writes = 1000;
  // Parsed objects kept in memory (LRU) to skip re-parsing on read-modify-write; 0 disables.
  size_t object_cache_entries = 1024;
};

// Opens (creating parent directories, the file, and migrating the schema as needed) the store in
// `path`. `OpenSqliteStore(path)` in store.h uses the default options.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteStoreOptions& options);

// The schema version this binary creates and understands (`PRAGMA user_version`).
int SqliteSchemaVersion();

// Runs `PRAGMA integrity_check` on the file through a separate connection, plus the store's own
// invariants (every event and object version <= the resource-version counter). For tests and a
// future `skiff doctor`.
Status CheckSqliteStoreIntegrity(const std::string& path);

}  // namespace skiff::store
