// The first step of every Reconcile: the object a queue key names, read from the store.
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "common/status.h"
#include "controllers/runtime/work_queue.h"
#include "store/store.h"

namespace skiff::controllers {

// Reads the object `key` (a `QueueKey`) names. nullopt when there is nothing to do: the key is
// malformed, or the object is gone (then the key is dropped from `queue`, so its retries and
// resyncs stop). An error for any other failure to read, to be retried.
Result<std::optional<Json>> GetQueuedObject(store::Store& store, WorkQueue& queue,
                                            const std::string& key);

}  // namespace skiff::controllers
