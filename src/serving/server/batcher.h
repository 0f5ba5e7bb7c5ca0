// KServe's batcher inside the model server: concurrent V1 `instances` requests are gathered into
// one runtime call of up to `max_batch_size` rows, or whatever arrived within `max_latency` of
// the batch's first request, and the predictions are split back by row to each request.
//
// The first request of a batch leads it: it waits for the batch to fill (or the latency to
// pass), closes it, makes the one `Predict` call and hands each member its rows. A request
// larger than `max_batch_size` runs alone. Requests whose inputs cannot be stacked with the
// batch's (a different number of features) are predicted one by one, so a bad request fails
// alone with its own error.
//
// Thread-safety: `Predict` is called from many HTTP worker threads at once; it blocks until
// the caller's rows are predicted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "serving/protocol/tensor.h"

namespace skiff::serving {

struct BatcherOptions {
  int32_t max_batch_size = 32;                          // rows per runtime call
  Duration max_latency = std::chrono::milliseconds(5);  // wait for a batch to fill
};

class Batcher {
 public:
  using PredictFn = std::function<Result<Tensor>(const Tensor& rows)>;
  Batcher(PredictFn predict, BatcherOptions options);

  // `rows` is [n, features]; the result is the runtime's output for those rows ([n, ...]).
  Result<Tensor> Predict(const Tensor& rows);

  // Runtime calls made and requests served, for tests and logs.
  int64_t calls() const;
  int64_t requests() const;

 private:
  struct Member {
    const Tensor* rows = nullptr;
    std::optional<Result<Tensor>> result;
  };
  struct Batch {
    std::vector<Member*> members;
    int64_t rows = 0;
    bool closed = false;
    bool done = false;
  };
  void Run(Batch& batch);

  PredictFn predict_;
  BatcherOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Batch> open_;  // GUARDED_BY(mu_): the batch new requests join
  int64_t calls_ = 0;            // GUARDED_BY(mu_)
  int64_t requests_ = 0;         // GUARDED_BY(mu_)
};

// Rows [begin, end) of a tensor whose first dimension is the row count.
Result<Tensor> SliceRows(const Tensor& t, int64_t begin, int64_t end);

}  // namespace skiff::serving
