// Reading Kubernetes-style `status.conditions` ({type, status, reason, message, ...}). Each
// controller keeps its own rule for *setting* conditions (upstream operators differ on when a
// transition time moves), but finding them is the same everywhere.
#pragma once

#include <string_view>

#include "common/json.h"

namespace skiff::controllers {

// The condition of `type` in `status`, or null.
const Json* FindCondition(const Json& status, std::string_view type);
// Whether `status` has a condition of `type` whose status is "True".
bool HasTrueCondition(const Json& status, std::string_view type);

}  // namespace skiff::controllers
