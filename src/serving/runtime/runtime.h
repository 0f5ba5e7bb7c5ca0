// Model runtimes for `skiff model-server`: a loaded model that turns a batch of rows (a rank-2
// numeric tensor [n, features]) into predictions (a tensor whose first dimension is n).
//
//   * XGBoost, natively through its C API (xgboost_runtime.cc; built only when libxgboost-dev
//     was found at configure time, see SKIFF_HAVE_XGBOOST).
//   * TorchScript (`model.pt`, KServe's "pytorch" format for a scripted or traced module),
//     through libtorch, only in builds configured with -DSKIFF_WITH_TORCH=ON (torch_runtime.cc).
//   * scikit-learn, through a long-lived /usr/bin/python3 helper process per model that loads
//     `model.joblib`/`model.pkl` with joblib/pickle, as KServe's sklearn server does, and
//     answers JSON lines over a pipe (sklearn_runtime.cc).
//
// Thread-safety: `Predict` may be called from many threads at once (each runtime documents how
// it serialises what needs serialising).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "serving/protocol/tensor.h"

namespace skiff::serving {

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Rows in, predictions out. A batch whose shape does not fit the model is InvalidArgument.
  virtual Result<Tensor> Predict(const Tensor& batch) = 0;
  // Number of input features, or -1 when the model does not say.
  virtual int64_t num_features() const = 0;
  // KServe's platform name ("xgboost", "sklearn").
  virtual std::string platform() const = 0;
  // True when `Predict` waits on something outside the process (the sklearn helper's pipe):
  // the model server then predicts on its worker threads, not on its I/O threads.
  virtual bool blocks() const { return false; }
};

enum class ModelFormat { kAuto, kXGBoost, kSklearn, kTorchScript };

struct RuntimeOptions {
  ModelFormat format = ModelFormat::kAuto;
  // XGBoost: boosters kept for concurrent predictions (one per server worker).
  int parallelism = 4;
  // sklearn: the interpreter that runs the helper.
  std::string python = "/usr/bin/python3";
};

// Finds the model file under `dir_or_file` (a directory holding model.bst|model.json|model.ubj
// for XGBoost or model.joblib|model.pkl|model.pickle for sklearn, or the file itself) and the
// format (from `options.format`, else from the file name).
struct ModelLocation {
  std::string path;
  ModelFormat format = ModelFormat::kAuto;
};
Result<ModelLocation> LocateModel(const std::string& dir_or_file, ModelFormat format);

// Loads the model.
Result<std::unique_ptr<Runtime>> LoadRuntime(const std::string& dir_or_file,
                                             const RuntimeOptions& options);

// True when this build has the native XGBoost runtime.
bool HaveXGBoost();
// True when this build has the TorchScript runtime (-DSKIFF_WITH_TORCH=ON with libtorch-dev).
bool HaveTorch();

std::string_view ModelFormatName(ModelFormat f);  // "auto", "xgboost", "sklearn", "pytorch"
std::optional<ModelFormat> ParseModelFormat(std::string_view name);

// Checks that `batch` is a numeric rank-2 tensor [n, features] (rank 1 [features] is read as
// one row) and returns its rows as floats plus the row count.
struct Rows {
  std::vector<float> values;
  int64_t rows = 0;
  int64_t cols = 0;
};
Result<Rows> BatchRows(const Tensor& batch, int64_t num_features);

// Implementations.
Result<std::unique_ptr<Runtime>> LoadXGBoostRuntime(const std::string& path, int parallelism);
Result<std::unique_ptr<Runtime>> LoadSklearnRuntime(const std::string& path, const std::string& python);
Result<std::unique_ptr<Runtime>> LoadTorchRuntime(const std::string& path);

}  // namespace skiff::serving
