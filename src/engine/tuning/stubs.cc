#include "engine/tuning/sampler_internal.h"
namespace skiff::tuning::internal {
Result<std::unique_ptr<Sampler>> NewGpSampler(const SearchSpace&, Settings&, Goal, uint64_t) { return Unimplemented("gp"); }
Result<std::unique_ptr<Sampler>> NewCmaEsSampler(const SearchSpace&, Settings&, Goal, uint64_t) { return Unimplemented("cmaes"); }
Result<std::unique_ptr<Sampler>> NewHyperbandSampler(const SearchSpace&, Settings&, Goal, uint64_t) { return Unimplemented("hb"); }
Result<std::unique_ptr<Sampler>> NewPbtSampler(const SearchSpace&, Settings&, Goal, uint64_t) { return Unimplemented("pbt"); }
}
