// Data-parallel pieces without MPI (every build): how a batch splits over ranks, and the
// gradient reducer's weighted sum. A recording communicator stands in for MPI: rank 1's
// reducer runs first and its packed buffer is what rank 0's allreduce adds, so rank 0 ends
// with what MPI would give it. The result must be the whole batch's mean-loss gradient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "dist/gradient_reducer.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/model.hpp"
#include "plan/training_plan.hpp"
#include "support/synthetic.hpp"

namespace imgcls {
namespace {

TEST(Shard, CoversTheBatchContiguouslyWithSizesWithinOne) {
  for (std::int64_t count : {0, 1, 2, 7, 27, 32, 65536})
    for (int ranks : {1, 2, 3, 5, 8}) {
      std::int64_t next = 0, smallest = count, largest = 0;
      for (int rank = 0; rank < ranks; ++rank) {
        const Shard shard = shard_of(count, rank, ranks);
        EXPECT_EQ(shard.offset, next) << count << " over " << ranks;
        next += shard.count;
        smallest = std::min(smallest, shard.count);
        largest = std::max(largest, shard.count);
      }
      EXPECT_EQ(next, count) << count << " over " << ranks;
      EXPECT_LE(largest - smallest, 1) << count << " over " << ranks;
    }
  EXPECT_EQ(shard_of(27, 0, 2).count, 14);  // the first count % ranks ranks take one more
  EXPECT_EQ(shard_of(27, 1, 2).count, 13);
}

// Rank `rank` of 2: allreduce records what this rank sent and adds the other rank's buffer.
class RecordingCommunicator final : public Communicator {
 public:
  RecordingCommunicator(int rank, std::vector<float> other)
      : rank_(rank), other_(std::move(other)) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  void allreduce_sum(std::span<float> values) override {
    sent.assign(values.begin(), values.end());
    for (std::size_t i = 0; i < other_.size(); ++i) values[i] += other_[i];
  }
  void broadcast(std::span<float>, int) override {}
  double collective_seconds() const override { return 0.0; }
  std::vector<float> sent;

 private:
  int rank_;
  std::vector<float> other_;
};

struct Gradients {
  std::vector<std::vector<float>> values;
  double loss = 0.0;
  std::int64_t correct = 0;
};

// Forward and backward of images [first, first + count) of `data`: each parameter's
// mean-loss gradient (zeros for an empty shard), the mean loss, the correct count.
Gradients shard_gradients(Sequential& model, const Dataset& data, std::int64_t first,
                          std::int64_t count) {
  Gradients g;
  if (count > 0) {
    Tensor batch({count, 28, 28, 1});
    data.images.to_unit(first, count, batch.data());
    const std::vector<std::int32_t> labels(data.labels.begin() + first,
                                           data.labels.begin() + first + count);
    plan::TrainingPlan plan(model, Precision::fp32);
    const Tensor& logits = plan.forward(batch, 0);
    for (std::int64_t i = 0; i < count; ++i) {
      const float* row = logits.data() + i * 10;
      g.correct += std::max_element(row, row + 10) - row == labels[static_cast<std::size_t>(i)];
    }
    Tensor diff_logits;
    g.loss = softmax_cross_entropy(logits, labels, &diff_logits);
    plan.backward(diff_logits);
  } else {
    for (const Param& p : model.params()) p.grad->fill(0.0f);
  }
  for (const Param& p : model.params()) g.values.push_back(p.grad->values());
  return g;
}

// Both ranks' reductions of a batch of `count`, compared with one process's gradient.
void expect_reduction_equals_whole_batch(std::int64_t count) {
  constexpr float kTolerance = 1e-6f;  // float summation order; gradients are below 1
  const Dataset data = testing_support::synthetic_digits(count, 3);
  Sequential model = presets::seed();
  model.initialize(7);
  const Gradients whole = shard_gradients(model, data, 0, count);

  const Shard shard0 = shard_of(count, 0, 2), shard1 = shard_of(count, 1, 2);
  const Gradients g1 = shard_gradients(model, data, shard1.offset, shard1.count);
  RecordingCommunicator rank1(1, {});
  GradientReducer(rank1, model.params()).reduce(g1.loss, g1.correct, shard1.count, count, false);

  const Gradients g0 = shard_gradients(model, data, shard0.offset, shard0.count);
  RecordingCommunicator rank0(0, rank1.sent);
  const StepTotals totals =
      GradientReducer(rank0, model.params()).reduce(g0.loss, g0.correct, shard0.count, count, true);

  EXPECT_NEAR(totals.loss, whole.loss, 1e-6) << "batch of " << count;
  EXPECT_EQ(totals.correct, whole.correct);
  EXPECT_TRUE(totals.stop_requested);  // rank 0 asked
  const std::vector<Param> params = model.params();
  for (std::size_t p = 0; p < params.size(); ++p) {
    const std::vector<float>& got = params[p].grad->values();
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], whole.values[p][i], kTolerance)
          << params[p].name << "[" << i << "], batch of " << count;
  }
}

TEST(GradientReducer, WeightedSumIsTheWholeBatchGradient) {
  expect_reduction_equals_whole_batch(8);  // shards of 4 and 4
  expect_reduction_equals_whole_batch(7);  // 4 and 3: unequal weights
  expect_reduction_equals_whole_batch(1);  // 1 and 0: rank 1's shard is empty
}

TEST(GradientReducer, OneRankReturnsItsInputsUnchanged) {
  LocalCommunicator local;
  Sequential model = presets::seed();
  model.initialize(7);
  const Dataset data = testing_support::synthetic_digits(5, 3);
  const Gradients g = shard_gradients(model, data, 0, 5);
  const StepTotals totals =
      GradientReducer(local, model.params()).reduce(g.loss, g.correct, 5, 5, false);
  EXPECT_EQ(totals.loss, g.loss);
  EXPECT_EQ(totals.correct, g.correct);
  EXPECT_FALSE(totals.stop_requested);
  const std::vector<Param> params = model.params();
  for (std::size_t p = 0; p < params.size(); ++p) EXPECT_EQ(params[p].grad->values(), g.values[p]);
}

}  // namespace
}  // namespace imgcls
