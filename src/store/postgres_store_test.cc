// PostgreSQL-specific tests, plus the shared conformance suite instantiated for `PostgresStore`.
//
// The server: the URL in the file SKIFF_TEST_PG_URL_FILE names (set by CTest, whose
// `postgres_server` fixture runs scripts/pg-test-server.sh), or else SKIFF_TEST_PG_URL. Every store
// a test makes lives in a fresh schema, dropped when the binary ends. With neither variable set (a
// run by hand) the tests skip; with the file variable set but no URL in it they fail.
#include "store/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"
#include "store/store_conformance.h"

namespace skiff::store {
namespace {

// The server's URL, "" to skip, or an error message prefixed by "!".
std::string ServerUrl() {
  static const std::string url = []() -> std::string {
    // CTest's fixture first: a stray SKIFF_TEST_PG_URL in the shell must not redirect `make test`.
    if (const char* file = std::getenv("SKIFF_TEST_PG_URL_FILE");
        file != nullptr && *file != '\0') {
      std::ifstream in(file);
      std::string line;
      if (!in || !std::getline(in, line) || line.empty()) {
        return std::string("!no server URL in ") + file +
               " (did the postgres_server_start fixture fail? see scripts/pg-test-server.sh)";
      }
      return line;
    }
    const char* env = std::getenv("SKIFF_TEST_PG_URL");
    return env != nullptr ? env : "";
  }();
  return url;
}

// Runs `sql` on the server through its own connection; "" on success, else the error.
std::string AdminExec(const std::string& sql) {
  PGconn* conn = PQconnectdb(ServerUrl().c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

// Skips (no server configured) or fails (a server was promised) every test up front, and drops
// the schemas the tests made at the end.
class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::string url = ServerUrl();
    if (url.empty()) GTEST_SKIP() << "SKIFF_TEST_PG_URL is not set; skipping PostgreSQL tests";
    ASSERT_NE(url[0], '!') << url.substr(1);
  }
  void TearDown() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (schemas_.empty()) return;
    std::string sql = "SET client_min_messages = warning;";
    for (const std::string& s : schemas_) sql += "DROP SCHEMA IF EXISTS " + s + " CASCADE;";
    std::string error = AdminExec(sql);
    if (!error.empty()) std::fprintf(stderr, "dropping test schemas: %s\n", error.c_str());
  }
  static std::string NewSchema() {
    static std::atomic<int> counter{0};
    std::string name =
        "t_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + "_" + RandomSuffix(6);
    std::lock_guard<std::mutex> lock(mu_);
    schemas_.push_back(name);
    return name;
  }

 private:
  static inline std::mutex mu_;
  static inline std::vector<std::string> schemas_;
};
const auto* const kServerEnv = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

std::string SchemaUrl(const std::string& schema) {
  const std::string base = ServerUrl();
  return base + (base.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema;
}

std::unique_ptr<Store> OpenOrDie(const std::string& url, PostgresStoreOptions options = {}) {
  auto store = OpenPostgresStore(url, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::unique_ptr<Store> NewStore() { return OpenOrDie(SchemaUrl(ServerEnvironment::NewSchema())); }

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(StoreFactory{"Postgres", [] { return NewStore(); }}),
                         StoreFactoryName);

Json Obj(const std::string& kind, const std::string& ns, const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", Json::object()}};
}

TEST(PostgresStoreTest, CreationTimestampComesFromTheInjectedClock) {
  FakeClock clock;
  PostgresStoreOptions options;
  options.clock = &clock;
  auto store = OpenOrDie(SchemaUrl(ServerEnvironment::NewSchema()), options);
  ASSERT_NE(store, nullptr);
  clock.Advance(std::chrono::seconds(3723));
  auto created = store->Create(Obj("Pod", "n", "a"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["creationTimestamp"], "2026-01-01T01:02:03Z");
}

TEST(PostgresStoreTest, ReopenKeepsObjectsRecordsAndIncreasingVersions) {
  const std::string url = SchemaUrl(ServerEnvironment::NewSchema());
  std::string uid;
  {
    auto store = OpenOrDie(url);
    ASSERT_NE(store, nullptr);
    auto a = store->Create(Obj("Pod", "n", "a"));
    ASSERT_TRUE(a.ok());
    uid = (*a)["metadata"]["uid"];
    ASSERT_TRUE(store->Commit({Write::PutRecord("c", uid, "k", {{"v", 1}})}).ok());
    ASSERT_TRUE(store->Create(Obj("Pod", "n", "b")).ok());
    ASSERT_TRUE(store->Delete({"Pod", "n", "b"}).ok());
    EXPECT_EQ(store->CurrentResourceVersion(), 3);
  }
  auto store = OpenOrDie(url);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CurrentResourceVersion(), 3);
  EXPECT_EQ((*store->Get({"Pod", "n", "a"}))["metadata"]["uid"], uid);
  EXPECT_EQ((*store->GetRecord("c", uid, "k"))["v"], 1);
  EXPECT_EQ(store->EventsSince(0, {})->size(), 3u);
  EXPECT_EQ(ParseResourceVersion(*store->Create(Obj("Pod", "n", "c"))), 4);
}

TEST(PostgresStoreTest, TwoStoresOnOneDatabaseShareOneVersionSequence) {
  const std::string url = SchemaUrl(ServerEnvironment::NewSchema());
  auto a = OpenOrDie(url);
  auto b = OpenOrDie(url);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::vector<int64_t> versions;
  for (int i = 0; i < 5; ++i) {
    Store& s = i % 2 == 0 ? *a : *b;
    auto obj = s.Create(Obj("Pod", "n", "p" + std::to_string(i)));
    ASSERT_TRUE(obj.ok()) << obj.status().ToString();
    versions.push_back(ParseResourceVersion(*obj));
  }
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(a->CurrentResourceVersion(), 5);
  EXPECT_EQ(b->List("Pod", "n")->items.size(), 5u);
  EXPECT_EQ(b->EventsSince(0, {})->size(), 5u);
  // b's cached copy of p0 must not hide a's later update.
  ASSERT_TRUE(b->Get({"Pod", "n", "p0"}).ok());
  auto p0 = a->Get({"Pod", "n", "p0"});
  (*p0)["spec"]["x"] = 1;
  ASSERT_TRUE(a->Update(*p0).ok());
  EXPECT_EQ((*b->Get({"Pod", "n", "p0"}))["spec"]["x"], 1);
}

TEST(PostgresStoreTest, ListNeverServesACachedVersionAnotherStoreReplaced) {
  const std::string url = SchemaUrl(ServerEnvironment::NewSchema());
  auto s1 = OpenOrDie(url);
  auto s2 = OpenOrDie(url);
  ASSERT_NE(s1, nullptr);
  ASSERT_NE(s2, nullptr);
  ExpectListNeverServesACachedVersionAnotherStoreReplaced(*s1, *s2);
}

TEST(PostgresStoreTest, StaleUpdateThroughAnotherStoreReturnsConflict) {
  const std::string url = SchemaUrl(ServerEnvironment::NewSchema());
  auto a = OpenOrDie(url);
  auto b = OpenOrDie(url);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Create(Obj("Job", "n", "j")).ok());
  auto seen_by_a = a->Get({"Job", "n", "j"});
  auto seen_by_b = b->Get({"Job", "n", "j"});
  (*seen_by_a)["spec"]["by"] = "a";
  (*seen_by_b)["spec"]["by"] = "b";
  ASSERT_TRUE(a->Update(*seen_by_a).ok());
  auto stale = b->Update(*seen_by_b);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict) << stale.status().ToString();
  EXPECT_EQ((*b->Get({"Job", "n", "j"}))["spec"]["by"], "a");
}

TEST(PostgresStoreTest, ConcurrentWritersInTwoStoresGetDistinctVersionsLoggedInOrder) {
  const std::string url = SchemaUrl(ServerEnvironment::NewSchema());
  constexpr int kStores = 3;
  constexpr int kThreadsPerStore = 2;
  constexpr int kWrites = 25;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kStores; ++i) {
    stores.push_back(OpenOrDie(url));
    ASSERT_NE(stores.back(), nullptr);
  }
  // Everyone read-modify-writes one counter object: exactly one of each racing pair wins.
  ASSERT_TRUE(stores[0]->Create(Obj("ConfigMap", "n", "counter")).ok());
  std::atomic<int> failures{0}, conflicts{0}, increments{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kStores * kThreadsPerStore; ++t) {
    threads.emplace_back([&, t] {
      Store& s = *stores[t % kStores];
      for (int i = 0; i < kWrites; ++i) {
        if (!s.Create(Obj("Pod", "n", "t" + std::to_string(t) + "-" + std::to_string(i))).ok()) {
          ++failures;
        }
        auto c = s.Get({"ConfigMap", "n", "counter"});
        if (!c.ok()) {
          ++failures;
          continue;
        }
        (*c)["spec"]["n"] = (*c)["spec"].value("n", 0) + 1;
        auto st = s.Update(*c);
        if (st.ok()) {
          ++increments;
        } else if (st.status().code() == StatusCode::kConflict) {
          ++conflicts;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto counter = stores[1]->Get({"ConfigMap", "n", "counter"});
  EXPECT_EQ((*counter)["spec"]["n"], increments.load());
  auto events = stores[2]->EventsSince(0, {});
  ASSERT_TRUE(events.ok());
  const int64_t total = 1 + kStores * kThreadsPerStore * kWrites + increments.load();
  ASSERT_EQ(static_cast<int64_t>(events->size()), total);
  for (int64_t i = 0; i < total; ++i) EXPECT_EQ((*events)[i].resource_version, i + 1);
  EXPECT_EQ(stores[0]->CurrentResourceVersion(), total);
}

TEST(PostgresStoreTest, ExternalChangesReportsOnlyOtherConnectionsWrites) {
  const std::string url = SchemaUrl(ServerEnvironment::NewSchema());
  auto a = OpenOrDie(url);
  auto b = OpenOrDie(url);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  b->ExternalChanges();  // the first call knows nothing yet
  EXPECT_FALSE(b->ExternalChanges());
  ASSERT_TRUE(b->Create(Obj("Pod", "n", "own")).ok());
  EXPECT_FALSE(b->ExternalChanges());
  ASSERT_TRUE(a->Create(Obj("Pod", "n", "other")).ok());
  EXPECT_TRUE(b->ExternalChanges());
  EXPECT_FALSE(b->ExternalChanges());
  // Another's write hidden behind our own later one is still reported.
  ASSERT_TRUE(a->Create(Obj("Pod", "n", "other2")).ok());
  ASSERT_TRUE(b->Create(Obj("Pod", "n", "own2")).ok());
  EXPECT_TRUE(b->ExternalChanges());
}

TEST(PostgresStoreTest, LostConnectionFailsOneOperationThenReconnects) {
  const std::string schema = ServerEnvironment::NewSchema();
  const std::string app = "skiff_victim_" + schema;
  auto store = OpenOrDie(SchemaUrl(schema) + "&application_name=" + app);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create(Obj("Pod", "n", "a")).ok());
  ASSERT_EQ(AdminExec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = '" +
                      app + "'"),
            "");
  auto failed = store->Create(Obj("Pod", "n", "b"));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  // Reconnected, with the session setup (search_path) again.
  auto b = store->Create(Obj("Pod", "n", "b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(ParseResourceVersion(*b), 2);
  EXPECT_EQ(store->List("Pod", "n")->items.size(), 2u);
}

TEST(PostgresStoreTest, OpeningANewerSchemaVersionFails) {
  const std::string schema = ServerEnvironment::NewSchema();
  ASSERT_NE(OpenOrDie(SchemaUrl(schema)), nullptr);
  ASSERT_EQ(AdminExec("UPDATE " + schema + ".skiff_schema SET version = 999"), "");
  auto store = OpenPostgresStore(SchemaUrl(schema), {});
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("999"), std::string::npos);
}

TEST(PostgresStoreTest, LibpqSearchPathOptionSelectsTheSchema) {
  const std::string schema = ServerEnvironment::NewSchema();
  ASSERT_EQ(AdminExec("CREATE SCHEMA " + schema), "");
  const std::string base = ServerUrl();
  const std::string url = base + (base.find('?') == std::string::npos ? "?" : "&") +
                          "options=-csearch_path%3D" + schema;
  auto store = OpenOrDie(url);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create(Obj("Pod", "n", "a")).ok());
  // The same tables through our own `schema=` parameter.
  auto again = OpenOrDie(SchemaUrl(schema));
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->Get({"Pod", "n", "a"}).ok());
}

TEST(PostgresStoreTest, MalformedUrlsAreRejected) {
  EXPECT_EQ(OpenPostgresStore(ServerUrl() + "?schema=a;drop", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPostgresStore("postgresql://h?nosuchparameter=1", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPostgresStore("", {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(PostgresStoreTest, UnreachableServerIsUnavailable) {
  auto store = OpenPostgresStore("postgresql://postgres@127.0.0.1:1/skiff?connect_timeout=2", {});
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
}

TEST(PostgresStoreTest, OpenStoreChoosesTheImplementationByScheme) {
  const std::string schema = ServerEnvironment::NewSchema();
  auto pg = OpenStore(SchemaUrl(schema));
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ASSERT_TRUE((*pg)->Create(Obj("Pod", "n", "a")).ok());
  EXPECT_TRUE(OpenPostgresStore(SchemaUrl(schema), {}).value()->Get({"Pod", "n", "a"}).ok());
  char dir[] = "/tmp/skiff-openstore-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/skiff.db";
  auto sqlite = OpenStore(path);
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  EXPECT_TRUE((*sqlite)->List("Pod", "")->items.empty());
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  sqlite->reset();
  EXPECT_TRUE(RemoveAll(dir).ok());
}

}  // namespace
}  // namespace skiff::store
