#include "store/postgres_schema.h"

#include <iterator>

namespace skiff::store {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append only. Each step runs inside the migration transaction. Text columns that are sorted or
// compared use COLLATE "C" (byte order), so listings are ordered as in SQLite whatever the
// database's locale.
constexpr Migration kMigrations[] = {
    {1, "objects, owners, events, records, counters", R"sql(
-- One row per resource. `data` is the whole object as compact JSON text (not jsonb: the document
-- is returned exactly as written, key order included, without a jsonb parse per write);
-- metadata.resourceVersion is included. The other columns duplicate what queries index.
CREATE TABLE objects (
  kind text COLLATE "C" NOT NULL,
  ns text COLLATE "C" NOT NULL,          -- '' for cluster-scoped kinds
  name text COLLATE "C" NOT NULL,
  uid text NOT NULL UNIQUE,
  rv bigint NOT NULL,                    -- metadata.resourceVersion
  generation bigint NOT NULL,
  phase text COLLATE "C" NOT NULL,       -- status.phase, '' when absent
  data text NOT NULL,
  PRIMARY KEY (kind, ns, name)
);
CREATE INDEX objects_by_phase ON objects (kind, phase);

-- metadata.ownerReferences, one row per (owner, dependent), for cascading deletes.
CREATE TABLE owners (
  owner_uid text NOT NULL,
  child_uid text NOT NULL,
  PRIMARY KEY (owner_uid, child_uid)
);
CREATE INDEX owners_by_child ON owners (child_uid);

-- The watch log: one row per resource version. Old rows are compacted away.
CREATE TABLE events (
  rv bigint PRIMARY KEY,
  type text NOT NULL,                    -- ADDED, MODIFIED, DELETED
  kind text COLLATE "C" NOT NULL,
  ns text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  data text NOT NULL                     -- the object after the write (before it, for DELETED)
);

-- Side records: (collection, owner, key) -> JSON text. `owner` is usually an object's uid, and
-- the records go when that object is deleted.
CREATE TABLE records (
  collection text COLLATE "C" NOT NULL,
  owner text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (collection, owner, key)
);
CREATE INDEX records_by_owner ON records (owner);

-- resource_version: the current resource version. Every write transaction locks this row first
-- (UPDATE ... RETURNING), which serializes writers across connections and processes, and sets it
-- to its last version before committing.
-- compacted_through: events with rv <= this were dropped.
CREATE TABLE counters (
  name text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('resource_version', 0), ('compacted_through', 0);
)sql"},
};

// Any constant works as long as every skiff uses the same one: it only orders migrations.
constexpr char kMigrationLock[] = "SELECT pg_advisory_xact_lock(7305217366161990001)";

}  // namespace

int LatestPostgresSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Status MigratePostgres(PostgresDb& db, const std::string& schema) {
  const int latest = LatestPostgresSchemaVersion();
  SKIFF_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL READ COMMITTED").status());
  Status st = [&]() -> Status {
    SKIFF_RETURN_IF_ERROR(db.Exec(kMigrationLock).status());
    if (!schema.empty()) {
      // `schema` was checked to be a plain identifier (see postgres_store.cc).
      SKIFF_RETURN_IF_ERROR(db.Exec("CREATE SCHEMA IF NOT EXISTS \"" + schema + "\"").status());
    }
    SKIFF_RETURN_IF_ERROR(
        db.Exec("CREATE TABLE IF NOT EXISTS skiff_schema (version integer NOT NULL)").status());
    SKIFF_ASSIGN_OR_RETURN(PgResult rows, db.Exec("SELECT version FROM skiff_schema"));
    const int current = rows.rows() > 0 ? static_cast<int>(rows.Int(0, 0)) : 0;
    if (rows.rows() == 0) {
      SKIFF_RETURN_IF_ERROR(db.Exec("INSERT INTO skiff_schema (version) VALUES (0)").status());
    }
    if (current > latest) {
      return FailedPrecondition("postgres " + db.where() + ": schema version " +
                                std::to_string(current) + " is newer than this skiff supports (" +
                                std::to_string(latest) + "); use a newer skiff or another schema");
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= current) continue;
      Status step = db.Exec(m.sql).status();
      if (!step.ok()) {
        return step.WithPrefix("schema migration " + std::to_string(m.version) + " (" +
                               m.description + ")");
      }
    }
    if (current != latest) {
      SKIFF_RETURN_IF_ERROR(
          db.Exec("UPDATE skiff_schema SET version = " + std::to_string(latest)).status());
    }
    return db.Exec("COMMIT").status();
  }();
  if (!st.ok() && db.InTransaction()) db.Exec("ROLLBACK").status().IgnoreError();
  return st;
}

}  // namespace skiff::store
