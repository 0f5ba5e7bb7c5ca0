// The documents that describe the API rather than serve resources: discovery (`/api`, `/apis`,
// `/api/v1`, `/apis/{group}/{version}`), OpenAPI v3 (`/openapi/v3` and one document per group
// version), and the `Table` form `kubectl get` asks for. All derive from kinds/registry.h.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/json.h"
#include "kinds/registry.h"

namespace skiff::api {

Json ApiVersionsDoc(std::string_view server_address);
Json ApiGroupListDoc();
// Null if the group or group version is not served.
Json ApiGroupDoc(std::string_view group);
Json ApiResourceListDoc(std::string_view group, std::string_view version);

Json OpenApiRootDoc();
// Null if the group version is not served. `path` is "api/v1" or "apis/{group}/{version}".
Json OpenApiGroupVersionDoc(std::string_view path);

// "as=Table" in an Accept header.
bool WantsTable(std::string_view accept);
enum class TableObjects { kNone, kMetadata, kObject };  // `?includeObject=`
// A meta.k8s.io/v1 Table of `items` (all of kind `kind`), as `kubectl get` prints it.
Json ToTable(const kinds::KindInfo& kind, const std::vector<Json>& items, TableObjects objects,
             bool with_columns, TimePoint now);

}  // namespace skiff::api
