#include "common/dynlib.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(DynlibTest, LoadsTheFirstCandidateThatExistsAndBindsSymbols) {
  auto lib = OpenSharedLibrary({"libdoes-not-exist.so.9", "libz.so.1"}, "zlib");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  const char* (*version)() = nullptr;
  ASSERT_TRUE(Bind(*lib, "zlibVersion", version).ok());
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(version()[0], '1');  // zlib 1.x
  Status missing = Bind(*lib, "no_such_symbol_here", version);
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("no_such_symbol_here"), std::string::npos);
}

TEST(DynlibTest, MissingLibrarySaysWhatAndWhereItLooked) {
  auto lib = OpenSharedLibrary({"libnope.so.1", "libnope.so"}, "the nope library (libnope1)");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kNotFound);
  EXPECT_NE(lib.status().message().find("the nope library (libnope1)"), std::string::npos);
  EXPECT_NE(lib.status().message().find("libnope.so.1, libnope.so"), std::string::npos);
}

}  // namespace
}  // namespace skiff
