// The patch formats `PATCH` accepts, applied to a stored object:
//  * JSON merge patch (RFC 7386, `application/merge-patch+json`): what kubectl sends for
//    custom resources;
//  * strategic merge patch (`application/strategic-merge-patch+json`): kubectl's format for
//    built-in kinds. Lists of objects keyed by `name` (containers, env, volumes, ports, ...)
//    merge element by element; `$patch: delete|replace` and `$retainKeys` are honoured and the
//    `$setElementOrder/...` and `$deleteFromPrimitiveList/...` directives are applied or dropped;
//  * JSON patch (RFC 6902, `application/json-patch+json`).
// Pure functions; errors are InvalidArgument with a message for the client.
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace skiff::api {

enum class PatchType { kMerge, kStrategicMerge, kJsonPatch, kApply };

// From a Content-Type header; InvalidArgument (415 at the edge) if it is none of them.
Result<PatchType> PatchTypeFromContentType(std::string_view content_type);

Result<Json> ApplyPatch(const Json& target, const Json& patch, PatchType type);

}  // namespace skiff::api
