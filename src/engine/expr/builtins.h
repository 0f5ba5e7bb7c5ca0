// The functions an expression can call: expr-lang's builtins (`len`, `upper`, `toJSON`, `now`,
// ...), Argo's additions (`asInt`, `asFloat`, `toJson`, `jsonpath`), the sprig namespace
// (`sprig.add`, `sprig.date`, ...) and the methods of time and duration values
// (`t.Unix()`, `d.Seconds()`). The tables are immutable; every function is pure except those
// reading the clock (`now`) or randomness (`sprig.uuidv4`). Thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/expr/value.h"

namespace skiff::expr {

// A top-level function (an expr builtin or an Argo addition), or null.
const NativeFunction* FindFunction(std::string_view name);
// `sprig.<name>`, or null.
const NativeFunction* FindSprigFunction(std::string_view name);
// The value of the identifier `sprig`: a map from name to function.
const Value& SprigNamespace();

// Calls method `name` of a time or duration value.
Result<Value> CallTimeMethod(const CallContext& ctx, const Value& receiver, std::string_view name,
                             const std::vector<Value>& args);

// Helpers shared by the builtin tables.
Status ArgCount(std::string_view fn, const std::vector<Value>& args, size_t min, size_t max);
Result<std::string> StringArg(std::string_view fn, const std::vector<Value>& args, size_t i);
Result<int64_t> IntArg(std::string_view fn, const std::vector<Value>& args, size_t i);

// expr's `int(x)` and `float(x)` (also Argo's `asInt` and `asFloat`).
Result<Value> ToIntValue(const Value& v, std::string_view fn);
Result<Value> ToFloatValue(const Value& v, std::string_view fn);

// The sprig table, defined in sprig.cc.
const std::vector<NativeFunction>& SprigFunctions();

// Argo's `jsonpath(jsonText, path)`, defined in jsonpath.cc.
Result<Value> JsonPathQuery(const Value& document, std::string_view path);

}  // namespace skiff::expr
