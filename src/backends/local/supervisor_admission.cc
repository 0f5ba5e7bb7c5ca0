#include "backends/local/supervisor_admission.h"

#include <set>
#include <unordered_set>

namespace skiff::local {

Admission::Admission(Resources total, int64_t backfill_window_ms)
    : total_(total), backfill_window_ms_(backfill_window_ms) {}

std::string Admission::NeverFits(Resources r, const std::string& qualifier) const {
  std::string out;
  if (r.cpu_millis > total_.cpu_millis) {
    out = "cpu " + std::to_string(r.cpu_millis) + "m" + qualifier + " but this machine has " +
          std::to_string(total_.cpu_millis) + "m";
  }
  if (r.memory_bytes > total_.memory_bytes) {
    if (!out.empty()) out += ", and ";
    out += "memory " + std::to_string(r.memory_bytes) + " bytes" + qualifier +
           " but this machine has " + std::to_string(total_.memory_bytes) + " bytes";
  }
  return out;
}

Admission::Rejection Admission::Submit(const AdmissionRequest& request, int64_t now_ms) {
  (void)now_ms;
  if (queued_.count(request.id) != 0 || running_.count(request.id) != 0) return {};
  if (request.gang.empty()) {
    std::string too_big = NeverFits(request.request, "");
    if (!too_big.empty()) return {{request.id}, "requests " + too_big};
    queued_[request.id] = Enqueue(Entry{request.id, request.request, "", request.priority});
    return {};
  }

  const std::string& name = request.gang;
  if (auto r = rejected_gangs_.find(name); r != rejected_gangs_.end()) {
    return {{request.id}, r->second};
  }
  auto [git, inserted] = gangs_.try_emplace(name);
  Gang& gang = git->second;
  if (inserted) gang.size = request.gang_size;
  if (gang.size != request.gang_size) {
    return {{request.id},
            "gang \"" + name + "\": gang_size " + std::to_string(request.gang_size) +
                " differs from " + std::to_string(gang.size) + " given by its other members"};
  }
  if (static_cast<int>(gang.members.size()) >= gang.size) {
    return {
        {request.id},
        "gang \"" + name + "\" already has all " + std::to_string(gang.size) + " members queued"};
  }
  gang.members.push_back(request.id);
  gang.sum.cpu_millis += request.request.cpu_millis;
  gang.sum.memory_bytes += request.request.memory_bytes;
  queued_[request.id] = Enqueue(Entry{request.id, request.request, name, request.priority});

  // The sum only grows as members arrive, so a gang that is already too big is rejected now.
  std::string qualifier = static_cast<int>(gang.members.size()) < gang.size
                              ? " for its first " + std::to_string(gang.members.size()) + " members"
                              : " in total";
  std::string too_big = NeverFits(gang.sum, qualifier);
  if (too_big.empty()) return {};
  std::string message =
      "gang \"" + name + "\" of " + std::to_string(gang.size) + " requests " + too_big;
  Rejection out{gang.members, message};
  for (const auto& id : out.ids) {
    queue_.erase(queued_[id]);
    queued_.erase(id);
  }
  gangs_.erase(git);
  rejected_gangs_[name] = message;
  return out;
}

std::list<Admission::Entry>::iterator Admission::Enqueue(Entry e) {
  auto pos = queue_.end();
  while (pos != queue_.begin() && std::prev(pos)->priority < e.priority) --pos;
  return queue_.insert(pos, std::move(e));
}

bool Admission::Remove(const std::string& id) {
  auto it = queued_.find(id);
  if (it == queued_.end()) return false;
  const Entry& e = *it->second;
  if (!e.gang.empty()) {
    auto g = gangs_.find(e.gang);
    if (g != gangs_.end()) {
      auto& members = g->second.members;
      for (auto m = members.begin(); m != members.end(); ++m) {
        if (*m == id) {
          members.erase(m);
          break;
        }
      }
      g->second.sum.cpu_millis -= e.request.cpu_millis;
      g->second.sum.memory_bytes -= e.request.memory_bytes;
      if (members.empty()) gangs_.erase(g);
    }
  }
  blocked_since_ms_.erase(id);
  queue_.erase(it->second);
  queued_.erase(it);
  return true;
}

void Admission::AddRunning(const std::string& id, Resources request) {
  if (running_.count(id) != 0) return;
  running_[id] = request;
  used_.cpu_millis += request.cpu_millis;
  used_.memory_bytes += request.memory_bytes;
}

void Admission::Release(const std::string& id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  used_.cpu_millis -= it->second.cpu_millis;
  used_.memory_bytes -= it->second.memory_bytes;
  running_.erase(it);
}

std::vector<std::string> Admission::Admit(int64_t now_ms) {
  std::vector<std::string> admitted;
  std::vector<std::string> admitted_gangs;
  Resources free{total_.cpu_millis - used_.cpu_millis, total_.memory_bytes - used_.memory_bytes};
  std::unordered_set<std::string> seen_gangs;

  // Returns true when the blocked unit has waited long enough to stop all later admissions.
  auto blocked = [&](int64_t* since) {
    if (*since < 0) *since = now_ms;
    return now_ms - *since >= backfill_window_ms_;
  };
  auto take = [&](const std::string& id, Resources r) {
    admitted.push_back(id);
    running_[id] = r;
    used_.cpu_millis += r.cpu_millis;
    used_.memory_bytes += r.memory_bytes;
    free.cpu_millis -= r.cpu_millis;
    free.memory_bytes -= r.memory_bytes;
  };

  for (const Entry& e : queue_) {
    if (e.gang.empty()) {
      if (Fits(e.request, free)) {
        take(e.id, e.request);
        continue;
      }
      auto [b, unused] = blocked_since_ms_.try_emplace(e.id, -1);
      if (blocked(&b->second)) break;
      continue;
    }
    if (!seen_gangs.insert(e.gang).second) continue;
    Gang& g = gangs_[e.gang];
    if (static_cast<int>(g.members.size()) < g.size) continue;  // incomplete: not a unit yet
    if (Fits(g.sum, free)) {
      for (const auto& id : g.members) take(id, queued_[id]->request);
      admitted_gangs.push_back(e.gang);
      continue;
    }
    if (blocked(&g.blocked_since_ms)) break;
  }

  for (const auto& id : admitted) {
    auto it = queued_.find(id);
    queue_.erase(it->second);
    queued_.erase(it);
    blocked_since_ms_.erase(id);
  }
  for (const auto& g : admitted_gangs) gangs_.erase(g);
  return admitted;
}

}  // namespace skiff::local
