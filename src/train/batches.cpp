// Dataset checks, permutations and batch gathering for the training and evaluation loops.
#include "train/batches.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/check.hpp"
#include "data/augment.hpp"

namespace imgcls {

void check_dataset(const Sequential& model, const Dataset& data, const char* what) {
  if (model.output_shape().size() != 1)
    throw InputError(
        "model",
        "its output " + to_string(model.output_shape()) +
            " per image is not a flat list of class scores [classes]",
        "end the model with Flatten (or GlobalAvgPool) and a Dense layer with one unit per class");
  if (data.size() == 0) throw InputError(what, "the dataset is empty");
  IMGCLS_CHECK(data.images.dim(0) == data.size(), "{} images, {} labels", data.images.dim(0),
               data.size());
  const Shape sample(data.images.shape().begin() + 1, data.images.shape().end());
  if (sample != model.input_shape())
    throw InputError(what, "images are " + to_string(sample) + " but the model takes " +
                               to_string(model.input_shape()));
  const std::int64_t classes = element_count(model.output_shape());
  for (std::int32_t label : data.labels)
    if (label < 0 || label >= classes)
      throw InputError(what,
                       fmt::format("label {} is outside the model's {} classes", label, classes));
}

void shuffle_for_epoch(std::vector<std::int64_t>& order, std::uint64_t seed, int epoch) {
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(seed, kShuffle, static_cast<std::uint64_t>(epoch)));
  for (std::size_t i = order.size() - 1; i > 0; --i)
    std::swap(order[i], order[rng.uniform_index(i + 1)]);
}

void gather(const PixelTensor& images, std::span<const std::int64_t> order, Tensor& batch) {
  const std::int64_t sample = images.item_size();
  Shape shape = images.shape();
  shape[0] = static_cast<std::int64_t>(order.size());
  batch.resize(shape);
  for (std::size_t i = 0; i < order.size(); ++i)
    images.to_unit(order[i], 1, batch.data() + static_cast<std::int64_t>(i) * sample);
}

void gather_augmented(const PixelTensor& images, std::span<const std::int64_t> order,
                      const AugmentOptions& options, Rng& rng, Tensor& batch) {
  const std::int64_t sample = images.item_size();
  Shape shape = images.shape();
  shape[0] = static_cast<std::int64_t>(order.size());
  batch.resize(shape);
  std::vector<float> source(static_cast<std::size_t>(sample));
  for (std::size_t i = 0; i < order.size(); ++i) {
    images.to_unit(order[i], 1, source.data());
    augment_image(source.data(), batch.data() + static_cast<std::int64_t>(i) * sample, shape[1],
                  shape[2], shape.size() > 3 ? shape[3] : 1, options, rng);
  }
}

PixelTensor gather_pixels(const PixelTensor& images, std::span<const std::int64_t> order) {
  const std::int64_t sample = images.item_size();
  Shape shape = images.shape();
  shape[0] = static_cast<std::int64_t>(order.size());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(sample) * order.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    std::memcpy(bytes.data() + static_cast<std::int64_t>(i) * sample,
                images.data() + order[i] * sample, static_cast<std::size_t>(sample));
  return PixelTensor(shape, std::move(bytes));
}

std::int32_t argmax_row(const float* row, std::int64_t classes) {
  return static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
}

}  // namespace imgcls
