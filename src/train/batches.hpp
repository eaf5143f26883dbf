// What the training and evaluation loops share: the checks a dataset passes before a model
// trains or is evaluated on it, the seeded random streams, permutations, and batches gathered
// by index (augmented when asked).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "imgcls/model.hpp"
#include "imgcls/rng.hpp"
#include "imgcls/train.hpp"

namespace imgcls {

// Streams of derive_seed(seed, stream, index): one per purpose.
enum Stream : std::uint64_t { kShuffle = 1, kAugment = 2, kNoise = 3, kSplit = 4 };

// Throws InputError, naming `what` ("training data"...), unless the model ends in flat class
// scores and `data` is non-empty, shaped as the model's input, with labels among its classes.
void check_dataset(const Sequential& model, const Dataset& data, const char* what);

// A fresh permutation of [0, order.size()) for the epoch, from (seed, epoch) alone.
void shuffle_for_epoch(std::vector<std::int64_t>& order, std::uint64_t seed, int epoch);

// images [N, ...] -> batch [order.size(), ...]: samples `order` of `images`, as values in
// [0, 1] (PixelTensor::unit).
void gather(const PixelTensor& images, std::span<const std::int64_t> order, Tensor& batch);
// The same, each image augmented (augment_image) with draws from `rng`, image after image.
// images [N, H, W, C].
void gather_augmented(const PixelTensor& images, std::span<const std::int64_t> order,
                      const AugmentOptions& options, Rng& rng, Tensor& batch);
// Samples `order` of `images`, still as bytes.
PixelTensor gather_pixels(const PixelTensor& images, std::span<const std::int64_t> order);

// The index of a row's largest score: the predicted class.
std::int32_t argmax_row(const float* row, std::int64_t classes);

}  // namespace imgcls
