// Example: build a small CNN from option structs, train it briefly on part of MNIST, check
// its test accuracy, save it and load it back. Uses only the public headers (include/imgcls).
//   train_mnist MNIST_DIR OUT.safetensors
// Exits 1 when the accuracy is below the bound or the reloaded model predicts differently.
#include <algorithm>
#include <cstdio>
#include <exception>

#include "imgcls/data.hpp"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"

namespace {

constexpr std::int64_t kTrainImages = 4000;  // a subset keeps the run to seconds
constexpr std::int64_t kTestImages = 2000;
constexpr int kEpochs = 2;
constexpr std::uint64_t kSeed = 7;
constexpr double kMinAccuracy = 0.85;  // measured 0.923 with this seed; chance is 0.1

// The first `count` samples of `data`.
imgcls::Dataset first(const imgcls::Dataset& data, std::int64_t count) {
  return imgcls::take_first(data, std::min(count, data.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: train_mnist MNIST_DIR OUT.safetensors\n");
    return 2;
  }
  try {
    imgcls::set_num_threads(2);
    const imgcls::MnistSplits mnist = imgcls::load_mnist(argv[1]);
    const imgcls::Dataset train = first(mnist.train, kTrainImages);
    const imgcls::Dataset test = first(mnist.test, kTestImages);

    using namespace imgcls::layers;
    using imgcls::Activation;
    imgcls::Sequential model({28, 28, 1});
    model.add(
        Conv2D({.filters = 16, .kernel_size = 3, .activation = Activation::relu}));  // [26, 26, 16]
    model.add(MaxPool2D());                                                          // [13, 13, 16]
    model.add(
        Conv2D({.filters = 32, .kernel_size = 3, .activation = Activation::relu}));  // [11, 11, 32]
    model.add(MaxPool2D());                                                          // [5, 5, 32]
    model.add(Flatten());                                                            // [800]
    model.add(Dense({.units = 64, .activation = Activation::relu}));                 // [64]
    model.add(Dense({.units = 10}));                                                 // [10] logits
    model.initialize(kSeed);
    std::printf("%s\n", model.summary().c_str());

    imgcls::Adam adam({.learning_rate = 2e-3f});
    const imgcls::History history =
        imgcls::fit(model, adam, train, {.epochs = kEpochs, .batch_size = 32, .seed = kSeed});
    const imgcls::Evaluation result = imgcls::evaluate(model, test);
    std::printf("train loss %.4f after %d epochs; test accuracy %.4f on %lld images\n",
                history.epochs.back().loss, kEpochs, result.accuracy,
                static_cast<long long>(result.count));
    if (result.accuracy < kMinAccuracy) {
      std::fprintf(stderr, "FAIL: test accuracy %.4f is below %.2f\n", result.accuracy,
                   kMinAccuracy);
      return 1;
    }

    imgcls::save_model(model, argv[2]);
    imgcls::Sequential reloaded = imgcls::load_model(argv[2]);
    const imgcls::Evaluation again = imgcls::evaluate(reloaded, test);
    if (again.predicted != result.predicted) {
      std::fprintf(stderr, "FAIL: the model read back from %s predicts differently\n", argv[2]);
      return 1;
    }
    std::printf("saved %s; reloaded model agrees on all %lld test images\n", argv[2],
                static_cast<long long>(again.count));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s\n", e.what());
    return 1;
  }
}
