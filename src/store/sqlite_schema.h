// The SQLite schema as an ordered list of migrations, and the code that brings a database file
// up to date when a `SqliteStore` opens it. The version lives in `PRAGMA user_version` (0 for a
// new, empty file). To change the schema, append a step to `kMigrations` in sqlite_schema.cc;
// never edit a step that has shipped. See README.md.
#pragma once

#include "common/status.h"
#include "store/sqlite_db.h"

namespace skiff::store {

// The version this binary writes: the number of the last migration.
int LatestSqliteSchemaVersion();

// Sets WAL mode and `synchronous=NORMAL` (per connection), then applies, in one `BEGIN IMMEDIATE`
// transaction, every migration newer than the file's `user_version`. Several processes may race
// to migrate the same new file: the write lock serializes them and the loser finds nothing to do.
// Fails with `FailedPrecondition` if the file was written by a newer schema version.
Status ConfigureAndMigrate(SqliteDb& db);

}  // namespace skiff::store
