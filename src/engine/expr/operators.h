// expr-lang's runtime operations on values (upstream vm/runtime): arithmetic with Go's int and
// float rules, time arithmetic, member and index access, slicing and `in`. Errors carry no
// source location; the evaluator adds it. Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"
#include "engine/expr/value.h"

namespace skiff::expr {

// `+ - * / % ** ^ ..`: int op int stays int (wrapping like Go) except `/` and `**`, which are
// always float; a float operand makes the result float; `+` joins strings and arrays; times
// and durations combine as in Go (`t - t` is a duration, `t + d` a time).
Result<Value> Arithmetic(std::string_view op, const Value& a, const Value& b);

// `from[key]` / `from.key`: a missing map key is nil; negative array indexes count from the end;
// fetching from nil is an error ("cannot fetch b from nil").
Result<Value> Fetch(const Value& from, const Value& key);

// `v[from:to]` on arrays and strings, clamping like upstream; null bounds mean 0 and len.
Result<Value> Slice(const Value& v, const Value* from, const Value* to);

// `needle in haystack`: element equality for arrays, key presence for maps, false for nil.
Result<bool> In(const Value& needle, const Value& haystack);

// An int, or a float truncated toward zero, as upstream's runtime.ToInt.
Result<int64_t> ToInt(const Value& v);

}  // namespace skiff::expr
