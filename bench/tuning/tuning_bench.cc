// Runs Skiff's samplers on standard test functions, sequentially (one suggestion per trial),
// and prints JSON: per sampler and function, the median over seeds (0..N-1) of the best value
// after 50, 100 and 200 trials, each seed's three values, and the median milliseconds (wall and
// thread CPU) per Suggest call over trials 150-200.
//
//   tuning_bench [--seeds N] [--trials N] [--samplers a,b,...] [--functions a,b,...]
//                [--case LABEL=ALGORITHM[:name=value,...]]... [--first-seed K]
//                [--seeds-for LABEL=N]...
//
// --case (repeatable) replaces the default cases with the given algorithm and settings, for
// comparing variants, e.g. --case iid=random:stratified=false --case g15=tpe:gamma=0.15;
// --first-seed runs seeds K..K+N-1 instead (held-out seeds for tuning defaults without fitting
// them to the seeds the comparison with Optuna uses). --seeds-for (repeatable) gives one case its
// own seed count (random search is cheap and its median over few seeds is mostly seed luck).
// Every result carries the seed count it was run with.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <map>
#include <string>
#include <vector>

#include "bench/tuning/functions.h"
#include "engine/tuning/sampler.h"

using namespace skiff;
using namespace skiff::tuning;

namespace {

struct SamplerCase {
  std::string label, algorithm;
  std::vector<std::pair<std::string, std::string>> settings;
};

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size();
  return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 10, trials = 200, first_seed = 0;
  std::map<std::string, int> seeds_for;  // case label -> its own seed count
  std::vector<std::string> only_samplers, only_functions;
  std::vector<SamplerCase> custom;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds")) seeds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--trials")) trials = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--first-seed")) first_seed = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seeds-for")) {
      const std::string spec = argv[i + 1];
      const size_t eq = spec.find('=');
      const int n = eq == std::string::npos ? 0 : std::atoi(spec.c_str() + eq + 1);
      if (n <= 0) {
        std::fprintf(stderr, "--seeds-for %s: expected LABEL=N with N > 0\n", spec.c_str());
        return 2;
      }
      seeds_for[spec.substr(0, eq)] = n;
    }
    else if (!std::strcmp(argv[i], "--samplers")) only_samplers = Split(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--functions")) only_functions = Split(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--case")) {
      const std::string spec = argv[i + 1];
      const size_t eq = spec.find('='), colon = spec.find(':');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "--case %s: expected LABEL=ALGORITHM[:name=value,...]\n",
                     spec.c_str());
        return 2;
      }
      SamplerCase c{spec.substr(0, eq), spec.substr(eq + 1, colon == std::string::npos
                                                               ? std::string::npos
                                                               : colon - eq - 1), {}};
      if (colon != std::string::npos) {
        for (const std::string& kv : Split(spec.substr(colon + 1))) {
          const size_t e = kv.find('=');
          c.settings.emplace_back(kv.substr(0, e), e == std::string::npos ? "" : kv.substr(e + 1));
        }
      }
      custom.push_back(std::move(c));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::vector<SamplerCase> cases = {
      {"random", "random", {}},
      {"sobol", "sobol", {}},
      {"tpe", "tpe", {}},
      {"multivariate-tpe", "multivariate-tpe", {}},
      {"cmaes", "cmaes", {}},
      {"gp-ei", "bayesianoptimization", {{"acq_func", "EI"}}},
  };
  if (!custom.empty()) cases = custom;
  std::printf("{\"seeds\": %d, \"trials\": %d, \"results\": [\n", seeds, trials);
  bool first = true;
  for (const auto& fn : bench::Functions()) {
    if (!only_functions.empty() &&
        std::find(only_functions.begin(), only_functions.end(), fn.name) == only_functions.end()) {
      continue;
    }
    Json params = Json::array();
    for (size_t d = 0; d < fn.lo.size(); ++d) {
      params.push_back({{"name", "x" + std::to_string(d)},
                        {"parameterType", "double"},
                        {"feasibleSpace", {{"min", FormatNumber(fn.lo[d])},
                                           {"max", FormatNumber(fn.hi[d])}}}});
    }
    const SearchSpace space = SearchSpace::FromKatibJson(params).value();
    for (const auto& c : cases) {
      if (!only_samplers.empty() &&
          std::find(only_samplers.begin(), only_samplers.end(), c.label) == only_samplers.end()) {
        continue;
      }
      std::vector<double> at50, at100, at200, ms, cpu_ms;
      const auto own = seeds_for.find(c.label);
      const int case_seeds = own != seeds_for.end() ? own->second : seeds;
      for (int seed = 0; seed < case_seeds; ++seed) {
        auto sampler = MakeSampler({c.algorithm, c.settings}, space,
                                   {Goal::kMinimize, static_cast<uint64_t>(first_seed + seed)});
        if (!sampler.ok()) {
          std::fprintf(stderr, "%s: %s\n", c.label.c_str(), sampler.status().ToString().c_str());
          return 1;
        }
        History h;
        double best = INFINITY;
        std::vector<double> times, cpu_times;
        for (int t = 0; t < trials; ++t) {
          timespec c0{}, c1{};
          clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
          const auto start = std::chrono::steady_clock::now();
          auto r = (*sampler)->Suggest(h, 1);
          const auto stop = std::chrono::steady_clock::now();
          clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
          if (!r.ok() || r->suggestions.empty()) {
            std::fprintf(stderr, "%s: no suggestion at trial %d\n", c.label.c_str(), t);
            return 1;
          }
          if (t >= 150) {
            times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
            cpu_times.push_back((c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6);
          }
          Trial trial;
          trial.name = "t" + std::to_string(t);
          trial.point = r->suggestions[0].point;
          trial.labels = r->suggestions[0].labels;
          trial.state = TrialState::kCompleted;
          trial.objective = fn.f(space.DecodeNumbers(trial.point));
          best = std::min(best, *trial.objective);
          h.push_back(std::move(trial));
          if (t + 1 == 50) at50.push_back(best);
          if (t + 1 == 100) at100.push_back(best);
          if (t + 1 == 200) at200.push_back(best);
        }
        ms.push_back(Median(times));
        cpu_ms.push_back(Median(cpu_times));
      }
      // Per seed: the best after 50, 100 and 200 trials (for the two-sample test).
      std::string runs;
      for (size_t i = 0; i < at200.size(); ++i) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%s[%.10g, %.10g, %.10g]", i ? ", " : "", at50[i],
                      at100[i], at200[i]);
        runs += buf;
      }
      std::printf("%s  {\"sampler\": \"%s\", \"function\": \"%s\", \"seeds\": %d, \"best50\": %.10g, "
                  "\"best100\": %.10g, \"best200\": %.10g, \"ms_per_suggest\": %.4g, "
                  "\"cpu_ms_per_suggest\": %.4g, \"runs\": [%s]}",
                  first ? "" : ",\n", c.label.c_str(), fn.name.c_str(), case_seeds, Median(at50),
                  Median(at100), Median(at200), Median(ms), Median(cpu_ms), runs.c_str());
      std::fflush(stdout);
      first = false;
    }
  }
  std::printf("\n]}\n");
  return 0;
}
