// Opening, reads, events and transaction plumbing of `PostgresStore`. The row-level writes are in
// postgres_writes.cc; what each `Write` means is in write_path.cc.
#include "store/postgres_store.h"

#include <algorithm>
#include <utility>

#include "store/postgres_schema.h"
#include "store/postgres_store_impl.h"
#include "store/selectors.h"

namespace skiff::store {
namespace {

constexpr char kResourceVersion[] = "resource_version";
constexpr char kCompactedThrough[] = "compacted_through";

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<PostgresDb> db, const PostgresStoreOptions& options)
    : TransactionalStore(TransactionalStoreOptions::From(options)), db_(std::move(db)) {}

PostgresStore::~PostgresStore() = default;

// --- transaction plumbing ---

void PostgresStore::RollbackWrite() {
  if (db_->InTransaction()) db_->Exec(pgsql::kRollback).status().IgnoreError();
}

Result<int64_t> PostgresStore::BeginWrite() {
  SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
  SKIFF_ASSIGN_OR_RETURN(PgResult row, db_->Exec(pgsql::kBeginWrite));
  if (row.rows() != 1) return Internal("postgres " + db_->where() + ": counter row is missing");
  const int64_t rv = row.Int(0, 0);
  // Someone else wrote since this store last looked (see ExternalChanges).
  if (rv != last_seen_rv_) saw_external_ = true;
  return rv;
}

Result<int64_t> PostgresStore::ReadCounter(const std::string& name) {
  SKIFF_ASSIGN_OR_RETURN(PgResult row, db_->Query(pgsql::kGetCounter, PgParams().Add(name)));
  if (row.rows() != 1) {
    return Internal("postgres " + db_->where() + ": counter " + name + " is missing");
  }
  return row.Int(0, 0);
}

Result<std::optional<StoredObject>> PostgresStore::Load(const ObjectKey& key, bool take) {
  SKIFF_ASSIGN_OR_RETURN(
      PgResult row,
      db_->Query(pgsql::kGetObject, PgParams().Add(key.kind).Add(key.ns).Add(key.name)));
  if (row.rows() == 0) return std::optional<StoredObject>();
  StoredObject stored;
  stored.key = key;
  stored.uid = std::string(row.Text(0, 0));
  stored.rv = row.Int(0, 1);
  stored.generation = row.Int(0, 2);
  SKIFF_RETURN_IF_ERROR(ResolveDocument(stored, row.Text(0, 3), take));
  return std::optional<StoredObject>(std::move(stored));
}

Status PostgresStore::CommitWrite(const WriteTxn& txn, int64_t start_rv) {
  if (txn.rv != start_rv) {
    // One round trip; an integer needs no parameter. If the UPDATE fails, the COMMIT is not run
    // and the caller rolls back.
    SKIFF_RETURN_IF_ERROR(db_->Exec("UPDATE counters SET value = " + std::to_string(txn.rv) +
                                    " WHERE name = 'resource_version'; COMMIT")
                              .status());
  } else {
    SKIFF_RETURN_IF_ERROR(db_->Exec("COMMIT").status());
  }
  last_seen_rv_ = txn.rv;
  return OkStatus();
}

// --- resources ---
// Reads are single statements (one snapshot each), outside explicit transactions.

Result<ListResult> PostgresStore::List(std::string_view kind, std::string_view ns,
                                       const ListOptions& opts) {
  if (kind.empty()) return InvalidArgument("kind: required");
  SKIFF_ASSIGN_OR_RETURN(ListFilter filter, ListFilter::Parse(opts));

  // Namespace and status.phase are answered by indexed columns; the rest after parsing.
  const std::string kind_text(kind);
  const std::string ns_text(ns);
  std::string text = pgsql::kListPrefix;
  PgParams params;
  params.Add(kind_text);
  int param = 2;
  if (!ns.empty()) {
    text += " AND o.ns = $" + std::to_string(param++);
    params.Add(ns_text);
  }
  for (const FieldRequirement& r : filter.fields().requirements()) {
    if (r.field != "status.phase") continue;
    text += std::string(" AND o.phase ") + (r.equals ? "= $" : "<> $") + std::to_string(param++);
    params.Add(r.value);
  }
  text += pgsql::kListSuffix;

  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
  SKIFF_ASSIGN_OR_RETURN(PgResult rows, db_->Query(text, params));
  if (rows.rows() == 0) return Internal("postgres " + db_->where() + ": counter row is missing");
  ListResult result;
  result.resource_version = rows.Int(0, 0);
  // A NULL object is the counter row alone: no objects. Documents the object cache holds at
  // the row's (uid, rv) are copied instead of parsed, as in the SQLite store.
  bool more = true;
  ObjectKey key{kind_text, "", ""};
  for (int i = 0; more && i < rows.rows() && !rows.IsNull(i, 1); ++i) {
    key.ns = rows.Text(i, 1);
    key.name = rows.Text(i, 2);
    if (const Json* cached = cache_.Find(key, rows.Text(i, 4), rows.Int(i, 5))) {
      more = filter.AddCopy(key.ns, key.name, *cached, result.items);
      continue;
    }
    SKIFF_ASSIGN_OR_RETURN(more, filter.Add(key.ns, key.name, rows.Text(i, 3), result.items));
  }
  return result;
}

// --- events ---

Status PostgresStore::PrepareRead() { return db_->EnsureConnected(); }

Result<int64_t> PostgresStore::ReadResourceVersion() { return ReadCounter(kResourceVersion); }

Result<std::vector<WatchEvent>> PostgresStore::EventsSince(int64_t after, const WatchOptions& opts,
                                                           int64_t limit) {
  after = std::max<int64_t>(after, 0);
  PgParams params;
  params.Add(after).Add(opts.kind).Add(opts.ns);
  if (limit > 0) {
    params.Add(limit);
  } else {
    params.AddNull();  // LIMIT NULL: no limit
  }
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
  SKIFF_ASSIGN_OR_RETURN(PgResult rows, db_->Query(pgsql::kSelectEvents, params));
  if (rows.rows() == 0) return Internal("postgres " + db_->where() + ": counter row is missing");
  const int64_t compacted = rows.Int(0, 0);
  if (after < compacted) {
    return FailedPrecondition("too old resource version: " + std::to_string(after) + " (" +
                              std::to_string(compacted) + ")");
  }
  std::vector<WatchEvent> events;
  for (int i = 0; i < rows.rows(); ++i) {
    if (rows.IsNull(i, 1)) continue;  // no events: the counter row alone
    WatchEvent event;
    event.resource_version = rows.Int(i, 1);
    SKIFF_ASSIGN_OR_RETURN(event.type, ParseEventType(rows.Text(i, 2)));
    SKIFF_ASSIGN_OR_RETURN(event.object, ParseStored(rows.Text(i, 3), "event"));
    events.push_back(std::move(event));
  }
  return events;
}

Status PostgresStore::CompactLocked(int64_t keep, int64_t current_rv) {
  const int64_t cutoff = current_rv - keep;
  SKIFF_ASSIGN_OR_RETURN(int64_t compacted, ReadCounter(kCompactedThrough));
  if (cutoff <= compacted) return OkStatus();
  SKIFF_RETURN_IF_ERROR(db_->Query(pgsql::kCompactEvents, PgParams().Add(cutoff)).status());
  const std::string name = kCompactedThrough;
  return db_->Query(pgsql::kSetCounter, PgParams().Add(name).Add(cutoff)).status();
}

bool PostgresStore::ExternalChanges() {
  std::lock_guard<std::mutex> lock(mu_);
  // The counter moves with every write that makes events. Our own writes advance
  // `last_seen_rv_`; one that found the counter already past it (another connection wrote in
  // between) set `saw_external_`. Record-only writes of others are not reported: they make no
  // events, which is what callers (`Informer`) look for.
  Result<int64_t> rv = [&]() -> Result<int64_t> {
    SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
    return ReadCounter(kResourceVersion);
  }();
  if (!rv.ok()) return true;
  const bool changed = saw_external_ || *rv != last_seen_rv_;
  saw_external_ = false;
  last_seen_rv_ = *rv;
  return changed;
}

// --- records ---

Result<Json> PostgresStore::GetRecord(std::string_view collection, std::string_view owner,
                                      std::string_view key) {
  const std::string c(collection), o(owner), k(key);
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
  SKIFF_ASSIGN_OR_RETURN(PgResult row,
                         db_->Query(pgsql::kGetRecord, PgParams().Add(c).Add(o).Add(k)));
  if (row.rows() == 0) return NotFound("record " + c + "/" + o + "/" + k + " not found");
  return ParseStored(row.Text(0, 0), collection);
}

Result<std::map<std::string, Json>> PostgresStore::GetRecords(std::string_view collection,
                                                              std::string_view owner) {
  const std::string c(collection), o(owner);
  std::lock_guard<std::mutex> lock(mu_);
  SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
  SKIFF_ASSIGN_OR_RETURN(PgResult rows, db_->Query(pgsql::kGetRecords, PgParams().Add(c).Add(o)));
  std::map<std::string, Json> out;
  for (int i = 0; i < rows.rows(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(Json value, ParseStored(rows.Text(i, 1), collection));
    out.emplace(std::string(rows.Text(i, 0)), std::move(value));
  }
  return out;
}

// --- opening ---

namespace {

bool IsPlainIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Splits our own `schema=NAME` query parameter off `url` (libpq rejects parameters it does not
// know). Returns the URL libpq gets.
Result<std::string> TakeSchemaParameter(const std::string& url, std::string* schema) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return url;
  std::string kept;
  std::string_view rest = std::string_view(url).substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (param.starts_with("schema=")) {
      *schema = std::string(param.substr(7));
      if (!IsPlainIdentifier(*schema)) {
        return InvalidArgument("postgres URL: schema \"" + *schema +
                               "\": must be letters, digits and _ (not starting with a digit)");
      }
      continue;
    }
    if (param.empty()) continue;
    kept += kept.empty() ? "?" : "&";
    kept += param;
  }
  return url.substr(0, q) + kept;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const PostgresStoreOptions& options) {
  if (url.empty()) return InvalidArgument("postgres URL: required");
  std::string schema;
  SKIFF_ASSIGN_OR_RETURN(std::string conninfo, TakeSchemaParameter(url, &schema));
  std::string setup;
  if (!schema.empty()) setup = "SET search_path TO \"" + schema + "\"";
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<PostgresDb> db,
                         PostgresDb::Connect(conninfo, std::move(setup)));
  SKIFF_RETURN_IF_ERROR(MigratePostgres(*db, schema));
  return std::unique_ptr<Store>(new PostgresStore(std::move(db), options));
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url) {
  return OpenPostgresStore(url, PostgresStoreOptions());
}

int PostgresSchemaVersion() { return LatestPostgresSchemaVersion(); }

}  // namespace skiff::store
