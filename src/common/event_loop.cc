#include "common/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace skiff {

EventLoop::EventLoop(const Clock& clock) : clock_(clock) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wakefd_;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
}

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) ::close(wakefd_);
  if (epfd_ >= 0) ::close(epfd_);
}

Status EventLoop::Watch(int fd, Callback on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    if (errno != EEXIST || ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
      return Internal(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
  watches_[fd] = std::move(on_readable);
  return OkStatus();
}

void EventLoop::Unwatch(int fd) {
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(fd);
}

EventLoop::TimerId EventLoop::At(TimePoint when, Callback cb) {
  TimerId id = next_timer_++;
  timer_order_.emplace(when, id);
  timers_.emplace(id, std::make_pair(when, std::move(cb)));
  return id;
}

void EventLoop::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  auto range = timer_order_.equal_range(it->second.first);
  for (auto o = range.first; o != range.second; ++o) {
    if (o->second == id) {
      timer_order_.erase(o);
      break;
    }
  }
  timers_.erase(it);
}

void EventLoop::Post(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(cb));
  }
  if (loop_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return;
  uint64_t one = 1;
  ssize_t ignored = ::write(wakefd_, &one, sizeof one);
  (void)ignored;
}

void EventLoop::Stop() {
  Post([this] { stop_ = true; });
}

bool EventLoop::NextTimer(TimePoint* when) const {
  if (timer_order_.empty()) return false;
  *when = timer_order_.begin()->first;
  return true;
}

void EventLoop::RunDueTimers() {
  TimePoint now = clock_.Now();
  while (!timer_order_.empty() && timer_order_.begin()->first <= now) {
    TimerId id = timer_order_.begin()->second;
    timer_order_.erase(timer_order_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    Callback cb = std::move(it->second.second);
    timers_.erase(it);
    cb();
  }
}

void EventLoop::DrainPosted() {
  std::vector<Callback> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    batch.swap(posted_);
  }
  for (auto& cb : batch) cb();
}

void EventLoop::RunOnce(Duration max_wait) {
  loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  int timeout_ms = static_cast<int>(std::chrono::duration_cast<Millis>(max_wait).count());
  TimePoint next;
  if (NextTimer(&next)) {
    auto until = std::chrono::duration_cast<Millis>(next - clock_.Now()).count();
    if (until < 0) until = 0;
    // Round up so that we do not spin just before a timer is due.
    if (next > clock_.Now() && until == 0) until = 1;
    if (until < timeout_ms) timeout_ms = static_cast<int>(until);
  }
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    if (!posted_.empty()) timeout_ms = 0;
  }
  if (timeout_ms < 0) timeout_ms = 0;
  epoll_event events[64];
  int n = ::epoll_wait(epfd_, events, 64, timeout_ms);
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == wakefd_) {
      uint64_t v;
      while (::read(wakefd_, &v, sizeof v) > 0) {
      }
      continue;
    }
    auto it = watches_.find(fd);
    if (it != watches_.end()) {
      Callback cb = it->second;  // copy: the callback may Unwatch itself
      cb();
    }
  }
  DrainPosted();
  RunDueTimers();
}

void EventLoop::Run() {
  while (!stop_) RunOnce(std::chrono::seconds(3600));
}

}  // namespace skiff
