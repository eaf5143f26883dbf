// onnx_reference: the imgcls side of the ONNX runtime check (check_onnx.sh). Takes a saved
// model, or builds one and trains it briefly on the first MNIST training images (so that
// BatchNorm's moving statistics are far from their initial 0 and 1), saves it, reloads it
// from the file, and writes the first `count` MNIST test images with imgcls's
// probabilities for them to a reference file that compare.js reads:
//
//   magic "IMGCLREF", then little-endian uint32 count, C, H, W, classes,
//   float32 images [count, C, H, W] (NCHW, the ONNX input layout), float32 probabilities
//   [count, classes].
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/atomic_file.hpp"
#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/train.hpp"

namespace {

constexpr std::int64_t kBatchSize = 32;

imgcls::Dataset first_images(const imgcls::Dataset& data, std::int64_t count) {
  count = std::min(count, data.size());
  const imgcls::Shape& shape = data.images.shape();
  const std::int64_t per_image = data.images.size() / std::max<std::int64_t>(data.size(), 1);
  imgcls::Shape first_shape = shape;
  first_shape[0] = count;
  std::vector<float> values(data.images.data(), data.images.data() + count * per_image);
  return {.images = imgcls::Tensor(first_shape, std::move(values)),
          .labels = std::vector<std::int32_t>(data.labels.begin(), data.labels.begin() + count)};
}

imgcls::Sequential build_architecture(const std::string& spec) {
  const bool is_file = spec.ends_with(".json");
  return is_file ? imgcls::read_architecture(spec) : imgcls::presets::by_name(spec);
}

template <class T>
void append(std::string& bytes, const T* values, std::size_t count) {
  const auto* raw = reinterpret_cast<const char*>(values);
  bytes.append(raw, raw + count * sizeof(T));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write imgcls's probabilities on MNIST test images for the ONNX runtime check"};
  std::string model_path, arch, save_path, reference_path, mnist_dir = IMGCLS_MNIST_DIR;
  std::int64_t train_steps = 0, count = 200;
  std::uint64_t seed = 1;
  auto* model_option = app.add_option("--model", model_path, "A saved model");
  auto* arch_option =
      app.add_option("--arch", arch, "A preset or an architecture JSON, trained here");
  model_option->excludes(arch_option);
  app.add_option("--train-steps", train_steps,
                 "Adam steps of batch 32 on the first training images");
  app.add_option("--seed", seed, "Initialisation and training seed");
  app.add_option("--save", save_path, "Where to save the trained model (with --arch)");
  app.add_option("--count", count, "Test images in the reference")->check(CLI::Range(1, 10000));
  app.add_option("--reference", reference_path, "The reference file to write")->required();
  app.add_option("--mnist", mnist_dir, "The folder of the MNIST IDX files");
  CLI11_PARSE(app, argc, argv);
  if (model_path.empty() == arch.empty() || (!arch.empty() && save_path.empty())) {
    fmt::print(stderr, "onnx_reference: give --model FILE, or --arch SPEC with --save FILE\n");
    return 2;
  }
  try {
    if (!arch.empty()) {
      imgcls::Sequential model = build_architecture(arch);
      model.initialize(seed);
      if (train_steps > 0) {
        const imgcls::MnistSplits mnist = imgcls::load_mnist(mnist_dir);
        imgcls::Adam adam;
        imgcls::fit(model, adam, first_images(mnist.train, train_steps * kBatchSize),
                    {.epochs = 1, .batch_size = kBatchSize, .seed = seed});
      }
      imgcls::save_model(model, save_path);
      model_path = save_path;
    }
    imgcls::Sequential model = imgcls::load_model(model_path);
    const imgcls::Dataset test = first_images(imgcls::load_mnist_test(mnist_dir), count);
    const imgcls::Tensor probabilities = imgcls::predict(model, test.images);
    // [N, H, W, C] -> [N, C, H, W]
    const imgcls::Shape& shape = test.images.shape();
    const std::int64_t n = shape[0], h = shape[1], w = shape[2], c = shape[3];
    std::vector<float> nchw(static_cast<std::size_t>(test.images.size()));
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
          for (std::int64_t ch = 0; ch < c; ++ch)
            nchw[static_cast<std::size_t>(((i * c + ch) * h + y) * w + x)] =
                test.images[((i * h + y) * w + x) * c + ch];
    std::string bytes = "IMGCLREF";
    const std::uint32_t header[] = {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(c),
                                    static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(w),
                                    static_cast<std::uint32_t>(probabilities.dim(1))};
    append(bytes, header, std::size(header));
    append(bytes, nchw.data(), nchw.size());
    append(bytes, probabilities.data(), static_cast<std::size_t>(probabilities.size()));
    imgcls::write_file_atomically(reference_path, bytes);
    fmt::print("onnx_reference: {} images, {} classes, model {}\n", n, probabilities.dim(1),
               model_path);
  } catch (const std::exception& e) {
    fmt::print(stderr, "onnx_reference: {}\n", e.what());
    return 1;
  }
  return 0;
}
