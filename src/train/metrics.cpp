// Confusion matrix and the per-class metrics derived from it.
#include "imgcls/metrics.hpp"

#include "core/check.hpp"

namespace imgcls {

std::int64_t ConfusionMatrix::count(std::int64_t truth, std::int64_t predicted) const {
  IMGCLS_CHECK(truth >= 0 && truth < classes && predicted >= 0 && predicted < classes,
               "cell ({}, {}) of a {}-class matrix", truth, predicted, classes);
  return counts[static_cast<std::size_t>(truth * classes + predicted)];
}

std::int64_t ConfusionMatrix::row_total(std::int64_t truth) const {
  std::int64_t sum = 0;
  for (std::int64_t p = 0; p < classes; ++p) sum += count(truth, p);
  return sum;
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t sum = 0;
  for (std::int64_t c : counts) sum += c;
  return sum;
}

std::int64_t ConfusionMatrix::correct() const {
  std::int64_t sum = 0;
  for (std::int64_t c = 0; c < classes; ++c) sum += count(c, c);
  return sum;
}

double ConfusionMatrix::accuracy() const {
  const std::int64_t n = total();
  return n == 0 ? 0.0 : static_cast<double>(correct()) / static_cast<double>(n);
}

ConfusionMatrix confusion_matrix(std::span<const std::int32_t> truth,
                                 std::span<const std::int32_t> predicted, std::int64_t classes) {
  IMGCLS_CHECK(truth.size() == predicted.size(), "{} true labels, {} predictions", truth.size(),
               predicted.size());
  IMGCLS_CHECK(classes >= 1, "{} classes", classes);
  ConfusionMatrix matrix{
      .classes = classes,
      .counts = std::vector<std::int64_t>(static_cast<std::size_t>(classes * classes))};
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const std::int64_t t = truth[i], p = predicted[i];
    IMGCLS_CHECK(t >= 0 && t < classes && p >= 0 && p < classes,
                 "image {}: true label {}, predicted {}, with {} classes", i, t, p, classes);
    ++matrix.counts[static_cast<std::size_t>(t * classes + p)];
  }
  return matrix;
}

std::vector<ClassMetrics> per_class_metrics(const ConfusionMatrix& matrix) {
  std::vector<ClassMetrics> result(static_cast<std::size_t>(matrix.classes));
  for (std::int64_t c = 0; c < matrix.classes; ++c) {
    std::int64_t predicted_as_c = 0;
    for (std::int64_t t = 0; t < matrix.classes; ++t) predicted_as_c += matrix.count(t, c);
    const std::int64_t correct = matrix.count(c, c);
    ClassMetrics& m = result[static_cast<std::size_t>(c)];
    m.support = matrix.row_total(c);
    if (predicted_as_c > 0)
      m.precision = static_cast<double>(correct) / static_cast<double>(predicted_as_c);
    if (m.support > 0) m.recall = static_cast<double>(correct) / static_cast<double>(m.support);
    if (m.precision + m.recall > 0) m.f1 = 2 * m.precision * m.recall / (m.precision + m.recall);
  }
  return result;
}

}  // namespace imgcls
