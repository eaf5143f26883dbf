// Example: load a trained model and classify one picture the way `imgcls predict` does
// (decode, the preprocessing its file records: digit preprocessing or a resize; softmax). Uses only
// the public headers (include/imgcls).
//   predict_image MODEL.safetensors PICTURE [EXPECTED_CLASS]
// Prints the class and its probability; with EXPECTED_CLASS, exits 1 unless it matches.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <span>
#include <string>

#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: predict_image MODEL.safetensors PICTURE [EXPECTED_CLASS]\n");
    return 2;
  }
  try {
    imgcls::Sequential model = imgcls::load_model(argv[1]);
    const imgcls::Image picture = imgcls::read_picture(argv[2]);
    const imgcls::Image prepared =
        imgcls::picture_to_input(picture, model.input_shape(), model.preprocessing(), argv[2]);
    const imgcls::Tensor probabilities =
        imgcls::predict(model, imgcls::to_batch(std::span<const imgcls::Image>(&prepared, 1)));
    const std::int64_t classes = probabilities.dim(1);
    const float* row = probabilities.data();
    const auto best = static_cast<std::size_t>(std::max_element(row, row + classes) - row);
    const std::string name = imgcls::class_names(model)[best];
    std::printf("%s: class %s, probability %.4f\n", argv[2], name.c_str(), double(row[best]));
    if (argc == 4 && name != argv[3]) {
      std::fprintf(stderr, "FAIL: expected class %s, got %s\n", argv[3], name.c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s\n", e.what());
    return 1;
  }
}
