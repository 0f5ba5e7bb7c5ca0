#include "common/archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"

namespace skiff {
namespace {

// Runs a shell command; returns its exit status.
int Sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Runs a shell command and returns its stdout.
std::string Output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

int ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

std::string LinkTarget(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// A hand-built POSIX ustar archive, for entries GNU tar will not write (escapes, devices).
class RawTar {
 public:
  void Add(const std::string& name, char type, const std::string& data = "",
           const std::string& link = "", const std::string& prefix = "") {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(data.size()));
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = type;
    std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
    std::memcpy(h + 257,
                "ustar\0"
                "00",
                8);
    std::memcpy(h + 345, prefix.data(), std::min<size_t>(prefix.size(), 155));
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    bytes_.append(h, sizeof h);
    bytes_ += data;
    bytes_.append((512 - data.size() % 512) % 512, '\0');
  }
  std::string Finish() const { return bytes_ + std::string(1024, '\0'); }

 private:
  std::string bytes_;
};

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-archive-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    Sh("chmod -R u+rwx " + Q(dir_) + " 2>/dev/null");
    RemoveAll(dir_).IgnoreError();
  }

  std::string P(const std::string& rel) const { return JoinPath(dir_, rel); }

  void Write(const std::string& rel, const std::string& data, int mode = 0644) {
    ASSERT_TRUE(MakeDirs(DirName(P(rel))).ok());
    ASSERT_TRUE(WriteFile(P(rel), data, mode).ok());
    ASSERT_EQ(::chmod(P(rel).c_str(), static_cast<mode_t>(mode)), 0);
  }

  std::string Read(const std::string& rel) const { return ReadFile(P(rel)).value_or("<missing>"); }

  std::string dir_;
};

TEST_F(ArchiveTest, SingleFileIsOneEntryNamedAfterTheFile) {
  Write("src/hello_world.txt", "hello world\n");
  ASSERT_TRUE(
      CreateArchive(P("src/hello_world.txt"), P("out/art.tgz"), ArchiveFormat::kTarGzip).ok());
  EXPECT_EQ(Lines(Output("tar tzf " + Q(P("out/art.tgz")))),
            std::vector<std::string>{"hello_world.txt"});
  EXPECT_TRUE(LooksLikeArchive(P("out/art.tgz")));

  Status s = ExtractArchive(P("out/art.tgz"), P("in/deep/renamed.txt"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read("in/deep/renamed.txt"), "hello world\n");
  // Nothing but the destination is left beside it (no staging directory, no temporary file).
  EXPECT_EQ(Lines(Output("ls -A " + Q(P("in/deep")))), std::vector<std::string>{"renamed.txt"});
  EXPECT_EQ(Lines(Output("ls -A " + Q(P("out")))), std::vector<std::string>{"art.tgz"});
}

TEST_F(ArchiveTest, DirectoryTreeRoundTripsThroughGnuTar) {
  Write("src/dir/a.txt", "a");
  Write("src/dir/sub/b.txt", "bb");
  ASSERT_TRUE(MakeDirs(P("src/dir/empty")).ok());
  ASSERT_TRUE(CreateArchive(P("src/dir/"), P("dir.tgz"), ArchiveFormat::kTarGzip).ok());
  EXPECT_EQ(
      Lines(Output("tar tzf " + Q(P("dir.tgz")))),
      (std::vector<std::string>{"dir/", "dir/a.txt", "dir/empty/", "dir/sub/", "dir/sub/b.txt"}));

  // GNU tar reads ours...
  ASSERT_TRUE(MakeDirs(P("gnu")).ok());
  ASSERT_EQ(Sh("tar xzf " + Q(P("dir.tgz")) + " -C " + Q(P("gnu"))), 0);
  EXPECT_EQ(Read("gnu/dir/sub/b.txt"), "bb");
  EXPECT_TRUE(IsDirectory(P("gnu/dir/empty")));

  // ...and ours reads ours: the single top-level directory becomes the destination.
  ASSERT_TRUE(ExtractArchive(P("dir.tgz"), P("mine")).ok());
  EXPECT_EQ(Read("mine/a.txt"), "a");
  EXPECT_EQ(Read("mine/sub/b.txt"), "bb");
  EXPECT_TRUE(IsDirectory(P("mine/empty")));
}

TEST_F(ArchiveTest, ExtractsGnuTarArchives) {
  Write("src/dir/a.txt", "a");
  Write("src/dir/sub/b.txt", "bb");
  Write("src/f1", "one");
  Write("src/f2", "two");
  ASSERT_EQ(Sh("tar czf " + Q(P("one.tgz")) + " -C " + Q(P("src")) + " dir"), 0);
  ASSERT_EQ(Sh("tar czf " + Q(P("two.tgz")) + " -C " + Q(P("src")) + " f1 f2"), 0);
  ASSERT_EQ(Sh("tar czf " + Q(P("dot.tgz")) + " -C " + Q(P("src/dir")) + " ."), 0);

  ASSERT_TRUE(ExtractArchive(P("one.tgz"), P("out1")).ok());
  EXPECT_EQ(Read("out1/sub/b.txt"), "bb");

  // Several top-level entries: the destination becomes a directory holding them.
  ASSERT_TRUE(ExtractArchive(P("two.tgz"), P("out2")).ok());
  EXPECT_EQ(Read("out2/f1"), "one");
  EXPECT_EQ(Read("out2/f2"), "two");
  EXPECT_EQ(ModeOf(P("out2")), 0755);

  // "./a.txt", "./sub/": the "./" root is the destination itself.
  ASSERT_TRUE(ExtractArchive(P("dot.tgz"), P("out3")).ok());
  EXPECT_EQ(Read("out3/a.txt"), "a");
  EXPECT_EQ(Read("out3/sub/b.txt"), "bb");
}

TEST_F(ArchiveTest, LongNamesRoundTripBothWays) {
  std::string seg(120, 'x');  // one component over 100 bytes: needs 'L'
  std::string rel = "d/" + seg + "/" + std::string(90, 'y') + "/" + std::string(80, 'z') + ".txt";
  ASSERT_GT(rel.size(), 255u);
  std::string mid = "d/" + std::string(60, 'm') + "/" + std::string(50, 'n') + ".txt";
  ASSERT_GT(mid.size(), 100u);
  Write("src/" + rel, "deep");
  Write("src/" + mid, "mid");

  ASSERT_TRUE(CreateArchive(P("src/d"), P("long.tgz"), ArchiveFormat::kTarGzip).ok());
  std::vector<std::string> listed = Lines(Output("tar tzf " + Q(P("long.tgz"))));
  EXPECT_NE(std::find(listed.begin(), listed.end(), rel), listed.end());
  EXPECT_NE(std::find(listed.begin(), listed.end(), mid), listed.end());
  ASSERT_TRUE(MakeDirs(P("gnu")).ok());
  ASSERT_EQ(Sh("tar xzf " + Q(P("long.tgz")) + " -C " + Q(P("gnu"))), 0);
  EXPECT_EQ(Read("gnu/" + rel), "deep");

  ASSERT_TRUE(ExtractArchive(P("long.tgz"), P("mine/d")).ok());
  EXPECT_EQ(Read("mine/" + rel), "deep");
  EXPECT_EQ(Read("mine/" + mid), "mid");

  // GNU tar's own long-name encodings: GNU 'L' records, POSIX pax headers, ustar prefix.
  for (const char* fmt : {"gnu", "posix"}) {
    std::string name = std::string("gnu-") + fmt + ".tar";
    ASSERT_EQ(Sh("tar cf " + Q(P(name)) + " --format=" + fmt + " -C " + Q(P("src")) + " d"), 0);
    std::string out = std::string("from-") + fmt;
    Status s = ExtractArchive(P(name), P(out));
    ASSERT_TRUE(s.ok()) << fmt << ": " << s.ToString();
    EXPECT_EQ(Read(out + "/" + rel.substr(2)), "deep") << fmt;
    EXPECT_EQ(Read(out + "/" + mid.substr(2)), "mid") << fmt;
  }
  ASSERT_EQ(Sh("tar cf " + Q(P("ustar.tar")) + " --format=ustar -C " + Q(P("src")) + " " + Q(mid)),
            0);
  ASSERT_TRUE(ExtractArchive(P("ustar.tar"), P("from-ustar")).ok());
  EXPECT_EQ(Read("from-ustar/" + mid.substr(2)), "mid");
}

TEST_F(ArchiveTest, SymlinksAreStoredAsSymlinks) {
  Write("src/dir/a.txt", "a");
  std::string long_target = std::string(150, 't') + "/target";
  ASSERT_EQ(::symlink("a.txt", P("src/dir/rel").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/hostname", P("src/dir/abs").c_str()), 0);
  ASSERT_EQ(::symlink(long_target.c_str(), P("src/dir/long").c_str()), 0);
  ASSERT_TRUE(CreateArchive(P("src/dir"), P("links.tgz"), ArchiveFormat::kTarGzip).ok());

  std::string listing = Output("tar tvzf " + Q(P("links.tgz")));
  EXPECT_NE(listing.find("dir/rel -> a.txt"), std::string::npos) << listing;
  EXPECT_NE(listing.find("dir/long -> " + long_target), std::string::npos) << listing;

  ASSERT_TRUE(ExtractArchive(P("links.tgz"), P("out")).ok());
  EXPECT_EQ(LinkTarget(P("out/rel")), "a.txt");
  EXPECT_EQ(LinkTarget(P("out/abs")), "/etc/hostname");
  EXPECT_EQ(LinkTarget(P("out/long")), long_target);
  EXPECT_EQ(Read("out/rel"), "a");

  // A symlink as the thing archived is followed.
  ASSERT_EQ(::symlink(P("src/dir/a.txt").c_str(), P("src/top").c_str()), 0);
  ASSERT_TRUE(CreateArchive(P("src/top"), P("top.tgz"), ArchiveFormat::kTarGzip).ok());
  EXPECT_EQ(Output("tar tvzf " + Q(P("top.tgz"))).substr(0, 1), "-");
}

TEST_F(ArchiveTest, FileModesAreKept) {
  Write("src/dir/run.sh", "#!/bin/sh\necho hi\n", 0755);
  Write("src/dir/secret", "s", 0600);
  Write("src/dir/ro/inside", "i");
  ASSERT_EQ(::chmod(P("src/dir/ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(P("src/dir").c_str(), 0750), 0);
  ASSERT_TRUE(CreateArchive(P("src/dir"), P("modes.tgz"), ArchiveFormat::kTarGzip).ok());
  std::string listing = Output("tar tvzf " + Q(P("modes.tgz")));
  EXPECT_NE(listing.find("-rwxr-xr-x"), std::string::npos) << listing;
  EXPECT_NE(listing.find("-rw-------"), std::string::npos) << listing;

  ASSERT_TRUE(ExtractArchive(P("modes.tgz"), P("out")).ok());
  EXPECT_EQ(ModeOf(P("out/run.sh")), 0755);
  EXPECT_EQ(ModeOf(P("out/secret")), 0600);
  EXPECT_EQ(ModeOf(P("out")), 0750);
  // A read-only directory gets its mode only after its children are written.
  EXPECT_EQ(ModeOf(P("out/ro")), 0555);
  EXPECT_EQ(Read("out/ro/inside"), "i");
  EXPECT_EQ(Output(Q(P("out/run.sh"))), "hi\n");
}

TEST_F(ArchiveTest, EmptyFile) {
  Write("src/empty", "");
  ASSERT_TRUE(CreateArchive(P("src/empty"), P("e.tgz"), ArchiveFormat::kTarGzip).ok());
  EXPECT_EQ(Lines(Output("tar tzf " + Q(P("e.tgz")))), std::vector<std::string>{"empty"});
  ASSERT_TRUE(ExtractArchive(P("e.tgz"), P("out/e")).ok());
  EXPECT_EQ(Read("out/e"), "");
}

TEST_F(ArchiveTest, TwentyMegabyteFileStreamsBothWays) {
  {
    FILE* f = std::fopen(P("big.bin").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    uint64_t x = 88172645463325252ull;
    std::vector<uint64_t> chunk(8192);
    for (int i = 0; i < 20 * 1024 * 1024 / 65536; ++i) {
      for (auto& w : chunk) {  // xorshift: incompressible, deterministic
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w = x;
      }
      ASSERT_EQ(std::fwrite(chunk.data(), 8, chunk.size(), f), chunk.size());
    }
    std::fputs("tail that is not block aligned", f);
    std::fclose(f);
  }
  std::string want = *Sha256File(P("big.bin"));
  ASSERT_TRUE(CreateArchive(P("big.bin"), P("big.tgz"), ArchiveFormat::kTarGzip).ok());
  ASSERT_TRUE(ExtractArchive(P("big.tgz"), P("mine.bin")).ok());
  EXPECT_EQ(*Sha256File(P("mine.bin")), want);

  ASSERT_TRUE(MakeDirs(P("gnu")).ok());
  ASSERT_EQ(Sh("tar xzf " + Q(P("big.tgz")) + " -C " + Q(P("gnu"))), 0);
  EXPECT_EQ(*Sha256File(P("gnu/big.bin")), want);

  ASSERT_EQ(Sh("tar czf " + Q(P("gnu.tgz")) + " -C " + Q(dir_) + " big.bin"), 0);
  ASSERT_TRUE(ExtractArchive(P("gnu.tgz"), P("from-gnu.bin")).ok());
  EXPECT_EQ(*Sha256File(P("from-gnu.bin")), want);
}

TEST_F(ArchiveTest, PlainTar) {
  Write("src/dir/a.txt", "a");
  ASSERT_TRUE(CreateArchive(P("src/dir"), P("plain.tar"), ArchiveFormat::kTar).ok());
  EXPECT_EQ(Lines(Output("tar tf " + Q(P("plain.tar")))),
            (std::vector<std::string>{"dir/", "dir/a.txt"}));
  EXPECT_EQ(Output("head -c 2 " + Q(P("plain.tar")) + " | od -An -tx1 | tr -d ' \\n'"), "6469");
  EXPECT_TRUE(LooksLikeArchive(P("plain.tar")));
  ASSERT_TRUE(ExtractArchive(P("plain.tar"), P("out")).ok());
  EXPECT_EQ(Read("out/a.txt"), "a");
}

TEST_F(ArchiveTest, RejectsEntriesThatEscapeTheDestination) {
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  std::vector<Case> cases;
  {
    RawTar t;
    t.Add("../evil.txt", '0', "pwned");
    cases.push_back({"dotdot", t.Finish(), "escapes"});
  }
  {
    RawTar t;
    t.Add("ok/", '5');
    t.Add("ok/../../evil.txt", '0', "pwned");
    cases.push_back({"nested dotdot", t.Finish(), "escapes"});
  }
  {
    RawTar t;
    t.Add(P("abs-evil.txt"), '0', "pwned");
    cases.push_back({"absolute", t.Finish(), "absolute"});
  }
  {
    RawTar t;
    t.Add("link", '2', "", dir_);
    t.Add("link/evil.txt", '0', "pwned");
    cases.push_back({"through symlink", t.Finish(), "not a directory"});
  }
  {
    RawTar t;
    t.Add("a.txt", '0', "a");
    t.Add("b.txt", '1', "", "a.txt");
    cases.push_back({"hard link", t.Finish(), "hard link"});
  }
  {
    RawTar t;
    t.Add("null", '3');
    cases.push_back({"device", t.Finish(), "device"});
  }
  for (const Case& c : cases) {
    ASSERT_TRUE(WriteFile(P("bad.tar"), c.bytes).ok());
    Status s = ExtractArchive(P("bad.tar"), P("out/dest"));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.what << ": " << s.ToString();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << c.what << ": " << s.ToString();
    EXPECT_FALSE(PathExists(P("evil.txt"))) << c.what;
    EXPECT_FALSE(PathExists(P("abs-evil.txt"))) << c.what;
    EXPECT_FALSE(PathExists(P("out/dest"))) << c.what;
    EXPECT_EQ(Output("ls -A " + Q(P("out"))), "") << c.what << ": staging left behind";
  }
}

TEST_F(ArchiveTest, RejectsPythonCraftedTraversal) {
  if (!PathExists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  // Python writes pax headers for these, so this also covers the pax `path` record.
  std::string script =
      "import io,tarfile,sys\n"
      "t=tarfile.open(sys.argv[1],'w:gz',format=tarfile.PAX_FORMAT)\n"
      "i=tarfile.TarInfo('../' + 'e'*120 + '.txt'); d=b'pwned'; i.size=len(d)\n"
      "t.addfile(i, io.BytesIO(d)); t.close()\n";
  ASSERT_TRUE(WriteFile(P("mk.py"), script).ok());
  ASSERT_EQ(Sh("/usr/bin/python3 " + Q(P("mk.py")) + " " + Q(P("evil.tgz"))), 0);
  Status s = ExtractArchive(P("evil.tgz"), P("out/dest"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("escapes"), std::string::npos) << s.ToString();
  EXPECT_EQ(Output("ls -A " + Q(P("out"))), "");
}

TEST_F(ArchiveTest, RejectsGarbageAndTruncatedArchives) {
  Write("text.txt", std::string(2000, 'x'));
  EXPECT_EQ(ExtractArchive(P("text.txt"), P("out")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractArchive(P("missing.tgz"), P("out")).code(), StatusCode::kNotFound);

  Write("src/big", std::string(100000, 'q'));
  ASSERT_TRUE(CreateArchive(P("src/big"), P("full.tar"), ArchiveFormat::kTar).ok());
  std::string bytes = Read("full.tar");
  ASSERT_TRUE(WriteFile(P("cut.tar"), bytes.substr(0, 50000)).ok());
  Status s = ExtractArchive(P("cut.tar"), P("out"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(PathExists(P("out")));

  ASSERT_TRUE(CreateArchive(P("src/big"), P("full.tgz"), ArchiveFormat::kTarGzip).ok());
  std::string gz = Read("full.tgz");
  ASSERT_TRUE(WriteFile(P("cut.tgz"), gz.substr(0, gz.size() / 2)).ok());
  EXPECT_FALSE(ExtractArchive(P("cut.tgz"), P("out")).ok());
  EXPECT_FALSE(PathExists(P("out")));
}

TEST_F(ArchiveTest, LooksLikeArchive) {
  Write("raw.txt", "just some text, long enough to be more than a few bytes\n");
  Write("src/f", "f");
  ASSERT_TRUE(CreateArchive(P("src/f"), P("f.tar"), ArchiveFormat::kTar).ok());
  ASSERT_TRUE(CreateArchive(P("src/f"), P("f.tgz"), ArchiveFormat::kTarGzip).ok());
  ASSERT_EQ(Sh("tar cf " + Q(P("gnu.tar")) + " --format=posix -C " + Q(P("src")) + " f"), 0);
  EXPECT_FALSE(LooksLikeArchive(P("raw.txt")));
  EXPECT_TRUE(LooksLikeArchive(P("f.tar")));
  EXPECT_TRUE(LooksLikeArchive(P("f.tgz")));
  EXPECT_TRUE(LooksLikeArchive(P("gnu.tar")));
  EXPECT_FALSE(LooksLikeArchive(P("missing")));
  EXPECT_FALSE(LooksLikeArchive(P("src")));
}

TEST_F(ArchiveTest, ExtractReplacesFilesButNotNonEmptyDirectories) {
  Write("src/f", "new");
  ASSERT_TRUE(CreateArchive(P("src/f"), P("f.tgz"), ArchiveFormat::kTarGzip).ok());
  Write("dest-file", "old");
  ASSERT_TRUE(ExtractArchive(P("f.tgz"), P("dest-file")).ok());
  EXPECT_EQ(Read("dest-file"), "new");

  ASSERT_TRUE(MakeDirs(P("dest-empty")).ok());
  ASSERT_TRUE(ExtractArchive(P("f.tgz"), P("dest-empty")).ok());
  EXPECT_EQ(Read("dest-empty"), "new");

  Write("dest-full/keep", "keep");
  EXPECT_EQ(ExtractArchive(P("f.tgz"), P("dest-full")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Read("dest-full/keep"), "keep");
  EXPECT_EQ(Lines(Output("ls -A " + Q(dir_) + " | grep extract")), std::vector<std::string>{});
}

TEST_F(ArchiveTest, ArchiveWrittenInsideItsSourceDoesNotContainItself) {
  Write("dir/a", "a");
  ASSERT_TRUE(CreateArchive(P("dir"), P("dir/self.tgz"), ArchiveFormat::kTarGzip).ok());
  EXPECT_EQ(Lines(Output("tar tzf " + Q(P("dir/self.tgz")))),
            (std::vector<std::string>{"dir/", "dir/a"}));
  // Again, now that a previous archive sits at the output path.
  ASSERT_TRUE(CreateArchive(P("dir"), P("dir/self.tgz"), ArchiveFormat::kTarGzip).ok());
  EXPECT_EQ(Lines(Output("tar tzf " + Q(P("dir/self.tgz")))),
            (std::vector<std::string>{"dir/", "dir/a"}));
}

TEST_F(ArchiveTest, CreateArchiveOfMissingSourceIsNotFound) {
  EXPECT_EQ(CreateArchive(P("nope"), P("x.tgz"), ArchiveFormat::kTarGzip).code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(PathExists(P("x.tgz")));
}

TEST_F(ArchiveTest, CopyTreeCopiesFilesDirectoriesAndSymlinks) {
  Write("src/dir/run.sh", "#!/bin/sh\n", 0755);
  Write("src/dir/sub/b", "b");
  ASSERT_TRUE(MakeDirs(P("src/dir/empty")).ok());
  ASSERT_EQ(::symlink("sub/b", P("src/dir/link").c_str()), 0);

  ASSERT_TRUE(CopyTree(P("src/dir"), P("out/copy")).ok());
  EXPECT_EQ(Read("out/copy/sub/b"), "b");
  EXPECT_EQ(ModeOf(P("out/copy/run.sh")), 0755);
  EXPECT_TRUE(IsDirectory(P("out/copy/empty")));
  EXPECT_EQ(LinkTarget(P("out/copy/link")), "sub/b");

  ASSERT_TRUE(CopyTree(P("src/dir/sub/b"), P("out/file/b2")).ok());
  EXPECT_EQ(Read("out/file/b2"), "b");

  EXPECT_EQ(CopyTree(P("src/dir"), P("src/dir/inner")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CopyTree(P("missing"), P("x")).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff
