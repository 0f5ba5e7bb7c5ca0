#include "store/watch_dispatcher.h"

#include <algorithm>
#include <atomic>
#include <exception>

#include "common/log.h"

namespace skiff::store {

struct WatchDispatcher::Registry {
  struct Watcher {
    WatchOptions opts;
    std::function<void(const WatchEvent&)> cb;                          // or
    std::function<void(std::shared_ptr<const WatchEvent>)> shared_cb;  // (WatchShared)
    // Held while `cb` runs. Recursive so that a callback may destroy its own handle.
    std::recursive_mutex call_mu;
    bool active = true;  // guarded by call_mu
  };

  mutable std::mutex mu;
  std::vector<std::shared_ptr<Watcher>> watchers;  // guarded by mu
  std::atomic<size_t> count{0};

  std::vector<std::shared_ptr<Watcher>> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu);
    return watchers;
  }

  void Remove(const std::shared_ptr<Watcher>& w) {
    {
      std::lock_guard<std::mutex> lock(mu);
      watchers.erase(std::remove(watchers.begin(), watchers.end(), w), watchers.end());
      count.store(watchers.size(), std::memory_order_release);
    }
    // Waits for a callback in flight on another thread; re-entrant from the callback itself.
    std::lock_guard<std::recursive_mutex> call(w->call_mu);
    w->active = false;
  }
};

namespace {

class DispatcherHandle final : public WatchHandle {
 public:
  explicit DispatcherHandle(std::function<void()> unregister)
      : unregister_(std::move(unregister)) {}
  ~DispatcherHandle() override { unregister_(); }

 private:
  std::function<void()> unregister_;
};

std::string_view NamespaceOf(const Json& object) {
  const Json* meta = FindField(object, "metadata");
  if (meta == nullptr) return {};
  const Json* ns = FindField(*meta, "namespace");
  if (ns == nullptr || !ns->is_string()) return {};
  return ns->get_ref<const std::string&>();
}

}  // namespace

bool EventMatches(const WatchOptions& opts, const Json& object) {
  if (!opts.kind.empty()) {
    const Json* kind = FindField(object, "kind");
    if (kind == nullptr || !kind->is_string() || kind->get_ref<const std::string&>() != opts.kind) {
      return false;
    }
  }
  return opts.ns.empty() || NamespaceOf(object) == opts.ns;
}

WatchDispatcher::WatchDispatcher() : registry_(std::make_shared<Registry>()) {}

WatchDispatcher::~WatchDispatcher() = default;

std::unique_ptr<WatchHandle> WatchDispatcher::Watch(const WatchOptions& opts,
                                                    std::function<void(const WatchEvent&)> cb) {
  return Register(opts, std::move(cb), nullptr);
}

std::unique_ptr<WatchHandle> WatchDispatcher::WatchShared(
    const WatchOptions& opts, std::function<void(std::shared_ptr<const WatchEvent>)> cb) {
  return Register(opts, nullptr, std::move(cb));
}

std::unique_ptr<WatchHandle> WatchDispatcher::Register(
    const WatchOptions& opts, std::function<void(const WatchEvent&)> cb,
    std::function<void(std::shared_ptr<const WatchEvent>)> shared_cb) {
  auto w = std::make_shared<Registry::Watcher>();
  w->opts = opts;
  w->cb = std::move(cb);
  w->shared_cb = std::move(shared_cb);
  {
    std::lock_guard<std::mutex> lock(registry_->mu);
    registry_->watchers.push_back(w);
    registry_->count.store(registry_->watchers.size(), std::memory_order_release);
  }
  std::weak_ptr<Registry> weak = registry_;
  return std::make_unique<DispatcherHandle>([weak, w] {
    if (auto registry = weak.lock()) {
      registry->Remove(w);
    } else {
      std::lock_guard<std::recursive_mutex> call(w->call_mu);
      w->active = false;
    }
  });
}

bool WatchDispatcher::HasWatchers() const {
  return registry_->count.load(std::memory_order_acquire) > 0;
}

uint64_t WatchDispatcher::Enqueue(std::vector<WatchEvent> events) {
  if (events.empty() || !HasWatchers()) return 0;
  std::vector<std::shared_ptr<const WatchEvent>> shared;
  shared.reserve(events.size());
  for (auto& e : events) shared.push_back(std::make_shared<const WatchEvent>(std::move(e)));
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t ticket = ++last_ticket_;
  queue_.push_back(Batch{ticket, std::move(shared)});
  return ticket;
}

void WatchDispatcher::Publish(uint64_t ticket) {
  if (ticket == 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  // A write from inside a callback: the loop below, further up this thread's stack, delivers it.
  if (delivering_ && deliverer_ == std::this_thread::get_id()) return;
  while (delivered_ticket_ < ticket && delivering_) cv_.wait(lock);
  if (delivered_ticket_ >= ticket) return;

  delivering_ = true;
  deliverer_ = std::this_thread::get_id();
  while (!queue_.empty()) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    auto watchers = registry_->Snapshot();
    for (const auto& event : batch.events) {
      for (const auto& w : watchers) {
        if (!EventMatches(w->opts, event->object)) continue;
        std::lock_guard<std::recursive_mutex> call(w->call_mu);
        if (!w->active) continue;
        try {
          if (w->shared_cb) {
            w->shared_cb(event);
          } else {
            w->cb(*event);
          }
        } catch (const std::exception& e) {
          LogError("store: watch callback threw", {{"error", e.what()}});
        } catch (...) {
          LogError("store: watch callback threw");
        }
      }
    }
    lock.lock();
    delivered_ticket_ = batch.ticket;
    cv_.notify_all();
  }
  delivering_ = false;
  deliverer_ = std::thread::id();
  cv_.notify_all();
}

}  // namespace skiff::store
