// adapt_normalization (imgcls/train.hpp): the mean and variance of each channel over every
// pixel of the training images, in double, into the model's first layer when it is a
// Normalization.
#include <vector>

#include "core/check.hpp"
#include "imgcls/train.hpp"

namespace imgcls {

bool adapt_normalization(Sequential& model, const Dataset& data) {
  if (model.layer_count() == 0 || model.layer(0).kind() != "Normalization") return false;
  if (data.size() == 0) throw InputError("training data", "the dataset is empty");
  const std::vector<Param> buffers = model.layer(0).buffers();
  IMGCLS_CHECK(buffers.size() == 2, "Normalization has mean and variance, not {} buffers",
               buffers.size());
  Tensor& mean = *buffers[0].value;
  Tensor& variance = *buffers[1].value;
  const std::int64_t channels = mean.size();
  const std::int64_t values = data.images.size();
  IMGCLS_CHECK(channels >= 1 && values % channels == 0, "{} values in {} channels", values,
               channels);
  std::vector<double> sum(static_cast<std::size_t>(channels), 0.0),
      sum_of_squares(static_cast<std::size_t>(channels), 0.0);
  const std::uint8_t* pixels = data.images.data();
  for (std::int64_t i = 0; i < values; ++i) {
    const double v = PixelTensor::unit(pixels[i]);
    sum[static_cast<std::size_t>(i % channels)] += v;
    sum_of_squares[static_cast<std::size_t>(i % channels)] += v * v;
  }
  const std::int64_t per_channel = values / channels;  // exact: checked above
  const double count = double(per_channel);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double m = sum[static_cast<std::size_t>(c)] / count;
    mean[c] = static_cast<float>(m);
    variance[c] = static_cast<float>(
        std::max(0.0, sum_of_squares[static_cast<std::size_t>(c)] / count - m * m));
  }
  return true;
}

}  // namespace imgcls
