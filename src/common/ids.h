// Identifiers and hashes: Kubernetes-style uids and name suffixes, SHA-256 (content addressing,
// cache keys) and FNV-1a (Argo's node and pod name hashes). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

// A random RFC 4122 version-4 UUID, as Kubernetes uses for `metadata.uid`.
std::string NewUid();

// `n` random characters from Kubernetes' generateName alphabet ("bcdfghjklmnpqrstvwxz2456789").
std::string RandomSuffix(size_t n = 5);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  std::string FinalHex();

 private:
  void* ctx_;
};

// SHA-256 of a file's contents.
Result<std::string> Sha256File(const std::string& path);

// 32-bit FNV-1a, as Go's hash/fnv New32a.
uint32_t Fnv32a(std::string_view data);

}  // namespace skiff
