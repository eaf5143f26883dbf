// The one collective of a data-parallel training step: each rank's gradients, loss and
// correct count, weighted by its share of the global batch, packed into one contiguous
// buffer and summed over the ranks with a single allreduce.
#pragma once

#include <cstdint>
#include <vector>

#include "imgcls/distributed.hpp"

namespace imgcls {

// The slice of a global batch of `count` images that rank `rank` of `ranks` computes:
// images [offset, offset + count) of the batch. The first count % ranks ranks take one
// image more than the others; a rank's shard is empty when count < ranks.
struct Shard {
  std::int64_t offset = 0;
  std::int64_t count = 0;
};
Shard shard_of(std::int64_t count, int rank, int ranks);

// What a step contributes to the epoch's running sums, the same on every rank.
struct StepTotals {
  double loss = 0.0;            // mean loss over the global batch
  std::int64_t correct = 0;     // correct predictions in the global batch
  bool stop_requested = false;  // some rank was asked to stop
};

class GradientReducer {
 public:
  // params: the model's parameters, in the same order on every rank.
  GradientReducer(Communicator& communicator, std::vector<Param> params);

  // shard_loss is this rank's mean loss over its shard.count images of a global batch of
  // batch_count, and the gradients hold its mean-loss gradient (zero for an empty shard).
  // After the call every rank's gradients hold the global batch's mean-loss gradient:
  //   g = sum_r (shard_r / batch_count) g_r.
  // With one rank it returns the inputs as they are, bit for bit.
  StepTotals reduce(double shard_loss, std::int64_t shard_correct, std::int64_t shard_count,
                    std::int64_t batch_count, bool stop_requested);

 private:
  Communicator& communicator_;
  std::vector<Param> params_;
  std::vector<float> flat_;  // [every gradient..., loss, correct, stop]
};

}  // namespace imgcls
