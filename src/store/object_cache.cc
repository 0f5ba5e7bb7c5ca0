#include "store/object_cache.h"

namespace skiff::store {

std::string ObjectCache::Flatten(const ObjectKey& key) {
  std::string flat;
  flat.reserve(key.kind.size() + key.ns.size() + key.name.size() + 2);
  flat += key.kind;
  flat += '\0';
  flat += key.ns;
  flat += '\0';
  flat += key.name;
  return flat;
}

std::list<ObjectCache::Entry>::iterator ObjectCache::Lookup(const std::string& flat,
                                                            std::string_view uid, int64_t rv) {
  auto it = index_.find(flat);
  if (it == index_.end()) return lru_.end();
  if (it->second->uid != uid || it->second->rv != rv) {
    lru_.erase(it->second);
    index_.erase(it);
    return lru_.end();
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second;
}

const Json* ObjectCache::Find(const ObjectKey& key, std::string_view uid, int64_t rv) {
  if (capacity_ == 0) return nullptr;
  auto it = Lookup(Flatten(key), uid, rv);
  return it == lru_.end() ? nullptr : &it->doc;
}

std::optional<Json> ObjectCache::Take(const ObjectKey& key, std::string_view uid, int64_t rv) {
  if (capacity_ == 0) return std::nullopt;
  std::string flat = Flatten(key);
  auto it = Lookup(flat, uid, rv);
  if (it == lru_.end()) return std::nullopt;
  std::optional<Json> doc(std::move(it->doc));
  lru_.erase(it);
  index_.erase(flat);
  return doc;
}

void ObjectCache::Put(const ObjectKey& key, std::string uid, int64_t rv, Json doc) {
  if (capacity_ == 0) return;
  std::string flat = Flatten(key);
  auto it = index_.find(flat);
  if (it != index_.end()) {
    it->second->uid = std::move(uid);
    it->second->rv = rv;
    it->second->doc = std::move(doc);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{flat, std::move(uid), rv, std::move(doc)});
  index_.emplace(std::move(flat), lru_.begin());
  while (index_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void ObjectCache::Erase(const ObjectKey& key) {
  auto it = index_.find(Flatten(key));
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void ObjectCache::Clear() {
  index_.clear();
  lru_.clear();
}

}  // namespace skiff::store
