// Predictor: runs a trained model on images, from any number of threads at once, each with
// its own Predictor. The model is only read (a loaded model can be const and shared); the
// predictor owns what running it needs (kernels, activations), compiled on first use for
// its batch size.
//
//   const imgcls::Sequential model = imgcls::load_model("model.safetensors");
//   imgcls::Predictor predictor(model);
//   imgcls::Tensor probabilities = predictor.predict(images);  // [N, classes]
//   imgcls::Tensor averaged = predictor.predict(images, imgcls::TtaOptions{});  // 5 views
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "imgcls/model.hpp"

namespace imgcls {

// Batches of kInferenceBatch by default: enough work to keep both cores busy, and few enough
// images that a batch's activations stay in the CPU's caches (the seed's first convolution
// writes 2.7 MB for 32 images, 86 MB for 1000). Over the 10,000 MNIST test images with 2
// threads: about 39,600 images/s at 32, 31,700 at 256, 30,800 at 1000 (bench/, BM_Inference).
inline constexpr std::int64_t kInferenceBatch = 32;

// An integer move of an image: dst(y, x) = src(y - down, x - right).
struct PixelShift {
  std::int64_t down = 0;   // rows; negative: up
  std::int64_t right = 0;  // columns; negative: left
};

// images [N, H, W, C] -> the same images moved by `shift`, every channel alike; a pixel whose
// source lies outside the image is 0 (the value training's shifts and crops fill with too,
// see AugmentOptions; a model whose first layer is a Normalization sees it normalised like
// any other pixel of value 0). A shift by the height (width) or more leaves only the fill.
Tensor shift_images(const Tensor& images, PixelShift shift);

// Test-time augmentation (TTA): a prediction averaged over views of each image, each view the
// image moved by one of `shifts` (shift_images, on the model's input as the predictor gets
// it). The softmax probabilities of the views are averaged (not their logits), so the result
// is a probability distribution again. Costs shifts.size() forward passes per image.
struct TtaOptions {
  // The views; {0, 0} is the image itself. The default: the image and its four one-pixel
  // shifts (up, down, left, right), 5 views.
  std::vector<PixelShift> shifts = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};

  // The default: the image and its 4 one-pixel shifts.
  static TtaOptions four_neighbours() { return {}; }
  // The image and all 8 one-pixel shifts (the diagonals too): 9 views.
  static TtaOptions eight_neighbours() {
    return {
        .shifts = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-1, -1}, {-1, 1}, {1, -1}, {1, 1}}};
  }
};

class Predictor {
 public:
  // The model must outlive the predictor and keep its layers; its weights may change
  // between calls (validation during training uses one predictor per evaluation).
  explicit Predictor(const Sequential& model, std::int64_t batch_size = kInferenceBatch);
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) = delete;
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  // images [N, ...input_shape] -> the model's outputs [N, classes], in batches of
  // batch_size.
  Tensor logits(const Tensor& images);
  // images [N, ...input_shape] -> softmax probabilities [N, classes].
  Tensor predict(const Tensor& images);
  // The same for 8-bit images (a dataset's), made floats a batch at a time.
  Tensor logits(const PixelTensor& images);
  Tensor predict(const PixelTensor& images);
  // Test-time augmentation: images [N, H, W, C] -> the mean over tta.shifts of each view's
  // softmax probabilities [N, classes], in batches of batch_size images (each batch runs
  // once per view). With the single view {0, 0} it equals predict(images) exactly. Throws
  // InputError when the model's input is not a picture [height, width, channels]; tta.shifts
  // must not be empty.
  Tensor predict(const Tensor& images, const TtaOptions& tta);
  Tensor predict(const PixelTensor& images, const TtaOptions& tta);

 private:
  void check_images(const Shape& shape) const;
  // Calls on_chunk(first, chunk) for each batch of `images` as floats, chunk [count, ...].
  template <typename Images, typename OnChunk>
  void for_each_chunk(const Images& images, OnChunk on_chunk);
  template <typename Images>
  Tensor logits_of(const Images& images);
  template <typename Images>
  Tensor averaged_over_views(const Images& images, const TtaOptions& tta);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a model answers for one picture, from its probabilities (a row of Predictor::predict).
// A model with a rejection rule (RejectionRule, model.hpp) rejects the picture when its
// rejection output's probability reaches the threshold; otherwise, and for other models,
// the answer is the most probable class among the others.
struct Answer {
  std::int64_t label = 0;   // the class given (its output index); -1 when rejected
  std::int64_t output = 0;  // the output that answers: label, or the rejection class
  float confidence = 0.0f;  // output's probability
  bool rejected = false;
  float rejection_score = 0.0f;  // the rejection output's probability; 0 without a rule
};
// probabilities: the model's output count of them.
Answer answer(const Sequential& model, std::span<const float> probabilities);

// A picture in which digit preprocessing finds no digit (NoDigitError, preprocess.hpp): a
// model with a rejection rule rejects it without running (rejection_score 1); for a model
// without one there is no answer, and the picture stays an input error.
std::optional<Answer> no_digit_answer(const Sequential& model);

// Predictors of one model for callers on many threads (a server, the C interface): each call
// borrows a free predictor, or makes one when all are busy, and returns it afterwards. Only
// the borrowing takes a lock; the predictions themselves run in parallel.
class PredictorPool {
 public:
  explicit PredictorPool(const Sequential& model, std::int64_t batch_size = kInferenceBatch);
  // Predictor::predict on a borrowed predictor. Thread-safe.
  Tensor predict(const Tensor& images);
  // Predictors made so far: the most calls that have run at once.
  std::size_t size() const;

 private:
  std::unique_ptr<Predictor> borrow();
  void give_back(std::unique_ptr<Predictor> predictor);

  const Sequential& model_;
  std::int64_t batch_size_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Predictor>> free_;
  std::size_t made_ = 0;
};

}  // namespace imgcls
