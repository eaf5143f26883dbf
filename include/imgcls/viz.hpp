// Pictures, drawn with cairo: classified images in a grid, the most confident mistakes, a
// confusion matrix, training curves, explanations and the rejection curve. Each draw_* function
// returns a Picture, which encodes as PNG or SVG and saves atomically, choosing the format from the
// file name.
//
//   const Dataset test = load_mnist_test("data/mnist");
//   const Evaluation result = evaluate(model, test);
//   const std::vector<std::string> names = class_names(model);
//   draw_sample_grid(test, result.probabilities, names).save("samples.png");
//   draw_confusion_matrix(confusion_matrix(test.labels, result.predicted, 10), names)
//       .save("confusion.svg");
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/explain.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/tensor.hpp"
#include "imgcls/train.hpp"

namespace imgcls {

enum class PictureFormat { png, svg };

// svg when the path ends in ".svg" (any case), png otherwise.
PictureFormat picture_format_for(const std::string& path);

// A finished drawing, not yet encoded. Copies share the drawing.
class Picture {
 public:
  struct Drawing;  // the recorded cairo drawing, defined in src/viz/draw.hpp
  explicit Picture(std::shared_ptr<const Drawing> drawing);

  int width() const;  // pixels in a PNG, CSS pixels in an SVG
  int height() const;
  // The whole file: PNG (8-bit RGB) or SVG 1.1 text.
  std::string encode(PictureFormat format) const;
  // encode(picture_format_for(path)), written atomically; throws InputError naming the path.
  void save(const std::string& path) const;

 private:
  std::shared_ptr<const Drawing> drawing_;
};

// The image pictures (sample grid, error gallery) take
//   data           images [N, H, W, C] with C = 1 or 3, values in [0, 1], and labels [N];
//   probabilities  the model's output for them, [N, classes];
//   class_names    [classes], e.g. class_names(model).
// A one-channel image is drawn as dark ink on white when `invert_grey` (MNIST digits are
// stored white on black); three channels are drawn as they are.

// Which images the sample grid shows: the `rows * columns - mistakes` images from index
// `first` on, in order, then the first `mistakes` wrong predictions after them, so that a
// grid of a good model still shows some mistakes. When fewer mistakes exist, the next
// images in order fill their cells; near the end of the data the grid has fewer cells.
struct SampleGridOptions {
  std::int64_t first = 0;
  int rows = 4;
  int columns = 6;
  int mistakes = 4;
  bool invert_grey = true;
};

// Each image drawn large in a cell captioned with the predicted class and its probability,
// the true class and the image's index; a wrong prediction has a thick red frame on a pink
// cell.
Picture draw_sample_grid(const Dataset& data, const Tensor& probabilities,
                         const std::vector<std::string>& class_names,
                         const SampleGridOptions& options = {});

struct ErrorGalleryOptions {
  int count = 12;  // mistakes shown, at most
  int columns = 3;
  bool invert_grey = true;
};

// The `count` wrong predictions with the highest predicted probability, most confident first,
// each with its predicted and true class and the model's three most probable classes as
// bars. Says so when there is no mistake.
Picture draw_error_gallery(const Dataset& data, const Tensor& probabilities,
                           const std::vector<std::string>& class_names,
                           const ErrorGalleryOptions& options = {});

// A heat map of the confusion matrix: true label down the side, predicted label along the
// bottom, the count written in every cell (when the cells are big enough for the digits),
// the colour the cell's share of its row, so that a good model has a dark diagonal.
// Requires class_names.size() == matrix.classes.
Picture draw_confusion_matrix(const ConfusionMatrix& matrix,
                              const std::vector<std::string>& class_names);

// Loss and accuracy per epoch, for training and, when the history has them, validation:
// two panels with axes, ticks, axis titles and a legend. Requires at least one epoch.
Picture draw_training_curves(const History& history);

// An explanation (imgcls/explain.hpp) as three panels: `input` as the model saw it, the map
// over it, and the map over `picture` (what the input was made from) where `placement` puts
// the input, with a dashed frame around that part; a header names `source`, the predicted
// class and its probability, the explained class and the method, and a colour bar gives the
// map's scale. Requires a map of the input's height and width, classes within
// class_names, 1 or 3 channels.
Picture draw_explanation(const Explanation& explanation, const Image& input, const Image& picture,
                         const InputPlacement& placement,
                         const std::vector<std::string>& class_names, const std::string& source);

// What a model with a rejection rule (RejectionRule, model.hpp) rejects: its rejection
// scores (the rejection output's probability) on pictures of its classes and on pictures
// that are none of them.
struct RejectionScores {
  std::vector<float> known;    // pictures of the model's classes (test digits)
  std::vector<float> unknown;  // pictures that are none of them (non-digits)
  std::string known_source;    // what they are, for the picture: "10000 test images of ..."
  std::string unknown_source;
  std::string rejection_class;  // the rejection output's name: "not a digit"
  float threshold = 0.5f;       // the model's
};
// The shares rejected from `threshold` on: a picture is rejected when its score >= threshold.
struct RejectionRates {
  double known = 0.0, unknown = 0.0;
};
RejectionRates rejection_rates(const RejectionScores& scores, float threshold);
// The rejection curve: for every threshold, the share of known pictures rejected (x) against
// the share of unknown pictures rejected (y), with the model's threshold marked and its rates
// written out. The x axis spans what matters for a classifier (up to 5% of its own pictures
// rejected, or more when the model's threshold rejects more). Requires both lists non-empty.
Picture draw_rejection_curve(const RejectionScores& scores);

}  // namespace imgcls
