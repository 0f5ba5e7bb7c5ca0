// The native XGBoost runtime (XGBoost 1.7's C API).
//
// Thread-safety: a booster's prediction buffer belongs to the booster and is overwritten by its
// next prediction, so one booster must not serve two predictions at once. The runtime loads the
// model into a small pool of boosters (one per server worker, `parallelism`) and each `Predict`
// checks one out under a mutex, predicts with it and copies the result out before returning it.
// Each booster predicts with one thread (`nthread=1`): the server's workers are the parallelism.
#include <xgboost/c_api.h>

#include <condition_variable>
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
  decltype(&::XGBoosterPredictFromDMatrix) XGBoosterPredictFromDMatrix = nullptr;
  decltype(&::XGBoosterSetParam) XGBoosterSetParam = nullptr;
  decltype(&::XGDMatrixCreateFromMat) XGDMatrixCreateFromMat = nullptr;
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
    if (s.ok()) s = Bind(lib, "XGBoosterPredictFromDMatrix", api.XGBoosterPredictFromDMatrix);
    if (s.ok()) s = Bind(lib, "XGBoosterSetParam", api.XGBoosterSetParam);
    if (s.ok()) s = Bind(lib, "XGDMatrixCreateFromMat", api.XGDMatrixCreateFromMat);
    if (s.ok()) s = Bind(lib, "XGDMatrixFree", api.XGDMatrixFree);
    return s;
  }();
  return loaded;
}

}  // namespace

namespace {

Status XgbError(const std::string& what) { return Internal(what + ": " + Xgb().XGBGetLastError()); }

class DMatrix {
 public:
  DMatrix() = default;
  ~DMatrix() {
    if (h_ != nullptr) Xgb().XGDMatrixFree(h_);
  }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  DMatrixHandle* out() { return &h_; }
  DMatrixHandle get() const { return h_; }

 private:
  DMatrixHandle h_ = nullptr;
};

class XGBoostRuntime : public Runtime {
 public:
  ~XGBoostRuntime() override {
    for (BoosterHandle h : all_) Xgb().XGBoosterFree(h);
  }

  Status Load(const std::string& path, int parallelism) {
    if (parallelism < 1) parallelism = 1;
    for (int i = 0; i < parallelism; ++i) {
      BoosterHandle h = nullptr;
      if (Xgb().XGBoosterCreate(nullptr, 0, &h) != 0) return XgbError("creating a booster");
      all_.push_back(h);
      if (Xgb().XGBoosterLoadModel(h, path.c_str()) != 0) return XgbError("loading " + path);
      if (Xgb().XGBoosterSetParam(h, "nthread", "1") != 0) return XgbError("setting nthread");
      free_.push_back(h);
    }
    bst_ulong n = 0;
    if (Xgb().XGBoosterGetNumFeature(all_[0], &n) != 0) return XgbError("reading the number of features");
    num_features_ = static_cast<int64_t>(n);
    return OkStatus();
  }

  Result<Tensor> Predict(const Tensor& batch) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, BatchRows(batch, num_features_));
    DMatrix dm;
    if (Xgb().XGDMatrixCreateFromMat(rows.values.data(), static_cast<bst_ulong>(rows.rows),
                               static_cast<bst_ulong>(rows.cols), std::numeric_limits<float>::quiet_NaN(),
                               dm.out()) != 0) {
      return XgbError("building the input matrix");
    }
    BoosterHandle h = Acquire();
    static constexpr const char* kConfig =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    Result<Tensor> out = Internal("unset");
    if (Xgb().XGBoosterPredictFromDMatrix(h, dm.get(), kConfig, &shape, &dim, &result) != 0) {
      out = XgbError("predicting");
    } else {
      std::vector<int64_t> s(shape, shape + dim);
      int64_t count = 1;
      for (int64_t d : s) count *= d;
      out = Tensor::FromValues<float>(std::move(s), std::vector<float>(result, result + count));
    }
    Release(h);
    return out;
  }

  int64_t num_features() const override { return num_features_; }
  std::string platform() const override { return "xgboost"; }

 private:
  BoosterHandle Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    BoosterHandle h = free_.back();
    free_.pop_back();
    return h;
  }
  void Release(BoosterHandle h) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(h);
    }
    cv_.notify_one();
  }

  std::vector<BoosterHandle> all_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<BoosterHandle> free_;
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
