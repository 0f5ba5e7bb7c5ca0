// A single-threaded event loop over epoll: file-descriptor readiness callbacks, timers on an
// injected `Clock`, and `Post` for work handed in from other threads (woken through an eventfd).
// Controllers and the local kubelet run on one loop, so their state needs no locks.
// Thread-safety: only `Post` and `Stop` may be called from other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace skiff {

class EventLoop {
 public:
  using Callback = std::function<void()>;
  using TimerId = uint64_t;

  explicit EventLoop(const Clock& clock = SystemClock::Get());
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  const Clock& clock() const { return clock_; }

  // Calls `on_readable` whenever `fd` is readable (level-triggered) until `Unwatch(fd)`.
  Status Watch(int fd, Callback on_readable);
  void Unwatch(int fd);

  // Runs `cb` on the loop thread at or after `when`. Returns an id for `Cancel`.
  TimerId At(TimePoint when, Callback cb);
  TimerId After(Duration d, Callback cb) { return At(clock_.Now() + d, std::move(cb)); }
  void Cancel(TimerId id);

  // Thread-safe: queue `cb` to run on the loop thread soon.
  void Post(Callback cb);

  // Runs until `Stop()`.
  void Run();
  // Waits at most `max_wait` for events, runs what is due, and returns. Tests with a FakeClock
  // call this with zero after advancing the clock.
  void RunOnce(Duration max_wait);
  // Thread-safe.
  void Stop();
  bool stopped() const { return stop_; }

  // Earliest timer due time, if any.
  bool NextTimer(TimePoint* when) const;

 private:
  void RunDueTimers();
  void DrainPosted();

  const Clock& clock_;
  int epfd_ = -1;
  int wakefd_ = -1;
  bool stop_ = false;
  std::unordered_map<int, Callback> watches_;
  std::multimap<TimePoint, TimerId> timer_order_;
  std::unordered_map<TimerId, std::pair<TimePoint, Callback>> timers_;
  TimerId next_timer_ = 1;
  std::mutex posted_mu_;
  std::vector<Callback> posted_;  // GUARDED_BY(posted_mu_)
  // The thread that last ran the loop: a Post from it needs no wake-up, since RunOnce looks at
  // the queue before it waits.
  std::atomic<std::thread::id> loop_thread_{};
};

}  // namespace skiff
