// Helpers declared in store.h that every implementation and caller shares.
#include "store/store.h"

#include <charconv>

#include "store/postgres_store.h"
#include "store/selectors.h"
#include "store/sqlite_store.h"

namespace skiff::store {
namespace {

std::string MetaString(const Json& obj, std::string_view field) {
  const Json* meta = FindField(obj, "metadata");
  if (meta == nullptr) return "";
  const Json* v = FindField(*meta, field);
  if (v == nullptr || !v->is_string()) return "";
  return v->get<std::string>();
}

}  // namespace

std::unique_ptr<WatchHandle> Store::WatchShared(
    const WatchOptions& opts, std::function<void(std::shared_ptr<const WatchEvent>)> cb) {
  return Watch(opts, [cb = std::move(cb)](const WatchEvent& ev) {
    cb(std::make_shared<const WatchEvent>(ev));
  });
}

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

ObjectKey KeyOf(const Json& obj) {
  ObjectKey key;
  key.kind = StringField(obj, "kind");
  key.ns = MetaString(obj, "namespace");
  key.name = MetaString(obj, "name");
  return key;
}

std::string KeyString(const ObjectKey& key) {
  std::string s = key.kind;
  s += ' ';
  if (!key.ns.empty()) {
    s += key.ns;
    s += '/';
  }
  s += key.name;
  return s;
}

int64_t ParseResourceVersion(const Json& obj) {
  const Json* meta = FindField(obj, "metadata");
  if (meta == nullptr) return 0;
  const Json* rv = FindField(*meta, "resourceVersion");
  if (rv == nullptr) return 0;
  if (rv->is_number_integer()) return rv->get<int64_t>();
  if (!rv->is_string()) return 0;
  const std::string& s = rv->get_ref<const std::string&>();
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size() || out < 0) return 0;
  return out;
}

Result<bool> MatchesLabelSelector(std::string_view selector, const Json& labels) {
  SKIFF_ASSIGN_OR_RETURN(LabelSelector sel, LabelSelector::Parse(selector));
  return sel.Matches(labels);
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& spec) {
  if (spec.starts_with("postgresql://") || spec.starts_with("postgres://")) {
    return OpenPostgresStore(spec);
  }
  return OpenSqliteStore(spec);
}

Result<std::map<std::string, Json>> Store::GetRecordsByKey(std::string_view collection, std::string_view owner,
                                                           const std::vector<std::string>& keys) {
  std::map<std::string, Json> out;
  for (const auto& key : keys) {
    auto r = GetRecord(collection, owner, key);
    if (r.ok()) {
      out.emplace(key, std::move(*r));
    } else if (r.status().code() != StatusCode::kNotFound) {
      return r.status();
    }
  }
  return out;
}

}  // namespace skiff::store
