// GradientPlan (see gradient_plan.hpp).
#include "plan/gradient_plan.hpp"

#include <algorithm>

#include "core/check.hpp"

namespace imgcls::plan {

GradientPlan::GradientPlan(const Sequential& model, std::int64_t batch)
    : model_(model), batch_(batch) {
  IMGCLS_CHECK(batch >= 1 && model.layer_count() > 0, "batch {}, {} layers", batch,
               model.layer_count());
  // Every kernel alone, in inference mode: no arrangement between neighbours (see the header).
  for (std::size_t i = 0; i < model.layer_count(); ++i)
    kernels_.push_back(model.layer(i).make_kernel({.batch = batch, .mode = Mode::infer}));
  outputs_.resize(kernels_.size());
  gradients_.resize(kernels_.size());
}

const Tensor& GradientPlan::forward(const Tensor& images) {
  Shape want = model_.input_shape();
  want.insert(want.begin(), batch_);
  IMGCLS_CHECK(images.shape() == want, "images {} for a plan of {}", to_string(images.shape()),
               to_string(want));
  input_ = images;  // backward reads it (a convolution's weight gradient is not asked for,
                    // but oneDNN's backward-data may reuse what forward converted)
  const Tensor* src = &input_;
  for (std::size_t i = 0; i < kernels_.size(); ++i) {
    kernels_[i]->forward(*src, outputs_[i]);
    src = &outputs_[i];
  }
  backward_ran_ = false;
  return outputs_.back();
}

const Tensor& GradientPlan::output(std::size_t layer) const {
  IMGCLS_CHECK(layer < outputs_.size() && !input_.shape().empty(),
               "output of layer {} of {} before a forward", layer, outputs_.size());
  return outputs_[layer];
}

const Tensor& GradientPlan::backward(const Tensor& diff_logits) {
  IMGCLS_CHECK(!input_.shape().empty(), "backward before forward");
  IMGCLS_CHECK(diff_logits.shape() == outputs_.back().shape(), "diff_logits {} for logits {}",
               to_string(diff_logits.shape()), to_string(outputs_.back().shape()));
  Tensor& last = gradients_.back();
  last.resize(diff_logits.shape());
  std::copy(diff_logits.data(), diff_logits.data() + diff_logits.size(), last.data());
  for (std::size_t i = kernels_.size(); i-- > 0;) {
    const Tensor& src = i == 0 ? input_ : outputs_[i - 1];
    Tensor& diff_src = i == 0 ? input_gradient_ : gradients_[i - 1];
    kernels_[i]->backward(src, outputs_[i], gradients_[i], &diff_src, {});
  }
  backward_ran_ = true;
  return input_gradient_;
}

const Tensor& GradientPlan::output_gradient(std::size_t layer) const {
  IMGCLS_CHECK(layer < gradients_.size() && backward_ran_,
               "gradient at layer {} of {} before a backward", layer, gradients_.size());
  return gradients_[layer];
}

}  // namespace imgcls::plan
