// The model server's batcher with a real predict function (row sums, as a one-output model
// would give) on real threads: concurrent requests share runtime calls, each gets its own rows
// back in order, and bad requests fail alone.
#include "serving/server/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace skiff::serving {
namespace {

// [n, f] -> [n] row sums, and [n, 2] (sum, n) so that a test can see the batch size.
Result<Tensor> RowSums(const Tensor& rows) {
  auto v = rows.ToFloats();
  if (!v.ok()) return v.status();
  if (rows.shape().size() != 2) return InvalidArgument("expected [n, features]");
  const int64_t n = rows.shape()[0], f = rows.shape()[1];
  if (f != 3) return InvalidArgument("expected 3 features, got " + std::to_string(f));
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < f; ++j) s += (*v)[static_cast<size_t>(i * f + j)];
    out.push_back(s);
    out.push_back(static_cast<double>(n));
  }
  return Tensor::FromDoubles(DataType::kFp64, {n, 2}, out);
}

Tensor Rows(int64_t n, float base) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) v.push_back(base + static_cast<float>(i));
  }
  return *Tensor::FromValues<float>({n, 3}, v);
}

TEST(BatcherTest, ConcurrentRequestsShareOneCallAndGetTheirOwnRows) {
  Batcher batcher(RowSums, {/*max_batch_size=*/8, /*max_latency=*/std::chrono::seconds(30)});
  std::vector<std::optional<Result<Tensor>>> results(8);
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back(
        [&, k] { results[static_cast<size_t>(k)] = batcher.Predict(Rows(1, 10.0f * k)); });
  }
  for (auto& t : threads) t.join();
  // The batch closes when its 8 rows are there (long before the 30 s latency).
  EXPECT_EQ(batcher.calls(), 1);
  EXPECT_EQ(batcher.requests(), 8);
  for (int k = 0; k < 8; ++k) {
    const auto& r = *results[static_cast<size_t>(k)];
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->shape(), (std::vector<int64_t>{1, 2}));
    auto v = r->values<double>();
    EXPECT_DOUBLE_EQ(v[0], 30.0 * k);  // its own row, split back by index
    EXPECT_DOUBLE_EQ(v[1], 8.0);       // predicted in a batch of 8 rows
  }
}

TEST(BatcherTest, LatencyClosesAPartialBatchAndMultiRowRequestsSplitByIndex) {
  Batcher batcher(RowSums, {/*max_batch_size=*/100, /*max_latency=*/std::chrono::milliseconds(20)});
  auto r = batcher.Predict(Rows(3, 1.0f));
  ASSERT_TRUE(r.ok());
  auto v = r->values<double>();
  EXPECT_DOUBLE_EQ(v[0], 3.0);
  EXPECT_DOUBLE_EQ(v[2], 6.0);
  EXPECT_DOUBLE_EQ(v[4], 9.0);
  // Bigger than a batch: runs alone at once.
  Batcher small(RowSums, {2, std::chrono::seconds(30)});
  auto big = small.Predict(Rows(5, 0.0f));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->shape()[0], 5);
}

TEST(BatcherTest, ABadRequestFailsAloneInsideABatch) {
  Batcher batcher(RowSums, {3, std::chrono::seconds(30)});
  std::optional<Result<Tensor>> good1, good2, bad;
  std::thread a([&] { good1 = batcher.Predict(Rows(1, 1.0f)); });
  std::thread b([&] { good2 = batcher.Predict(Rows(1, 2.0f)); });
  std::thread c([&] { bad = batcher.Predict(*Tensor::FromValues<float>({1, 2}, {1, 2})); });
  a.join();
  b.join();
  c.join();
  ASSERT_TRUE(good1->ok());
  ASSERT_TRUE(good2->ok());
  EXPECT_DOUBLE_EQ(good1->value().values<double>()[0], 3.0);
  EXPECT_DOUBLE_EQ(good2->value().values<double>()[0], 6.0);
  ASSERT_FALSE(bad->ok());
  EXPECT_NE(bad->status().message().find("expected 3 features"), std::string::npos);
}

TEST(BatcherTest, SliceRowsKeepsStringsAndNumbers) {
  auto s = Tensor::FromStrings({3}, {"a", "b", "c"});
  ASSERT_TRUE(s.ok());
  auto part = SliceRows(*s, 1, 3);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part->strings(), (std::vector<std::string>{"b", "c"}));
  auto n = Tensor::FromValues<int64_t>({4}, {1, 2, 3, 4});
  auto np = SliceRows(*n, 2, 3);
  ASSERT_TRUE(np.ok());
  EXPECT_EQ(np->values<int64_t>()[0], 3);
}

}  // namespace
}  // namespace skiff::serving
