// `WatchDispatcher` delivers committed events to the in-process watchers of one `Store`, in
// resource-version order, on the writing threads. Any `Store` implementation can use it:
//
//   1. While still holding the lock that orders its commits, right after the commit succeeded,
//      the store calls `Enqueue(events)` and gets a ticket. Tickets thus follow commit order.
//   2. After releasing that lock, the store calls `Publish(ticket)`. One writing thread at a time
//      drains the queue and runs the callbacks, without holding any lock of the store or of the
//      dispatcher, so a callback may read the store. `Publish` returns once the ticket's batch
//      has been delivered, so when a write returns its events have reached every watcher.
//   3. A write made from inside a callback (the delivering thread re-entering the store) does not
//      wait for its own batch: the outer delivery loop delivers it after the current batch, in
//      order. This avoids a self-deadlock.
//
// Destroying a `WatchHandle` unregisters its watcher; once the destructor has returned the
// callback is never called again. The destructor waits for a callback running on another
// thread; from inside its own callback it returns at once. So do not destroy a handle while
// holding a lock its callback takes. Handles may outlive the dispatcher.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace skiff::store {

class WatchDispatcher {
 public:
  WatchDispatcher();
  ~WatchDispatcher();
  WatchDispatcher(const WatchDispatcher&) = delete;
  WatchDispatcher& operator=(const WatchDispatcher&) = delete;

  std::unique_ptr<WatchHandle> Watch(const WatchOptions& opts,
                                     std::function<void(const WatchEvent&)> cb);
  // A watcher that is handed each event shared (see `Store::WatchShared`): no copy is made.
  std::unique_ptr<WatchHandle> WatchShared(
      const WatchOptions& opts, std::function<void(std::shared_ptr<const WatchEvent>)> cb);

  // True while at least one watcher is registered. A store may skip preparing events when false:
  // a watcher registered afterwards only needs events committed after its registration.
  bool HasWatchers() const;

  // See step 1 above. Returns 0 (nothing to publish) when `events` is empty or nobody watches.
  uint64_t Enqueue(std::vector<WatchEvent> events);

  // See steps 2 and 3 above. `ticket` 0 is a no-op.
  void Publish(uint64_t ticket);

 private:
  struct Registry;
  struct Batch {
    uint64_t ticket;
    std::vector<std::shared_ptr<const WatchEvent>> events;
  };
  std::unique_ptr<WatchHandle> Register(
      const WatchOptions& opts, std::function<void(const WatchEvent&)> cb,
      std::function<void(std::shared_ptr<const WatchEvent>)> shared_cb);

  std::shared_ptr<Registry> registry_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;        // guarded by mu_
  uint64_t last_ticket_ = 0;       // guarded by mu_
  uint64_t delivered_ticket_ = 0;  // guarded by mu_
  bool delivering_ = false;        // guarded by mu_
  std::thread::id deliverer_;      // guarded by mu_
};

// True if `event` passes the kind and namespace filter of `opts`.
bool EventMatches(const WatchOptions& opts, const Json& object);

}  // namespace skiff::store
