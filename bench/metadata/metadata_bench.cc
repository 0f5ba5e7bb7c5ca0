// Metadata benchmark: lineage writes and graph queries on one store (SQLite or PostgreSQL),
// and, on SQLite, a raw insert loop of the same rows as the ceiling.
//
//   metadata_bench --sqlite DIR | --postgres URL [--executions 10000] [--graph-executions 25000]
//                  [--batch 500] [--queries 300]
//
// Data: execution i reads one raw artifact of its own and an output of execution i-1000 (when
// there is one) and writes two outputs, so every execution brings three new artifacts; 25,000
// executions make a graph of 100,000 nodes in 1,000 chains. Writes: the first `--executions`
// executions recorded in batches of `--batch` (one transaction each); then the rest of the
// graph. Queries: upstream lineage of 5 hops from an output of a random execution in the second
// half. Prints one JSON object.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/ids.h"
#include "metadata/lineage.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::metadata::ArtifactRecord;
using skiff::metadata::ExecutionWrite;

std::string Digest(const std::string& what) { return "sha256:" + skiff::Sha256Hex(what); }

ArtifactRecord Art(const std::string& name, const std::string& type) {
  ArtifactRecord a;
  a.ns = "bench";
  a.type = type;
  a.name = name;
  a.digest = Digest(name);
  a.uri = "skiff-artifacts://" + a.digest;
  a.size = 1024;
  return a;
}

ExecutionWrite Exec(int i) {
  ExecutionWrite w;
  w.execution.ns = "bench";
  w.execution.type = "argo.Step";
  w.execution.name = "step-" + std::to_string(i);
  w.execution.properties = {{"template", "train"}, {"i", i}};
  w.inputs.push_back({Art("raw-" + std::to_string(i), "Dataset"), "raw"});
  if (i >= 1000) w.inputs.push_back({Art("out-a-" + std::to_string(i - 1000), "Dataset"), "prev"});
  w.outputs.push_back({Art("out-a-" + std::to_string(i), "Dataset"), "a"});
  w.outputs.push_back({Art("out-b-" + std::to_string(i), "Model"), "b"});
  w.contexts.push_back({0, "bench", "skiff.WorkflowRun", "run-" + std::to_string(i / 100), skiff::Json::object(),
                        "skiff.Pipeline", "bench"});
  return w;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The raw ceiling: the same rows (an execution, three artifacts, their events) with plain
// prepared INSERTs in batched transactions, no upserts, no JSON, no contexts.
double RawSqliteInserts(const std::string& path, int n, int batch) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 0;
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
               "CREATE TABLE executions (id INTEGER PRIMARY KEY, name TEXT UNIQUE, properties TEXT);"
               "CREATE TABLE artifacts (id INTEGER PRIMARY KEY, digest TEXT UNIQUE, uri TEXT);"
               "CREATE TABLE events (execution_id INTEGER, artifact_id INTEGER, type INTEGER);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt *ex = nullptr, *ar = nullptr, *ev = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO executions (name, properties) VALUES (?1, ?2)", -1, &ex, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO artifacts (digest, uri) VALUES (?1, ?2)", -1, &ar, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO events (execution_id, artifact_id, type) VALUES (?1, ?2, ?3)", -1, &ev, nullptr);
  // Inputs are generated outside the timed loop, as for the store.
  std::vector<std::vector<std::string>> digests(n);
  for (int i = 0; i < n; ++i) {
    for (const char* k : {"raw-", "out-a-", "out-b-"}) digests[i].push_back(Digest(k + std::to_string(i)));
  }
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (i % batch == 0) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    std::string name = "step-" + std::to_string(i), props = "{\"i\":" + std::to_string(i) + "}";
    sqlite3_bind_text(ex, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ex, 2, props.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(ex);
    sqlite3_reset(ex);
    int64_t eid = sqlite3_last_insert_rowid(db);
    for (int k = 0; k < 3; ++k) {
      sqlite3_bind_text(ar, 1, digests[i][k].c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ar, 2, digests[i][k].c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(ar);
      sqlite3_reset(ar);
      sqlite3_bind_int64(ev, 1, eid);
      sqlite3_bind_int64(ev, 2, sqlite3_last_insert_rowid(db));
      sqlite3_bind_int(ev, 3, k == 0 ? 1 : 2);
      sqlite3_step(ev);
      sqlite3_reset(ev);
    }
    if (i % batch == batch - 1 || i == n - 1) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  double secs = Seconds(Clock::now() - start);
  sqlite3_finalize(ex);
  sqlite3_finalize(ar);
  sqlite3_finalize(ev);
  sqlite3_close(db);
  return n / secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sqlite_dir, pg_url;
  int executions = 10000, graph_executions = 25000, batch = 500, queries = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--sqlite") sqlite_dir = v;
    else if (k == "--postgres") pg_url = v;
    else if (k == "--executions") executions = std::atoi(v.c_str());
    else if (k == "--graph-executions") graph_executions = std::atoi(v.c_str());
    else if (k == "--batch") batch = std::atoi(v.c_str());
    else if (k == "--queries") queries = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (sqlite_dir.empty() == pg_url.empty() || batch <= 0 || executions <= 0 || graph_executions < executions) {
    std::fprintf(stderr, "usage: metadata_bench --sqlite DIR | --postgres URL [--executions N] "
                         "[--graph-executions N] [--batch N] [--queries N]\n");
    return 2;
  }
  auto store = pg_url.empty() ? skiff::metadata::LineageStore::Open(sqlite_dir + "/lineage.db")
                              : skiff::metadata::LineageStore::OpenPostgres(pg_url);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  std::vector<ExecutionWrite> all;
  all.reserve(graph_executions);
  for (int i = 0; i < graph_executions; ++i) all.push_back(Exec(i));
  auto record = [&](int from, int to) -> double {
    auto start = Clock::now();
    for (int i = from; i < to; i += batch) {
      std::vector<ExecutionWrite> b(all.begin() + i, all.begin() + std::min(to, i + batch));
      auto s = (*store)->Record(b);
      if (!s.ok()) {
        std::fprintf(stderr, "record: %s\n", s.ToString().c_str());
        std::exit(1);
      }
    }
    return Seconds(Clock::now() - start);
  };
  double write_s = record(0, executions);
  record(executions, graph_executions);
  // 5-hop upstream queries from outputs of executions whose chains reach that far back.
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(graph_executions / 2, graph_executions - 1);
  std::vector<double> ms;
  size_t nodes_seen = 0;
  for (int q = 0; q < queries; ++q) {
    skiff::metadata::LineageQuery lq;
    lq.ns = "bench";
    lq.digest = Digest("out-b-" + std::to_string(pick(rng)));
    lq.max_hops = 5;
    auto start = Clock::now();
    auto g = (*store)->Lineage(lq);
    ms.push_back(Seconds(Clock::now() - start) * 1000);
    if (!g.ok()) {
      std::fprintf(stderr, "lineage: %s\n", g.status().ToString().c_str());
      return 1;
    }
    nodes_seen += g->artifacts.size() + g->executions.size();
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
  double raw = sqlite_dir.empty() ? 0 : RawSqliteInserts(sqlite_dir + "/raw.db", executions, batch);
  std::printf(
      "{\"store\": \"%s\", \"executions\": %d, \"artifacts_per_execution\": 3, \"batch\": %d, "
      "\"executions_per_s\": %.0f, \"graph_nodes\": %d, \"query_hops\": 5, \"query_nodes_avg\": %.1f, "
      "\"query_p50_ms\": %.3f, \"query_p99_ms\": %.3f, \"raw_sqlite_executions_per_s\": %.0f}\n",
      pg_url.empty() ? "sqlite" : "postgresql", executions, batch, executions / write_s, graph_executions * 4,
      static_cast<double>(nodes_seen) / queries, pct(0.5), pct(0.99), raw);
  return 0;
}
