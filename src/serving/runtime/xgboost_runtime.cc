// The native XGBoost runtime (XGBoost 1.7's C API).
//
// Thread-safety: a booster's prediction buffer belongs to the booster and is overwritten by its
// next prediction, so one booster must not serve two predictions at once. The runtime loads the
// model into a small pool of boosters (one per server worker, `parallelism`) and each `Predict`
// checks one out under a mutex, predicts with it and copies the result out before returning it.
// Each booster predicts with one thread (`nthread=1`): the server's workers are the parallelism.
#include <xgboost/c_api.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>

#include "common/dynlib.h"
#include "serving/runtime/runtime.h"

namespace skiff::serving {

namespace {

// XGBoost's C API, bound when the first model is loaded (see common/dynlib.h): only
// `skiff model-server` needs it, and loading it (with libgomp and libdmlc) at every start of
// the binary cost every other command.
struct LibXgb {
  decltype(&::XGBGetLastError) XGBGetLastError = nullptr;
  decltype(&::XGBoosterCreate) XGBoosterCreate = nullptr;
  decltype(&::XGBoosterFree) XGBoosterFree = nullptr;
  decltype(&::XGBoosterGetNumFeature) XGBoosterGetNumFeature = nullptr;
  decltype(&::XGBoosterLoadModel) XGBoosterLoadModel = nullptr;
  decltype(&::XGBoosterPredictFromDense) XGBoosterPredictFromDense = nullptr;
  decltype(&::XGBoosterSetParam) XGBoosterSetParam = nullptr;
  decltype(&::XGProxyDMatrixCreate) XGProxyDMatrixCreate = nullptr;
  decltype(&::XGDMatrixFree) XGDMatrixFree = nullptr;
};

LibXgb& XgbApi() {
  static LibXgb api;
  return api;
}

const LibXgb& Xgb() { return XgbApi(); }

Status LoadLibXgb() {
  static const Status loaded = [] {
    auto lib_or = OpenSharedLibrary({"libxgboost.so.0", "libxgboost.so"}, "the XGBoost library (libxgboost0)");
    if (!lib_or.ok()) return lib_or.status();
    void* lib = *lib_or;
    LibXgb& api = XgbApi();
    Status s = OkStatus();
    if (s.ok()) s = Bind(lib, "XGBGetLastError", api.XGBGetLastError);
    if (s.ok()) s = Bind(lib, "XGBoosterCreate", api.XGBoosterCreate);
    if (s.ok()) s = Bind(lib, "XGBoosterFree", api.XGBoosterFree);
    if (s.ok()) s = Bind(lib, "XGBoosterGetNumFeature", api.XGBoosterGetNumFeature);
    if (s.ok()) s = Bind(lib, "XGBoosterLoadModel", api.XGBoosterLoadModel);
    if (s.ok()) s = Bind(lib, "XGBoosterPredictFromDense", api.XGBoosterPredictFromDense);
    if (s.ok()) s = Bind(lib, "XGBoosterSetParam", api.XGBoosterSetParam);
    if (s.ok()) s = Bind(lib, "XGProxyDMatrixCreate", api.XGProxyDMatrixCreate);
    if (s.ok()) s = Bind(lib, "XGDMatrixFree", api.XGDMatrixFree);
    return s;
  }();
  return loaded;
}

}  // namespace

namespace {

Status XgbError(const std::string& what) { return Internal(what + ": " + Xgb().XGBGetLastError()); }

// One booster and the proxy DMatrix its in-place predictions read through. The proxy is made
// once: building a DMatrix per request (XGDMatrixCreateFromMat) made XGBoost construct a fresh
// `Context`, which reads /sys/fs/cgroup/cpu/cpu.cfs_{quota,period}_us (two opens, reads and
// closes per prediction: a fifth of the model server's CPU time on the benchmark).
struct Slot {
  BoosterHandle booster = nullptr;
  DMatrixHandle proxy = nullptr;
};

class XGBoostRuntime : public Runtime {
 public:
  ~XGBoostRuntime() override {
    for (Slot& s : all_) {
      if (s.proxy != nullptr) Xgb().XGDMatrixFree(s.proxy);
      if (s.booster != nullptr) Xgb().XGBoosterFree(s.booster);
    }
  }

  Status Load(const std::string& path, int parallelism) {
    if (parallelism < 1) parallelism = 1;
    all_.reserve(static_cast<size_t>(parallelism));
    for (int i = 0; i < parallelism; ++i) {
      Slot& s = all_.emplace_back();
      if (Xgb().XGBoosterCreate(nullptr, 0, &s.booster) != 0) return XgbError("creating a booster");
      if (Xgb().XGBoosterLoadModel(s.booster, path.c_str()) != 0) return XgbError("loading " + path);
      if (Xgb().XGBoosterSetParam(s.booster, "nthread", "1") != 0) return XgbError("setting nthread");
      if (Xgb().XGProxyDMatrixCreate(&s.proxy) != 0) return XgbError("creating the input proxy");
      free_.push_back(&s);
    }
    bst_ulong n = 0;
    if (Xgb().XGBoosterGetNumFeature(all_[0].booster, &n) != 0) {
      return XgbError("reading the number of features");
    }
    num_features_ = static_cast<int64_t>(n);
    return OkStatus();
  }

  Result<Tensor> Predict(const Tensor& batch) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, BatchRows(batch, num_features_));
    // numpy's __array_interface__ (version 3) for the row-major float32 matrix: XGBoost reads
    // the rows in place.
    char array[160];
    std::snprintf(array, sizeof array,
                  R"({"data": [%llu, true], "shape": [%lld, %lld], "typestr": "<f4", "version": 3})",
                  static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows.values.data())),
                  static_cast<long long>(rows.rows), static_cast<long long>(rows.cols));
    static constexpr const char* kConfig =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
        R"("strict_shape": false, "cache_id": 0, "missing": NaN})";
    Slot* slot = Acquire();
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    Result<Tensor> out = Internal("unset");
    if (Xgb().XGBoosterPredictFromDense(slot->booster, array, kConfig, slot->proxy, &shape, &dim,
                                        &result) != 0) {
      out = XgbError("predicting");
    } else {
      std::vector<int64_t> s(shape, shape + dim);
      int64_t count = 1;
      for (int64_t d : s) count *= d;
      out = Tensor::FromValues<float>(std::move(s), std::vector<float>(result, result + count));
    }
    Release(slot);
    return out;
  }

  int64_t num_features() const override { return num_features_; }
  std::string platform() const override { return "xgboost"; }

 private:
  Slot* Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Slot* s = free_.back();
    free_.pop_back();
    return s;
  }
  void Release(Slot* s) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(s);
    }
    cv_.notify_one();
  }

  std::vector<Slot> all_;  // reserved up front: `free_` points into it
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot*> free_;
  int64_t num_features_ = -1;
};

}  // namespace

bool HaveXGBoost() { return true; }

Result<std::unique_ptr<Runtime>> LoadXGBoostRuntime(const std::string& path, int parallelism) {
  SKIFF_RETURN_IF_ERROR(LoadLibXgb());
  auto rt = std::make_unique<XGBoostRuntime>();
  SKIFF_RETURN_IF_ERROR(rt->Load(path, parallelism));
  return std::unique_ptr<Runtime>(std::move(rt));
}

}  // namespace skiff::serving
