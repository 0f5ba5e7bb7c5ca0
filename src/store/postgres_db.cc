#include "store/postgres_db.h"

#include <libpq-fe.h>

#include "common/dynlib.h"

#include <charconv>
#include <cstring>

namespace skiff::store {
namespace {

// libpq's entry points, bound when the first PostgreSQL store is opened (see common/dynlib.h).
struct LibPq {
  decltype(&::PQclear) PQclear = nullptr;
  decltype(&::PQconnectdb) PQconnectdb = nullptr;
  decltype(&::PQconninfoFree) PQconninfoFree = nullptr;
  decltype(&::PQconninfoParse) PQconninfoParse = nullptr;
  decltype(&::PQdb) PQdb = nullptr;
  decltype(&::PQerrorMessage) PQerrorMessage = nullptr;
  decltype(&::PQexec) PQexec = nullptr;
  decltype(&::PQexecPrepared) PQexecPrepared = nullptr;
  decltype(&::PQfinish) PQfinish = nullptr;
  decltype(&::PQfreemem) PQfreemem = nullptr;
  decltype(&::PQgetisnull) PQgetisnull = nullptr;
  decltype(&::PQgetlength) PQgetlength = nullptr;
  decltype(&::PQgetvalue) PQgetvalue = nullptr;
  decltype(&::PQhost) PQhost = nullptr;
  decltype(&::PQntuples) PQntuples = nullptr;
  decltype(&::PQport) PQport = nullptr;
  decltype(&::PQprepare) PQprepare = nullptr;
  decltype(&::PQreset) PQreset = nullptr;
  decltype(&::PQresultErrorField) PQresultErrorField = nullptr;
  decltype(&::PQresultErrorMessage) PQresultErrorMessage = nullptr;
  decltype(&::PQresultStatus) PQresultStatus = nullptr;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor = nullptr;
  decltype(&::PQstatus) PQstatus = nullptr;
  decltype(&::PQtransactionStatus) PQtransactionStatus = nullptr;
};

LibPq& PqApi() {
  static LibPq api;
  return api;
}

const LibPq& Pq() { return PqApi(); }

// Loads libpq once; every later call returns the first outcome.
Status LoadLibPq() {
  static const Status loaded = [] {
    auto lib_or = OpenSharedLibrary({"libpq.so.5", "libpq.so"}, "the PostgreSQL client library (libpq5)");
    if (!lib_or.ok()) return lib_or.status();
    void* lib = *lib_or;
    LibPq& api = PqApi();
    Status s = OkStatus();
    if (s.ok()) s = Bind(lib, "PQclear", api.PQclear);
    if (s.ok()) s = Bind(lib, "PQconnectdb", api.PQconnectdb);
    if (s.ok()) s = Bind(lib, "PQconninfoFree", api.PQconninfoFree);
    if (s.ok()) s = Bind(lib, "PQconninfoParse", api.PQconninfoParse);
    if (s.ok()) s = Bind(lib, "PQdb", api.PQdb);
    if (s.ok()) s = Bind(lib, "PQerrorMessage", api.PQerrorMessage);
    if (s.ok()) s = Bind(lib, "PQexec", api.PQexec);
    if (s.ok()) s = Bind(lib, "PQexecPrepared", api.PQexecPrepared);
    if (s.ok()) s = Bind(lib, "PQfinish", api.PQfinish);
    if (s.ok()) s = Bind(lib, "PQfreemem", api.PQfreemem);
    if (s.ok()) s = Bind(lib, "PQgetisnull", api.PQgetisnull);
    if (s.ok()) s = Bind(lib, "PQgetlength", api.PQgetlength);
    if (s.ok()) s = Bind(lib, "PQgetvalue", api.PQgetvalue);
    if (s.ok()) s = Bind(lib, "PQhost", api.PQhost);
    if (s.ok()) s = Bind(lib, "PQntuples", api.PQntuples);
    if (s.ok()) s = Bind(lib, "PQport", api.PQport);
    if (s.ok()) s = Bind(lib, "PQprepare", api.PQprepare);
    if (s.ok()) s = Bind(lib, "PQreset", api.PQreset);
    if (s.ok()) s = Bind(lib, "PQresultErrorField", api.PQresultErrorField);
    if (s.ok()) s = Bind(lib, "PQresultErrorMessage", api.PQresultErrorMessage);
    if (s.ok()) s = Bind(lib, "PQresultStatus", api.PQresultStatus);
    if (s.ok()) s = Bind(lib, "PQsetNoticeProcessor", api.PQsetNoticeProcessor);
    if (s.ok()) s = Bind(lib, "PQstatus", api.PQstatus);
    if (s.ok()) s = Bind(lib, "PQtransactionStatus", api.PQtransactionStatus);
    return s;
  }();
  return loaded;
}

}  // namespace
namespace {

// SQLSTATE classes that a retry (or the server coming back) may cure.
bool IsTransient(std::string_view sqlstate) {
  return sqlstate.starts_with("08") ||  // connection exception
         sqlstate == "40001" ||         // serialization_failure
         sqlstate == "40P01" ||         // deadlock_detected
         sqlstate.starts_with("53") ||  // insufficient resources
         sqlstate.starts_with("57");    // operator intervention (shutdown, cancel)
}

std::string TrimmedError(const char* message) {
  std::string m = message != nullptr ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Notices ("schema already exists, skipping") are not errors; libpq would print them to stderr.
void DropNotice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

// --- PgResult ---

void PgResult::Clear::operator()(pg_result* res) const { Pq().PQclear(res); }

PgResult::PgResult(pg_result* res) : res_(res) {}

int PgResult::rows() const { return Pq().PQntuples(res_.get()); }

bool PgResult::IsNull(int row, int col) const { return Pq().PQgetisnull(res_.get(), row, col) != 0; }

std::string_view PgResult::Text(int row, int col) const {
  return std::string_view(Pq().PQgetvalue(res_.get(), row, col),
                          static_cast<size_t>(Pq().PQgetlength(res_.get(), row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  std::string_view text = Text(row, col);
  int64_t out = 0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return out;
}

// --- PostgresDb ---

PostgresDb::PostgresDb(pg_conn* conn, std::string setup_sql)
    : conn_(conn), setup_sql_(std::move(setup_sql)) {
  where_ = std::string(Pq().PQhost(conn_)) + ":" + Pq().PQport(conn_) + "/" + Pq().PQdb(conn_);
  Pq().PQsetNoticeProcessor(conn_, DropNotice, nullptr);
}

PostgresDb::~PostgresDb() { Pq().PQfinish(conn_); }

Result<std::unique_ptr<PostgresDb>> PostgresDb::Connect(const std::string& conninfo,
                                                        std::string setup_sql) {
  SKIFF_RETURN_IF_ERROR(LoadLibPq());
  // PQconnectdb parses `conninfo` itself; report a malformed one without echoing it.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = Pq().PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string m = TrimmedError(parse_error);
    Pq().PQfreemem(parse_error);
    return InvalidArgument("postgres connection string: " + m);
  }
  Pq().PQconninfoFree(parsed);
  pg_conn* conn = Pq().PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Internal("postgres: out of memory");
  if (Pq().PQstatus(conn) != CONNECTION_OK) {
    std::string m = TrimmedError(Pq().PQerrorMessage(conn));
    Pq().PQfinish(conn);
    return Unavailable("postgres: cannot connect: " + m);
  }
  std::unique_ptr<PostgresDb> db(new PostgresDb(conn, std::move(setup_sql)));
  if (!db->setup_sql_.empty()) {
    SKIFF_RETURN_IF_ERROR(db->Exec(db->setup_sql_).status().WithPrefix("session setup"));
  }
  return db;
}

Status PostgresDb::EnsureConnected() {
  if (Pq().PQstatus(conn_) == CONNECTION_OK) return OkStatus();
  Pq().PQreset(conn_);
  if (Pq().PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable("postgres " + where_ +
                       ": reconnecting failed: " + TrimmedError(Pq().PQerrorMessage(conn_)));
  }
  prepared_.clear();  // prepared statements belong to the old session
  if (setup_sql_.empty()) return OkStatus();
  return Check(Pq().PQexec(conn_, setup_sql_.c_str()), "session setup").status();
}

Result<PgResult> PostgresDb::Check(pg_result* raw, std::string_view context) {
  PgResult res(raw);
  ExecStatusType st = raw != nullptr ? Pq().PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  const char* state = raw != nullptr ? Pq().PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  std::string m =
      "postgres " + where_ + ": " + std::string(context) + ": " +
      TrimmedError(raw != nullptr && *Pq().PQresultErrorMessage(raw) != '\0' ? Pq().PQresultErrorMessage(raw)
                                                                        : Pq().PQerrorMessage(conn_));
  if (!sqlstate.empty()) m += " (SQLSTATE " + sqlstate + ")";
  if (Pq().PQstatus(conn_) != CONNECTION_OK || IsTransient(sqlstate)) return Unavailable(std::move(m));
  return Internal(std::move(m));
}

Result<PgResult> PostgresDb::Exec(const std::string& sql) {
  // Of several statements, PQexec returns the last one's result (or the first error).
  return Check(Pq().PQexec(conn_, sql.c_str()), sql.substr(0, sql.find_first_of(" ;")));
}

Result<PgResult> PostgresDb::Query(const std::string& sql, const PgParams& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "skiff_" + std::to_string(prepared_.size() + 1);
    SKIFF_RETURN_IF_ERROR(
        Check(Pq().PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), "prepare").status());
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  const std::vector<const char*>& values = params.values();
  return Check(Pq().PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()),
                              values.data(), nullptr, nullptr, /*resultFormat=*/0),
               sql.substr(0, sql.find(' ')));
}

bool PostgresDb::InTransaction() const {
  PGTransactionStatusType t = Pq().PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

}  // namespace skiff::store
