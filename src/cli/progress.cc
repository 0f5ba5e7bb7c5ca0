#include "cli/progress.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace skiff::cli {

using dag::NodePhase;
using dag::NodeStatus;
using dag::NodeType;

NodeMap NodesFromWorkflowJson(const Json& wf) {
  NodeMap out;
  const Json* status = FindField(wf, "status");
  const Json* nodes = status != nullptr ? FindField(*status, "nodes") : nullptr;
  if (nodes == nullptr || !nodes->is_object()) return out;
  for (auto it = nodes->begin(); it != nodes->end(); ++it) {
    auto n = NodeStatus::FromJson(it.value());
    if (n.ok()) out.emplace(it.key(), std::move(*n));
  }
  return out;
}

std::string HumanDuration(Duration d) {
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) s = 0;
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  }
  return buf;
}

namespace {

const char* Glyph(const NodeStatus& n) {
  if (n.daemoned && !n.Fulfilled()) return "\xE2\x97\x8F";  // ●
  switch (n.phase) {
    case NodePhase::kSucceeded: return "\xE2\x9C\x94";  // ✔
    case NodePhase::kRunning: return "\xE2\x97\x8F";    // ●
    case NodePhase::kPending: return "\xE2\x97\xB7";    // ◷
    case NodePhase::kFailed: return "\xE2\x9C\x96";     // ✖
    case NodePhase::kError: return "\xE2\x9A\xA0";      // ⚠
    case NodePhase::kSkipped:
    case NodePhase::kOmitted: return "\xE2\x97\x8B";  // ○
  }
  return "?";
}

const char* Color(const NodeStatus& n) {
  switch (n.phase) {
    case NodePhase::kSucceeded: return "\x1b[32m";
    case NodePhase::kRunning: return "\x1b[36m";
    case NodePhase::kPending: return "\x1b[33m";
    case NodePhase::kFailed:
    case NodePhase::kError: return "\x1b[31m";
    default: return "\x1b[90m";
  }
}

struct Row {
  std::string step, tmpl, pod, duration, message;
  const NodeStatus* node;
};

class TreeBuilder {
 public:
  TreeBuilder(const NodeMap& nodes, TimePoint now) : nodes_(nodes), now_(now) {
    for (const auto& [id, n] : nodes) {
      if (n.type == NodeType::kTaskGroup || n.type == NodeType::kRetry) {
        for (const auto& c : n.children) grouped_.insert(c);
      }
      if (n.type == NodeType::kPod || n.type == NodeType::kSteps || n.type == NodeType::kDAG ||
          n.type == NodeType::kRetry || n.type == NodeType::kSuspend || n.type == NodeType::kSkipped ||
          n.type == NodeType::kTaskGroup) {
        for (const auto& c : n.children) {
          auto it = nodes.find(c);
          if (it != nodes.end() && it->second.hooked) hooked_parent_[c] = id;
        }
      }
    }
  }

  std::vector<const NodeStatus*> Children(const NodeStatus& n) const {
    std::vector<const NodeStatus*> out;
    auto add = [&](const std::string& id) {
      auto it = nodes_.find(id);
      if (it != nodes_.end()) out.push_back(&it->second);
    };
    switch (n.type) {
      case NodeType::kSteps:
        for (size_t i = 0;; ++i) {
          std::string group = n.name + "[" + std::to_string(i) + "]";
          const NodeStatus* g = ByName(group);
          if (g == nullptr) break;
          for (const auto& c : g->children) add(c);
        }
        break;
      case NodeType::kDAG:
        for (const auto& [id, c] : nodes_) {
          if (c.boundary_id == n.id && !grouped_.count(id) && !hooked_parent_.count(id)) out.push_back(&c);
        }
        break;
      case NodeType::kTaskGroup:
      case NodeType::kRetry:
        for (const auto& c : n.children) add(c);
        break;
      default:
        break;
    }
    for (const auto& c : n.children) {
      auto it = nodes_.find(c);
      if (it != nodes_.end() && it->second.hooked && n.type != NodeType::kStepGroup) out.push_back(&it->second);
    }
    std::stable_sort(out.begin(), out.end(), [](const NodeStatus* a, const NodeStatus* b) {
      if (a->started_at != b->started_at) return a->started_at < b->started_at;
      return a->name < b->name;
    });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  void Walk(const NodeStatus& n, const std::string& prefix, bool last, bool root, std::vector<Row>& rows) const {
    Row r;
    r.node = &n;
    std::string branch = root ? "" : (last ? "\xE2\x94\x94\xE2\x94\x80" : "\xE2\x94\x9C\xE2\x94\x80");  // └─ ├─
    r.step = prefix + branch + Glyph(n) + " " + n.display_name;
    r.tmpl = n.template_name;
    if (r.tmpl.empty() && n.template_ref.is_object()) {
      r.tmpl = StringField(n.template_ref, "name") + "/" + StringField(n.template_ref, "template");
    }
    r.pod = n.type == NodeType::kPod ? n.pod_name : "";
    if (n.started_at != TimePoint{} && (n.type == NodeType::kPod || root || n.type == NodeType::kSuspend)) {
      TimePoint end = n.finished_at != TimePoint{} ? n.finished_at : now_;
      r.duration = HumanDuration(end - n.started_at);
    }
    r.message = n.message;
    if (n.type != NodeType::kStepGroup) rows.push_back(r);
    auto children = Children(n);
    std::string child_prefix = root ? " " : prefix + (last ? "  " : "\xE2\x94\x82 ");  // │
    for (size_t i = 0; i < children.size(); ++i) {
      Walk(*children[i], child_prefix, i + 1 == children.size(), false, rows);
    }
  }

  const NodeStatus* ByName(const std::string& name) const {
    for (const auto& [id, n] : nodes_) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }

 private:
  const NodeMap& nodes_;
  TimePoint now_;
  std::unordered_set<std::string> grouped_;
  std::unordered_map<std::string, std::string> hooked_parent_;
};

size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++w;
  }
  return w;
}

std::string Pad(const std::string& s, size_t width) {
  size_t w = DisplayWidth(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

}  // namespace

std::string RenderWorkflow(const Json& wf, const NodeMap& nodes, TimePoint now, bool color,
                           size_t max_rows) {
  // References, not `value()` copies: status may carry every node.
  static const Json kEmpty = Json::object();
  const Json* meta_field = FindField(wf, "metadata");
  const Json* status_field = FindField(wf, "status");
  const Json& meta = meta_field != nullptr ? *meta_field : kEmpty;
  const Json& status = status_field != nullptr ? *status_field : kEmpty;
  std::string name = StringField(meta, "name");
  std::string out;
  auto line = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out += Pad(k + ":", 21) + v + "\n";
  };
  line("Name", name);
  line("Namespace", StringField(meta, "namespace"));
  line("Status", StringField(status, "phase", "Pending"));
  line("Message", StringField(status, "message"));
  TimePoint started{}, finished{};
  if (auto t = ParseRfc3339(StringField(status, "startedAt")); t.ok()) started = *t;
  if (auto t = ParseRfc3339(StringField(status, "finishedAt")); t.ok()) finished = *t;
  if (started != TimePoint{}) {
    line("Started", StringField(status, "startedAt"));
    if (finished != TimePoint{}) line("Finished", StringField(status, "finishedAt"));
    line("Duration", HumanDuration((finished != TimePoint{} ? finished : now) - started));
  }
  line("Progress", StringField(status, "progress"));
  if (const Json* outs = FindField(status, "outputs"); outs != nullptr) {
    for (const auto& p : outs->value("parameters", Json::array())) {
      line("Output", StringField(p, "name") + "=" + StringField(p, "value"));
    }
  }
  auto root_it = nodes.find(name);
  if (root_it == nodes.end()) return out;
  TreeBuilder tree(nodes, now);
  std::vector<Row> rows;
  tree.Walk(root_it->second, "", true, true, rows);
  // Exit handler and workflow-level hooks hang off the root by name.
  for (const auto& [id, n] : nodes) {
    if (n.boundary_id.empty() && id != name && n.hooked &&
        (n.name == name + ".onExit" || n.name.rfind(name + ".hooks.", 0) == 0)) {
      tree.Walk(n, "", true, true, rows);
    }
  }
  size_t w_step = 4, w_tmpl = 8, w_pod = 7, w_dur = 8;
  for (const auto& r : rows) {
    w_step = std::max(w_step, DisplayWidth(r.step));
    w_tmpl = std::max(w_tmpl, DisplayWidth(r.tmpl));
    w_pod = std::max(w_pod, DisplayWidth(r.pod));
    w_dur = std::max(w_dur, DisplayWidth(r.duration));
  }
  out += "\n" + Pad("STEP", w_step + 2) + Pad("TEMPLATE", w_tmpl + 2) + Pad("PODNAME", w_pod + 2) +
         Pad("DURATION", w_dur + 2) + "MESSAGE\n";
  size_t shown = 0;
  for (const auto& r : rows) {
    if (max_rows > 0 && shown >= max_rows) {
      out += " ... " + std::to_string(rows.size() - shown) + " more nodes\n";
      break;
    }
    std::string step = Pad(r.step, w_step + 2);
    if (color) step = std::string(Color(*r.node)) + step + "\x1b[0m";
    out += step + Pad(r.tmpl, w_tmpl + 2) + Pad(r.pod, w_pod + 2) + Pad(r.duration, w_dur + 2) +
           r.message + "\n";
    ++shown;
  }
  return out;
}

ProgressPrinter::ProgressPrinter(FILE* out, bool tty) : out_(out), tty_(tty) {}

void ProgressPrinter::Update(const Json& wf, const NodeMap& nodes, bool force) {
  TimePoint now = SystemClock::Get().Now();
  if (tty_) {
    if (!force && now - last_draw_ < std::chrono::milliseconds(150)) return;
    last_draw_ = now;
    std::string text = RenderWorkflow(wf, nodes, now, true, 60);
    if (last_lines_ > 0) std::fprintf(out_, "\x1b[%zuA\x1b[J", last_lines_);
    std::fputs(text.c_str(), out_);
    last_lines_ = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    std::fflush(out_);
    return;
  }
  // Plain lines: one per phase change of a node that does work.
  std::vector<std::pair<const std::string*, const NodeStatus*>> all;
  all.reserve(nodes.size());
  for (const auto& [id, n] : nodes) all.emplace_back(&id, &n);
  PrintPhaseChanges(all, now);
}

void ProgressPrinter::PrintPhaseChanges(
    const std::vector<std::pair<const std::string*, const NodeStatus*>>& nodes, TimePoint now) {
  std::vector<const NodeStatus*> changed;
  for (const auto& [id, n] : nodes) {
    if (n->type == NodeType::kStepGroup || n->type == NodeType::kTaskGroup) continue;
    auto it = seen_.find(*id);
    if (it != seen_.end() && it->second == n->phase) continue;
    if (it == seen_.end() && n->phase == NodePhase::kPending && n->type != NodeType::kPod) continue;
    seen_[*id] = n->phase;
    changed.push_back(n);
  }
  if (changed.empty()) return;
  std::sort(changed.begin(), changed.end(), [](const NodeStatus* a, const NodeStatus* b) {
    if (a->started_at != b->started_at) return a->started_at < b->started_at;
    return a->name < b->name;
  });
  std::string stamp = FormatRfc3339(now);
  for (const NodeStatus* n : changed) {
    std::string msg = n->message.empty() ? "" : " (" + n->message + ")";
    std::fprintf(out_, "%s %-9s %s%s\n", stamp.c_str(),
                 std::string(dag::PhaseName(n->phase)).c_str(), n->name.c_str(), msg.c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::UpdateChanged(const Json& wf, const NodeMap& nodes,
                                    const std::vector<std::string>& changed) {
  if (tty_) {
    Update(wf, nodes);
    return;
  }
  // Only the changed nodes are looked at, and none is copied.
  std::vector<std::pair<const std::string*, const NodeStatus*>> subset;
  subset.reserve(changed.size());
  for (const auto& id : changed) {
    auto it = nodes.find(id);
    if (it != nodes.end()) subset.emplace_back(&it->first, &it->second);
  }
  if (!subset.empty()) PrintPhaseChanges(subset, SystemClock::Get().Now());
}

void ProgressPrinter::Finish(const Json& wf, const NodeMap& nodes) {
  if (tty_) {
    Update(wf, nodes, true);
    return;
  }
  Update(wf, nodes, true);
  static const Json kEmpty = Json::object();
  const Json* status_field = FindField(wf, "status");
  const Json& status = status_field != nullptr ? *status_field : kEmpty;  // not a copy of every node
  std::fprintf(out_, "%s %s %s%s\n", FormatRfc3339(SystemClock::Get().Now()).c_str(),
               StringField(wf["metadata"], "name").c_str(), StringField(status, "phase").c_str(),
               StringField(status, "message").empty() ? ""
                                                       : (": " + StringField(status, "message")).c_str());
  std::fflush(out_);
}

}  // namespace skiff::cli
