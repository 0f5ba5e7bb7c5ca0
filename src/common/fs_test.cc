#include "common/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace skiff {
namespace {

TEST(FsTest, AtomicWriteAndRead) {
  char tmpl[] = "/tmp/skiff-fs-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string p = JoinPath(dir, "a/b/c.txt");
  ASSERT_TRUE(MakeDirs(DirName(p)).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "hello").ok());
  EXPECT_EQ(*ReadFile(p), "hello");
  EXPECT_EQ(ReadFile(JoinPath(dir, "missing")).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(RemoveAll(dir).ok());
  EXPECT_FALSE(PathExists(dir));
}

TEST(FsTest, SafeRelativePathRejectsEscapes) {
  EXPECT_EQ(*SafeRelativePath("a/./b//c"), "a/b/c");
  EXPECT_FALSE(SafeRelativePath("../etc/passwd").ok());
  EXPECT_FALSE(SafeRelativePath("a/../../b").ok());
  EXPECT_FALSE(SafeRelativePath("/etc/passwd").ok());
  EXPECT_FALSE(SafeRelativePath("").ok());
}

TEST(FsTest, PathIsBelowMatchesWholeSegments) {
  EXPECT_TRUE(PathIsBelow("/tmp/a", "/tmp"));
  EXPECT_TRUE(PathIsBelow("/tmp/a/b", "/tmp"));
  EXPECT_TRUE(PathIsBelow("/tmp", "/"));
  EXPECT_FALSE(PathIsBelow("/tmp", "/tmp"));
  EXPECT_FALSE(PathIsBelow("/tmpx/a", "/tmp"));
  EXPECT_FALSE(PathIsBelow("/tm", "/tmp"));
  EXPECT_FALSE(PathIsBelow("/", "/"));
}

TEST(FsTest, DirName) {
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
}

}  // namespace
}  // namespace skiff
