// The shared `Store`: a PostgreSQL database that several Skiff processes (or machines) may use at
// once (see README.md for the schema).
//
// The URL is a libpq connection URI, e.g. `postgresql://postgres@127.0.0.1:5432/skiff`, with one
// extra query parameter of our own, `schema=NAME` (a plain identifier: letters, digits, `_`): the
// store then keeps its tables in that schema, creating it if needed, and sets `search_path` to it
// on every connection. Without it, libpq's own `options=-csearch_path%3DNAME` works too, and by
// default the tables go to `public`. Connection parameters (`connect_timeout`, `sslmode`,
// passwords) are libpq's.
//
// Consistency across processes: every write transaction (READ COMMITTED) first locks the single
// `resource_version` counter row with `UPDATE ... RETURNING`, so writers queue on that lock, each
// sees everything committed before it, versions are strictly increasing, and events are appended
// (and committed) in version order. Readers never block. Watchers only see writes made through
// their own store object; other processes' writes are in `EventsSince`, and `ExternalChanges()`
// tells when there are some.
//
// Durability is the server's (`synchronous_commit`): a write that returned is committed.
//
// Thread-safety: thread-safe. One connection per store, guarded by one mutex (writers are
// serialized by the counter lock anyway). Watch callbacks run on the writing thread after the
// commit, with that mutex released (see watch_dispatcher.h), so they may call back into the store.
// A lost connection fails the operation in flight with `Unavailable`; the next one reconnects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "store/store.h"

namespace skiff::store {

struct PostgresStoreOptions {
  // Stamps `metadata.creationTimestamp`. Null means the system clock. Must outlive the store.
  const Clock* clock = nullptr;
  // Automatic compaction: every `compact_every_writes` writes through this store object, events
  // older than the newest `events_retained` are dropped. 0 disables it.
  int64_t events_retained = 100000;
  int64_t compact_every_writes = 1000;
  // Parsed objects kept in memory (LRU) to skip re-parsing on read-modify-write; 0 disables.
  size_t object_cache_entries = 1024;
};

// Connects to `url`, creating the schema and migrating it as needed. `OpenPostgresStore(url)` in
// store.h uses the default options. Fails with `Unavailable` when the server cannot be reached,
// `InvalidArgument` for a malformed URL.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const PostgresStoreOptions& options);

// The schema version this binary creates and understands (table `skiff_schema`).
int PostgresSchemaVersion();

}  // namespace skiff::store
