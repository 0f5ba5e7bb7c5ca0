// Argo's template tags: `{{name}}` (simple substitution from a flat variable map) and
// `{{=expression}}` (expr-lang, evaluated against the same variables expanded into nested
// objects). Substitution walks JSON values and rewrites string leaves, so values never need
// JSON escaping. Pure; thread-compatible.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::dag {

// A flat map of variable names ("inputs.parameters.x", "steps.a.outputs.result") to values.
// Values are usually strings; loop items and expression-only values may be any JSON.
class Vars {
 public:
  void Set(const std::string& key, std::string value);
  void SetJson(const std::string& key, Json value);
  void Erase(const std::string& key);
  const Json* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // Adds every entry of `other`, overwriting.
  void Merge(const Vars& other);
  size_t size() const { return values_.size(); }
  const std::map<std::string, Json, std::less<>>& values() const { return values_; }

  // The expression environment: dotted keys expanded into nested objects. Where a key is both a
  // value and a prefix of other keys ("inputs.parameters" and "inputs.parameters.x"), the nested
  // object wins. Cached until the next mutation.
  const Json& ExprEnv() const;

 private:
  std::map<std::string, Json, std::less<>> values_;
  mutable std::shared_ptr<const Json> env_;
};

// A read-only chain of `Vars`, searched in order (first match wins), so that a loop item, a
// step's scope and the workflow's globals can be combined without copying any of them.
class VarScope {
 public:
  VarScope(const Vars& v) : layers_{&v} {}  // NOLINT: implicit by design
  VarScope(std::initializer_list<const Vars*> layers) : layers_(layers) {}
  explicit VarScope(std::vector<const Vars*> layers) : layers_(std::move(layers)) {}
  const Json* Find(std::string_view key) const;
  // A chain with `front` searched before this one.
  VarScope With(const Vars* front) const {
    VarScope out(*this);
    out.layers_.insert(out.layers_.begin(), front);
    out.env_.reset();
    return out;
  }
  // Expression environment of the merged chain (built on first use).
  const Json& ExprEnv() const;

 private:
  std::vector<const Vars*> layers_;
  mutable std::shared_ptr<const Json> env_;
};

// Replaces every tag in `text`. With `allow_unresolved`, tags whose variables are unknown (and
// expressions that fail or yield nil) are left as they are; otherwise they are errors naming the
// tag ("failed to resolve {{steps.a.outputs.result}}").
Result<std::string> ReplaceTags(std::string_view text, const VarScope& vars, bool allow_unresolved);

// ReplaceTags over every string leaf of `value` (object keys are left alone).
Result<Json> ReplaceTagsInJson(const Json& value, const VarScope& vars, bool allow_unresolved);
// The same, rewriting `value` itself: only the strings that contain "{{" are touched, nothing
// is copied. On error `value` may be partly rewritten.
Status ReplaceTagsInPlace(Json& value, const VarScope& vars, bool allow_unresolved);

// True if some string leaf of `value` contains "{{" (a cheap test before substituting).
bool ContainsTagOpen(const Json& value);
// True if `text` contains a `{{` ... `}}` tag.
bool HasTags(std::string_view text);
// Names of the simple tags in `text` ("{{a.b}}" -> "a.b"); expression tags are skipped.
std::vector<std::string> SimpleTagNames(std::string_view text);

// Go's fmt "%v" rendering of a JSON value, which is how Argo turns an expression result into
// text: floats in shortest 'g' form (1e+06), arrays as "[a b]", objects as "map[k:v]".
std::string GoFormatV(const Json& value);

}  // namespace skiff::dag
