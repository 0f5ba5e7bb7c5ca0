// Go's text renderings that expression results must match byte for byte: strconv float
// formatting (as fmt's %v and encoding/json print floats), encoding/json.Marshal, strconv.Quote
// and encoding/base64. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/expr/value.h"

namespace skiff::expr {

// fmt's %v for a float64: shortest round-trip digits, exponent form when the decimal exponent is
// < -4 or >= 6 ("1e+06", "123456", "1.5e-05", "+Inf", "NaN").
std::string FormatFloatV(double d);
// encoding/json's float rendering: "1", "35.8", "1e+21", "0.000001", "1e-7".
std::string FormatFloatJson(double d);
// strconv.FormatFloat(d, 'f', -1, 64): shortest digits, never an exponent.
std::string FormatFloatPlain(double d);

// encoding/json.Marshal (indent empty) or MarshalIndent(v, "", indent). Map keys are sorted and
// strings are escaped like Go, including \u003c \u003e \u0026. Times are RFC 3339 strings with
// nanoseconds, durations their nanosecond count. NaN, infinities and functions are errors, as
// in Go.
Result<std::string> MarshalJson(const Value& v, std::string_view indent = "");

// Appends `s` as a JSON string literal with Go's escaping.
void AppendJsonString(std::string& out, std::string_view s);

// strconv.Quote: a double-quoted Go string literal.
std::string GoQuote(std::string_view s);

// encoding/base64 StdEncoding. Decoding ignores '\r' and '\n' and requires padding, like Go.
std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text);

// Decodes the UTF-8 sequence starting at s[i] into *rune; returns its length, or 0 when the
// bytes there are not valid UTF-8 (Go then treats one byte as U+FFFD).
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* rune);

// Parses JSON text the way Go's json.Unmarshal into `any` does: every number becomes a float.
Result<Value> ParseJsonAsGo(std::string_view text);

}  // namespace skiff::expr
