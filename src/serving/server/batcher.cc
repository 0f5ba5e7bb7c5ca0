#include "serving/server/batcher.h"

#include <cstring>
#include <optional>

namespace skiff::serving {

namespace {

int64_t RowsOf(const Tensor& t) { return t.shape().empty() ? 1 : t.shape()[0]; }

}  // namespace

Result<Tensor> SliceRows(const Tensor& t, int64_t begin, int64_t end) {
  const int64_t n = RowsOf(t);
  if (begin < 0 || end > n || begin > end) return Internal("row slice out of range");
  std::vector<int64_t> shape = t.shape();
  if (shape.empty()) return t;
  shape[0] = end - begin;
  if (t.datatype() == DataType::kBytes) {
    const auto& all = t.strings();
    const size_t per = n == 0 ? 0 : all.size() / static_cast<size_t>(n);
    std::vector<std::string> part(all.begin() + static_cast<std::ptrdiff_t>(begin * per),
                                  all.begin() + static_cast<std::ptrdiff_t>(end * per));
    return Tensor::FromStrings(std::move(shape), std::move(part));
  }
  auto bytes = t.bytes();
  const size_t per = n == 0 ? 0 : bytes.size() / static_cast<size_t>(n);
  std::string_view view(reinterpret_cast<const char*>(bytes.data()) + begin * per,
                        static_cast<size_t>(end - begin) * per);
  return Tensor::FromBinary(t.datatype(), std::move(shape), view);
}

Batcher::Batcher(PredictFn predict, BatcherOptions options)
    : predict_(std::move(predict)), options_(options) {}

int64_t Batcher::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

int64_t Batcher::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

Result<Tensor> Batcher::Predict(const Tensor& rows) {
  const int64_t n = RowsOf(rows);
  if (n >= options_.max_batch_size) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      ++requests_;
    }
    return predict_(rows);
  }
  Member me;
  me.rows = &rows;
  std::shared_ptr<Batch> batch;
  bool leader = false;
  std::unique_lock<std::mutex> lock(mu_);
  ++requests_;
  if (!open_ || open_->closed || open_->rows + n > options_.max_batch_size) {
    if (open_ && !open_->closed) {
      open_->closed = true;  // full for this request: its leader runs it now
      cv_.notify_all();
    }
    open_ = std::make_shared<Batch>();
    leader = true;
  }
  batch = open_;
  batch->members.push_back(&me);
  batch->rows += n;
  if (batch->rows >= options_.max_batch_size) {
    batch->closed = true;
    cv_.notify_all();
  }
  if (leader) {
    const TimePoint deadline = SystemClock::Get().Now() + options_.max_latency;
    while (!batch->closed) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    batch->closed = true;
    if (open_ == batch) open_.reset();
    ++calls_;
    lock.unlock();
    Run(*batch);
    lock.lock();
    batch->done = true;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return batch->done; });
  }
  return std::move(*me.result);
}

// Outside the lock: the members are fixed once the batch is closed.
void Batcher::Run(Batch& batch) {
  auto one_by_one = [&] {
    for (Member* m : batch.members) m->result = predict_(*m->rows);
  };
  if (batch.members.size() == 1) return one_by_one();
  // Stack the rows as FP32 [total, features].
  std::vector<float> values;
  int64_t features = -1;
  for (Member* m : batch.members) {
    const auto& shape = m->rows->shape();
    int64_t f = shape.size() == 2 ? shape[1] : -2;
    auto floats = m->rows->ToFloats();
    if (f < 0 || (features >= 0 && f != features) || !floats.ok()) return one_by_one();
    features = f;
    values.insert(values.end(), floats->begin(), floats->end());
  }
  auto stacked = Tensor::FromValues<float>({batch.rows, features}, values);
  if (!stacked.ok()) return one_by_one();
  auto out = predict_(*stacked);
  if (!out.ok() || RowsOf(*out) != batch.rows)
    return one_by_one();  // each request gets its own error
  int64_t at = 0;
  for (Member* m : batch.members) {
    int64_t k = RowsOf(*m->rows);
    m->result = SliceRows(*out, at, at + k);
    at += k;
  }
}

}  // namespace skiff::serving
