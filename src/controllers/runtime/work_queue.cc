#include "controllers/runtime/work_queue.h"

#include <algorithm>

namespace skiff::controllers {

WorkQueue::WorkQueue(EventLoop& loop, Handler handler, WorkQueueOptions options)
    : loop_(loop),
      handler_(std::move(handler)),
      options_(options),
      alive_(std::make_shared<bool>(true)) {}

WorkQueue::~WorkQueue() {
  *alive_ = false;
  for (auto& [key, d] : delayed_) loop_.Cancel(d.second);
  if (resync_timer_ != 0) loop_.Cancel(resync_timer_);
}

void WorkQueue::Start() {
  if (options_.resync_period > Duration(0) && resync_timer_ == 0) {
    resync_timer_ = loop_.After(options_.resync_period, [this] { Resync(); });
  }
  if (!order_.empty()) PostDrain();
}

void WorkQueue::Resync() {
  resync_timer_ = loop_.After(options_.resync_period, [this] { Resync(); });
  for (const auto& key : tracked_) Enqueue(key);
}

void WorkQueue::Add(const std::string& key) {
  tracked_.insert(key);
  Enqueue(key);
}

void WorkQueue::Enqueue(const std::string& key) {
  if (!queued_.insert(key).second) return;
  order_.push_back(key);
  PostDrain();
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  if (delay <= Duration(0)) {
    Add(key);
    return;
  }
  tracked_.insert(key);
  TimePoint at = loop_.clock().Now() + delay;
  auto it = delayed_.find(key);
  if (it != delayed_.end()) {
    if (it->second.first <= at) return;  // an earlier add is already pending
    loop_.Cancel(it->second.second);
    delayed_.erase(it);
  }
  EventLoop::TimerId id = loop_.At(at, [this, key] {
    delayed_.erase(key);
    Enqueue(key);
  });
  delayed_[key] = {at, id};
}

Duration WorkQueue::NextBackoff(const std::string& key) const {
  int n = Failures(key);
  // base * 2^n without overflow: stop doubling once past the cap.
  Duration d = options_.base_delay;
  for (int i = 0; i < n && d < options_.max_delay; ++i) d *= 2;
  return std::min(d, options_.max_delay);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  Duration d = NextBackoff(key);
  ++failures_[key];
  AddAfter(key, d);
}

void WorkQueue::Forget(const std::string& key) { failures_.erase(key); }

int WorkQueue::Failures(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::Drop(const std::string& key) {
  tracked_.erase(key);
  failures_.erase(key);
  auto it = delayed_.find(key);
  if (it != delayed_.end()) {
    loop_.Cancel(it->second.second);
    delayed_.erase(it);
  }
}

void WorkQueue::PostDrain() {
  if (drain_posted_) return;
  drain_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  loop_.Post([this, alive] {
    auto a = alive.lock();
    if (!a || !*a) return;
    drain_posted_ = false;
    Drain();
  });
}

void WorkQueue::Drain() {
  std::shared_ptr<bool> alive = alive_;  // a handler may destroy the queue
  for (size_t n = 0; n < options_.batch && !order_.empty(); ++n) {
    std::string key = std::move(order_.front());
    order_.pop_front();
    queued_.erase(key);  // an Add from inside the handler queues the key again
    ReconcileResult r = handler_(key);
    if (!*alive) return;
    if (!r.status.ok()) {
      AddRateLimited(key);
      continue;
    }
    Forget(key);
    if (r.requeue_after > Duration(0)) AddAfter(key, r.requeue_after);
  }
  if (!order_.empty()) PostDrain();
}

std::string QueueKey(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(kind.size() + ns.size() + name.size() + 2);
  k.append(kind).append("/").append(ns).append("/").append(name);
  return k;
}

std::string QueueKey(const Json& obj) {
  const Json& meta = obj.value("metadata", Json::object());
  return QueueKey(StringField(obj, "kind"), StringField(meta, "namespace"),
                  StringField(meta, "name"));
}

bool ParseQueueKey(std::string_view key, std::string* kind, std::string* ns, std::string* name) {
  size_t a = key.find('/');
  if (a == std::string_view::npos) return false;
  size_t b = key.find('/', a + 1);
  if (b == std::string_view::npos) return false;
  *kind = std::string(key.substr(0, a));
  *ns = std::string(key.substr(a + 1, b - a - 1));
  *name = std::string(key.substr(b + 1));
  return !kind->empty() && !name->empty();
}

}  // namespace skiff::controllers
