// Opening, reads, events and transaction plumbing of `SqliteStore`. The writes themselves are in
// sqlite_writes.cc.
#include "store/sqlite_store.h"

#include <utility>

#include "common/fs.h"
#include "store/selectors.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_store_impl.h"

namespace skiff::store {

SqliteStore::SqliteStore(std::unique_ptr<SqliteDb> db, const SqliteStoreOptions& options)
    : TransactionalStore(TransactionalStoreOptions::From(options)), db_(std::move(db)) {}

SqliteStore::~SqliteStore() = default;

// --- transaction plumbing ---

Status SqliteStore::Exec(const char* sql) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql));
  return st.Run();
}

void SqliteStore::RollbackIfOpen() {
  if (db_->InTransaction()) Exec(sql::kRollback).IgnoreError();
}

Result<int64_t> SqliteStore::ReadCounter(const char* name) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kGetCounter));
  st.Bind(1, name);
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal(db_->path() + ": counter " + name + " is missing");
  return st.ColumnInt(0);
}

Result<int64_t> SqliteStore::ReadResourceVersion() {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kGetResourceVersion));
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal(db_->path() + ": counter resource_version is missing");
  return st.ColumnInt(0);
}

Status SqliteStore::WriteCounter(const char* name, int64_t value) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kSetCounter));
  st.Bind(1, name).Bind(2, value);
  return st.Run();
}

Result<std::optional<StoredObject>> SqliteStore::Load(const ObjectKey& key, bool take) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kGetObject));
  st.Bind(1, key.kind).Bind(2, key.ns).Bind(3, key.name);
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<StoredObject>();
  StoredObject stored;
  stored.key = key;
  stored.uid = std::string(st.ColumnText(0));
  stored.rv = st.ColumnInt(1);
  stored.generation = st.ColumnInt(2);
  SKIFF_RETURN_IF_ERROR(ResolveDocument(stored, st.ColumnText(3), take));
  return std::optional<StoredObject>(std::move(stored));
}

Result<int64_t> SqliteStore::BeginWrite() {
  SKIFF_RETURN_IF_ERROR(Exec(sql::kBeginImmediate));
  return ReadResourceVersion();
}

Status SqliteStore::CommitWrite(const WriteTxn& /*txn*/, int64_t /*start_rv*/) {
  // The version is max(events.rv, counter floor): the appended events already moved it.
  return Exec(sql::kCommit);
}

void SqliteStore::RollbackWrite() { RollbackIfOpen(); }

// --- resources ---

Result<ListResult> SqliteStore::List(std::string_view kind, std::string_view ns,
                                     const ListOptions& opts) {
  if (kind.empty()) return InvalidArgument("kind: required");
  SKIFF_ASSIGN_OR_RETURN(ListFilter filter, ListFilter::Parse(opts));

  std::lock_guard<std::mutex> lock(mu_);
  // One read transaction, so the version and the items are the same snapshot.
  SKIFF_RETURN_IF_ERROR(Exec(sql::kBeginRead));
  ListResult result;
  Status st = [&]() -> Status {
    SKIFF_ASSIGN_OR_RETURN(result.resource_version, ReadResourceVersion());
    // status.phase requirements are answered by the indexed `phase` column.
    std::vector<const FieldRequirement*> phase_reqs;
    for (const auto& r : filter.fields().requirements()) {
      if (r.field == "status.phase") phase_reqs.push_back(&r);
    }
    std::string text = ns.empty() ? sql::kListKind : sql::kListKindNs;
    if (!phase_reqs.empty()) {
      std::string where;
      int param = ns.empty() ? 2 : 3;
      for (const FieldRequirement* r : phase_reqs) {
        where +=
            std::string(" AND phase ") + (r->equals ? "= ?" : "!= ?") + std::to_string(param++);
      }
      text.insert(text.find(" ORDER BY"), where);
      // SQLite's planner prefers the primary key for its order and then reads every row of the
      // kind to test the phase (5 MB for 2,800 finished Pods: ~10 ms). `!=` never makes it pick
      // the phase index on its own; the index answers the test without reading rows.
      text.replace(text.find(" WHERE"), 0, " INDEXED BY objects_by_phase");
    }
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt rows, db_->PrepareText(text));
    rows.Bind(1, kind);
    if (!ns.empty()) rows.Bind(2, ns);
    {
      int param = ns.empty() ? 2 : 3;
      for (const FieldRequirement* r : phase_reqs) rows.Bind(param++, r->value);
    }
    // A row whose (uid, rv) the object cache holds is copied from there instead of parsed
    // (about three times cheaper): controllers list what they and the kubelet just wrote, e.g.
    // an Experiment's Trials on every pass. Misses are not cached, so a large listing does not
    // evict the documents the write path reads back.
    ObjectKey key{std::string(kind), "", ""};
    for (bool more = true; more;) {
      SKIFF_ASSIGN_OR_RETURN(bool row, rows.Step());
      if (!row) break;
      key.ns = rows.ColumnText(0);
      key.name = rows.ColumnText(1);
      if (const Json* cached = cache_.Find(key, rows.ColumnText(3), rows.ColumnInt(4))) {
        more = filter.AddCopy(key.ns, key.name, *cached, result.items);
        continue;
      }
      SKIFF_ASSIGN_OR_RETURN(more, filter.Add(key.ns, key.name, rows.ColumnText(2), result.items));
    }
    return OkStatus();
  }();
  if (st.ok()) st = Exec(sql::kCommit);
  if (!st.ok()) {
    RollbackIfOpen();
    return st;
  }
  return result;
}

// --- events ---

Result<std::vector<WatchEvent>> SqliteStore::EventsSince(int64_t after, const WatchOptions& opts,
                                                         int64_t limit) {
  if (after < 0) after = 0;
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_RETURN_IF_ERROR(Exec(sql::kBeginRead));
  std::vector<WatchEvent> events;
  Status st = [&]() -> Status {
    SKIFF_ASSIGN_OR_RETURN(int64_t compacted, ReadCounter(sql::kCompactedThrough));
    if (after < compacted) {
      return FailedPrecondition("too old resource version: " + std::to_string(after) + " (" +
                                std::to_string(compacted) + ")");
    }
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt rows, db_->Prepare(sql::kSelectEvents));
    rows.Bind(1, after).Bind(2, opts.kind).Bind(3, opts.ns).Bind(4, limit > 0 ? limit : -1);
    for (;;) {
      SKIFF_ASSIGN_OR_RETURN(bool row, rows.Step());
      if (!row) break;
      WatchEvent event;
      event.resource_version = rows.ColumnInt(0);
      SKIFF_ASSIGN_OR_RETURN(event.type, ParseEventType(rows.ColumnText(1)));
      SKIFF_ASSIGN_OR_RETURN(event.object, ParseStored(rows.ColumnText(2), "event"));
      events.push_back(std::move(event));
    }
    return OkStatus();
  }();
  if (st.ok()) st = Exec(sql::kCommit);
  if (!st.ok()) {
    RollbackIfOpen();
    return st;
  }
  return events;
}

Status SqliteStore::CompactLocked(int64_t keep, int64_t current_rv) {
  const int64_t cutoff = current_rv - keep;
  SKIFF_ASSIGN_OR_RETURN(int64_t compacted, ReadCounter(sql::kCompactedThrough));
  if (cutoff <= compacted) return OkStatus();
  // The newest events may go (keep == 0): record the version they reached first.
  SKIFF_RETURN_IF_ERROR(WriteCounter(sql::kResourceVersion, current_rv));
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt del, db_->Prepare(sql::kCompactEvents));
  del.Bind(1, cutoff);
  SKIFF_RETURN_IF_ERROR(del.Run());
  return WriteCounter(sql::kCompactedThrough, cutoff);
}

bool SqliteStore::ExternalChanges() {
  std::lock_guard<std::mutex> lock(mu_);
  // `data_version` changes exactly when another connection (another process, or another store
  // object on the same file) committed since this connection last asked.
  Result<SqliteStmt> st = db_->Prepare(sql::kDataVersion);
  if (!st.ok()) return true;
  Result<bool> row = st->Step();
  if (!row.ok() || !*row) return true;
  const int64_t version = st->ColumnInt(0);
  const bool changed = version != last_data_version_;
  last_data_version_ = version;
  return changed;
}

// --- records ---

namespace {

// (key, data) rows of the records table, parsed.
Result<std::map<std::string, Json>> ReadRecordRows(SqliteStmt& st, std::string_view collection) {
  std::map<std::string, Json> out;
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    SKIFF_ASSIGN_OR_RETURN(Json value, ParseStored(st.ColumnText(1), collection));
    out.emplace(std::string(st.ColumnText(0)), std::move(value));
  }
  return out;
}

}  // namespace

Result<Json> SqliteStore::GetRecord(std::string_view collection, std::string_view owner,
                                    std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kGetRecord));
  st.Bind(1, collection).Bind(2, owner).Bind(3, key);
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return NotFound("record " + std::string(collection) + "/" + std::string(owner) + "/" +
                    std::string(key) + " not found");
  }
  return ParseStored(st.ColumnText(0), collection);
}

Result<std::map<std::string, Json>> SqliteStore::GetRecords(std::string_view collection,
                                                            std::string_view owner) {
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kGetRecords));
  st.Bind(1, collection).Bind(2, owner);
  return ReadRecordRows(st, collection);
}

Result<std::map<std::string, Json>> SqliteStore::GetRecordsByKey(std::string_view collection,
                                                                 std::string_view owner,
                                                                 const std::vector<std::string>& keys) {
  if (keys.empty()) return std::map<std::string, Json>{};
  std::string key_list = DumpJson(Json(keys));
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kGetRecordsByKey));
  st.Bind(1, collection).Bind(2, owner).Bind(3, key_list);
  return ReadRecordRows(st, collection);
}

// --- opening ---

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteStoreOptions& options) {
  if (path.empty()) return InvalidArgument("store path: required");
  if (path != ":memory:") {
    std::string dir = DirName(path);
    if (!IsDirectory(dir)) SKIFF_RETURN_IF_ERROR(MakeDirs(dir));
  }
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                         SqliteDb::Open(path, options.busy_timeout_ms));
  SKIFF_RETURN_IF_ERROR(ConfigureAndMigrate(*db));
  return std::unique_ptr<Store>(new SqliteStore(std::move(db), options));
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  return OpenSqliteStore(path, SqliteStoreOptions());
}

int SqliteSchemaVersion() { return LatestSqliteSchemaVersion(); }

Status CheckSqliteStoreIntegrity(const std::string& path) {
  if (!PathExists(path)) return NotFound(path + ": no such file");
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, 30000));
  SKIFF_ASSIGN_OR_RETURN(std::string check, db->QueryText("PRAGMA integrity_check"));
  if (check != "ok") return Internal(path + ": integrity_check: " + check);
  struct Invariant {
    const char* what;
    const char* query;  // must return 0
  };
  static constexpr Invariant kInvariants[] = {
      {"an object is newer than the newest event or the resource-version floor",
       "SELECT count(*) FROM objects WHERE rv > (SELECT max(c.value, COALESCE((SELECT max(rv) "
       "FROM events), 0)) FROM counters c WHERE c.name = 'resource_version')"},
      {"events were compacted beyond the resource-version floor",
       "SELECT count(*) FROM counters a, counters b WHERE a.name = 'compacted_through' AND "
       "b.name = 'resource_version' AND a.value > max(b.value, COALESCE((SELECT max(rv) "
       "FROM events), 0))"},
      {"an object's resourceVersion column disagrees with its document",
       "SELECT count(*) FROM objects "
       "WHERE json_extract(data, '$.metadata.resourceVersion') != CAST(rv AS TEXT)"},
      {"an owner link names a missing dependent",
       "SELECT count(*) FROM owners WHERE child_uid NOT IN (SELECT uid FROM objects)"},
  };
  for (const Invariant& inv : kInvariants) {
    SKIFF_ASSIGN_OR_RETURN(std::string n, db->QueryText(inv.query));
    if (n != "0") return Internal(path + ": " + inv.what + " (" + n + " rows)");
  }
  return OkStatus();
}

}  // namespace skiff::store
