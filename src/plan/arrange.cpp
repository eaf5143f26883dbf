// The arrangement of kernels (see arrange.hpp).
#include "plan/arrange.hpp"

#include <optional>

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

const layers::Conv2DLayer* as_conv(const Layer& layer) {
  return dynamic_cast<const layers::Conv2DLayer*>(&layer);
}
const layers::Pool2DLayer* as_pool(const Layer& layer) {
  return dynamic_cast<const layers::Pool2DLayer*>(&layer);
}

// The top-left part of its input that a Conv2D or Pool2D without padding reads to compute
// the top-left `output` part of its output; nullopt for other layers and padded windows.
std::optional<Shape> unpadded_part_read(const Layer& layer, const Shape& output) {
  const auto read = [&](const Window2d& w, std::int64_t channels) -> std::optional<Shape> {
    if (has_padding(w)) return std::nullopt;
    return Shape{(output.at(0) - 1) * w.stride_h + w.kernel_h,
                 (output.at(1) - 1) * w.stride_w + w.kernel_w, channels};
  };
  if (const auto* conv = as_conv(layer))
    return read(conv->geometry().window, conv->geometry().in_c);
  if (const auto* pool = as_pool(layer))
    return read(pool->geometry().window, pool->geometry().channels);
  return std::nullopt;
}

// Trimming runs further back. A layer that computes part of its output reads part
// of its input, and the layer before it need compute no more than that part: for the seed,
// conv2 computes 10x10 of its 11x11, so it reads 12x12 of pool1's 13x13; pool1 computes
// 12x12, reading 24x24 of conv1's 26x26; conv1 computes 24x24. The parts then pass between
// them dense, without a copy. A Conv2D can compute part of its output from any input; a
// Pool2D only from a part of its input, so only after a layer that can do the same. In
// training the rows and columns left out have no gradient (nothing reads them), so the
// weight gradients are those of the full outputs; only layers without batch statistics
// (Conv2D, Pool2D) are trimmed, so nothing is averaged over a part instead of the whole.
void trim_back(const Sequential& model, std::vector<KernelSpec>& specs) {
  const std::size_t count = specs.size();
  std::vector<bool> computes_part(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Layer& layer = model.layer(i);
    computes_part[i] =
        as_conv(layer) != nullptr || (as_pool(layer) && i > 0 && computes_part[i - 1] &&
                                      !has_padding(as_pool(layer)->geometry().window));
  }
  for (std::size_t i = count; i-- > 1;) {
    if (!specs[i].output_part || !computes_part[i - 1]) continue;
    const std::optional<Shape> read = unpadded_part_read(model.layer(i), *specs[i].output_part);
    if (!read || *read == model.output_shape_of(i - 1)) continue;
    specs[i].input_part = *read;
    specs[i - 1].output_part = *read;
  }
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
  trim_back(model, specs);
  return specs;
}

}  // namespace imgcls::plan
