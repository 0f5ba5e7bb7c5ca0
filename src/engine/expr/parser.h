// Parser for expr-lang, a precedence-climbing port of upstream's parser (same precedence table,
// same handling of `not in`, chained comparisons `a < b < c`, `?.` chains, predicates with `#`,
// the pipe `x | f(y)` and `let x = ...; body`). Function names are resolved here, so an unknown
// function is a compile error; so is an invalid regular expression literal after `matches`.
// Pure; thread-safe.
#pragma once

#include <memory>
#include <string_view>

#include "common/status.h"
#include "engine/expr/ast.h"

namespace skiff::expr {

// Syntax errors are InvalidArgument naming the token and its "(line:column)".
Result<std::unique_ptr<Node>> Parse(std::string_view source);

}  // namespace skiff::expr
