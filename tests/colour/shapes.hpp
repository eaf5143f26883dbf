// A generated colour dataset for the tests: side x side pictures (32x32 by default, or of
// sizes from side to max_side) of
// coloured shapes on varied backgrounds, written as an image folder of PNG files
// (DIR/train/<class>/, DIR/test/<class>/) and as CIFAR-10 binary files, from the drawn
// pixels themselves. Everything follows from a seed: the same options write the same files.
//
// Ten classes, as CIFAR-10 has (its reader takes exactly ten names), each its own shape in
// its own hue, 36 degrees apart: azure_hexagon, blue_diamond, cyan_ring, green_square,
// lime_cross, orange_triangle, pink_crescent, red_circle, violet_bar, yellow_star. Colour
// tells them apart at once, so a model that loses or mixes up the channels fails. (Shape
// alone is far harder to learn from this little data: a circle and a rotated square of the
// same colour, 300 pictures each, stayed below 60% test accuracy after 8 epochs.)
//
// Each picture: a background of noise, a gradient, stripes, a checkerboard, smooth blobs or
// clutter (small lines, rectangles and ellipses), in muted colours (saturation at most 0.3)
// lit warm (green x0.9, blue x0.75, so that the channels' statistics differ); the class's
// shape filled in its hue (jittered by up to 10 degrees; saturation and value 0.6 to 1),
// anywhere in the picture, its radius 0.2 to 0.38 of the side, at any rotation; then a
// little pixel noise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imgcls::shapes {

struct ShapesOptions {
  std::uint64_t seed = 1;
  std::int64_t train_per_class = 200;
  std::int64_t test_per_class = 50;
  std::int64_t side = 32;  // every picture is side x side; CIFAR-10 files need 32
  // When larger than side: each picture's height and width are drawn from [side, max_side]
  // (pictures of many sizes and shapes, as a user's folder holds), and the CIFAR-10 files
  // hold them made 32x32 as an image folder makes them (stretched, 8-bit).
  std::int64_t max_side = 0;
};

// The class folder names in label order (byte order, as an image folder sorts them).
const std::vector<std::string>& class_names();

// One picture: 8-bit RGB, row-major, [height, width, 3].
struct Picture {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<std::uint8_t> rgb;
};

// The picture `index` of class `label` (an index into class_names()) of split `split`
// (0 train, 1 test), drawn from its own stream of `options.seed`.
Picture draw_picture(const ShapesOptions& options, int split, int label, std::int64_t index);

// Writes DIR/train/<class>/NNNN.png and DIR/test/<class>/NNNN.png (creating the folders).
// Returns the number of pictures written. Throws InputError naming the file or folder that
// cannot be written.
std::int64_t write_shapes_folder(const std::string& dir, const ShapesOptions& options);

// The same pictures as CIFAR-10's binary files, in the order an image folder of them is read
// (class by class, files by name; CIFAR-10's own files are shuffled, these are not, so that
// both give the same dataset). Writes into dir (creating it):
//   data_batch_1.bin ... data_batch_5.bin  the training pictures, split evenly
//   test_batch.bin                         the test pictures
//   batches.meta.txt                       the class names, one per line
// Each record: 1 label byte, then 1024 red bytes, 1024 green, 1024 blue (row-major): each
// picture decoded from its PNG and made 32x32 by the library's image-folder path
// (resize_picture, stretch; 8-bit levels), so that a folder read at --image-size 32 and these
// files hold the same bytes. Requires options.side == 32. Throws InputError naming the file or
// folder that cannot be written.
void write_shapes_cifar10(const std::string& dir, const ShapesOptions& options);

}  // namespace imgcls::shapes
