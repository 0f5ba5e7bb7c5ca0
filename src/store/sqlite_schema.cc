#include "store/sqlite_schema.h"

#include <cstdlib>
#include <iterator>
#include <string>

namespace skiff::store {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append only. Each step runs inside the migration transaction, so it must not contain
// BEGIN/COMMIT or PRAGMAs that cannot run in a transaction (journal_mode).
constexpr Migration kMigrations[] = {
    {1, "objects, owners, events, records, counters", R"sql(
-- One row per resource. `data` is the whole object as compact JSON, metadata.resourceVersion
-- included; the other columns duplicate what the queries need to index.
CREATE TABLE objects (
  kind TEXT NOT NULL,
  ns TEXT NOT NULL,             -- "" for cluster-scoped kinds
  name TEXT NOT NULL,
  uid TEXT NOT NULL UNIQUE,
  rv INTEGER NOT NULL,          -- metadata.resourceVersion
  generation INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (kind, ns, name)
);

-- metadata.ownerReferences, one row per (owner, dependent), for cascading deletes.
CREATE TABLE owners (
  owner_uid TEXT NOT NULL,
  child_uid TEXT NOT NULL,
  PRIMARY KEY (owner_uid, child_uid)
) WITHOUT ROWID;
CREATE INDEX owners_by_child ON owners (child_uid);

-- The watch log: one row per resource version. Old rows are compacted away.
CREATE TABLE events (
  rv INTEGER PRIMARY KEY,
  type TEXT NOT NULL,           -- ADDED, MODIFIED, DELETED
  kind TEXT NOT NULL,
  ns TEXT NOT NULL,
  name TEXT NOT NULL,
  data TEXT NOT NULL            -- the object after the write (before it, for DELETED)
);

-- Side records: (collection, owner, key) -> JSON. `owner` is usually an object's uid, and the
-- records go when that object is deleted.
CREATE TABLE records (
  collection TEXT NOT NULL,
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (collection, owner, key)
);
CREATE INDEX records_by_owner ON records (owner);

-- resource_version: a floor for the current resource version, which is
--   max(this, max(events.rv)); written only by compaction (which may delete the newest
--   events), so that an ordinary write touches no counter row.
-- compacted_through: events with rv <= this were dropped.
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('resource_version', 0), ('compacted_through', 0);
)sql"},
    {2, "objects.phase: status.phase as an indexed column, so that listing unfinished objects "
        "does not parse every finished one",
     R"sql(
ALTER TABLE objects ADD COLUMN phase TEXT NOT NULL DEFAULT '';
UPDATE objects SET phase = COALESCE(json_extract(data, '$.status.phase'), '');
CREATE INDEX objects_by_phase ON objects (kind, phase);
)sql"},
};

Result<int> UserVersion(SqliteDb& db) {
  SKIFF_ASSIGN_OR_RETURN(std::string text, db.QueryText("PRAGMA user_version"));
  return std::atoi(text.c_str());
}

}  // namespace

int LatestSqliteSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Status ConfigureAndMigrate(SqliteDb& db) {
  // journal_mode is persistent in the file; setting it again is a no-op. It cannot run inside a
  // transaction, hence before the migration.
  SKIFF_ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode=WAL"));
  // ":memory:" databases (handy in other modules' tests) cannot use WAL; one connection only.
  if (mode != "wal" && !(mode == "memory" && db.path() == ":memory:")) {
    return FailedPrecondition(db.path() + ": cannot enable WAL mode (journal_mode is " + mode +
                              ")");
  }
  // NORMAL in WAL mode: a commit survives the process being killed (the WAL is in the OS page
  // cache); only a power loss may lose the last transactions.
  SKIFF_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=NORMAL"));
  // No SQL foreign keys: owner links are maintained by the store, and a dependent may name an
  // owner that does not exist (as in Kubernetes).
  SKIFF_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=OFF"));
  // Checkpoint every ~40 MB of WAL instead of ~4 MB: hot pages (the events tail, objects being
  // updated) are copied back to the database once per checkpoint, and each checkpoint fsyncs.
  SKIFF_RETURN_IF_ERROR(db.Exec("PRAGMA wal_autocheckpoint=10000"));

  SKIFF_ASSIGN_OR_RETURN(int current, UserVersion(db));
  const int latest = LatestSqliteSchemaVersion();
  if (current == latest) return OkStatus();
  if (current > latest) {
    return FailedPrecondition(db.path() + ": database schema version " + std::to_string(current) +
                              " is newer than this skiff supports (" + std::to_string(latest) +
                              "); use a newer skiff or another data directory");
  }

  SKIFF_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  // Re-read under the write lock: another process may have migrated meanwhile.
  Status st = [&]() -> Status {
    SKIFF_ASSIGN_OR_RETURN(int locked_current, UserVersion(db));
    if (locked_current > latest) {
      return FailedPrecondition(
          db.path() + ": database schema version " + std::to_string(locked_current) +
          " is newer than this skiff supports (" + std::to_string(latest) + ")");
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= locked_current) continue;
      Status step = db.Exec(m.sql);
      if (!step.ok()) {
        return step.WithPrefix("schema migration " + std::to_string(m.version) + " (" +
                               m.description + ")");
      }
    }
    return db.Exec("PRAGMA user_version = " + std::to_string(latest));
  }();
  if (!st.ok()) {
    db.Exec("ROLLBACK").IgnoreError();
    return st;
  }
  return db.Exec("COMMIT");
}

}  // namespace skiff::store
