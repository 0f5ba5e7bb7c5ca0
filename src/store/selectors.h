// Label and field selectors, as the Kubernetes API server accepts them in `?labelSelector=` and
// `?fieldSelector=`. A selector is parsed once (`Parse`) and then matched against many objects,
// so `List` does not re-parse per item. Parsed selectors are immutable values: thread-compatible,
// safe to share between threads for reading.
//
// Label selector grammar (k8s.io/apimachinery/pkg/labels):
//   selector    := "" | requirement ("," requirement)*
//   requirement := key | "!" key | key ("=" | "==" | "!=") value
//                | key ("in" | "notin") "(" value ("," value)* ")" | key (">" | "<") integer
// `!=` and `notin` also match objects that lack the key; `in`, `=`, `>` and `<` require it.
//
// Field selectors: comma-separated `field=value`, `field==value` or `field!=value`, where field is
// one of `metadata.name`, `metadata.namespace` or `status.phase` (a missing field reads as "").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "store/store.h"

namespace skiff::store {

struct LabelRequirement {
  enum class Op {
    kEquals,
    kNotEquals,
    kIn,
    kNotIn,
    kExists,
    kDoesNotExist,
    kGreaterThan,
    kLessThan
  };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;  // one for =, !=, >, <; the set for in/notin; none otherwise
};

class LabelSelector {
 public:
  // Errors are `InvalidArgument` and say where the text went wrong.
  static Result<LabelSelector> Parse(std::string_view text);

  // `labels` is an object of strings (`metadata.labels`); null or absent means no labels.
  bool Matches(const Json& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
};

struct FieldRequirement {
  std::string field;   // "metadata.name", "metadata.namespace" or "status.phase"
  bool equals = true;  // false for "!="
  std::string value;
};

class FieldSelector {
 public:
  static Result<FieldSelector> Parse(std::string_view text);

  // `obj` is a whole resource.
  bool Matches(const Json& obj) const;
  // Only the requirements on the object's key (name, namespace), which a store can check from
  // its index columns before parsing the document.
  bool MatchesKey(std::string_view ns, std::string_view name) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<FieldRequirement> requirements_;
};

// `List`'s selection as every store applies it to the rows it read (in list order), after its
// query has already narrowed them by kind, namespace and, optionally, `status.phase`.
class ListFilter {
 public:
  // `InvalidArgument` for a malformed selector.
  static Result<ListFilter> Parse(const ListOptions& opts);

  // For the store's query (e.g. `status.phase` requirements answered by an index).
  const FieldSelector& fields() const { return fields_; }

  // Appends the row's document (`data`, parsed only if its key matches) to `items` if it matches.
  // Returns false once `items` holds `limit` objects: stop reading. Corrupt JSON is `Internal`.
  Result<bool> Add(std::string_view ns, std::string_view name, std::string_view data,
                   std::vector<Json>& items) const;

 private:
  LabelSelector labels_;
  FieldSelector fields_;
  int64_t limit_ = 0;
  // Strings every matching document's text must contain (the values of `key=value` and the
  // keys of `key` requirements that JSON writes unescaped): a row without one of them is
  // skipped without parsing, so selecting one run's Pods from thousands stays cheap.
  std::vector<std::string> needles_;
};

// What a `status.phase` field selector compares: the string at `status.phase`, "" when absent or
// not a string. Stores that index the phase store this.
std::string StatusPhase(const Json& obj);

}  // namespace skiff::store
