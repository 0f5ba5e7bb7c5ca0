// `SqliteStore`, the implementation behind `OpenSqliteStore` (see sqlite_store.h for its contract).
// Internal to the store module: callers hold it as a `Store`.
//
// Layout: sqlite_store.cc has opening, reads, events and the transaction plumbing; sqlite_writes.cc
// has the row-level `WriteTarget` operations that write_path.cc applies each `Write` with.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "store/transactional_store.h"
#include "store/write_path.h"

namespace skiff::store {

// Every statement the store runs. `inline` gives each one address program-wide, which is the
// key of `SqliteDb`'s statement cache.
namespace sql {
inline constexpr char kBeginImmediate[] = "BEGIN IMMEDIATE";
inline constexpr char kBeginRead[] = "BEGIN DEFERRED";
inline constexpr char kCommit[] = "COMMIT";
inline constexpr char kRollback[] = "ROLLBACK";
inline constexpr char kResourceVersion[] = "resource_version";
inline constexpr char kCompactedThrough[] = "compacted_through";
inline constexpr char kGetCounter[] = "SELECT value FROM counters WHERE name = ?1";
// The newest event's version, or the counter's floor when compaction left no event newer than
// it. Both lookups are index seeks, and the write path never has to update a counter row.
inline constexpr char kGetResourceVersion[] =
    "SELECT max(c.value, COALESCE((SELECT max(rv) FROM events), 0)) FROM counters c "
    "WHERE c.name = 'resource_version'";
inline constexpr char kSetCounter[] = "UPDATE counters SET value = ?2 WHERE name = ?1";
inline constexpr char kGetObject[] =
    "SELECT uid, rv, generation, data FROM objects WHERE kind = ?1 AND ns = ?2 AND name = ?3";
inline constexpr char kInsertObject[] =
    "INSERT INTO objects (kind, ns, name, uid, rv, generation, data, phase) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, COALESCE(json_extract(?7, '$.status.phase'), ''))";
// The uid never changes, and leaving it out of SET spares a write of the uid index's page.
inline constexpr char kUpdateObject[] =
    "UPDATE objects SET rv = ?5, generation = ?6, data = ?7, "
    "phase = COALESCE(json_extract(?7, '$.status.phase'), '') "
    "WHERE kind = ?1 AND ns = ?2 AND name = ?3 AND uid = ?4";
inline constexpr char kDeleteObject[] = "DELETE FROM objects WHERE uid = ?1";
// uid and rv say whether the object cache's parsed copy is this row's document.
inline constexpr char kListKind[] =
    "SELECT ns, name, data, uid, rv FROM objects WHERE kind = ?1 ORDER BY ns, name";
inline constexpr char kListKindNs[] =
    "SELECT ns, name, data, uid, rv FROM objects WHERE kind = ?1 AND ns = ?2 ORDER BY name";
inline constexpr char kInsertOwner[] =
    "INSERT OR IGNORE INTO owners (owner_uid, child_uid) VALUES (?1, ?2)";
inline constexpr char kDeleteOwnersOfChild[] = "DELETE FROM owners WHERE child_uid = ?1";
inline constexpr char kDeleteLinksOfOwner[] = "DELETE FROM owners WHERE owner_uid = ?1";
inline constexpr char kSelectDependents[] =
    "SELECT o.kind, o.ns, o.name, o.uid, o.data "
    "FROM owners w JOIN objects o ON o.uid = w.child_uid WHERE w.owner_uid = ?1 "
    "ORDER BY o.kind, o.ns, o.name";
inline constexpr char kInsertEvent[] =
    "INSERT INTO events (rv, type, kind, ns, name, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr char kSelectEvents[] =
    "SELECT rv, type, data FROM events WHERE rv > ?1 AND (?2 = '' OR kind = ?2) "
    "AND (?3 = '' OR ns = ?3) ORDER BY rv LIMIT ?4";
inline constexpr char kCompactEvents[] = "DELETE FROM events WHERE rv <= ?1";
inline constexpr char kDataVersion[] = "PRAGMA data_version";
inline constexpr char kPutRecord[] =
    "INSERT INTO records (collection, owner, key, data) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (collection, owner, key) DO UPDATE SET data = excluded.data";
inline constexpr char kGetRecord[] =
    "SELECT data FROM records WHERE collection = ?1 AND owner = ?2 AND key = ?3";
inline constexpr char kGetRecords[] =
    "SELECT key, data FROM records WHERE collection = ?1 AND owner = ?2 ORDER BY key";
// ?3: the keys as a JSON array.
inline constexpr char kGetRecordsByKey[] =
    "SELECT key, data FROM records WHERE collection = ?1 AND owner = ?2 AND key IN (SELECT value FROM json_each(?3))";
inline constexpr char kDeleteRecords[] = "DELETE FROM records WHERE collection = ?1 AND owner = ?2";
inline constexpr char kDeleteOwnerRecords[] = "DELETE FROM records WHERE owner = ?1";
}  // namespace sql

class SqliteStore final : public TransactionalStore {
 public:
  SqliteStore(std::unique_ptr<SqliteDb> db, const SqliteStoreOptions& options);
  ~SqliteStore() override;

  Result<ListResult> List(std::string_view kind, std::string_view ns,
                          const ListOptions& opts) override;

  Result<std::vector<WatchEvent>> EventsSince(int64_t after, const WatchOptions& opts,
                                              int64_t limit) override;
  bool ExternalChanges() override;

  Result<Json> GetRecord(std::string_view collection, std::string_view owner,
                         std::string_view key) override;
  Result<std::map<std::string, Json>> GetRecordsByKey(std::string_view collection, std::string_view owner,
                                                      const std::vector<std::string>& keys) override;
  Result<std::map<std::string, Json>> GetRecords(std::string_view collection,
                                                 std::string_view owner) override;

 private:
  // Transaction hooks (sqlite_store.cc); mu_ held. A write transaction is BEGIN IMMEDIATE.
  Result<int64_t> BeginWrite() override;
  Status CompactLocked(int64_t keep, int64_t current_rv) override;
  Status CommitWrite(const WriteTxn& txn, int64_t start_rv) override;
  void RollbackWrite() override;

  // `WriteTarget`, in sqlite_writes.cc; all run with mu_ held inside a write transaction.
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
  Status WriteObjectRow(const char* sql, const ObjectKey& key, const std::string& uid, int64_t rv,
                        int64_t generation, const std::string& data);

  // sqlite_store.cc; mu_ held.
  Result<std::optional<StoredObject>> Load(const ObjectKey& key, bool take) override;
  Result<int64_t> ReadCounter(const char* name);
  Result<int64_t> ReadResourceVersion() override;
  Status WriteCounter(const char* name, int64_t value);
  Status Exec(const char* sql);
  void RollbackIfOpen();

  std::unique_ptr<SqliteDb> db_;    // guarded by mu_
  int64_t last_data_version_ = -1;  // guarded by mu_; see ExternalChanges
};

}  // namespace skiff::store
