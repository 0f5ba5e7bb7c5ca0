// A thin RAII layer over libpq (the PostgreSQL C client) for `PostgresStore`: one connection,
// statements prepared once per connection and cached by their text, text-format parameters and
// results, and libpq failures turned into `Status`: a lost connection, a serialization failure,
// a deadlock or an exhausted server is `Unavailable`, everything else `Internal`.
//
// A broken connection is re-established (`PQreset`, then the session setup such as `search_path`
// again) only by `EnsureConnected`, which the owner calls at the start of each operation: never
// silently in the middle of a transaction, whose remaining statements would then run outside it.
// So one lost connection fails only the operation in flight.
//
// Not thread-safe: the owner serializes every use (PostgresStore holds its mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace skiff::store {

// Parameters of one statement ($1, $2, ... in order of `Add`). Strings are NOT copied: they must
// outlive the statement. Integers are rendered and kept here.
class PgParams {
 public:
  PgParams& Add(const std::string& text) {
    values_.push_back(text.c_str());
    return *this;
  }
  PgParams& Add(int64_t value) {
    owned_.push_back(std::to_string(value));
    values_.push_back(owned_.back().c_str());
    return *this;
  }
  // A temporary would dangle before the statement runs.
  PgParams& Add(std::string&& text) = delete;
  PgParams& Add(const char* text) = delete;
  PgParams& AddNull() {
    values_.push_back(nullptr);
    return *this;
  }
  const std::vector<const char*>& values() const { return values_; }

 private:
  std::vector<const char*> values_;
  std::deque<std::string> owned_;  // a deque: its strings never move
};

// The rows a statement returned. Columns and rows are 0-based; views live as long as this object.
class PgResult {
 public:
  explicit PgResult(pg_result* res);
  int rows() const;
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;
  int64_t Int(int row, int col) const;  // 0 for NULL or a non-number

 private:
  struct Clear {
    void operator()(pg_result* res) const;
  };
  std::unique_ptr<pg_result, Clear> res_;
};

class PostgresDb {
 public:
  // Connects with a libpq connection string or URL. `setup_sql` runs on every new connection
  // (e.g. "SET search_path TO ..."). Errors never echo `conninfo`, which may hold a password.
  static Result<std::unique_ptr<PostgresDb>> Connect(const std::string& conninfo,
                                                     std::string setup_sql);
  ~PostgresDb();
  PostgresDb(const PostgresDb&) = delete;
  PostgresDb& operator=(const PostgresDb&) = delete;

  // Runs `sql` through the simple query protocol: one or more statements, no parameters, not
  // prepared. Returns the last statement's rows.
  Result<PgResult> Exec(const std::string& sql);
  // Runs one statement with parameters, prepared on first use on this connection.
  Result<PgResult> Query(const std::string& sql, const PgParams& params = {});

  // Reconnects if the connection broke. Call only between operations, never inside a transaction.
  Status EnsureConnected();

  // True between BEGIN and COMMIT/ROLLBACK, including a transaction that failed.
  bool InTransaction() const;
  // "host:port/dbname", for messages.
  const std::string& where() const { return where_; }

 private:
  PostgresDb(pg_conn* conn, std::string setup_sql);
  // `res` as a `Result`: an error result, or none at all, becomes a `Status`.
  Result<PgResult> Check(pg_result* res, std::string_view context);

  pg_conn* conn_;
  std::string setup_sql_;
  std::string where_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

}  // namespace skiff::store
