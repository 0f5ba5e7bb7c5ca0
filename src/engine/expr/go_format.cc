#include "engine/expr/go_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "engine/expr/go_time.h"

namespace skiff::expr {
namespace {

// The shortest decimal that round-trips `d` (finite, non-zero): value = 0.<digits> * 10^dp.
struct Decimal {
  std::string digits;
  int dp = 0;
};

Decimal Shortest(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  size_t e = s.find('e');
  Decimal out;
  for (char c : s.substr(0, e)) {
    if (c != '.') out.digits += c;
  }
  while (out.digits.size() > 1 && out.digits.back() == '0') out.digits.pop_back();
  out.dp = std::atoi(std::string(s.substr(e + 1)).c_str()) + 1;
  return out;
}

std::string FormatE(const Decimal& dec, bool neg) {
  std::string out = neg ? "-" : "";
  out += dec.digits[0];
  if (dec.digits.size() > 1) {
    out += '.';
    out += dec.digits.substr(1);
  }
  int exp = dec.dp - 1;
  out += 'e';
  out += exp < 0 ? '-' : '+';
  int a = exp < 0 ? -exp : exp;
  if (a < 10) out += '0';
  out += std::to_string(a);
  return out;
}

std::string FormatF(const Decimal& dec, bool neg) {
  std::string out = neg ? "-" : "";
  int n = static_cast<int>(dec.digits.size());
  if (dec.dp <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-dec.dp), '0');
    out += dec.digits;
  } else if (dec.dp >= n) {
    out += dec.digits;
    out.append(static_cast<size_t>(dec.dp - n), '0');
  } else {
    out += dec.digits.substr(0, static_cast<size_t>(dec.dp));
    out += '.';
    out += dec.digits.substr(static_cast<size_t>(dec.dp));
  }
  return out;
}

bool SpecialFloat(double d, std::string* out) {
  if (std::isnan(d)) {
    *out = "NaN";
    return true;
  }
  if (std::isinf(d)) {
    *out = d > 0 ? "+Inf" : "-Inf";
    return true;
  }
  if (d == 0) {
    *out = std::signbit(d) ? "-0" : "0";
    return true;
  }
  return false;
}

constexpr char kHexLower[] = "0123456789abcdef";

size_t DecodeRuneImpl(std::string_view s, size_t i, uint32_t* rune) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t r;
  if (c < 0x80) {
    *rune = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    r = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    r = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    r = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    r = (r << 6) | (cc & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF, as Go does.
  if ((len == 2 && r < 0x80) || (len == 3 && r < 0x800) || (len == 4 && r < 0x10000) ||
      (r >= 0xD800 && r <= 0xDFFF) || r > 0x10FFFF) {
    return 0;
  }
  *rune = r;
  return len;
}

void AppendHex4(std::string& out, uint32_t v) {
  for (int shift = 12; shift >= 0; shift -= 4) out += kHexLower[(v >> shift) & 0xF];
}

Status MarshalInto(const Value& v, std::string_view indent, int depth, std::string& out) {
  auto newline = [&](int d) {
    if (indent.empty()) return;
    out += '\n';
    for (int i = 0; i < d; ++i) out += indent;
  };
  switch (v.kind()) {
    case Value::Kind::kNil:
      out += "null";
      return OkStatus();
    case Value::Kind::kBool:
      out += v.AsBool() ? "true" : "false";
      return OkStatus();
    case Value::Kind::kInt:
      out += std::to_string(v.AsInt());
      return OkStatus();
    case Value::Kind::kFloat:
      if (!std::isfinite(v.AsFloat())) {
        return InvalidArgument("json: unsupported value: " + FormatFloatV(v.AsFloat()));
      }
      out += FormatFloatJson(v.AsFloat());
      return OkStatus();
    case Value::Kind::kString:
      AppendJsonString(out, v.AsString());
      return OkStatus();
    case Value::Kind::kTime:
      AppendJsonString(out, FormatGoTime(v.AsTime(), kRfc3339Nano));
      return OkStatus();
    case Value::Kind::kDuration:
      out += std::to_string(v.AsDurationNs());
      return OkStatus();
    case Value::Kind::kFunction:
      return InvalidArgument("json: unsupported type: func");
    case Value::Kind::kArray: {
      const Array& a = v.AsArray();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        SKIFF_RETURN_IF_ERROR(MarshalInto(a[i], indent, depth + 1, out));
      }
      if (!a.empty()) newline(depth);
      out += ']';
      return OkStatus();
    }
    case Value::Kind::kMap: {
      const Map& m = v.AsMap();
      out += '{';
      bool first = true;
      for (const auto& [k, e] : m) {
        if (!first) out += ',';
        first = false;
        newline(depth + 1);
        AppendJsonString(out, k);
        out += indent.empty() ? ":" : ": ";
        SKIFF_RETURN_IF_ERROR(MarshalInto(e, indent, depth + 1, out));
      }
      if (!m.empty()) newline(depth);
      out += '}';
      return OkStatus();
    }
  }
  return OkStatus();
}

Value GoValueFromJson(const Json& j) {
  switch (j.type()) {
    case Json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return Value::Float(j.get<double>());
    case Json::value_t::string:
      return Value::String(j.get<std::string>());
    case Json::value_t::array: {
      Array a;
      a.reserve(j.size());
      for (const Json& e : j) a.push_back(GoValueFromJson(e));
      return Value::MakeArray(std::move(a));
    }
    case Json::value_t::object: {
      Map m;
      for (auto it = j.begin(); it != j.end(); ++it) {
        m.insert_or_assign(it.key(), GoValueFromJson(it.value()));
      }
      return Value::MakeMap(std::move(m));
    }
    default:
      return Value();
  }
}

}  // namespace

size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* rune) {
  return DecodeRuneImpl(s, i, rune);
}

std::string FormatFloatV(double d) {
  std::string special;
  if (SpecialFloat(d, &special)) return special;
  Decimal dec = Shortest(d);
  int exp = dec.dp - 1;
  if (exp < -4 || exp >= 6) return FormatE(dec, d < 0);
  return FormatF(dec, d < 0);
}

std::string FormatFloatJson(double d) {
  std::string special;
  if (SpecialFloat(d, &special)) return special;
  Decimal dec = Shortest(d);
  double abs = std::fabs(d);
  if (abs < 1e-6 || abs >= 1e21) {
    std::string s = FormatE(dec, d < 0);
    // Go cleans up "e-07" to "e-7" (but keeps "e+21").
    size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
    return s;
  }
  return FormatF(dec, d < 0);
}

std::string FormatFloatPlain(double d) {
  std::string special;
  if (SpecialFloat(d, &special)) return special;
  return FormatF(Shortest(d), d < 0);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u";
            AppendHex4(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    uint32_t rune = 0;
    size_t len = DecodeRuneImpl(s, i, &rune);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (rune == 0x2028 || rune == 0x2029) {
      out += "\\u";
      AppendHex4(out, rune);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

Result<std::string> MarshalJson(const Value& v, std::string_view indent) {
  std::string out;
  SKIFF_RETURN_IF_ERROR(MarshalInto(v, indent, 0, out));
  return out;
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    uint32_t r = 0;
    size_t len = DecodeRuneImpl(s, i, &r);
    if (len == 0) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += kHexLower[c >> 4];
      out += kHexLower[c & 0xF];
      ++i;
      continue;
    }
    if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (r >= 0x20 && r < 0x7F) {
      out += static_cast<char>(r);
    } else if (r == '\a') {
      out += "\\a";
    } else if (r == '\b') {
      out += "\\b";
    } else if (r == '\f') {
      out += "\\f";
    } else if (r == '\n') {
      out += "\\n";
    } else if (r == '\r') {
      out += "\\r";
    } else if (r == '\t') {
      out += "\\t";
    } else if (r == '\v') {
      out += "\\v";
    } else if (r < 0x20 || r == 0x7F) {
      out += "\\x";
      out += kHexLower[r >> 4];
      out += kHexLower[r & 0xF];
    } else if ((r >= 0x80 && r < 0xA0) || r == 0xAD || r == 0x2028 || r == 0x2029) {
      // Not printable per Go's unicode.IsPrint.
      out += "\\u";
      AppendHex4(out, r);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
  return out;
}

std::string Base64Encode(std::string_view data) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t n = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') clean += c;
  }
  if (clean.size() % 4 != 0) {
    return InvalidArgument("illegal base64 data at input byte " +
                           std::to_string(clean.size() / 4 * 4));
  }
  std::string out;
  for (size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = clean[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == clean.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      v[k] = sextet(c);
      if (v[k] < 0 || pad > 0) {
        return InvalidArgument("illegal base64 data at input byte " +
                               std::to_string(i + static_cast<size_t>(k)));
      }
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

Result<Value> ParseJsonAsGo(std::string_view text) {
  try {
    return GoValueFromJson(Json::parse(text));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace skiff::expr
