// Gang admission in the kubelet. Pods annotated
//
//   scheduling.skiff.dev/gang: <group>        (a name, unique within the namespace)
//   scheduling.skiff.dev/gang-size: "<N>"     (how many Pods form the gang)
//
// start all together or not at all, like Volcano's PodGroup or the coscheduling plugin's
// `minMember` (the training controller sets them from `schedulingPolicy.minAvailable`). The
// kubelet only collects the gang: gang Pods bypass its admission window (`max_active_pods`), and
// once N members are known it "forms" the gang: every member's main containers (and sidecars)
// are submitted to the supervisor as one supervisor gang, whose admission reserves the slots of
// all of them atomically. A gang whose sum can never fit the machine fails every member at once
// (phase Failed, reason Unschedulable, PodScheduled=False with the message naming the group and
// what is short), since on one machine waiting could never help.
//
// Members that join a gang whose other members already run (a replica re-created by its
// controller) form a gang of their own with the other newcomers. Init containers run before the
// gang forms part of it: only the regular containers are admitted as a unit. Restarted containers
// are admitted alone.
#include "backends/local/kubelet.h"
#include "backends/local/kubelet_pod_run.h"

namespace skiff::local {
namespace {

constexpr const char* kGangAnnotation = "scheduling.skiff.dev/gang";
constexpr const char* kGangSizeAnnotation = "scheduling.skiff.dev/gang-size";

// "cpu 3000m in total but this machine has 2000m (1000m short)"; "" if it fits.
std::string Shortfall(int64_t cpu, int64_t memory, std::pair<int64_t, int64_t> machine) {
  std::string out;
  if (machine.first > 0 && cpu > machine.first) {
    out = "cpu " + std::to_string(cpu) + "m in total but this machine has " +
          std::to_string(machine.first) + "m (" + std::to_string(cpu - machine.first) + "m short)";
  }
  if (machine.second > 0 && memory > machine.second) {
    if (!out.empty()) out += ", and ";
    out += "memory " + std::to_string(memory) + " bytes in total but this machine has " +
           std::to_string(machine.second) + " bytes (" + std::to_string(memory - machine.second) +
           " bytes short)";
  }
  return out;
}

}  // namespace

bool Kubelet::IsGangPod(const Json& pod) {
  const Json& annotations = pod["metadata"].value("annotations", Json::object());
  return !StringField(annotations, kGangAnnotation).empty();
}

Result<std::pair<int64_t, int64_t>> Kubelet::MachineSize() {
  if (machine_.first > 0) return machine_;
  SKIFF_RETURN_IF_ERROR(EnsureSupervisor());
  SKIFF_ASSIGN_OR_RETURN(Json info, supervisor_->Info());
  machine_ = {info.value("cpu_millis_total", int64_t{0}),
              info.value("memory_bytes_total", int64_t{0})};
  return machine_;
}

Status Kubelet::JoinGang(PodRun& run) {
  const Json& annotations = run.pod["metadata"].value("annotations", Json::object());
  std::string group = StringField(annotations, kGangAnnotation);
  if (group.empty()) return OkStatus();
  std::string size_text = StringField(annotations, kGangSizeAnnotation);
  int size = 0;
  if (!size_text.empty() && size_text.size() < 7 &&
      size_text.find_first_not_of("0123456789") == std::string::npos) {
    size = std::atoi(size_text.c_str());
  }
  if (size < 1) {
    return InvalidArgument(std::string("metadata.annotations[") + kGangSizeAnnotation +
                           "]: a positive number of Pods is required, got \"" + size_text + "\"");
  }
  run.gang = run.ns + "/" + group;
  run.gang_pods = size;
  run.processes = 0;
  for (const auto& c : run.containers) {
    if (c.kind == ContainerRun::Kind::kInit) continue;
    run.processes++;
    // Adopted after a restart of the kubelet: its gang was admitted before.
    if (c.state != ContainerRun::State::kWaiting || c.restarts > 0) run.gang_submitted = true;
  }
  Gang& g = gangs_[run.gang];
  if (g.members.empty()) g.pods = size;
  if (g.pods != size) {
    std::string message = std::string("metadata.annotations[") + kGangSizeAnnotation +
                          "]: " + size_text + " differs from " + std::to_string(g.pods) +
                          " given by the other Pods of gang \"" + run.gang + "\"";
    run.gang.clear();
    return InvalidArgument(message);
  }
  g.members.insert(run.uid);
  FormGang(run.gang);
  return OkStatus();
}

void Kubelet::LeaveGang(PodRun& run) {
  if (run.gang.empty()) return;
  auto it = gangs_.find(run.gang);
  if (it == gangs_.end()) return;
  it->second.members.erase(run.uid);
  if (it->second.members.empty()) gangs_.erase(it);
}

// Forms the gang from its members that have not formed one yet, once there are enough of them
// (counting the members already formed or running): checks that their sum can fit, names a
// supervisor gang for them, and lets each start its containers.
void Kubelet::FormGang(const std::string& gang) {
  auto it = gangs_.find(gang);
  if (it == gangs_.end()) return;
  const Gang& g = it->second;
  std::vector<std::string> pending;
  int committed = 0;
  for (const auto& uid : g.members) {
    auto p = pods_.find(uid);
    if (p == pods_.end() || p->second->finished || p->second->deleting) continue;
    const PodRun& r = *p->second;
    if (r.gang_submitted || !r.gang_unit.empty()) {
      committed++;
    } else {
      pending.push_back(uid);
    }
  }
  if (pending.empty() || committed + static_cast<int>(pending.size()) < g.pods) return;
  int64_t cpu = 0, memory = 0;
  int processes = 0;
  for (const auto& uid : pending) {
    const PodRun& r = *pods_[uid];
    for (const auto& c : r.containers) {
      if (c.kind == ContainerRun::Kind::kInit) continue;
      auto [c_cpu, c_memory] = ContainerRequests(r, c);
      cpu += c_cpu;
      memory += c_memory;
      processes++;
    }
  }
  auto machine = MachineSize();
  std::string short_by = machine.ok() ? Shortfall(cpu, memory, *machine) : "";
  if (!short_by.empty()) {
    std::string message = "gang \"" + gang + "\" of " + std::to_string(pending.size()) +
                          " Pods can never fit: it requests " + short_by;
    for (const auto& uid : pending) {
      auto p = pods_.find(uid);
      if (p != pods_.end() && !p->second->finished) FailPod(*p->second, "Unschedulable", message);
    }
    return;
  }
  // The first pending member's uid makes the name unique to this formation, so a gang submitted
  // again later (a job re-created under the same name) is a new supervisor gang.
  std::string unit = gang + "/" + pending.front();
  for (const auto& uid : pending) {
    PodRun& r = *pods_[uid];
    r.gang_unit = unit;
    r.gang_processes = processes;
    loop_.Post([this, uid] {
      auto p = pods_.find(uid);
      if (p != pods_.end()) StartNext(*p->second);
    });
  }
}

}  // namespace skiff::local
