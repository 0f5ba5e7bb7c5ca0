// JSON micro-benchmark: skiff::ParseJson and skiff::DumpJson against nlohmann::json's parse and
// dump on the given documents (e.g. a stored node record, a memo entry and a Workflow object,
// exported from a bench home's skiff.db; see run.sh). Prints ns per byte for each.
//
//   json_bench FILE...
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "common/json.h"

namespace {

using Clock = std::chrono::steady_clock;

// Nanoseconds per call of `fn`, the best of 5 rounds of at least ~50 ms each.
template <typename Fn>
double NsPerCall(Fn&& fn) {
  size_t n = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < n; ++i) fn();
    if (Clock::now() - t0 > std::chrono::milliseconds(50)) break;
    n *= 2;
  }
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < n; ++i) fn();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
    if (ns < best) best = ns;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("%-28s %8s %10s %10s %6s %10s %10s %6s\n", "document", "bytes", "parse ns/B",
              "nlohmann", "x", "dump ns/B", "nlohmann", "x");
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto parsed = skiff::ParseJson(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s: %s\n", argv[i], parsed.status().ToString().c_str());
      return 1;
    }
    const double bytes = static_cast<double>(text.size());
    size_t sink = 0;
    const double ours = NsPerCall([&] { sink += skiff::ParseJson(text)->size(); });
    const double theirs =
        NsPerCall([&] { sink += skiff::Json::parse(text.begin(), text.end()).size(); });
    const double dump_ours = NsPerCall([&] { sink += skiff::DumpJson(*parsed).size(); });
    const double dump_theirs = NsPerCall([&] {
      sink += parsed->dump(-1, ' ', false, skiff::Json::error_handler_t::replace).size();
    });
    std::string name = argv[i];
    name = name.substr(name.find_last_of('/') + 1);
    std::printf("%-28s %8zu %10.2f %10.2f %6.2f %10.2f %10.2f %6.2f%s\n", name.c_str(), text.size(),
                ours / bytes, theirs / bytes, theirs / ours, dump_ours / bytes, dump_theirs / bytes,
                dump_theirs / dump_ours, sink == 0 ? " " : "");
  }
  return 0;
}
