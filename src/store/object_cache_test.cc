#include "store/object_cache.h"

#include <gtest/gtest.h>

namespace skiff::store {
namespace {

const ObjectKey kA{"Pod", "n", "a"};
const ObjectKey kB{"Pod", "n", "b"};
const ObjectKey kC{"Pod", "n", "c"};

TEST(ObjectCacheTest, FindsOnlyTheSameUidAndVersion) {
  ObjectCache cache(4);
  cache.Put(kA, "uid-1", 5, Json{{"v", 5}});
  ASSERT_NE(cache.Find(kA, "uid-1", 5), nullptr);
  EXPECT_EQ((*cache.Find(kA, "uid-1", 5))["v"], 5);
  EXPECT_EQ(cache.Find(kA, "uid-1", 6), nullptr);  // a newer version was written elsewhere
  EXPECT_EQ(cache.size(), 0u);                     // and the stale entry is dropped
  cache.Put(kA, "uid-1", 5, Json{{"v", 5}});
  EXPECT_EQ(cache.Find(kA, "uid-2", 5), nullptr);  // deleted and recreated
  EXPECT_EQ(cache.Find(kB, "uid-1", 5), nullptr);
}

TEST(ObjectCacheTest, TakeMovesTheDocumentOut) {
  ObjectCache cache(4);
  cache.Put(kA, "u", 1, Json{{"v", 1}});
  auto doc = cache.Take(kA, "u", 1);
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ((*doc)["v"], 1);
  EXPECT_FALSE(cache.Take(kA, "u", 1).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ObjectCacheTest, EvictsTheLeastRecentlyUsed) {
  ObjectCache cache(2);
  cache.Put(kA, "a", 1, 1);
  cache.Put(kB, "b", 1, 2);
  ASSERT_NE(cache.Find(kA, "a", 1), nullptr);  // A is now the most recent
  cache.Put(kC, "c", 1, 3);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Find(kA, "a", 1), nullptr);
  EXPECT_EQ(cache.Find(kB, "b", 1), nullptr);
  EXPECT_NE(cache.Find(kC, "c", 1), nullptr);
  cache.Put(kC, "c", 2, 4);  // replaces in place
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(*cache.Find(kC, "c", 2), 4);
  cache.Erase(kC);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ObjectCacheTest, ZeroCapacityCachesNothing) {
  ObjectCache cache(0);
  cache.Put(kA, "a", 1, 1);
  EXPECT_EQ(cache.Find(kA, "a", 1), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace skiff::store
