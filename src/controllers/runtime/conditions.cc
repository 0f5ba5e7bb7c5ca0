#include "controllers/runtime/conditions.h"

namespace skiff::controllers {

const Json* FindCondition(const Json& status, std::string_view type) {
  const Json* conds = FindField(status, "conditions");
  if (conds == nullptr || !conds->is_array()) return nullptr;
  for (const auto& c : *conds) {
    if (StringField(c, "type") == type) return &c;
  }
  return nullptr;
}

bool HasTrueCondition(const Json& status, std::string_view type) {
  const Json* c = FindCondition(status, type);
  return c != nullptr && StringField(*c, "status") == "True";
}

}  // namespace skiff::controllers
