// Explanations: which pixels of an input made a model give a class its score, as a heat map
// over the input. Five methods:
//
//   saliency              |d(score)/d(input)|, the largest over the channels (Simonyan et al.
//                         2014): where a small change moves the score most
//   gradxinput            d(score)/d(input) * input, summed over the channels (Shrikumar et
//                         al. 2016); signed
//   integrated-gradients  (input - baseline) * the mean gradient along the straight path from
//                         a black baseline to the input, `steps` points at the midpoints of
//                         equal steps, in batches (Sundararajan et al. 2017); signed; its sum
//                         approaches score(input) - score(baseline)
//   gradcam               ReLU(sum over channels k of alpha_k * A_k), A the output [h, w, K]
//                         of a layer, alpha_k the mean of d(score)/d(A_k) over h x w
//                         (Selvaraju et al. 2017); upsampled bilinearly to the input (pixel
//                         centres aligned, as PyTorch's interpolate with align_corners=False).
//                         The layer: one named, or the last Conv2D with the layers after it
//                         that keep its shape (its BatchNorm, activation), before pooling;
//                         without a Conv2D, the last layer whose output is an image [H, W, C]
//   occlusion             score(input) - score(input with a square patch set to the
//                         baseline), the patch slid with a stride, each pixel given the mean
//                         over the patches that cover it (Zeiler and Fergus 2014); signed;
//                         forward passes only, in batches
//
// The score is the class's logit (the model's output before the softmax, as Captum's
// default on a model that returns logits): it does not saturate as the probability does
// near 1. Gradients are taken as in inference (BatchNorm with its moving statistics, Dropout
// off) through a plan of the model's own kernels (src/plan/gradient_plan.hpp); the model is
// only read, so a const model may be shared by explainers and predictors on many threads,
// one Explainer per thread.
//
//   const imgcls::Sequential model = imgcls::load_model("model.safetensors");
//   imgcls::Explainer explainer(model);
//   const imgcls::PreparedInput prepared =
//       imgcls::prepare_picture(picture, model.input_shape(), model.preprocessing(), file);
//   const imgcls::Explanation e =
//       explainer.explain(prepared.input, {.method = imgcls::ExplainMethod::gradcam});
//   // e.map [H, W]; e.target_class, e.probability
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imgcls/image.hpp"
#include "imgcls/model.hpp"
#include "imgcls/tensor.hpp"

namespace imgcls {

enum class ExplainMethod { saliency, gradient_x_input, integrated_gradients, gradcam, occlusion };

// "saliency", "gradxinput", "integrated-gradients", "gradcam", "occlusion"
std::string_view to_string(ExplainMethod method);
// The names above, comma-separated, for messages.
std::string explain_method_names();
// The names above, and "grad-cam" for gradcam. Throws InputError naming `source` for a name
// that is not one of them.
ExplainMethod parse_explain_method(std::string_view name, const std::string& source);

struct ExplainOptions {
  ExplainMethod method = ExplainMethod::saliency;
  // The class explained; -1: the model's most probable class for the input.
  std::int64_t target_class = -1;
  // integrated-gradients: points on the path from the baseline to the input.
  std::int64_t steps = 32;
  // gradcam: the layer whose output is weighted, by name (Layer::name(), as `summary` prints
  // it); empty: the last convolution's block (see above).
  std::string layer;
  // occlusion: the side of the square patch, in input pixels; 0: a seventh of the input's
  // shorter side, rounded, at least 1 (4 for 28 x 28, 5 for 32 x 32).
  std::int64_t patch = 0;
  // occlusion: how far the patch moves each time; 0: half the patch, at least 1. The last
  // row and column of patches touch the input's far edges, so every pixel is covered.
  std::int64_t stride = 0;
  // integrated-gradients and occlusion: the value standing for "nothing" (0: black, MNIST's
  // background), in every channel.
  float baseline = 0.0f;
};

struct Explanation {
  ExplainMethod method = ExplainMethod::saliency;
  std::int64_t target_class = 0;     // the class explained
  float probability = 0.0f;          // its probability for the input (softmax of the logits)
  std::int64_t predicted_class = 0;  // the most probable class
  float predicted_probability = 0.0f;
  // [H, W], the model input's height and width: each pixel's share in the class's score,
  // in the method's units (see above). Larger means more for the class.
  Tensor map;
  // The map may be negative (gradxinput, integrated-gradients, occlusion): a pixel that
  // speaks against the class. saliency and gradcam are never negative.
  bool is_signed = false;
  // gradcam: the name of the layer used; empty for the other methods.
  std::string layer;
};

// Explains one model's answers, one input at a time. Owns the plans it compiles on first
// use (a gradient plan per batch size, a predictor for occlusion); not shared between
// threads.
class Explainer {
 public:
  // The model must outlive the explainer and keep its layers. Throws InputError naming the
  // model's input shape unless it is an image [H, W, C].
  explicit Explainer(const Sequential& model);
  ~Explainer();
  Explainer(Explainer&&) noexcept;
  Explainer& operator=(Explainer&&) = delete;
  Explainer(const Explainer&) = delete;
  Explainer& operator=(const Explainer&) = delete;

  // input: one model input [H, W, C] (the model's input shape), values as the model takes
  // them. Throws InputError for options from outside that do not fit the model: a target
  // class outside [0, classes), steps or a patch below 1, a patch larger than the input, a
  // gradcam layer name the model does not have (the message lists the layers with image
  // outputs), or a model without any such layer.
  Explanation explain(const Tensor& input, const ExplainOptions& options = {});
  // The same for an Image of the input's shape (as prepare_picture makes it).
  Explanation explain(const Image& input, const ExplainOptions& options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A map [H, W] as H rows of W numbers, each the shortest decimal that reads back as the same
// float, for text formats (in JSON, 0.1f would otherwise be 0.10000000149011612).
std::vector<std::vector<double>> map_rows(const Tensor& map);

// Explainer(model).explain(input, options), once.
Explanation explain(const Sequential& model, const Tensor& input,
                    const ExplainOptions& options = {});

}  // namespace imgcls
