#include "common/ids.h"

#include <fcntl.h>
// The SHA-256 functions themselves, not EVP: EVP's first digest loads OpenSSL's provider
// tables (~5M instructions, about 1.5 ms), which a short command pays for one small hash.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <random>

namespace skiff {
namespace {

// Per-thread generator, reseeded when the process id changes so that a forked child never
// repeats its parent's uids.
std::mt19937_64& Rng() {
  static thread_local std::mt19937_64 rng;
  static thread_local pid_t seeded_for = 0;
  pid_t pid = getpid();
  if (seeded_for != pid) {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), static_cast<unsigned>(pid)};
    rng.seed(seq);
    seeded_for = pid;
  }
  return rng;
}

}  // namespace

std::string NewUid() {
  uint64_t a = Rng()();
  uint64_t b = Rng()();
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(a >> (8 * i));
    bytes[8 + i] = static_cast<unsigned char>(b >> (8 * i));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return out;
}

std::string RandomSuffix(size_t n) {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  s.reserve(n);
  std::uniform_int_distribution<size_t> dist(0, sizeof(kAlphabet) - 2);
  for (size_t i = 0; i < n; ++i) s += kAlphabet[dist(Rng())];
  return s;
}

Sha256::Sha256() : ctx_(new SHA256_CTX) { SHA256_Init(static_cast<SHA256_CTX*>(ctx_)); }

Sha256::~Sha256() { delete static_cast<SHA256_CTX*>(ctx_); }

void Sha256::Update(const void* data, size_t size) { SHA256_Update(static_cast<SHA256_CTX*>(ctx_), data, size); }

std::string Sha256::FinalHex() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  const unsigned int len = SHA256_DIGEST_LENGTH;
  SHA256_Final(md, static_cast<SHA256_CTX*>(ctx_));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.FinalHex();
}

Result<std::string> Sha256File(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open " + path);
  Sha256 h;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return Internal("read failed: " + path);
    }
    if (n == 0) break;
    h.Update(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return h.FinalHex();
}

uint32_t Fnv32a(std::string_view data) {
  uint32_t h = 2166136261u;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace skiff
