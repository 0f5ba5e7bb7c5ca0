#include "controllers/runtime/queued_object.h"

namespace skiff::controllers {

Result<std::optional<Json>> GetQueuedObject(store::Store& store, WorkQueue& queue,
                                            const std::string& key) {
  std::string kind, ns, name;
  if (!ParseQueueKey(key, &kind, &ns, &name)) return std::optional<Json>();
  auto got = store.Get({kind, ns, name});
  if (got.ok()) return std::optional<Json>(std::move(*got));
  if (got.status().code() != StatusCode::kNotFound) return got.status();
  queue.Drop(key);
  return std::optional<Json>();
}

}  // namespace skiff::controllers
