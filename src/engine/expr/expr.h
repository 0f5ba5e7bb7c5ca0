// Argo's expression languages, evaluated the way Argo evaluates them.
//
// * `Program` / `Evaluate`: expr-lang (github.com/expr-lang/expr, formerly antonmedv/expr) as Argo
//   uses it for `{{=...}}` tags, `valueFrom.expression`, `retryStrategy.expression`, rewritten
//   `depends`, and so on. The environment is a JSON object navigated with `.` and `[]`; a missing
//   top-level identifier is nil (Argo runs expr with AllowUndefinedVariables). Besides expr's
//   builtins the environment offers Argo's `asInt`, `asFloat`, `toJson`, `jsonpath` and the
//   `sprig` namespace.
// * `EvaluateWhen`: govaluate (github.com/Knetic/govaluate) as Argo evaluates a step or task
//   `when` after `{{...}}` substitution; bare words are string constants.
// * `MarshalGoJson`: Go's encoding/json.Marshal, which Argo applies to non-string results.
//
// Values: JSON integers are expr ints (int64), other numbers floats; `{"$time": "<RFC 3339>"}`
// is a time value. Results convert back the same way; a duration becomes its Go string
// ("1h0m0s").
//
// A `Program` is immutable after `Compile` and cheap to copy (copies share the syntax tree); it
// may be run from several threads at once. Nothing here does I/O, keeps global mutable state or
// throws; only `now()`, `sprig.now`/`sprig.date` without a time, and `sprig.uuidv4` are not
// deterministic.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::expr {

class Program {
 public:
  // Syntax errors, unknown functions and invalid regular expression literals are
  // InvalidArgument whose message ends with "(line:column)" and a caret under the spot.
  static Result<Program> Compile(std::string_view source);

  // Runtime errors (type errors, fetching from nil, failing functions) are InvalidArgument with
  // the location of the failing operation. `now()` reads the system clock.
  Result<Json> Run(const Json& env) const;
  // As above, with `now()` read from `clock` (for tests and replay).
  Result<Json> Run(const Json& env, const Clock& clock) const;

  const std::string& source() const;

 private:
  struct Impl;
  explicit Program(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Compile + Run.
Result<Json> Evaluate(std::string_view source, const Json& env);

// Evaluates a `when` condition; an empty one is true, as in Argo. Errors (bad tokens, type errors, a non-boolean result: "expected
// boolean result, got ...") are InvalidArgument quoting the expression.
Result<bool> EvaluateWhen(std::string_view source);

// Go's json.Marshal: compact, map keys sorted, floats printed like Go (1.0 -> "1", 1e21 ->
// "1e+21", 1e-7 -> "1e-7"), strings escaped like Go (including \u003c \u003e \u0026), and
// `{"$time": ...}` as the quoted time. NaN and infinities, which Go refuses, render as null.
std::string MarshalGoJson(const Json& value);

}  // namespace skiff::expr
