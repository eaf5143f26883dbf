// InferencePlan (see inference_plan.hpp).
#include "plan/inference_plan.hpp"

#include "core/check.hpp"
#include "plan/arrange.hpp"

namespace imgcls::plan {

InferencePlan::InferencePlan(const Sequential& model, std::int64_t batch) : batch_(batch) {
  IMGCLS_CHECK(batch >= 1 && model.layer_count() > 0, "batch {}, {} layers", batch,
               model.layer_count());
  const std::vector<KernelSpec> specs = arrange(model, batch, Mode::infer, Precision::fp32);
  for (std::size_t i = 0; i < model.layer_count(); ++i)
    kernels_.push_back(model.layer(i).make_kernel(specs[i]));
  outputs_.resize(kernels_.size());
}

const Tensor& InferencePlan::forward(const Tensor& images) {
  IMGCLS_CHECK(images.rank() >= 1 && images.dim(0) == batch_, "batch {} for a plan of {}",
               to_string(images.shape()), batch_);
  const Tensor* src = &images;
  for (std::size_t i = 0; i < kernels_.size(); ++i) {
    kernels_[i]->forward(*src, outputs_[i]);
    src = &outputs_[i];
  }
  return outputs_.back();
}

}  // namespace imgcls::plan
