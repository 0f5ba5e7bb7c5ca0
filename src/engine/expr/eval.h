// Tree-walking evaluation of a parsed expr-lang program. Identifiers resolve, in order, to `let`
// variables, `$env` (the whole environment), `sprig` (the sprig namespace) and top-level keys
// of the environment; a missing key is nil, as with expr's AllowUndefinedVariables. Each call
// builds its own small state, so one tree may be evaluated from several threads at once.
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"
#include "engine/expr/ast.h"
#include "engine/expr/value.h"

namespace skiff::expr {

// Runtime errors are InvalidArgument with the "(line:column)" of the failing node.
Result<Value> EvaluateTree(const Node& root, std::string_view source, const Json& env,
                           const CallContext& ctx);

}  // namespace skiff::expr
