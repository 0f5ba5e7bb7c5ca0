// JSON values and the YAML <-> JSON bridge. Every resource inside Skiff is a `Json` document
// (nlohmann::json): YAML input is parsed into it with Kubernetes' scalar typing, and YAML output
// is emitted from it. Free functions only; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff {

using Json = nlohmann::json;

// Parses one JSON document.
Result<Json> ParseJson(std::string_view text);

// Parses every document of a YAML stream ("---" separated); empty documents are dropped.
// Plain scalars are typed with the YAML 1.2 core schema (null, bool, int, float, else string);
// quoted and block scalars are strings. Errors carry "line L, column C".
Result<std::vector<Json>> ParseYamlDocuments(std::string_view text);

// Parses a stream that must hold exactly one document.
Result<Json> ParseYaml(std::string_view text);

// Emits block-style YAML with 2-space indentation; strings are quoted only where a plain scalar
// would read back as something else, and multi-line strings use literal blocks.
std::string ToYaml(const Json& value);

// Compact (`indent` < 0) or indented JSON text; never throws on invalid UTF-8 (replaces it).
std::string DumpJson(const Json& value, int indent = -1);

// Small accessors for optional fields in untyped documents.
const Json* FindField(const Json& obj, std::string_view key);
std::string StringField(const Json& obj, std::string_view key, std::string_view fallback = "");
// An integer field, or `fallback` when it is absent or not an integer.
int64_t IntField(const Json& obj, std::string_view key, int64_t fallback);
// A string rendering of any scalar as Argo/Kubernetes would print it: strings as-is, numbers and
// bools in JSON form, null as empty; objects and arrays as compact JSON.
std::string ScalarToString(const Json& value);

}  // namespace skiff
