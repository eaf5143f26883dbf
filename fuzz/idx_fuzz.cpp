// libFuzzer harness for the IDX reader: the input is a whole file (plain or gzip), read as
// an image file and as a label file. Accepted files must give tensors that match their
// header (bytes, one per pixel); everything else must be refused with an InputError.
#include <cmath>
#include <cstdint>
#include <span>

#include "data/idx.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imgcls;
  const std::span<const std::uint8_t> bytes(data, size);
  fuzz::expect_success_or_input_error([&] {
    const PixelTensor images = parse_idx_images(bytes, fuzz::kSource);
    fuzz::require(images.rank() == 4 && images.dim(3) == 1, "images are [N, rows, cols, 1]");
    fuzz::require(images.size() == images.dim(0) * images.dim(1) * images.dim(2),
                  "one value per pixel");
  });
  fuzz::expect_success_or_input_error([&] {
    const std::vector<std::int32_t> labels = parse_idx_labels(bytes, fuzz::kSource);
    fuzz::require(!labels.empty(), "at least one label");
    for (std::int32_t label : labels) fuzz::require(label >= 0 && label <= 255, "byte labels");
  });
  return 0;
}
