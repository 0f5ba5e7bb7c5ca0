#include "engine/expr/expr.h"

#include <cmath>

#include "engine/expr/ast.h"
#include "engine/expr/eval.h"
#include "engine/expr/go_format.h"
#include "engine/expr/parser.h"
#include "engine/expr/value.h"

namespace skiff::expr {

struct Program::Impl {
  std::string source;
  std::unique_ptr<Node> root;  // positions refer to `source`
};

Result<Program> Program::Compile(std::string_view source) {
  auto impl = std::make_shared<Impl>();
  impl->source = std::string(source);
  SKIFF_ASSIGN_OR_RETURN(impl->root, Parse(impl->source));
  return Program(std::move(impl));
}

Result<Json> Program::Run(const Json& env) const { return Run(env, SystemClock::Get()); }

Result<Json> Program::Run(const Json& env, const Clock& clock) const {
  CallContext ctx;
  ctx.clock = &clock;
  SKIFF_ASSIGN_OR_RETURN(Value v, EvaluateTree(*impl_->root, impl_->source, env, ctx));
  return ToJson(v);
}

const std::string& Program::source() const { return impl_->source; }

Result<Json> Evaluate(std::string_view source, const Json& env) {
  SKIFF_ASSIGN_OR_RETURN(Program p, Program::Compile(source));
  return p.Run(env);
}

namespace {

Json WithoutNonFinite(const Json& j) {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) return nullptr;
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& e : j) out.push_back(WithoutNonFinite(e));
    return out;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = WithoutNonFinite(it.value());
    return out;
  }
  return j;
}

}  // namespace

std::string MarshalGoJson(const Json& value) {
  auto s = MarshalJson(FromJson(value));
  if (s.ok()) return std::move(s).value();
  auto sanitized = MarshalJson(FromJson(WithoutNonFinite(value)));
  return sanitized.ok() ? std::move(sanitized).value() : "null";
}

}  // namespace skiff::expr
