// Shared helpers of the sprig function tables (sprig.cc, sprig_text.cc, sprig_collections.cc).
// Internal to the expr module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/expr/value.h"

namespace skiff::expr::sprig {

// Native function parameters; `ctx` is unused by most sprig functions.
#define SPRIG_ARGS [[maybe_unused]] const CallContext &ctx, const std::vector<Value> &args

// spf13/cast ToInt64: ints, truncated floats, bools as 0/1, strings via strconv.ParseInt(s, 0,
// 64) after dropping a zero decimal part ("3.0"); everything else (and parse errors) is 0.
int64_t ToInt64(const Value& v);
// spf13/cast ToFloat64.
double ToFloat64(const Value& v);
// sprig's strval: strings as is, times and durations via String(), the rest as %v.
std::string StrVal(const Value& v);
// sprig's strslice: a list's non-nil elements as strings; a scalar as a one-element list.
std::vector<std::string> StrSlice(const Value& v);
// sprig's empty: the zero value of its type.
bool Empty(const Value& v);

Result<const Map*> MapArg(std::string_view fn, const std::vector<Value>& args, size_t i);
Result<const Array*> ListArg(std::string_view fn, const std::vector<Value>& args, size_t i);
Result<std::string> Str(std::string_view fn, const std::vector<Value>& args, size_t i);
Value Strings(const std::vector<std::string>& parts);

// The string and regular-expression functions (sprig_text.cc) and the list, dict and logic
// functions (sprig_collections.cc).
void AppendTextFunctions(std::vector<NativeFunction>& table);
void AppendCollectionFunctions(std::vector<NativeFunction>& table);

}  // namespace skiff::expr::sprig
