#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace skiff {
namespace {

TEST(IdsTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.FinalHex(), Sha256Hex("abc"));
}

TEST(IdsTest, Fnv32aMatchesGo) {
  // Go: fnv.New32a() over "hello" = 0x4f9f2cab.
  EXPECT_EQ(Fnv32a("hello"), 0x4f9f2cabu);
  EXPECT_EQ(Fnv32a(""), 2166136261u);
}

TEST(IdsTest, UidsAreV4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = NewUid();
    ASSERT_EQ(u.size(), 36u);
    EXPECT_EQ(u[14], '4');
    EXPECT_TRUE(seen.insert(u).second);
  }
  std::string s = RandomSuffix(5);
  EXPECT_EQ(s.size(), 5u);
  for (char c : s) EXPECT_NE(std::string("bcdfghjklmnpqrstvwxz2456789").find(c), std::string::npos);
}

}  // namespace
}  // namespace skiff
