// TrainingPlan (see training_plan.hpp).
#include "plan/training_plan.hpp"

#include "core/check.hpp"
#include "imgcls/runtime.hpp"
#include "plan/arrange.hpp"

namespace imgcls::plan {

TrainingPlan::TrainingPlan(Sequential& model, Precision precision, std::size_t frozen_layers)
    : model_(model), precision_(precision), frozen_layers_(frozen_layers) {
  IMGCLS_CHECK(model.layer_count() > 0, "the model has no layers");
  IMGCLS_CHECK(frozen_layers <= model.layer_count(), "{} frozen layers of {}", frozen_layers,
               model.layer_count());
  IMGCLS_CHECK(
      precision == Precision::fp32 || bf16_supported(),
      "bf16 training steps need a CPU with AVX512-BF16 or AMX (as oneDNN sees it); this one would "
      "emulate them, slower than fp32, or not run them at all: train in fp32 here");
  for (std::size_t i = 0; i < model.layer_count(); ++i) {
    std::vector<Tensor*> grads, buffers;
    for (const Param& p : model.layer(i).params()) grads.push_back(p.grad);
    for (const Param& b : model.layer(i).buffers()) buffers.push_back(b.value);
    diff_params_.push_back(std::move(grads));
    buffers_.push_back(std::move(buffers));
  }
  first_trained_ = model.layer_count();  // none: nothing to train, backward does nothing
  for (std::size_t i = frozen_layers; i < model.layer_count(); ++i)
    if (!diff_params_[i].empty()) {
      first_trained_ = i;
      break;
    }
  outputs_.resize(model.layer_count());
  diffs_.resize(model.layer_count());
}

TrainingPlan::Kernels& TrainingPlan::kernels_for(std::int64_t batch) {
  Kernels& kernels = by_batch_[batch];
  if (kernels.by_layer.empty()) {
    const std::vector<KernelSpec> specs =
        arrange(model_, batch, Mode::train, precision_, frozen_layers_);
    for (std::size_t i = 0; i < model_.layer_count(); ++i)
      kernels.by_layer.push_back(model_.layer(i).make_kernel(specs[i]));
  }
  return kernels;
}

const Tensor& TrainingPlan::forward(const Tensor& images, std::uint64_t noise_seed) {
  IMGCLS_CHECK(images.rank() == static_cast<std::int64_t>(model_.input_shape().size()) + 1 &&
                   Shape(images.shape().begin() + 1, images.shape().end()) == model_.input_shape(),
               "batch {} does not match the model input {}", to_string(images.shape()),
               to_string(model_.input_shape()));
  last_ = &kernels_for(images.dim(0));
  last_input_ = &images;
  const Tensor* src = &images;
  for (std::size_t i = 0; i < last_->by_layer.size(); ++i) {
    Kernel& kernel = *last_->by_layer[i];
    kernel.set_noise_seed(derive_seed(noise_seed, i));
    kernel.forward(*src, outputs_[i]);
    if (!buffers_[i].empty() && i >= frozen_layers_) kernel.update_buffers(buffers_[i]);
    src = &outputs_[i];
  }
  return outputs_.back();
}

void TrainingPlan::backward(const Tensor& diff_logits) {
  IMGCLS_CHECK(last_ != nullptr, "backward before forward");
  const Tensor* diff_dst = &diff_logits;
  for (std::size_t i = last_->by_layer.size(); i-- > first_trained_;) {
    const Tensor& src = i == 0 ? *last_input_ : outputs_[i - 1];
    Tensor* diff_src = i == first_trained_ ? nullptr : &diffs_[i - 1];
    last_->by_layer[i]->backward(src, outputs_[i], *diff_dst, diff_src, diff_params_[i]);
    diff_dst = diff_src;
  }
}

}  // namespace imgcls::plan
