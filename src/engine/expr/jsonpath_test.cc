#include <gtest/gtest.h>

#include "engine/expr/expr.h"

namespace skiff::expr {
namespace {

const char* kDoc = R"({
  "store": {
    "book": [
      {"category": "reference", "author": "Rees", "title": "Sayings", "price": 8.95},
      {"category": "fiction", "author": "Waugh", "title": "Sword", "price": 12.99},
      {"category": "fiction", "author": "Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99}
    ],
    "bicycle": {"color": "red", "price": 19.95}
  },
  "a-b": 1,
  "nums": [0, 1, 2, 3, 4, 5]
})";

// Evaluates jsonpath(doc, path) and returns compact JSON.
std::string Query(std::string_view path, const char* doc = kDoc) {
  Json env = {{"doc", doc}, {"path", std::string(path)}};
  auto r = Evaluate("jsonpath(doc, path)", env);
  if (!r.ok()) return "error: " + r.status().message();
  return r->dump();
}

TEST(JsonPathTest, DefinitePathsReturnSingleValues) {
  EXPECT_EQ(Query("$.store.bicycle.color"), "\"red\"");
  EXPECT_EQ(Query("$['store']['bicycle']['price']"), "19.95");
  EXPECT_EQ(Query("$[\"a-b\"]"), "1.0");  // JSON numbers are floats, as with Go's Unmarshal
  EXPECT_EQ(Query("$.store.book[1].author"), "\"Waugh\"");
  EXPECT_EQ(Query("$.nums[-1]"), "5.0");
  EXPECT_EQ(Query("$.store.bicycle"), R"({"color":"red","price":19.95})");
  EXPECT_EQ(Query("$", "[1, 2]"), "[1.0,2.0]");
}

TEST(JsonPathTest, MissingKeyInDefinitePathIsAnError) {
  EXPECT_NE(Query("$.store.car").find("unknown key car"), std::string::npos);
  EXPECT_NE(Query("$.nums[10]").find("index 10 out of bounds"), std::string::npos);
}

TEST(JsonPathTest, WildcardsReturnArrays) {
  EXPECT_EQ(Query("$.store.book[*].author"), R"(["Rees","Waugh","Melville"])");
  EXPECT_EQ(Query("$.store.bicycle.*"), R"(["red",19.95])");  // map values in key order
  EXPECT_EQ(Query("$.store.book[*].isbn"), R"(["0-553"])");   // elements without it skipped
}

TEST(JsonPathTest, RecursiveDescent) {
  EXPECT_EQ(Query("$..price"), "[19.95,8.95,12.99,8.99]");
  EXPECT_EQ(Query("$..x", R"({"a": {"x": 1}, "b": [{"x": 2}, {"y": 3}], "x": 4})"),
            "[4.0,1.0,2.0]");  // pre-order: the root's own x comes first
  EXPECT_EQ(Query("$..*", R"({"a": [1]})"), "[[1.0],1.0]");
}

TEST(JsonPathTest, SlicesAndUnions) {
  EXPECT_EQ(Query("$.nums[0:2]"), "[0.0,1.0]");
  EXPECT_EQ(Query("$.nums[4:]"), "[4.0,5.0]");
  EXPECT_EQ(Query("$.nums[:2]"), "[0.0,1.0]");
  EXPECT_EQ(Query("$.nums[-2:]"), "[4.0,5.0]");
  EXPECT_EQ(Query("$.nums[::2]"), "[0.0,2.0,4.0]");
  EXPECT_EQ(Query("$.nums[1:4:-1]"), "[3.0,2.0,1.0]");
  EXPECT_EQ(Query("$.nums[0,3]"), "[0.0,3.0]");
  EXPECT_EQ(Query("$.nums[0,99]"), "[0.0]");  // a failing member of a union is skipped
  EXPECT_EQ(Query("$.store.book[0]['author','title']"), R"(["Rees","Sayings"])");
  EXPECT_EQ(Query("$.store.book[0:1]"),
            R"([{"author":"Rees","category":"reference","price":8.95,"title":"Sayings"}])");
}

TEST(JsonPathTest, Filters) {
  EXPECT_EQ(Query("$.store.book[?(@.price < 10)].title"), R"(["Sayings","Moby Dick"])");
  EXPECT_EQ(Query("$.store.book[?(@.category == 'fiction' && @.price > 10)].author"),
            R"(["Waugh"])");
  EXPECT_EQ(Query("$.store.book[?(@.author==\"Rees\" || @.author==\"Melville\")].price"),
            "[8.95,8.99]");
  EXPECT_EQ(Query("$.store.book[?(@.isbn)].title"), R"(["Moby Dick"])");
  EXPECT_EQ(Query("$.store.book[?(!(@.price < 10))].title"), R"(["Sword"])");
  EXPECT_EQ(Query("$.store.book[?(@.author =~ '^M')].author"), R"(["Melville"])");
  EXPECT_EQ(Query("$.nums[?(@ > 3)]"), "[4.0,5.0]");
  EXPECT_EQ(Query("$.nums[?(@ % 2 == 1)]"), "[1.0,3.0,5.0]");
  EXPECT_EQ(Query("$.store.book[?(@.price > $.store.bicycle.price)]"), "[]");
  EXPECT_EQ(Query("$[?(@.key==\"x\")].value", R"([{"key": "x", "value": "a"}, {"key": "y"}])"),
            R"(["a"])");
}

TEST(JsonPathTest, InvalidInputsAreErrors) {
  EXPECT_NE(Query("store.book").find("must start with $"), std::string::npos);
  EXPECT_NE(Query("$.store[").find("jsonpath: "), std::string::npos);
  EXPECT_NE(Query("$[1,2:3]").find("mixed"), std::string::npos);
  EXPECT_NE(Query("$.a", "{not json").find("invalid JSON"), std::string::npos);
}

}  // namespace
}  // namespace skiff::expr
