// `ObjectCache`: a bounded LRU of parsed objects, keyed by (kind, namespace, name) and validated
// by (uid, resourceVersion). A store reads the row's uid and version first (cheap and
// authoritative, inside its transaction) and uses the cached document only when both match, so
// a write made by another process is never served stale. Parsing a 2 KB document costs about
// three times as much as copying one, and the read-modify-write of a status update is the
// store's hottest path.
//
// Not thread-safe: the owning store guards it with its own mutex.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/json.h"
#include "store/store.h"

namespace skiff::store {

class ObjectCache {
 public:
  explicit ObjectCache(size_t capacity) : capacity_(capacity) {}

  // The cached document if it is this (uid, rv); null otherwise. Valid until the next call.
  const Json* Find(const ObjectKey& key, std::string_view uid, int64_t rv);
  // Moves the document out and drops the entry, if it is this (uid, rv).
  std::optional<Json> Take(const ObjectKey& key, std::string_view uid, int64_t rv);
  // Inserts or replaces; evicts the least recently used entry beyond capacity.
  void Put(const ObjectKey& key, std::string uid, int64_t rv, Json doc);
  void Erase(const ObjectKey& key);
  void Clear();

  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string key;
    std::string uid;
    int64_t rv;
    Json doc;
  };
  static std::string Flatten(const ObjectKey& key);
  std::list<Entry>::iterator Lookup(const std::string& flat, std::string_view uid, int64_t rv);

  size_t capacity_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace skiff::store
