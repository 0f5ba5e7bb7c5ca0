#include "serving/runtime/runtime.h"

#include <filesystem>

namespace skiff::serving {

namespace fs = std::filesystem;

namespace {

ModelFormat FormatFromName(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".bst" || ext == ".json" || ext == ".ubj" || ext == ".model") return ModelFormat::kXGBoost;
  if (ext == ".joblib" || ext == ".pkl" || ext == ".pickle") return ModelFormat::kSklearn;
  if (ext == ".pt" || ext == ".pth") return ModelFormat::kTorchScript;
  return ModelFormat::kAuto;
}

}  // namespace

std::string_view ModelFormatName(ModelFormat f) {
  switch (f) {
    case ModelFormat::kXGBoost: return "xgboost";
    case ModelFormat::kSklearn: return "sklearn";
    case ModelFormat::kTorchScript: return "pytorch";
    case ModelFormat::kAuto: break;
  }
  return "auto";
}

std::optional<ModelFormat> ParseModelFormat(std::string_view name) {
  if (name == "xgboost") return ModelFormat::kXGBoost;
  if (name == "sklearn") return ModelFormat::kSklearn;
  if (name == "pytorch" || name == "torchscript") return ModelFormat::kTorchScript;
  if (name == "auto" || name.empty()) return ModelFormat::kAuto;
  return std::nullopt;
}

Result<ModelLocation> LocateModel(const std::string& dir_or_file, ModelFormat format) {
  std::error_code ec;
  if (!fs::exists(dir_or_file, ec)) return NotFound("model path " + dir_or_file + " does not exist");
  if (!fs::is_directory(dir_or_file, ec)) {
    ModelFormat f = format != ModelFormat::kAuto ? format : FormatFromName(dir_or_file);
    if (f == ModelFormat::kAuto) {
      return InvalidArgument("cannot tell the format of " + dir_or_file + "; pass --format xgboost|sklearn|pytorch");
    }
    return ModelLocation{dir_or_file, f};
  }
  static const char* kXgb[] = {"model.bst", "model.json", "model.ubj"};
  static const char* kSk[] = {"model.joblib", "model.pkl", "model.pickle"};
  auto find = [&](auto& names, ModelFormat f) -> std::optional<ModelLocation> {
    for (const char* n : names) {
      fs::path p = fs::path(dir_or_file) / n;
      if (fs::is_regular_file(p, ec)) return ModelLocation{p.string(), f};
    }
    return std::nullopt;
  };
  if (format == ModelFormat::kAuto || format == ModelFormat::kXGBoost) {
    if (auto l = find(kXgb, ModelFormat::kXGBoost)) return *l;
  }
  if (format == ModelFormat::kAuto || format == ModelFormat::kSklearn) {
    if (auto l = find(kSk, ModelFormat::kSklearn)) return *l;
  }
  static const char* kPt[] = {"model.pt", "model.pth"};
  if (format == ModelFormat::kAuto || format == ModelFormat::kTorchScript) {
    if (auto l = find(kPt, ModelFormat::kTorchScript)) return *l;
  }
  return NotFound("no model file in " + dir_or_file +
                  " (looked for model.bst|model.json|model.ubj|model.joblib|model.pkl|model.pickle|model.pt|model.pth)");
}

Result<std::unique_ptr<Runtime>> LoadRuntime(const std::string& dir_or_file, const RuntimeOptions& options) {
  SKIFF_ASSIGN_OR_RETURN(ModelLocation loc, LocateModel(dir_or_file, options.format));
  if (loc.format == ModelFormat::kXGBoost) return LoadXGBoostRuntime(loc.path, options.parallelism);
  if (loc.format == ModelFormat::kTorchScript) return LoadTorchRuntime(loc.path);
  return LoadSklearnRuntime(loc.path, options.python);
}

Result<Rows> BatchRows(const Tensor& batch, int64_t num_features) {
  const auto& shape = batch.shape();
  if (batch.datatype() == DataType::kBytes) {
    return InvalidArgument("input datatype BYTES is not supported; send numbers");
  }
  Rows r;
  if (shape.size() == 2) {
    r.rows = shape[0];
    r.cols = shape[1];
  } else if (shape.size() == 1) {
    r.rows = 1;
    r.cols = shape[0];
  } else {
    return InvalidArgument("input of shape " + batch.ShapeString() + " must be [rows, features]");
  }
  if (num_features >= 0 && r.cols != num_features) {
    return InvalidArgument("input of shape " + batch.ShapeString() + " has " + std::to_string(r.cols) +
                           " features; the model expects " + std::to_string(num_features));
  }
  SKIFF_ASSIGN_OR_RETURN(r.values, batch.ToFloats());
  return r;
}

#ifndef SKIFF_HAVE_XGBOOST
bool HaveXGBoost() { return false; }
Result<std::unique_ptr<Runtime>> LoadXGBoostRuntime(const std::string&, int) {
  return Unimplemented("this skiff was built without libxgboost-dev; the XGBoost runtime is not available");
}
#endif

#ifndef SKIFF_HAVE_TORCH
bool HaveTorch() { return false; }
Result<std::unique_ptr<Runtime>> LoadTorchRuntime(const std::string&) {
  return Unimplemented("this skiff was built without libtorch; the TorchScript (pytorch) runtime needs a build "
                       "configured with -DSKIFF_WITH_TORCH=ON and libtorch-dev installed");
}
#endif

}  // namespace skiff::serving
