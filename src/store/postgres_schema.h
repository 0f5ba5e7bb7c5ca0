// The PostgreSQL schema as an ordered list of migrations, and the code that brings a schema up to
// date when a `PostgresStore` connects. The version lives in the one-row table `skiff_schema`
// (absent in a new, empty schema). To change the schema, append a step to `kMigrations` in
// postgres_schema.cc; never edit a step that has shipped. See README.md.
#pragma once

#include <string>

#include "common/status.h"
#include "store/postgres_db.h"

namespace skiff::store {

// The version this binary writes: the number of the last migration.
int LatestPostgresSchemaVersion();

// Creates `schema` if it is not empty and missing, then applies, in one transaction, every
// migration newer than its `skiff_schema` version (tables go to the first schema of the
// connection's `search_path`). Several processes may race to migrate the same new schema: a
// transaction-scoped advisory lock serializes them and the loser finds nothing to do. Fails with
// `FailedPrecondition` if the schema was written by a newer version.
Status MigratePostgres(PostgresDb& db, const std::string& schema);

}  // namespace skiff::store
