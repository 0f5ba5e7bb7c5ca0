// TorchScript models through libtorch (Debian's libtorch-dev), built only with
// -DSKIFF_WITH_TORCH=ON: libtorch's headers are heavy and its libraries large, so no other file
// includes them and nothing else depends on them.
#include <torch/script.h>

#include <mutex>

#include "serving/runtime/runtime.h"

namespace skiff::serving {

namespace {

class TorchRuntime : public Runtime {
 public:
  explicit TorchRuntime(torch::jit::script::Module module) : module_(std::move(module)) {}

  Result<Tensor> Predict(const Tensor& batch) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, BatchRows(batch, -1));
    at::Tensor out;
    try {
      torch::NoGradGuard no_grad;
      at::Tensor in = torch::from_blob(rows.values.data(), {rows.rows, rows.cols}, torch::kFloat32);
      std::lock_guard<std::mutex> lock(mu_);  // one forward at a time: the module is not ours to share
      torch::jit::IValue result = module_.forward({in});
      if (result.isTuple()) result = result.toTuple()->elements().at(0);
      if (!result.isTensor()) return InvalidArgument("the model's forward returned no tensor");
      out = result.toTensor().to(torch::kFloat32).contiguous();
    } catch (const c10::Error& e) {
      return InvalidArgument(std::string("the model rejected the input: ") + e.what_without_backtrace());
    } catch (const std::exception& e) {  // the interpreter's own errors (a shape mismatch)
      std::string what = e.what();
      return InvalidArgument("the model rejected the input: " + what.substr(what.rfind('\n', what.size() - 2) + 1));
    }
    std::vector<int64_t> shape(out.sizes().begin(), out.sizes().end());
    if (shape.empty() || shape[0] != rows.rows) {
      return Internal("the model answered " + std::to_string(shape.empty() ? 0 : shape[0]) + " rows for " +
                      std::to_string(rows.rows));
    }
    const float* data = out.data_ptr<float>();
    std::vector<float> values(data, data + out.numel());
    return Tensor::FromValues<float>(std::move(shape), values);
  }

  int64_t num_features() const override { return -1; }
  std::string platform() const override { return "pytorch"; }
  // A forward pass may take a while: predictions go to the model server's workers.
  bool blocks() const override { return true; }

 private:
  std::mutex mu_;
  torch::jit::script::Module module_;
};

}  // namespace

bool HaveTorch() { return true; }

Result<std::unique_ptr<Runtime>> LoadTorchRuntime(const std::string& path) {
  try {
    torch::jit::script::Module module = torch::jit::load(path);
    module.eval();
    return std::unique_ptr<Runtime>(std::make_unique<TorchRuntime>(std::move(module)));
  } catch (const c10::Error& e) {
    return InvalidArgument(path + ": not a TorchScript model: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return InvalidArgument(path + ": not a TorchScript model: " + e.what());
  }
}

}  // namespace skiff::serving
