#include "engine/tuning/search_space.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/tuning/rng.h"

namespace skiff::tuning {
namespace {

Json Params(const char* text) { return ParseYaml(text).value(); }

const char* kMixed = R"(
- name: lr
  parameterType: double
  feasibleSpace: {min: "0.01", max: "0.05", step: "0.005"}
- name: momentum
  parameterType: double
  feasibleSpace: {min: "0.001", max: "1", distribution: logUniform}
- name: epochs
  parameterType: int
  feasibleSpace: {min: "1", max: "3"}
- name: batch
  parameterType: discrete
  feasibleSpace: {list: ["16", "32", "64"]}
- name: optimizer
  parameterType: categorical
  feasibleSpace: {list: [sgd, adam]}
- name: dropout
  parameterType: double
  feasibleSpace: {min: "0.1", max: "0.5", distribution: normal}
)";

TEST(SearchSpaceTest, ParsesKatibParameters) {
  auto space = SearchSpace::FromKatibJson(Params(kMixed));
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  ASSERT_EQ(space->size(), 6u);
  EXPECT_EQ(space->parameter(0).Cardinality(), 9u);
  EXPECT_EQ(space->parameter(1).distribution, Distribution::kLogUniform);
  EXPECT_EQ(space->parameter(2).step, 1);
  EXPECT_EQ(space->parameter(3).numbers, (std::vector<double>{16, 32, 64}));
  EXPECT_EQ(space->parameter(4).list, (std::vector<std::string>{"sgd", "adam"}));
}

TEST(SearchSpaceTest, ErrorsNameTheFieldPath) {
  auto bad_max = SearchSpace::FromKatibJson(Params(R"(
- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
- {name: b, parameterType: int, feasibleSpace: {min: "1", max: "2"}}
- {name: c, parameterType: double, feasibleSpace: {min: "3", max: "1"}}
)"));
  ASSERT_FALSE(bad_max.ok());
  EXPECT_NE(bad_max.status().message().find("spec.parameters[2].feasibleSpace.max"),
            std::string::npos)
      << bad_max.status().message();
  auto bad_type = SearchSpace::FromKatibJson(Params("- {name: a, parameterType: float}"));
  EXPECT_NE(bad_type.status().message().find("spec.parameters[0].parameterType"),
            std::string::npos);
  auto bad_num = SearchSpace::FromKatibJson(
      Params(R"(- {name: a, parameterType: double, feasibleSpace: {min: "x", max: "1"}})"));
  EXPECT_NE(bad_num.status().message().find("spec.parameters[0].feasibleSpace.min"),
            std::string::npos);
  auto no_list = SearchSpace::FromKatibJson(
      Params("- {name: a, parameterType: categorical, feasibleSpace: {}}"));
  EXPECT_NE(no_list.status().message().find("spec.parameters[0].feasibleSpace.list"),
            std::string::npos);
  auto log_neg = SearchSpace::FromKatibJson(Params(
      R"(- {name: a, parameterType: double, feasibleSpace: {min: "0", max: "1", distribution: logUniform}})"));
  EXPECT_FALSE(log_neg.ok());
  auto dup = SearchSpace::FromKatibJson(Params(R"(
- {name: a, parameterType: categorical, feasibleSpace: {list: [x]}}
- {name: a, parameterType: categorical, feasibleSpace: {list: [y]}}
)"));
  EXPECT_NE(dup.status().message().find("spec.parameters[1].name"), std::string::npos);
}

TEST(SearchSpaceTest, DecodeRespectsStepsIntsAndLists) {
  auto space = SearchSpace::FromKatibJson(Params(kMixed)).value();
  Rng rng(7);
  std::set<std::string> lrs, epochs;
  for (int i = 0; i < 2000; ++i) {
    std::vector<double> u(space.size());
    for (auto& x : u) x = rng.Uniform();
    Assignment a = space.Decode(u);
    const double lr = std::stod(a[0].value);
    EXPECT_GE(lr, 0.01);
    EXPECT_LE(lr, 0.05);
    const double k = (lr - 0.01) / 0.005;
    EXPECT_NEAR(k, std::round(k), 1e-9) << a[0].value;
    lrs.insert(a[0].value);
    const double m = std::stod(a[1].value);
    EXPECT_GE(m, 0.001);
    EXPECT_LE(m, 1);
    epochs.insert(a[2].value);
    EXPECT_TRUE(a[3].value == "16" || a[3].value == "32" || a[3].value == "64");
    EXPECT_TRUE(a[4].value == "sgd" || a[4].value == "adam");
    const double dropout = std::stod(a[5].value);
    EXPECT_GE(dropout, 0.1);
    EXPECT_LE(dropout, 0.5);
    // Encode is the inverse of Decode on allowed values.
    auto back = space.Encode(a);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    const Assignment again = space.Decode(*back);
    for (size_t j : {0, 2, 3, 4}) EXPECT_EQ(again[j].value, a[j].value);
    for (size_t j : {1, 5}) {
      EXPECT_NEAR(std::stod(again[j].value), std::stod(a[j].value), 1e-12);
    }
  }
  EXPECT_EQ(lrs.size(), 9u);  // every step value is reachable, and only those
  EXPECT_TRUE(lrs.count("0.015")) << "steps are rendered without float noise";
  EXPECT_EQ(epochs, (std::set<std::string>{"1", "2", "3"}));
}

TEST(SearchSpaceTest, IntEndpointsGetAFairShare) {
  auto space = SearchSpace::FromKatibJson(
                   Params(R"(- {name: e, parameterType: int, feasibleSpace: {min: "1", max: "3"}})"))
                   .value();
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 3000; ++i) counts[static_cast<int>(space.DecodeNumber(0, (i + 0.5) / 3000))]++;
  EXPECT_EQ(counts[1], 1000);
  EXPECT_EQ(counts[2], 1000);
  EXPECT_EQ(counts[3], 1000);
}

TEST(SearchSpaceTest, NormalPriorConcentratesInTheMiddle) {
  auto space = SearchSpace::FromKatibJson(Params(
                   R"(- {name: x, parameterType: double, feasibleSpace: {min: "0", max: "6", distribution: normal}})"))
                   .value();
  EXPECT_NEAR(space.DecodeNumber(0, 0.5), 3.0, 1e-9);
  EXPECT_NEAR(space.DecodeNumber(0, 0.841), 4.0, 0.01);  // one sigma = (max - min) / 6
  EXPECT_NEAR(space.DecodeNumber(0, 0.0), 0.0, 1e-9);
  EXPECT_NEAR(space.DecodeNumber(0, 1.0), 6.0, 1e-9);
  auto u = space.EncodeNumber(0, 4.0);
  ASSERT_TRUE(u.ok());
  EXPECT_NEAR(space.DecodeNumber(0, *u), 4.0, 1e-9);
}

TEST(SearchSpaceTest, EncodeRejectsValuesOutsideTheSpace) {
  auto space = SearchSpace::FromKatibJson(Params(kMixed)).value();
  EXPECT_FALSE(space.EncodeValue(0, "0.9").ok());
  EXPECT_FALSE(space.EncodeValue(3, "17").ok());
  EXPECT_FALSE(space.EncodeValue(4, "rmsprop").ok());
  EXPECT_FALSE(space.Encode({{"lr", "0.02"}}).ok());  // missing parameters
}

TEST(SearchSpaceTest, GridNeedsAStepForDoubles) {
  auto space = SearchSpace::FromKatibJson(Params(kMixed)).value();
  EXPECT_EQ(space.GridCoordinates(0)->size(), 9u);
  EXPECT_FALSE(space.GridCoordinates(1).ok());
  EXPECT_EQ(space.GridCoordinates(2)->size(), 3u);
  EXPECT_EQ(space.GridCoordinates(4)->size(), 2u);
}

}  // namespace
}  // namespace skiff::tuning
