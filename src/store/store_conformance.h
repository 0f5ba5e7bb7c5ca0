// The conformance suite every `Store` implementation must pass, written only against the
// `Store` interface (store.h). An implementation's test file instantiates it with a factory that
// returns a fresh, empty store per call:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(StoreFactory{"Sqlite", [] { return ...; }}),
//                            StoreFactoryName);
//
// and compiles store_conformance.cc into its test binary (see CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/store.h"

namespace skiff::store {

struct StoreFactory {
  std::string name;                              // the test-name suffix, e.g. "Sqlite"
  std::function<std::unique_ptr<Store>()> make;  // a fresh, empty store per call
};

inline void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }
inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A fresh store from the factory, owned by the fixture.
  Store& store() { return *store_; }
  std::unique_ptr<Store> NewStore() { return GetParam().make(); }

  std::unique_ptr<Store> store_;
};

// Two stores over one database (two processes): a document `s1` cached must never be listed once
// `s2` replaced it, for selections too. Shared by the SQLite and PostgreSQL store tests.
void ExpectListNeverServesACachedVersionAnotherStoreReplaced(Store& s1, Store& s2);

}  // namespace skiff::store
