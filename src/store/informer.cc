#include "store/informer.h"

#include <iterator>

namespace skiff::store {

Informer::Informer(Store& store, EventLoop& loop, Duration poll_interval)
    : store_(store),
      loop_(loop),
      poll_interval_(poll_interval),
      alive_(std::make_shared<bool>(true)) {}

Informer::~Informer() {
  *alive_ = false;
  watch_.reset();
}

void Informer::AddHandler(std::string kind, Handler handler) {
  handlers_.emplace_back(std::move(kind), std::move(handler));
}

Status Informer::Start() {
  polled_upto_ = store_.CurrentResourceVersion();
  std::weak_ptr<bool> alive = alive_;
  // Events are shared with the loop, not copied: a Workflow's carries its whole spec.
  watch_ = store_.WatchShared({"", ""}, [this, alive](std::shared_ptr<const WatchEvent> ev) {
    loop_.Post([this, alive, ev = std::move(ev)] {
      auto a = alive.lock();
      if (a && *a) Deliver(*ev);
    });
  });
  loop_.After(poll_interval_, [this, alive] {
    auto a = alive.lock();
    if (a && *a) Poll();
  });
  return OkStatus();
}

void Informer::Deliver(const WatchEvent& ev) {
  if (ev.resource_version <= polled_upto_ && seen_.count(ev.resource_version) == 0 &&
      ev.resource_version != 0) {
    // Already covered by a poll that read this version.
    return;
  }
  if (!seen_.insert(ev.resource_version).second) return;
  std::string kind = StringField(ev.object, "kind");
  for (const auto& [k, h] : handlers_) {
    if (k.empty() || k == kind) h(ev);
  }
}

void Informer::Poll() {
  std::weak_ptr<bool> alive = alive_;
  if (store_.ExternalChanges()) {
    auto events = store_.EventsSince(polled_upto_, {}, 2000);
    if (events.ok()) {
      for (const auto& ev : *events) {
        if (seen_.insert(ev.resource_version).second) {
          std::string kind = StringField(ev.object, "kind");
          for (const auto& [k, h] : handlers_) {
            if (k.empty() || k == kind) h(ev);
          }
        }
        polled_upto_ = std::max(polled_upto_, ev.resource_version);
      }
    } else {
      // The log was compacted past us: start from the present (handlers resync by listing).
      polled_upto_ = store_.CurrentResourceVersion();
    }
  }
  // Versions at or below polled_upto_ can no longer arrive from the poller.
  seen_.erase(seen_.begin(), seen_.upper_bound(polled_upto_));
  if (seen_.size() > 100000) {
    // Only local writes for a long time: forget the oldest half (their events were delivered).
    auto mid = std::next(seen_.begin(), static_cast<std::ptrdiff_t>(seen_.size() / 2));
    polled_upto_ = *std::prev(mid);
    seen_.erase(seen_.begin(), mid);
  }
  loop_.After(poll_interval_, [this, alive] {
    auto a = alive.lock();
    if (a && *a) Poll();
  });
}

}  // namespace skiff::store
