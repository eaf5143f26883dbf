// An installed imgcls from C++: load a model, classify a picture. Exits 1 on a wrong answer.
//   consumer_cpp MODEL PICTURE EXPECTED_CLASS
#include <cstdio>
#include <exception>
#include <span>
#include <string>

// Every installed header, so one that needs a private (src/) header fails the build here.
#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/gradient_check.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/layers.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/rng.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/tensor.hpp"
#include "imgcls/train.hpp"
#include "imgcls/viz.hpp"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  try {
    imgcls::Sequential model = imgcls::load_model(argv[1]);
    const imgcls::GreyImage input =
        imgcls::picture_to_input(imgcls::read_image(argv[2]), 28, 28, true, argv[2]);
    const imgcls::Tensor probabilities =
        imgcls::predict(model, imgcls::to_batch(std::span<const imgcls::GreyImage>(&input, 1)));
    int best = 0;
    for (int c = 1; c < probabilities.dim(1); ++c)
      if (probabilities[c] > probabilities[best]) best = c;
    std::printf("C++: %s is a %d\n", argv[2], best);
    return std::to_string(best) == argv[3] ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
