// Fused softmax + cross-entropy. Ten classes per row make this a few hundred flops per
// batch: a plain loop is both the reference and the fast path.
#include "imgcls/loss.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"

namespace imgcls {

namespace {
// Writes the softmax of one row into out and returns log(sum(exp(row - max))) + max.
double row_softmax(const float* row, std::int64_t classes, float* out) {
  const float max_logit = *std::max_element(row, row + classes);
  double sum = 0.0;
  for (std::int64_t k = 0; k < classes; ++k) sum += std::exp(double(row[k]) - max_logit);
  for (std::int64_t k = 0; k < classes; ++k)
    out[k] = static_cast<float>(std::exp(double(row[k]) - max_logit) / sum);
  return std::log(sum) + max_logit;
}
}  // namespace

double softmax_cross_entropy(const Tensor& logits, std::span<const std::int32_t> labels,
                             Tensor* diff_logits) {
  IMGCLS_CHECK(logits.rank() == 2, "logits must be [N, K], got {}", to_string(logits.shape()));
  const std::int64_t batch = logits.dim(0), classes = logits.dim(1);
  IMGCLS_CHECK(static_cast<std::int64_t>(labels.size()) == batch, "{} labels for {} logits rows",
               labels.size(), batch);
  Tensor probabilities_scratch;
  Tensor& probabilities = diff_logits ? *diff_logits : probabilities_scratch;
  probabilities.resize(logits.shape());
  double total = 0.0;
  for (std::int64_t n = 0; n < batch; ++n) {
    const std::int32_t label = labels[static_cast<std::size_t>(n)];
    IMGCLS_CHECK(label >= 0 && label < classes, "label {} outside [0, {})", label, classes);
    const float* row = logits.data() + n * classes;
    const double log_sum = row_softmax(row, classes, probabilities.data() + n * classes);
    total += log_sum - row[label];
  }
  if (diff_logits) {
    const float scale = 1.0f / static_cast<float>(batch);
    for (std::int64_t n = 0; n < batch; ++n) {
      float* row = diff_logits->data() + n * classes;
      row[labels[static_cast<std::size_t>(n)]] -= 1.0f;
      for (std::int64_t k = 0; k < classes; ++k) row[k] *= scale;
    }
  }
  return total / static_cast<double>(batch);
}

void softmax(const Tensor& logits, Tensor& probabilities) {
  IMGCLS_CHECK(logits.rank() == 2, "logits must be [N, K], got {}", to_string(logits.shape()));
  probabilities.resize(logits.shape());
  const std::int64_t classes = logits.dim(1);
  for (std::int64_t n = 0; n < logits.dim(0); ++n)
    row_softmax(logits.data() + n * classes, classes, probabilities.data() + n * classes);
}

}  // namespace imgcls
