// sprig's string and regular-expression functions (see sprig.cc). The subject string comes last,
// as in sprig: `sprig.trimPrefix(prefix, s)`.
#include <algorithm>

#include "engine/expr/builtins.h"
#include "engine/expr/go_format.h"
#include "engine/expr/go_strings.h"
#include "engine/expr/regex.h"
#include "engine/expr/sprig_internal.h"

namespace skiff::expr::sprig {
namespace {

#define ARGS SPRIG_ARGS

// ---- strings ----

Result<Value> OneString(const std::vector<Value>& args, const char* name,
                        std::string (*fn)(std::string_view)) {
  SKIFF_RETURN_IF_ERROR(ArgCount(std::string("sprig.") + name, args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str(name, args, 0));
  return Value::String(fn(s));
}
Result<Value> Upper(ARGS) { return OneString(args, "upper", gostr::ToUpper); }
Result<Value> Lower(ARGS) { return OneString(args, "lower", gostr::ToLower); }
Result<Value> Title(ARGS) { return OneString(args, "title", gostr::Title); }
Result<Value> TrimSpace(ARGS) { return OneString(args, "trim", gostr::TrimSpace); }
Result<Value> NoSpace(ARGS) {
  return OneString(args, "nospace", [](std::string_view s) {
    std::string out;
    for (const auto& f : gostr::Fields(s)) out += f;
    return out;
  });
}

// Two-string functions whose sprig signature is (a, b): the subject string comes last.
Result<Value> TwoStrings(const std::vector<Value>& args, const char* name,
                         Value (*fn)(const std::string& a, const std::string& b)) {
  SKIFF_RETURN_IF_ERROR(ArgCount(std::string("sprig.") + name, args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string a, Str(name, args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string b, Str(name, args, 1));
  return fn(a, b);
}
Result<Value> TrimAll(ARGS) {
  return TwoStrings(args, "trimAll", [](const std::string& cut, const std::string& s) {
    return Value::String(gostr::Trim(s, cut, true, true));
  });
}
Result<Value> TrimPrefix(ARGS) {
  return TwoStrings(args, "trimPrefix", [](const std::string& p, const std::string& s) {
    return Value::String(gostr::TrimPrefix(s, p));
  });
}
Result<Value> TrimSuffix(ARGS) {
  return TwoStrings(args, "trimSuffix", [](const std::string& p, const std::string& s) {
    return Value::String(gostr::TrimSuffix(s, p));
  });
}
Result<Value> Contains(ARGS) {
  return TwoStrings(args, "contains", [](const std::string& sub, const std::string& s) {
    return Value::Bool(s.find(sub) != std::string::npos);
  });
}
Result<Value> HasPrefix(ARGS) {
  return TwoStrings(args, "hasPrefix", [](const std::string& p, const std::string& s) {
    return Value::Bool(gostr::HasPrefix(s, p));
  });
}
Result<Value> HasSuffix(ARGS) {
  return TwoStrings(args, "hasSuffix", [](const std::string& p, const std::string& s) {
    return Value::Bool(gostr::HasSuffix(s, p));
  });
}
Result<Value> SplitList(ARGS) {
  return TwoStrings(args, "splitList", [](const std::string& sep, const std::string& s) {
    return Strings(gostr::Split(s, sep, -1, false));
  });
}

Value SplitMap(const std::vector<std::string>& parts) {
  Map m;
  for (size_t i = 0; i < parts.size(); ++i) m.emplace("_" + std::to_string(i), Value::String(parts[i]));
  return Value::MakeMap(std::move(m));
}

Result<Value> SplitFn(ARGS) {
  return TwoStrings(args, "split", [](const std::string& sep, const std::string& s) {
    return SplitMap(gostr::Split(s, sep, -1, false));
  });
}

Result<Value> SplitN(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.splitn", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string sep, Str("splitn", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("splitn", args, 2));
  return SplitMap(gostr::Split(s, sep, ToInt64(args[1]), false));
}

Result<Value> ReplaceFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.replace", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string o, Str("replace", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string n, Str("replace", args, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("replace", args, 2));
  return Value::String(gostr::Replace(s, o, n, -1));
}

Result<Value> RepeatFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.repeat", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("repeat", args, 1));
  int64_t n = ToInt64(args[0]);
  if (n < 0) return InvalidArgument("strings: negative Repeat count");
  if (static_cast<uint64_t>(n) * s.size() > (64u << 20)) return InvalidArgument("memory budget exceeded");
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += s;
  return Value::String(std::move(out));
}

Result<Value> Substr(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.substr", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("substr", args, 2));
  int64_t start = ToInt64(args[0]);
  int64_t end = ToInt64(args[1]);
  int64_t len = static_cast<int64_t>(s.size());
  auto bad = [&] { return InvalidArgument("sprig.substr: slice bounds out of range"); };
  if (start < 0) {
    if (end < 0 || end > len) return bad();
    return Value::String(s.substr(0, static_cast<size_t>(end)));
  }
  if (end < 0 || end > len) {
    if (start > len) return bad();
    return Value::String(s.substr(static_cast<size_t>(start)));
  }
  if (start > end) return bad();
  return Value::String(s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start)));
}

Result<Value> Trunc(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.trunc", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("trunc", args, 1));
  int64_t c = ToInt64(args[0]);
  int64_t len = static_cast<int64_t>(s.size());
  if (c < 0 && len + c > 0) return Value::String(s.substr(static_cast<size_t>(len + c)));
  if (c >= 0 && len > c) return Value::String(s.substr(0, static_cast<size_t>(c)));
  return Value::String(s);
}

Result<Value> Join(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.join", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string sep, Str("join", args, 0));
  std::string out;
  bool first = true;
  for (const auto& s : StrSlice(args[1])) {
    if (!first) out += sep;
    first = false;
    out += s;
  }
  return Value::String(std::move(out));
}

Result<Value> ToString(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.toString", args, 1, 1));
  return Value::String(StrVal(args[0]));
}

Result<Value> ToStrings(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.toStrings", args, 1, 1));
  return Strings(StrSlice(args[0]));
}

Result<Value> Quote(ARGS) {
  std::string out;
  for (const Value& v : args) {
    if (v.is_nil()) continue;
    if (!out.empty()) out += ' ';
    out += GoQuote(StrVal(v));
  }
  return Value::String(std::move(out));
}

Result<Value> SQuote(ARGS) {
  std::string out;
  for (const Value& v : args) {
    if (v.is_nil()) continue;
    if (!out.empty()) out += ' ';
    out += "'" + StrVal(v) + "'";
  }
  return Value::String(std::move(out));
}

Result<Value> Cat(ARGS) {
  std::string out;
  for (const Value& v : args) {
    if (v.is_nil()) continue;
    if (!out.empty()) out += ' ';
    out += StrVal(v);
  }
  return Value::String(std::move(out));
}

Result<Value> Indent(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.indent", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("indent", args, 1));
  int64_t n = ToInt64(args[0]);
  std::string pad(static_cast<size_t>(std::clamp<int64_t>(n, 0, 1000)), ' ');
  return Value::String(pad + gostr::Replace(s, "\n", "\n" + pad, -1));
}

Result<Value> NIndent(ARGS) {
  SKIFF_ASSIGN_OR_RETURN(Value v, Indent(ctx, args));
  return Value::String("\n" + v.AsString());
}

// ---- regular expressions ----

Result<Value> RegexMatch(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.regexMatch", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string pattern, Str("regexMatch", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("regexMatch", args, 1));
  auto re = GoRegex::Compile(pattern);
  if (!re.ok()) return Value::Bool(false);
  auto m = (*re)->Search(s);
  return Value::Bool(m.ok() && *m);
}

Result<Value> RegexFind(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.regexFind", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string pattern, Str("regexFind", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("regexFind", args, 1));
  SKIFF_ASSIGN_OR_RETURN(auto re, GoRegex::Compile(pattern));
  SKIFF_ASSIGN_OR_RETURN(auto all, re->FindAll(s, 1));
  return Value::String(all.empty() ? "" : all[0]);
}

Result<Value> RegexFindAll(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.regexFindAll", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string pattern, Str("regexFindAll", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("regexFindAll", args, 1));
  SKIFF_ASSIGN_OR_RETURN(auto re, GoRegex::Compile(pattern));
  SKIFF_ASSIGN_OR_RETURN(auto all, re->FindAll(s, ToInt64(args[2])));
  return Strings(all);
}

Result<Value> RegexReplaceAll(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.regexReplaceAll", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string pattern, Str("regexReplaceAll", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("regexReplaceAll", args, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string repl, Str("regexReplaceAll", args, 2));
  SKIFF_ASSIGN_OR_RETURN(auto re, GoRegex::Compile(pattern));
  SKIFF_ASSIGN_OR_RETURN(std::string out, re->ReplaceAll(s, repl));
  return Value::String(std::move(out));
}

Result<Value> RegexReplaceAllLiteral(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.regexReplaceAllLiteral", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string pattern, Str("regexReplaceAllLiteral", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("regexReplaceAllLiteral", args, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string repl, Str("regexReplaceAllLiteral", args, 2));
  SKIFF_ASSIGN_OR_RETURN(auto re, GoRegex::Compile(pattern));
  SKIFF_ASSIGN_OR_RETURN(std::string out, re->ReplaceAll(s, gostr::Replace(repl, "$", "$$", -1)));
  return Value::String(std::move(out));
}

#undef ARGS

}  // namespace

void AppendTextFunctions(std::vector<NativeFunction>& table) {
  table.insert(table.end(), {
      {"upper", Upper},
      {"lower", Lower},
      {"title", Title},
      {"trim", TrimSpace},
      {"nospace", NoSpace},
      {"trimAll", TrimAll},
      {"trimPrefix", TrimPrefix},
      {"trimSuffix", TrimSuffix},
      {"contains", Contains},
      {"hasPrefix", HasPrefix},
      {"hasSuffix", HasSuffix},
      {"replace", ReplaceFn},
      {"repeat", RepeatFn},
      {"substr", Substr},
      {"trunc", Trunc},
      {"split", SplitFn},
      {"splitn", SplitN},
      {"splitList", SplitList},
      {"join", Join},
      {"toString", ToString},
      {"toStrings", ToStrings},
      {"quote", Quote},
      {"squote", SQuote},
      {"cat", Cat},
      {"indent", Indent},
      {"nindent", NIndent},
      {"regexMatch", RegexMatch},
      {"regexFind", RegexFind},
      {"regexFindAll", RegexFindAll},
      {"regexReplaceAll", RegexReplaceAll},
      {"regexReplaceAllLiteral", RegexReplaceAllLiteral},
  });
}

}  // namespace skiff::expr::sprig
