// Classification metrics from true and predicted labels: the confusion matrix and, from it,
// accuracy and per-class precision, recall and F1.
//
//   const Evaluation test = evaluate(model, data);
//   const ConfusionMatrix matrix = confusion_matrix(data.labels, test.predicted, 10);
//   matrix.accuracy();  // == test.accuracy
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace imgcls {

struct ConfusionMatrix {
  std::int64_t classes = 0;
  // counts[truth * classes + predicted]: images of class `truth` predicted as `predicted`.
  std::vector<std::int64_t> counts;  // [classes (true), classes (predicted)]

  std::int64_t count(std::int64_t truth, std::int64_t predicted) const;
  std::int64_t row_total(std::int64_t truth) const;  // images whose true label is `truth`
  std::int64_t total() const;                        // every image
  std::int64_t correct() const;                      // the diagonal
  double accuracy() const;                           // correct / total; 0 when empty
};

// Requires truth.size() == predicted.size(), classes >= 1 and every label in [0, classes).
ConfusionMatrix confusion_matrix(std::span<const std::int32_t> truth,
                                 std::span<const std::int32_t> predicted, std::int64_t classes);

struct ClassMetrics {
  double precision = 0.0;    // correct / predicted as the class; 0 when never predicted
  double recall = 0.0;       // correct / images of the class; 0 when the class has none
  double f1 = 0.0;           // harmonic mean of the two; 0 when both are 0
  std::int64_t support = 0;  // images whose true label is the class
};

// One entry per class, in class order.
std::vector<ClassMetrics> per_class_metrics(const ConfusionMatrix& matrix);

}  // namespace imgcls
