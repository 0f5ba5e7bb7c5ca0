#include "store/postgres_db.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>

namespace skiff::store {
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

void PgResult::Clear::operator()(pg_result* res) const { PQclear(res); }

PgResult::PgResult(pg_result* res) : res_(res) {}

int PgResult::rows() const { return PQntuples(res_.get()); }

bool PgResult::IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string_view PgResult::Text(int row, int col) const {
  return std::string_view(PQgetvalue(res_.get(), row, col),
                          static_cast<size_t>(PQgetlength(res_.get(), row, col)));
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
  where_ = std::string(PQhost(conn_)) + ":" + PQport(conn_) + "/" + PQdb(conn_);
  PQsetNoticeProcessor(conn_, DropNotice, nullptr);
}

PostgresDb::~PostgresDb() { PQfinish(conn_); }

Result<std::unique_ptr<PostgresDb>> PostgresDb::Connect(const std::string& conninfo,
                                                        std::string setup_sql) {
  // PQconnectdb parses `conninfo` itself; report a malformed one without echoing it.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string m = TrimmedError(parse_error);
    PQfreemem(parse_error);
    return InvalidArgument("postgres connection string: " + m);
  }
  PQconninfoFree(parsed);
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Internal("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string m = TrimmedError(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable("postgres: cannot connect: " + m);
  }
  std::unique_ptr<PostgresDb> db(new PostgresDb(conn, std::move(setup_sql)));
  if (!db->setup_sql_.empty()) {
    SKIFF_RETURN_IF_ERROR(db->Exec(db->setup_sql_).status().WithPrefix("session setup"));
  }
  return db;
}

Status PostgresDb::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return OkStatus();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable("postgres " + where_ +
                       ": reconnecting failed: " + TrimmedError(PQerrorMessage(conn_)));
  }
  prepared_.clear();  // prepared statements belong to the old session
  if (setup_sql_.empty()) return OkStatus();
  return Check(PQexec(conn_, setup_sql_.c_str()), "session setup").status();
}

Result<PgResult> PostgresDb::Check(pg_result* raw, std::string_view context) {
  PgResult res(raw);
  ExecStatusType st = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  const char* state = raw != nullptr ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  std::string m =
      "postgres " + where_ + ": " + std::string(context) + ": " +
      TrimmedError(raw != nullptr && *PQresultErrorMessage(raw) != '\0' ? PQresultErrorMessage(raw)
                                                                        : PQerrorMessage(conn_));
  if (!sqlstate.empty()) m += " (SQLSTATE " + sqlstate + ")";
  if (PQstatus(conn_) != CONNECTION_OK || IsTransient(sqlstate)) return Unavailable(std::move(m));
  return Internal(std::move(m));
}

Result<PgResult> PostgresDb::Exec(const std::string& sql) {
  // Of several statements, PQexec returns the last one's result (or the first error).
  return Check(PQexec(conn_, sql.c_str()), sql.substr(0, sql.find_first_of(" ;")));
}

Result<PgResult> PostgresDb::Query(const std::string& sql, const PgParams& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "skiff_" + std::to_string(prepared_.size() + 1);
    SKIFF_RETURN_IF_ERROR(
        Check(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), "prepare").status());
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  const std::vector<const char*>& values = params.values();
  return Check(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()),
                              values.data(), nullptr, nullptr, /*resultFormat=*/0),
               sql.substr(0, sql.find(' ')));
}

bool PostgresDb::InTransaction() const {
  PGTransactionStatusType t = PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

}  // namespace skiff::store
