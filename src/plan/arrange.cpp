// The arrangement of kernels (see arrange.hpp).
#include "plan/arrange.hpp"

#include "core/check.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/pool2d.hpp"

namespace imgcls::plan {

namespace {

// bf16 pays where a convolution multiplies many channels; on images of a few channels (the
// seed's first layer reads 1) it is memory-bound, its bf16 kernels are no faster, and
// converting its large output gradient to bf16 costs more than they save.
constexpr std::int64_t kMinBf16Channels = 8;

Precision precision_of(const Layer& layer, Precision wanted) {
  if (wanted == Precision::fp32) return wanted;
  if (const auto* conv = dynamic_cast<const layers::Conv2DLayer*>(&layer))
    return conv->geometry().in_c < kMinBf16Channels ? Precision::fp32 : wanted;
  return dynamic_cast<const layers::DenseLayer*>(&layer) ? wanted : Precision::fp32;
}

// A Conv2D or Dense whose output is its fused ReLU's.
bool ends_with_relu(const Layer& layer) {
  if (const auto* conv = dynamic_cast<const layers::Conv2DLayer*>(&layer))
    return conv->options().activation == Activation::relu;
  if (const auto* dense = dynamic_cast<const layers::DenseLayer*>(&layer))
    return dense->options().activation == Activation::relu;
  return false;
}

}  // namespace

std::vector<KernelSpec> arrange(const Sequential& model, std::int64_t batch, Mode mode,
                                Precision precision, std::size_t frozen_layers) {
  const std::size_t count = model.layer_count();
  IMGCLS_CHECK(frozen_layers <= count && (frozen_layers == 0 || mode == Mode::train),
               "{} frozen layers of {} in a {} arrangement", frozen_layers, count,
               mode == Mode::train ? "training" : "inference");
  std::vector<KernelSpec> specs(count);
  for (std::size_t i = 0; i < count; ++i) {
    specs[i].batch = batch;
    specs[i].mode = i < frozen_layers ? Mode::infer : mode;
    specs[i].backward = mode == Mode::train;
    specs[i].precision =
        specs[i].mode == Mode::train ? precision_of(model.layer(i), precision) : Precision::fp32;
  }
  for (std::size_t i = 0; i + 1 < count; ++i) {
    const auto* pool = dynamic_cast<const layers::Pool2DLayer*>(&model.layer(i + 1));
    if (!pool) continue;
    const auto* conv = dynamic_cast<const layers::Conv2DLayer*>(&model.layer(i));
    const Shape part = pool->input_part_read();
    if (conv && part != model.output_shape_of(i)) {
      specs[i].output_part = part;
      specs[i + 1].input_part = part;
    }
    if (pool->pool_kind() == backend::PoolKind::max && ends_with_relu(model.layer(i))) {
      specs[i].next_masks_relu = true;
      specs[i + 1].masks_input_relu = true;
    }
  }
  return specs;
}

}  // namespace imgcls::plan
