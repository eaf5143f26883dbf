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
#include "layers/registry.hpp"

namespace {

constexpr std::int64_t kBatchSize = 32;

imgcls::Dataset first_images(const imgcls::Dataset& data, std::int64_t count) {
  return imgcls::take_first(data, std::min(count, data.size()));
}

imgcls::Sequential build_architecture(const std::string& spec) {
  const bool is_file = spec.ends_with(".json");
  return is_file ? imgcls::read_architecture(spec) : imgcls::presets::by_name(spec);
}

// A classifier of 28x28x1 images around one registered layer kind, from its first example on
// images (after a convolution that gives it 8 channels), or on flat input (after Flatten).
imgcls::Sequential around_kind(const std::string& name) {
  const imgcls::layers::LayerKind* kind = imgcls::layers::find_kind(name);
  if (!kind) throw imgcls::InputError(name, "not a registered layer kind");
  const auto on_images =
      std::find_if(kind->examples.begin(), kind->examples.end(),
                   [](const auto& example) { return example.input_shape.size() == 4; });
  const imgcls::layers::LayerExample& example =
      on_images != kind->examples.end() ? *on_images : kind->examples.at(0);
  imgcls::Sequential model({28, 28, 1});
  if (example.input_shape.size() == 4)
    model.add(imgcls::layers::Conv2D({.filters = 8,
                                      .kernel_size = 3,
                                      .padding = imgcls::Padding::same,
                                      .activation = imgcls::Activation::relu}));
  else
    model.add(imgcls::layers::Flatten());
  model.add(imgcls::layers::from_config(example.config, name));
  if (model.output_shape().size() != 1) model.add(imgcls::layers::Flatten());
  model.add(imgcls::layers::Dense({.units = 10}));
  return model;
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
  std::string kind;
  bool list_kinds = false;
  auto* arch_option =
      app.add_option("--arch", arch, "A preset or an architecture JSON, trained here");
  auto* kind_option =
      app.add_option("--kind", kind, "A layer kind: a classifier around it, trained here");
  model_option->excludes(arch_option)->excludes(kind_option);
  arch_option->excludes(kind_option);
  app.add_flag("--list-kinds", list_kinds,
               "Print the registered layer kinds, one per line, and exit");
  app.add_option("--train-steps", train_steps,
                 "Adam steps of batch 32 on the first training images");
  app.add_option("--seed", seed, "Initialisation and training seed");
  app.add_option("--save", save_path, "Where to save the trained model (with --arch)");
  app.add_option("--count", count, "Test images in the reference")->check(CLI::Range(1, 10000));
  app.add_option("--reference", reference_path,
                 "The reference file to write (required but with --list-kinds)");
  app.add_option("--mnist", mnist_dir, "The folder of the MNIST IDX files");
  CLI11_PARSE(app, argc, argv);
  if (list_kinds) {
    for (const auto& registered : imgcls::layers::registry()) fmt::print("{}\n", registered.name);
    return 0;
  }
  const bool built_here = !arch.empty() || !kind.empty();
  if (model_path.empty() == !built_here || (built_here && save_path.empty()) ||
      reference_path.empty()) {
    fmt::print(stderr,
               "onnx_reference: give --reference FILE and --model FILE, or --arch SPEC or --kind "
               "NAME with --save FILE\n");
    return 2;
  }
  try {
    if (built_here) {
      imgcls::Sequential model = kind.empty() ? build_architecture(arch) : around_kind(kind);
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
    const imgcls::Tensor images = test.images.to_unit();
    const imgcls::Tensor probabilities = imgcls::predict(model, images);
    // [N, H, W, C] -> [N, C, H, W]
    const imgcls::Shape& shape = images.shape();
    const std::int64_t n = shape[0], h = shape[1], w = shape[2], c = shape[3];
    std::vector<float> nchw(static_cast<std::size_t>(images.size()));
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
          for (std::int64_t ch = 0; ch < c; ++ch)
            nchw[static_cast<std::size_t>(((i * c + ch) * h + y) * w + x)] =
                images[((i * h + y) * w + x) * c + ch];
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
