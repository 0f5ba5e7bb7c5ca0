// Katib's condition rule, shared by the Experiment controller's files: a condition's
// `lastTransitionTime` moves only when its status flips; `lastUpdateTime` on any change.
#pragma once

#include <string>

#include "common/json.h"

namespace skiff::controllers::katib {

void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now);

}  // namespace skiff::controllers::katib
