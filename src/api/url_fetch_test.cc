#include "api/url_fetch.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "common/fs.h"

namespace skiff::api {
namespace {

// A real HTTPS server (Python's http.server behind its ssl module) with a certificate made by
// the openssl command for 127.0.0.1 only; the test trusts it through SSL_CERT_FILE, as a user
// trusts a private CA.
const char* kServer = R"py(
import http.server, ssl, sys, os, hashlib
root, cert, key, port_file = sys.argv[1:5]
class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def _redirect(self):
        if self.path in ("/old", "/older"):
            self.send_response(302 if self.path == "/old" else 301)
            self.send_header("Location", "/model.bin" if self.path == "/old" else "/old")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False
    def do_GET(self):
        if not self._redirect():
            super().do_GET()
    def do_HEAD(self):
        if not self._redirect():
            super().do_HEAD()
    def end_headers(self):
        p = os.path.join(root, self.path.lstrip("/"))
        if os.path.isfile(p):
            self.send_header("ETag", '"' + hashlib.sha256(open(p, "rb").read()).hexdigest()[:16] + '"')
        super().end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
)py";

class UrlFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-url-fetch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/www").ok());
    // 3 MB of random bytes: several reads, written to the file as they come.
    std::mt19937 rng(7);
    model_.resize(3 * 1024 * 1024 + 17);
    for (char& c : model_) c = static_cast<char>(rng());
    ASSERT_TRUE(WriteFile(dir_ + "/www/model.bin", model_).ok());
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                      "-addext subjectAltName=IP:127.0.0.1 -keyout " + dir_ + "/key.pem -out " + dir_ +
                      "/cert.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    ASSERT_TRUE(WriteFile(dir_ + "/server.py", kServer).ok());
    std::string run = "/usr/bin/python3 " + dir_ + "/server.py " + dir_ + "/www " + dir_ + "/cert.pem " + dir_ +
                      "/key.pem " + dir_ + "/port >" + dir_ + "/server.log 2>&1 & echo $! >" + dir_ + "/pid";
    ASSERT_EQ(std::system(run.c_str()), 0);
    for (int i = 0; i < 300 && !PathExists(dir_ + "/port"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(PathExists(dir_ + "/port")) << ReadFile(dir_ + "/server.log").value_or("");
    port_ = ReadFile(dir_ + "/port").value_or("");
    base_ = "https://127.0.0.1:" + port_;
    ::setenv("SSL_CERT_FILE", (dir_ + "/cert.pem").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("SSL_CERT_FILE");
    if (auto pid = ReadFile(dir_ + "/pid"); pid.ok()) ::kill(std::atoi(pid->c_str()), SIGTERM);
    (void)RemoveAll(dir_);
  }

  std::string dir_, port_, base_, model_;
};

TEST_F(UrlFetchTest, DownloadsOverHttpsFromATrustedServer) {
  std::string dest = dir_ + "/got.bin";
  Status s = DownloadUrl(base_ + "/model.bin", dest);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(dest).value_or(""), model_);
  EXPECT_FALSE(PathExists(dest + ".part"));
  auto head = HeadUrl(base_ + "/model.bin");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->content_length, static_cast<int64_t>(model_.size()));
  EXPECT_EQ(head->etag.size(), 18u) << head->etag;  // the server's quoted tag
}

TEST_F(UrlFetchTest, FollowsRedirects) {
  std::string dest = dir_ + "/moved.bin";
  Status s = DownloadUrl(base_ + "/older", dest);  // 301 -> /old, 302 -> /model.bin
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(dest).value_or(""), model_);
  auto head = HeadUrl(base_ + "/old");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->content_length, static_cast<int64_t>(model_.size()));
}

TEST_F(UrlFetchTest, RefusesAnUntrustedCertificateOrAnotherNameAndLeavesNoFile) {
  std::string dest = dir_ + "/refused.bin";
  // The system's trust store does not know this self-made certificate.
  ::unsetenv("SSL_CERT_FILE");
  Status s = DownloadUrl(base_ + "/model.bin", dest);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("certificate"), std::string::npos) << s.ToString();
  EXPECT_FALSE(PathExists(dest));
  EXPECT_FALSE(PathExists(dest + ".part"));
  // Trusted, but issued for 127.0.0.1, not for "localhost".
  ::setenv("SSL_CERT_FILE", (dir_ + "/cert.pem").c_str(), 1);
  s = DownloadUrl("https://localhost:" + port_ + "/model.bin", dest);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("TLS handshake"), std::string::npos) << s.ToString();
  EXPECT_FALSE(PathExists(dest));
}

TEST_F(UrlFetchTest, AMissingObjectIsUnavailableAndLeavesNoFile) {
  std::string dest = dir_ + "/missing.bin";
  Status s = DownloadUrl(base_ + "/nope.bin", dest);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("404"), std::string::npos) << s.ToString();
  EXPECT_FALSE(PathExists(dest));
  EXPECT_FALSE(PathExists(dest + ".part"));
  auto head = HeadUrl(base_ + "/nope.bin");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 404);
  EXPECT_FALSE(DownloadUrl("ftp://127.0.0.1/x", dest).ok());
}

}  // namespace
}  // namespace skiff::api
