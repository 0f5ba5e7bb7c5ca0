// The syntax tree of an expr-lang program. Built once by the parser, then immutable and shared
// by every `Program` copy; evaluation only reads it, so it is safe to use from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/expr/regex.h"
#include "engine/expr/value.h"

namespace skiff::expr {

enum class NodeKind {
  kNil,
  kBool,         // bool_value
  kInt,          // int_value
  kFloat,        // float_value
  kString,       // str
  kIdentifier,   // str: a `let` variable, `$env`, `sprig` or an env key
  kPointer,      // str: "" (the element, `#`), "index" or "acc", inside a predicate
  kUnary,        // str: operator; children: operand
  kBinary,       // str: operator; children: left, right
  kConditional,  // children: condition, then, else
  kMember,       // children: object, property; optional for `?.`
  kSlice,        // children: object, from (may be null), to (may be null)
  kChain,        // children: the chain holding a `?.`; yields nil when one short-circuits
  kCall,         // function; children: arguments
  kMethodCall,   // str: method name; children: object, arguments...; optional for `?.`
  kPredicate,    // predicate; children: collection, closure, [extra argument]
  kClosure,      // children: body
  kArray,        // children: elements
  kMap,          // children: key, value, key, value...
  kLet,          // str: name; children: value, body
};

// The builtins that take a closure (`filter(xs, {# > 1})`).
enum class Predicate {
  kAll, kNone, kAny, kOne, kFilter, kMap, kCount, kSum, kFind, kFindIndex, kFindLast,
  kFindLastIndex, kGroupBy, kSortBy, kReduce,
};

struct Node {
  NodeKind kind = NodeKind::kNil;
  size_t pos = 0;  // byte offset in the source, for error locations
  int depth = 1;   // height of this subtree

  std::string str;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0;
  bool optional = false;

  const NativeFunction* function = nullptr;  // kCall
  Predicate predicate = Predicate::kAll;     // kPredicate
  std::shared_ptr<const GoRegex> regex;      // kBinary "matches" with a literal pattern

  std::vector<std::unique_ptr<Node>> children;  // an absent slice bound is a null entry
};

}  // namespace skiff::expr
