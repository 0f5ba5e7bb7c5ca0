#include "api/kube_patch.h"

#include <string>

namespace skiff::api {

Result<PatchType> PatchTypeFromContentType(std::string_view ct) {
  std::string_view base = ct.substr(0, ct.find(';'));
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  if (base == "application/merge-patch+json") return PatchType::kMerge;
  if (base == "application/strategic-merge-patch+json") return PatchType::kStrategicMerge;
  if (base == "application/json-patch+json") return PatchType::kJsonPatch;
  if (base == "application/apply-patch+yaml") return PatchType::kApply;
  return InvalidArgument("the body of the request was in an unknown format - accepted media "
                         "types include: application/json-patch+json, application/merge-patch+json, "
                         "application/strategic-merge-patch+json, application/apply-patch+yaml");
}

namespace {

// The key a list of objects merges on, if every element of both lists has it.
const char* MergeKey(const Json& a, const Json& b) {
  static const char* const kKeys[] = {"name", "mountPath", "containerPort", "devicePath", "ip",
                                      "topologyKey"};
  for (const char* key : kKeys) {
    bool all = true;
    for (const Json* list : {&a, &b}) {
      for (const auto& e : *list) {
        if (!e.is_object()) return nullptr;
        if (e.contains("$patch")) continue;
        if (!e.contains(key)) {
          all = false;
          break;
        }
      }
      if (!all) break;
    }
    if (all && (!a.empty() || !b.empty())) return key;
  }
  return nullptr;
}

Json StrategicMerge(const Json& target, const Json& patch);

Json MergeLists(const Json& target, const Json& patch) {
  const char* key = MergeKey(target, patch);
  if (key == nullptr) {
    // Scalars or unkeyed objects: the patch's list replaces, minus directive elements.
    Json out = Json::array();
    for (const auto& e : patch) {
      if (e.is_object() && e.contains("$patch")) continue;
      out.push_back(e);
    }
    return out;
  }
  for (const auto& e : patch) {
    if (e.is_object() && StringField(e, "$patch") == "replace") {
      Json out = Json::array();
      for (const auto& p : patch) {
        if (!(p.is_object() && p.contains("$patch"))) out.push_back(p);
      }
      return out;
    }
  }
  Json out = target;
  for (const auto& e : patch) {
    const Json& id = e[key];
    size_t i = 0;
    for (; i < out.size(); ++i) {
      if (out[i].value(key, Json()) == id) break;
    }
    bool remove = StringField(e, "$patch") == "delete";
    if (i < out.size()) {
      if (remove) {
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        out[i] = StrategicMerge(out[i], e);
      }
    } else if (!remove) {
      out.push_back(StrategicMerge(Json::object(), e));
    }
  }
  return out;
}

Json StrategicMerge(const Json& target, const Json& patch) {
  if (!patch.is_object()) return patch;
  if (StringField(patch, "$patch") == "replace") {
    Json out = patch;
    out.erase("$patch");
    return out;
  }
  if (StringField(patch, "$patch") == "delete") return Json();
  Json out = target.is_object() ? target : Json::object();
  if (const Json* retain = FindField(patch, "$retainKeys"); retain != nullptr && retain->is_array()) {
    Json kept = Json::object();
    for (const auto& k : *retain) {
      if (k.is_string() && out.contains(k.get<std::string>())) kept[k.get<std::string>()] = out[k.get<std::string>()];
    }
    out = std::move(kept);
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (k == "$retainKeys" || k == "$patch" || k.rfind("$setElementOrder/", 0) == 0) continue;
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string field = k.substr(std::string("$deleteFromPrimitiveList/").size());
      if (out.contains(field) && out[field].is_array()) {
        Json kept = Json::array();
        for (const auto& v : out[field]) {
          bool drop = false;
          for (const auto& d : it.value()) drop = drop || d == v;
          if (!drop) kept.push_back(v);
        }
        out[field] = std::move(kept);
      }
      continue;
    }
    const Json& v = it.value();
    if (v.is_null()) {
      out.erase(k);
    } else if (v.is_object() && out.contains(k) && out[k].is_object()) {
      Json merged = StrategicMerge(out[k], v);
      if (merged.is_null()) {
        out.erase(k);
      } else {
        out[k] = std::move(merged);
      }
    } else if (v.is_array() && out.contains(k) && out[k].is_array()) {
      out[k] = MergeLists(out[k], v);
    } else if (v.is_object()) {
      Json merged = StrategicMerge(Json::object(), v);
      if (!merged.is_null()) out[k] = std::move(merged);
    } else if (v.is_array()) {
      out[k] = MergeLists(Json::array(), v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

}  // namespace

Result<Json> ApplyPatch(const Json& target, const Json& patch, PatchType type) {
  try {
    switch (type) {
      case PatchType::kMerge:
      case PatchType::kApply: {
        if (!patch.is_object()) return InvalidArgument("a merge patch must be a JSON object");
        Json out = target;
        out.merge_patch(patch);
        return out;
      }
      case PatchType::kStrategicMerge:
        if (!patch.is_object()) return InvalidArgument("a strategic merge patch must be a JSON object");
        return StrategicMerge(target, patch);
      case PatchType::kJsonPatch:
        if (!patch.is_array()) return InvalidArgument("a JSON patch must be an array of operations");
        return target.patch(patch);
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("the patch could not be applied: ") + e.what());
  }
  return InvalidArgument("unknown patch type");
}

}  // namespace skiff::api
