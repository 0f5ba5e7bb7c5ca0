// Admission by slots for the supervisor: decides which queued processes may start now without
// oversubscribing the machine's CPU millis and memory bytes. Pure bookkeeping: no I/O, no clock
// of its own (callers pass `now_ms`), so it is tested alone. Not thread-safe.
//
// Policy:
//   - By priority (higher first), FIFO by submission among equals. A unit is a single process or a complete gang (all `gang_size` members
//     submitted); a gang is admitted all at once or not at all, and an incomplete gang neither
//     holds resources nor blocks anyone.
//   - Backfill: a unit that does not fit lets later units that do fit start past it, but only for
//     `backfill_window_ms` after it first failed to fit. From then on it is a barrier: nothing
//     behind it starts until it has started, so a big request or a gang is never starved.
//   - A request that can never fit (larger than the machine; for a gang, the members' sum) is
//     rejected at once; a rejected gang rejects its queued members and any that arrive later.
//   - Running work may exceed the totals only through `AddRunning` (processes adopted after a
//     supervisor restart, which are already running whether they fit or not).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace skiff::local {

struct Resources {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};

struct AdmissionRequest {
  std::string id;
  Resources request;
  std::string gang;  // "" = not in a gang
  int gang_size = 0;
  int64_t priority = 0;
};

class Admission {
 public:
  Admission(Resources total, int64_t backfill_window_ms);

  struct Rejection {
    std::vector<std::string> ids;  // empty: queued
    std::string message;           // "requests cpu 4000m but this machine has 2000m"
  };
  // Queues `request` (ids must be unique among queued and running), or rejects it, and for a gang
  // member every queued member of its gang, as unschedulable.
  Rejection Submit(const AdmissionRequest& request, int64_t now_ms);
  // Drops a queued process; returns false if it was not queued.
  bool Remove(const std::string& id);
  // Accounts an already-running process (it may oversubscribe).
  void AddRunning(const std::string& id, Resources request);
  // Frees the resources of a running process; no-op for unknown ids.
  void Release(const std::string& id);
  // Returns the ids that start now, in order, and accounts them as running.
  std::vector<std::string> Admit(int64_t now_ms);

  bool IsQueued(const std::string& id) const { return queued_.count(id) != 0; }
  size_t queued_count() const { return queued_.size(); }
  size_t running_count() const { return running_.size(); }
  Resources total() const { return total_; }
  Resources used() const { return used_; }

 private:
  struct Entry {
    std::string id;
    Resources request;
    std::string gang;
    int64_t priority = 0;
  };
  // Queues `e` behind every entry of the same or a higher priority.
  std::list<Entry>::iterator Enqueue(Entry e);
  struct Gang {
    int size = 0;
    std::vector<std::string> members;  // queued, in submission order
    Resources sum;
    int64_t blocked_since_ms = -1;
  };
  bool Fits(Resources r, Resources free) const {
    return r.cpu_millis <= free.cpu_millis && r.memory_bytes <= free.memory_bytes;
  }
  // "" if `r` can ever fit, else what is too big.
  // `qualifier` follows the amount ("cpu 3000m in total but ...").
  std::string NeverFits(Resources r, const std::string& qualifier) const;

  Resources total_;
  int64_t backfill_window_ms_;
  Resources used_;
  std::list<Entry> queue_;
  std::unordered_map<std::string, std::list<Entry>::iterator> queued_;
  std::unordered_map<std::string, int64_t> blocked_since_ms_;  // single entries
  std::map<std::string, Gang> gangs_;                          // gangs with queued members
  std::map<std::string, std::string> rejected_gangs_;          // gang -> message
  std::unordered_map<std::string, Resources> running_;
};

}  // namespace skiff::local
