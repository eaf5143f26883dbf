// One allreduce per step over one buffer: this model's gradients are small (under a
// megabyte for the presets), so a single large message beats per-layer messages, and
// overlapping it with backward has little to win (README, "Distributed training").
#include "dist/gradient_reducer.hpp"

#include <algorithm>

#include "core/check.hpp"

namespace imgcls {

namespace {
constexpr std::size_t kScalars = 3;  // loss, correct, stop after the gradients
}

Shard shard_of(std::int64_t count, int rank, int ranks) {
  IMGCLS_CHECK(ranks >= 1 && rank >= 0 && rank < ranks && count >= 0, "rank {} of {}, count {}",
               rank, ranks, count);
  const std::int64_t base = count / ranks, extra = count % ranks;
  return {.offset = rank * base + std::min<std::int64_t>(rank, extra),
          .count = base + (rank < extra ? 1 : 0)};
}

GradientReducer::GradientReducer(Communicator& communicator, std::vector<Param> params)
    : communicator_(communicator), params_(std::move(params)) {
  std::size_t total = kScalars;
  for (const Param& p : params_) total += static_cast<std::size_t>(p.grad->size());
  if (communicator_.size() > 1) flat_.resize(total);
}

StepTotals GradientReducer::reduce(double shard_loss, std::int64_t shard_correct,
                                   std::int64_t shard_count, std::int64_t batch_count,
                                   bool stop_requested) {
  IMGCLS_CHECK(batch_count >= 1 && shard_count >= 0 && shard_count <= batch_count,
               "shard {} of a batch of {}", shard_count, batch_count);
  if (communicator_.size() == 1)
    return {.loss = shard_loss, .correct = shard_correct, .stop_requested = stop_requested};

  // Each rank's gradient is the mean over its shard; weighting it by its share of the batch
  // makes the sum the mean over the whole batch.
  const float weight =
      static_cast<float>(static_cast<double>(shard_count) / static_cast<double>(batch_count));
  std::size_t offset = 0;
  for (const Param& p : params_) {
    const float* g = p.grad->data();
    for (std::int64_t i = 0; i < p.grad->size(); ++i)
      flat_[offset + static_cast<std::size_t>(i)] = g[i] * weight;
    offset += static_cast<std::size_t>(p.grad->size());
  }
  flat_[offset] = shard_count > 0 ? static_cast<float>(shard_loss) * weight : 0.0f;
  flat_[offset + 1] = static_cast<float>(shard_correct);  // exact: at most 65,536 per step
  flat_[offset + 2] = stop_requested ? 1.0f : 0.0f;
  communicator_.allreduce_sum(flat_);
  offset = 0;
  for (const Param& p : params_) {
    std::copy(flat_.begin() + static_cast<std::ptrdiff_t>(offset),
              flat_.begin() + static_cast<std::ptrdiff_t>(offset) + p.grad->size(), p.grad->data());
    offset += static_cast<std::size_t>(p.grad->size());
  }
  return {.loss = flat_[offset],
          .correct = static_cast<std::int64_t>(flat_[offset + 1]),
          .stop_requested = flat_[offset + 2] > 0.0f};
}

}  // namespace imgcls
