// Sparse categorical cross-entropy on logits, with the softmax fused in for numerical
// stability (log-sum-exp with the row maximum subtracted).
#pragma once

#include <cstdint>
#include <span>

#include "imgcls/tensor.hpp"

namespace imgcls {

// logits [N, K], labels [N] in [0, K) -> mean over the batch of -log softmax(logits)[label].
// When diff_logits is not null it receives d(mean loss)/d(logits) = (softmax - onehot) / N.
double softmax_cross_entropy(const Tensor& logits, std::span<const std::int32_t> labels,
                             Tensor* diff_logits);

// logits [N, K] -> probabilities [N, K], each row summing to 1.
void softmax(const Tensor& logits, Tensor& probabilities);

}  // namespace imgcls
