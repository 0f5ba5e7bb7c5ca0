// An Informer delivers store events to handlers on one EventLoop thread, whoever wrote them:
// writes made through the same `Store` object arrive through `Store::Watch` at once (no
// polling); writes made by other processes sharing the store (another `skiff` command on the
// same SQLite file) are found by reading the event log every `poll_interval`, and only when the
// store says something external may have changed. Each event is delivered once.
//
// Handlers are level-triggered consumers (controllers, the kubelet): delivery order is by
// resource version within each source, but an external event may arrive after a later local one.
// Thread-safety: construct, `AddHandler` and `Start` on the loop thread; handlers run there.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "store/store.h"

namespace skiff::store {

class Informer {
 public:
  using Handler = std::function<void(const WatchEvent&)>;

  Informer(Store& store, EventLoop& loop, Duration poll_interval = std::chrono::milliseconds(100));
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // `kind` "" receives every kind.
  void AddHandler(std::string kind, Handler handler);
  // Starts delivering events newer than the store's current resource version.
  Status Start();

 private:
  void Deliver(const WatchEvent& ev);
  void Poll();

  Store& store_;
  EventLoop& loop_;
  Duration poll_interval_;
  std::vector<std::pair<std::string, Handler>> handlers_;
  std::unique_ptr<WatchHandle> watch_;
  std::set<int64_t> seen_;  // delivered versions newer than polled_upto_
  int64_t polled_upto_ = 0;
  std::shared_ptr<bool> alive_;
};

}  // namespace skiff::store
