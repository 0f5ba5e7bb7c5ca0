// `PostgresStore`, the implementation behind `OpenPostgresStore` (see postgres_store.h for its
// contract). Internal to the store module: callers hold it as a `Store`.
//
// Layout: postgres_store.cc has opening, reads, events and the transaction plumbing;
// postgres_writes.cc has the row-level `WriteTarget` operations that write_path.cc applies each
// `Write` with.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/postgres_db.h"
#include "store/postgres_store.h"
#include "store/store.h"
#include "store/transactional_store.h"
#include "store/write_path.h"

namespace skiff::store {

// Every statement the store runs with parameters (prepared once per connection).
namespace pgsql {
// Starts a write transaction and takes the writers' lock: the counter row. In READ COMMITTED, a
// writer that waited for the lock re-reads the row and gets the version its predecessor left.
inline constexpr char kBeginWrite[] =
    "BEGIN ISOLATION LEVEL READ COMMITTED; "
    "UPDATE counters SET value = value WHERE name = 'resource_version' RETURNING value";
inline constexpr char kRollback[] = "ROLLBACK";
inline constexpr char kGetCounter[] = "SELECT value FROM counters WHERE name = $1";
inline constexpr char kSetCounter[] = "UPDATE counters SET value = $2 WHERE name = $1";
inline constexpr char kGetObject[] =
    "SELECT uid, rv, generation, data FROM objects WHERE kind = $1 AND ns = $2 AND name = $3";
// A taken key inserts nothing (and returns no row) instead of failing, which would abort the
// whole transaction and rule out retrying a generated name.
inline constexpr char kInsertObject[] =
    "INSERT INTO objects (kind, ns, name, uid, rv, generation, data, phase) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kind, ns, name) DO NOTHING RETURNING 1";
inline constexpr char kUpdateObject[] =
    "UPDATE objects SET rv = $5, generation = $6, data = $7, phase = $8 "
    "WHERE kind = $1 AND ns = $2 AND name = $3 AND uid = $4";
// One round trip for the object, its owner links both ways and its records.
inline constexpr char kDeleteObject[] =
    "WITH o AS (DELETE FROM objects WHERE uid = $1), "
    "l AS (DELETE FROM owners WHERE child_uid = $1 OR owner_uid = $1) "
    "DELETE FROM records WHERE owner = $1";
// The version is a column of every row (a NULL object when there is none), so the items and the
// version come from one statement, hence one snapshot. `List` appends filters to the ON clause.
// uid and rv say whether the object cache's parsed copy is this row's document.
inline constexpr char kListPrefix[] =
    "SELECT c.value, o.ns, o.name, o.data, o.uid, o.rv FROM counters c "
    "LEFT JOIN objects o ON o.kind = $1";
inline constexpr char kListSuffix[] = " WHERE c.name = 'resource_version' ORDER BY o.ns, o.name";
inline constexpr char kInsertOwner[] =
    "INSERT INTO owners (owner_uid, child_uid) VALUES ($1, $2) ON CONFLICT DO NOTHING";
inline constexpr char kDeleteOwnersOfChild[] = "DELETE FROM owners WHERE child_uid = $1";
inline constexpr char kSelectDependents[] =
    "SELECT o.kind, o.ns, o.name, o.uid, o.data "
    "FROM owners w JOIN objects o ON o.uid = w.child_uid WHERE w.owner_uid = $1 "
    "ORDER BY o.kind, o.ns, o.name";
inline constexpr char kInsertEvent[] =
    "INSERT INTO events (rv, type, kind, ns, name, data) VALUES ($1, $2, $3, $4, $5, $6)";
// The compaction mark and the events in one snapshot: a row with NULL event columns when the log
// has nothing newer, or when `after` was compacted away (no events are read then).
inline constexpr char kSelectEvents[] =
    "SELECT c.value, e.rv, e.type, e.data FROM counters c LEFT JOIN LATERAL ("
    "SELECT rv, type, data FROM events WHERE rv > $1 AND $1 >= c.value "
    "AND ($2 = '' OR kind = $2) AND ($3 = '' OR ns = $3) ORDER BY rv LIMIT $4) e ON true "
    "WHERE c.name = 'compacted_through' ORDER BY e.rv";
inline constexpr char kCompactEvents[] = "DELETE FROM events WHERE rv <= $1";
inline constexpr char kPutRecord[] =
    "INSERT INTO records (collection, owner, key, data) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (collection, owner, key) DO UPDATE SET data = excluded.data";
inline constexpr char kGetRecord[] =
    "SELECT data FROM records WHERE collection = $1 AND owner = $2 AND key = $3";
inline constexpr char kGetRecords[] =
    "SELECT key, data FROM records WHERE collection = $1 AND owner = $2 ORDER BY key";
inline constexpr char kDeleteRecords[] = "DELETE FROM records WHERE collection = $1 AND owner = $2";
}  // namespace pgsql

class PostgresStore final : public TransactionalStore {
 public:
  PostgresStore(std::unique_ptr<PostgresDb> db, const PostgresStoreOptions& options);
  ~PostgresStore() override;

  Result<ListResult> List(std::string_view kind, std::string_view ns,
                          const ListOptions& opts) override;

  Result<std::vector<WatchEvent>> EventsSince(int64_t after, const WatchOptions& opts,
                                              int64_t limit) override;
  bool ExternalChanges() override;

  Result<Json> GetRecord(std::string_view collection, std::string_view owner,
                         std::string_view key) override;
  Result<std::map<std::string, Json>> GetRecords(std::string_view collection,
                                                 std::string_view owner) override;

 private:
  // Transaction hooks (postgres_store.cc); mu_ held. A write transaction holds the counter row.
  Result<int64_t> BeginWrite() override;
  Status CompactLocked(int64_t keep, int64_t current_rv) override;
  Status CommitWrite(const WriteTxn& txn, int64_t start_rv) override;
  void RollbackWrite() override;

  // `WriteTarget`, in postgres_writes.cc; all run with mu_ held inside a write transaction.
  Status InsertObject(const ObjectKey& key, const std::string& uid, int64_t rv, int64_t generation,
                      const std::string& data, const Json& obj) override;
  Status UpdateObject(const ObjectKey& key, const std::string& uid, int64_t rv, int64_t generation,
                      const std::string& data, const Json& obj) override;
  Status LinkOwners(const std::string& uid, const Json* refs, bool replace) override;
  Status InsertEvent(EventType type, const ObjectKey& key, int64_t rv,
                     const std::string& data) override;
  Result<std::vector<StoredRow>> Dependents(const std::string& uid) override;
  Status DeleteObject(const std::string& uid) override;
  Status PutRecord(const std::string& collection, const std::string& owner, const std::string& key,
                   const std::string& data) override;
  Status DeleteRecords(const std::string& collection, const std::string& owner) override;

  // postgres_store.cc; mu_ held.
  Result<std::optional<StoredObject>> Load(const ObjectKey& key, bool take) override;
  Status PrepareRead() override;
  Result<int64_t> ReadResourceVersion() override;
  Result<int64_t> ReadCounter(const std::string& name);

  std::unique_ptr<PostgresDb> db_;  // guarded by mu_
  // See ExternalChanges: the version this store last saw, and whether a write transaction found
  // the counter moved past it (another connection wrote) since the last call.
  int64_t last_seen_rv_ = -1;  // guarded by mu_
  bool saw_external_ = false;  // guarded by mu_
};

}  // namespace skiff::store
