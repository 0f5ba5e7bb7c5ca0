#include "metadata/artifact_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"

namespace skiff::metadata {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

// Regular files under `dir`, recursively.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(it->path().string());
  }
  return out;
}

// Sets a file's mtime to `age` in the past.
void Age(const std::string& path, seconds age) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= age.count();
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-artifacts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveAll(dir_).IgnoreError(); }

  std::string Root() const { return JoinPath(dir_, "repo"); }

  std::string dir_;
};

TEST_F(ArtifactStoreTest, ConstructionTouchesNothing) {
  ArtifactStore store(Root());
  EXPECT_EQ(store.root(), Root());
  EXPECT_FALSE(PathExists(Root()));
  EXPECT_EQ(store.ResolveKey("a").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store.ListKeys("").ok());
  EXPECT_TRUE(store.ListKeys("")->empty());
  EXPECT_EQ(*store.CollectGarbage(seconds(0)), 0);
}

TEST_F(ArtifactStoreTest, PutFileStoresContentUnderItsDigest) {
  ArtifactStore store(Root());
  std::string src = JoinPath(dir_, "hello.txt");
  ASSERT_TRUE(WriteFile(src, "hello world\n").ok());
  Result<BlobInfo> blob = store.PutFile(src);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->digest, "sha256:" + Sha256Hex("hello world\n"));
  EXPECT_EQ(blob->size, 12);
  EXPECT_TRUE(store.HasBlob(blob->digest));
  EXPECT_EQ(*ReadFile(store.BlobPath(blob->digest)), "hello world\n");

  EXPECT_EQ(store.PutFile(JoinPath(dir_, "missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.PutFile(dir_).status().code(), StatusCode::kInvalidArgument);

  Result<BlobInfo> empty = store.PutBytes("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size, 0);
  EXPECT_TRUE(store.HasBlob(empty->digest));
}

TEST_F(ArtifactStoreTest, AdoptFileRenamesAStagedFileIntoTheStoreAndTakesNothingFromElsewhere) {
  ArtifactStore store(Root());
  auto staging = store.StagingDir();
  ASSERT_TRUE(staging.ok()) << staging.status().ToString();
  std::string staged = JoinPath(*staging, "upload-1");
  ASSERT_TRUE(WriteFile(staged, "streamed bytes").ok());
  struct stat before {};
  ASSERT_EQ(::stat(staged.c_str(), &before), 0);
  auto blob = store.AdoptFile(staged);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->digest, "sha256:" + Sha256Hex("streamed bytes"));
  EXPECT_EQ(blob->size, 14);
  EXPECT_FALSE(PathExists(staged));
  // Renamed, not copied: the blob is the staged file's inode, now read-only.
  struct stat after {};
  ASSERT_EQ(::stat(store.BlobPath(blob->digest).c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mode & 0777, 0444u);
  // The same content again: the staged copy goes, the blob stays.
  ASSERT_TRUE(WriteFile(JoinPath(*staging, "upload-2"), "streamed bytes").ok());
  auto again = store.AdoptFile(JoinPath(*staging, "upload-2"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->digest, blob->digest);
  EXPECT_FALSE(PathExists(JoinPath(*staging, "upload-2")));
  EXPECT_EQ(FilesUnder(*staging).size(), 0u);
  // Only files directly in the staging directory are taken.
  std::string elsewhere = JoinPath(dir_, "outside.txt");
  ASSERT_TRUE(WriteFile(elsewhere, "not mine").ok());
  EXPECT_EQ(store.AdoptFile(elsewhere).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.AdoptFile(*staging + "/../../outside.txt").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(PathExists(elsewhere));
}

TEST_F(ArtifactStoreTest, BlobPathLayout) {
  ArtifactStore store(Root());
  std::string hex = Sha256Hex("x");
  std::string want = Root() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex.substr(2);
  EXPECT_EQ(store.BlobPath("sha256:" + hex), want);
  EXPECT_EQ(store.BlobPath(hex), want);
  EXPECT_EQ(store.BlobPath("sha256:../../etc"), "");
  EXPECT_EQ(store.BlobPath(hex.substr(1)), "");
  EXPECT_EQ(store.BlobPath("md5:" + hex), "");
  EXPECT_FALSE(store.HasBlob(hex));
  ASSERT_TRUE(store.PutBytes("x").ok());
  EXPECT_TRUE(store.HasBlob(hex));
  EXPECT_TRUE(PathExists(want));
}

TEST_F(ArtifactStoreTest, SameContentUnderTwoKeysIsOneBlob) {
  ArtifactStore store(Root());
  std::string src = JoinPath(dir_, "art.tgz");
  ASSERT_TRUE(WriteFile(src, "same bytes").ok());
  BlobInfo a = *store.PutFile(src);
  BlobInfo b = *store.PutBytes("same bytes");
  EXPECT_EQ(a.digest, b.digest);
  ASSERT_TRUE(store.BindKey("my-wf/my-wf-gen-123/hello-art.tgz", a).ok());
  ASSERT_TRUE(store.BindKey("my-artifacts/file.txt", b).ok());

  EXPECT_EQ(store.ResolveKey("my-wf/my-wf-gen-123/hello-art.tgz")->digest, a.digest);
  EXPECT_EQ(store.ResolveKey("my-artifacts/file.txt")->digest, a.digest);
  EXPECT_EQ(store.ResolveKey("my-artifacts/file.txt")->size, 10);
  EXPECT_EQ(FilesUnder(JoinPath(Root(), "blobs")).size(), 1u);
  EXPECT_TRUE(FilesUnder(JoinPath(Root(), "tmp")).empty());
  EXPECT_TRUE(PathExists(Root() + "/keys/my-wf.d/my-wf-gen-123.d/hello-art.tgz.json"));

  // Another instance on the same root (as another process would be) sees the same state.
  ArtifactStore other(Root());
  EXPECT_EQ(other.ResolveKey("my-artifacts/file.txt")->digest, a.digest);
}

TEST_F(ArtifactStoreTest, RejectsUnsafeKeys) {
  ArtifactStore store(Root());
  BlobInfo blob = *store.PutBytes("x");
  std::vector<std::string> bad = {"../x",
                                  "a/../../x",
                                  "/abs",
                                  "a//b",
                                  "",
                                  "a/",
                                  "./a",
                                  "a/./b",
                                  "..",
                                  std::string("a\0b", 3),
                                  std::string(201, 'k'),
                                  "ok/" + std::string(201, 'k')};
  for (const std::string& key : bad) {
    EXPECT_EQ(store.BindKey(key, blob).code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store.ResolveKey(key).status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store.DeleteKey(key).code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(store.ListKeys("/abs").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.ListKeys("../").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.ListKeys("a//").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(PathExists(JoinPath(dir_, "x")));
  EXPECT_FALSE(PathExists(JoinPath(Root(), "keys")));

  // Names that look like the layout's own suffixes are ordinary keys.
  ASSERT_TRUE(store.BindKey("a.d", blob).ok());
  ASSERT_TRUE(store.BindKey("a.json/b", blob).ok());
  ASSERT_TRUE(store.BindKey("a", blob).ok());
  ASSERT_TRUE(store.BindKey("a/b", blob).ok());
  EXPECT_EQ(*store.ListKeys(""), (std::vector<std::string>{"a", "a.d", "a.json/b", "a/b"}));
}

TEST_F(ArtifactStoreTest, BindKeyRequiresAStoredBlob) {
  ArtifactStore store(Root());
  BlobInfo missing{"sha256:" + Sha256Hex("never stored"), 12};
  EXPECT_EQ(store.BindKey("k", missing).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.BindKey("k", BlobInfo{"sha256:nothex", 1}).code(), StatusCode::kInvalidArgument);
  BlobInfo blob = *store.PutBytes("abc");
  EXPECT_EQ(store.BindKey("k", BlobInfo{blob.digest, 99}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.ResolveKey("k").status().code(), StatusCode::kNotFound);
  // A bare-hex digest is accepted and stored in its canonical form.
  ASSERT_TRUE(store.BindKey("k", BlobInfo{blob.digest.substr(7), 3}).ok());
  EXPECT_EQ(store.ResolveKey("k")->digest, blob.digest);
}

TEST_F(ArtifactStoreTest, ListKeysMatchesWholeSegments) {
  ArtifactStore store(Root());
  BlobInfo blob = *store.PutBytes("x");
  for (const char* key : {"a", "a/x", "a/y/z", "ab/x", "abc", "b"}) {
    ASSERT_TRUE(store.BindKey(key, blob).ok()) << key;
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(*store.ListKeys(""), (V{"a", "a/x", "a/y/z", "ab/x", "abc", "b"}));
  EXPECT_EQ(*store.ListKeys("a"), (V{"a", "a/x", "a/y/z"}));
  EXPECT_EQ(*store.ListKeys("a/"), (V{"a/x", "a/y/z"}));
  EXPECT_EQ(*store.ListKeys("a/y"), (V{"a/y/z"}));
  EXPECT_EQ(*store.ListKeys("a/y/z"), (V{"a/y/z"}));
  EXPECT_EQ(*store.ListKeys("ab"), (V{"ab/x"}));
  EXPECT_EQ(*store.ListKeys("c"), V{});
  EXPECT_EQ(*store.ListKeys("a/x/"), V{});
}

TEST_F(ArtifactStoreTest, RebindingAKeyReplacesItsBlob) {
  ArtifactStore store(Root());
  BlobInfo one = *store.PutBytes("one");
  BlobInfo two = *store.PutBytes("two!");
  ASSERT_TRUE(store.BindKey("wf/out.tgz", one).ok());
  ASSERT_TRUE(store.BindKey("wf/out.tgz", two).ok());
  Result<BlobInfo> got = store.ResolveKey("wf/out.tgz");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->digest, two.digest);
  EXPECT_EQ(got->size, 4);
  EXPECT_EQ(*store.ListKeys("wf"), std::vector<std::string>{"wf/out.tgz"});
  EXPECT_TRUE(FilesUnder(JoinPath(Root(), "tmp")).empty());
}

TEST_F(ArtifactStoreTest, DeleteKeyUnbindsAndPrunesDirectories) {
  ArtifactStore store(Root());
  BlobInfo blob = *store.PutBytes("x");
  ASSERT_TRUE(store.BindKey("p/q/r", blob).ok());
  ASSERT_TRUE(store.BindKey("p/s", blob).ok());
  ASSERT_TRUE(store.DeleteKey("p/q/r").ok());
  EXPECT_EQ(store.ResolveKey("p/q/r").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.DeleteKey("p/q/r").code(), StatusCode::kNotFound);
  EXPECT_FALSE(PathExists(Root() + "/keys/p.d/q.d"));
  EXPECT_TRUE(PathExists(Root() + "/keys/p.d"));
  EXPECT_EQ(*store.ListKeys("p"), std::vector<std::string>{"p/s"});
  EXPECT_TRUE(store.HasBlob(blob.digest));  // blobs go only with garbage collection
}

TEST_F(ArtifactStoreTest, GarbageCollectionKeepsRootsAndDryRunRemovesNothing) {
  ArtifactStore store(Root());
  BlobInfo recorded = *store.PutBytes("named by a lineage record");
  BlobInfo orphan = *store.PutBytes("named by nothing");
  Age(store.BlobPath(recorded.digest), hours(2));
  Age(store.BlobPath(orphan.digest), hours(2));
  ArtifactStore::GcOptions o;
  o.grace = hours(1);
  o.roots = {recorded.digest};
  o.dry_run = true;
  auto dry = store.CollectGarbage(o);
  ASSERT_TRUE(dry.ok());
  ASSERT_EQ(dry->removed.size(), 1u);
  EXPECT_EQ(dry->removed[0].digest, orphan.digest);
  EXPECT_EQ(dry->removed_bytes, orphan.size);
  EXPECT_TRUE(store.HasBlob(orphan.digest));
  o.dry_run = false;
  auto real = store.CollectGarbage(o);
  ASSERT_TRUE(real.ok());
  EXPECT_EQ(real->removed.size(), 1u);
  EXPECT_EQ(real->kept, 1);
  EXPECT_FALSE(store.HasBlob(orphan.digest));
  EXPECT_TRUE(store.HasBlob(recorded.digest));
  // A root given as bare hex counts the same.
  o.roots = {recorded.digest.substr(7)};
  EXPECT_TRUE(store.CollectGarbage(o)->removed.empty());
}

TEST_F(ArtifactStoreTest, GarbageCollectionRemovesOnlyUnreferencedOldBlobs) {
  ArtifactStore store(Root());
  BlobInfo kept = *store.PutBytes("referenced");
  BlobInfo old = *store.PutBytes("unreferenced and old");
  BlobInfo fresh = *store.PutBytes("unreferenced and fresh");
  ASSERT_TRUE(store.BindKey("wf/kept", kept).ok());
  Age(store.BlobPath(kept.digest), hours(3));
  Age(store.BlobPath(old.digest), hours(2));
  // A temporary file a crashed writer left behind, and one a live writer is still filling.
  std::string abandoned = JoinPath(Root(), "tmp/abandoned");
  std::string live = JoinPath(Root(), "tmp/live");
  ASSERT_TRUE(WriteFile(abandoned, "partial").ok());
  ASSERT_TRUE(WriteFile(live, "partial").ok());
  Age(abandoned, hours(2));

  EXPECT_EQ(*store.CollectGarbage(hours(1)), 1);
  EXPECT_TRUE(store.HasBlob(kept.digest));
  EXPECT_FALSE(store.HasBlob(old.digest));
  EXPECT_TRUE(store.HasBlob(fresh.digest));
  EXPECT_FALSE(PathExists(abandoned));
  EXPECT_TRUE(PathExists(live));

  // With no grace, every unreferenced blob goes; referenced ones never do.
  EXPECT_EQ(*store.CollectGarbage(seconds(0)), 1);
  EXPECT_FALSE(store.HasBlob(fresh.digest));
  EXPECT_TRUE(store.HasBlob(kept.digest));
  EXPECT_EQ(store.ResolveKey("wf/kept")->digest, kept.digest);

  // Once unbound, the old blob is collectable too.
  ASSERT_TRUE(store.DeleteKey("wf/kept").ok());
  EXPECT_EQ(*store.CollectGarbage(hours(1)), 1);
  EXPECT_FALSE(store.HasBlob(kept.digest));
  EXPECT_EQ(*store.CollectGarbage(seconds(0)), 0);
}

TEST_F(ArtifactStoreTest, StoringExistingContentProtectsItFromCollection) {
  ArtifactStore store(Root());
  BlobInfo blob = *store.PutBytes("reused output");
  Age(store.BlobPath(blob.digest), hours(5));
  // A writer stores the same content again and is about to bind it.
  ASSERT_EQ(store.PutBytes("reused output")->digest, blob.digest);
  EXPECT_EQ(*store.CollectGarbage(hours(1)), 0);
  EXPECT_TRUE(store.BindKey("late/bind", blob).ok());
}

TEST_F(ArtifactStoreTest, ConcurrentPutsOfTheSameContentLeaveOneBlob) {
  std::string src = JoinPath(dir_, "big.bin");
  {
    std::string data;
    data.reserve(3 << 20);
    for (int i = 0; data.size() < (3u << 20); ++i) data += std::to_string(i) + ",";
    ASSERT_TRUE(WriteFile(src, data).ok());
  }
  std::string want = "sha256:" + *Sha256File(src);
  ArtifactStore store(Root());
  constexpr int kThreads = 4;
  constexpr int kRounds = 5;
  std::vector<std::string> digests(kThreads * kRounds);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ArtifactStore mine(Root());  // one instance per thread, like separate processes
      for (int r = 0; r < kRounds; ++r) {
        ArtifactStore& s = (r % 2 == 0) ? store : mine;
        Result<BlobInfo> blob = s.PutFile(src);
        if (!blob.ok()) {
          ++failures;
          continue;
        }
        digests[t * kRounds + r] = blob->digest;
        if (!s.BindKey("k/t" + std::to_string(t), *blob).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (const std::string& d : digests) EXPECT_EQ(d, want);
  EXPECT_EQ(FilesUnder(JoinPath(Root(), "blobs")).size(), 1u);
  EXPECT_TRUE(FilesUnder(JoinPath(Root(), "tmp")).empty());
  EXPECT_EQ(*Sha256File(store.BlobPath(want)), want.substr(7));
  EXPECT_EQ(store.ListKeys("k")->size(), static_cast<size_t>(kThreads));
}

TEST_F(ArtifactStoreTest, ConcurrentBindsAndDeletesInOneDirectory) {
  ArtifactStore store(Root());
  BlobInfo blob = *store.PutBytes("x");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string key = "shared/dir/k" + std::to_string(t);
      for (int i = 0; i < 100; ++i) {
        if (!store.BindKey(key, blob).ok()) ++failures;
        if (!store.DeleteKey(key).ok()) ++failures;
      }
      if (!store.BindKey(key, blob).ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store.ListKeys("shared/dir")->size(), 4u);
}

}  // namespace
}  // namespace skiff::metadata
