// A reconcile work queue, after client-go's `workqueue`: keys (usually "Kind/ns/name", see
// `QueueKey`) go in, and a handler is called for each one on an `EventLoop`. It is what turns
// store events and timers into level-triggered `Reconcile(key)` calls:
//  * De-duplicating: a key added while it already waits is queued once. Keys are handled in the
//    order they were first added.
//  * Rate-limited retries: a handler that fails (non-ok `Status`) has its key re-added after a
//    per-key exponential backoff, `base_delay * 2^failures`, capped at `max_delay` (client-go's
//    default controller rate limiter: 5 ms to 1000 s). `Forget` (or a successful pass, which the
//    queue does itself) resets the key's failure count.
//  * Delayed adds: `AddAfter(key, d)` queues the key once `d` has passed on the loop's `Clock`;
//    of several pending delays for one key, the earliest wins. A plain `Add` does not cancel a
//    pending delayed add (the handler is level-triggered, so an extra pass is harmless).
//  * Resync: every `resync_period` every tracked key is re-added (keys are tracked from their
//    first `Add` until `Drop`), so a missed event is healed within one period.
// Time only moves through the loop's `Clock`: tests use a `FakeClock`, advance it and call
// `EventLoop::RunOnce(0)` instead of sleeping.
//
// Thread-safety: none; every method must be called on the loop thread (the handler runs there).
// The queue must outlive nothing it schedules: its destructor cancels its timers, and callbacks
// already posted to the loop find it gone through a shared liveness flag.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/event_loop.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::controllers {

// What a reconcile pass asks of the queue besides its `Status`.
struct ReconcileResult {
  Status status;              // non-ok: retried with the key's backoff
  Duration requeue_after{0};  // > 0 (and ok): handle the key again after this long
  static ReconcileResult Ok() { return {}; }
  static ReconcileResult After(Duration d) { return {OkStatus(), d}; }
  static ReconcileResult Error(Status s) { return {std::move(s), Duration(0)}; }
};

struct WorkQueueOptions {
  Duration base_delay = std::chrono::milliseconds(5);
  Duration max_delay = std::chrono::seconds(1000);
  Duration resync_period{0};  // 0 = no resync
  // Keys handled per loop turn before yielding to other loop work (events, timers).
  size_t batch = 64;
};

class WorkQueue {
 public:
  using Handler = std::function<ReconcileResult(const std::string& key)>;

  WorkQueue(EventLoop& loop, Handler handler, WorkQueueOptions options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Starts the resync timer, if any. Adds work before `Start` are kept and run once the loop turns.
  void Start();

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Duration delay);
  // Re-adds `key` after its backoff and counts one more failure.
  void AddRateLimited(const std::string& key);
  // Resets `key`'s failure count.
  void Forget(const std::string& key);
  // Stops tracking `key` for resync and cancels its delayed add (the object is gone).
  void Drop(const std::string& key);

  int Failures(const std::string& key) const;
  // The delay the next `AddRateLimited(key)` would use.
  Duration NextBackoff(const std::string& key) const;
  size_t pending() const { return order_.size(); }
  bool Pending(const std::string& key) const { return queued_.count(key) != 0; }
  size_t tracked() const { return tracked_.size(); }

 private:
  void Enqueue(const std::string& key);
  void PostDrain();
  void Drain();
  void Resync();

  EventLoop& loop_;
  Handler handler_;
  WorkQueueOptions options_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> queued_;
  std::unordered_map<std::string, int> failures_;
  std::unordered_map<std::string, std::pair<TimePoint, EventLoop::TimerId>> delayed_;
  std::set<std::string> tracked_;
  EventLoop::TimerId resync_timer_ = 0;
  bool drain_posted_ = false;
  std::shared_ptr<bool> alive_;
};

// "Kind/ns/name" ("Kind//name" for cluster-scoped objects).
std::string QueueKey(std::string_view kind, std::string_view ns, std::string_view name);
std::string QueueKey(const Json& obj);
// Splits a `QueueKey`; false if `key` has not that shape.
bool ParseQueueKey(std::string_view key, std::string* kind, std::string* ns, std::string* name);

}  // namespace skiff::controllers
