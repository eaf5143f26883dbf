// Datasets: images as a float tensor [N, H, W, C] scaled to [0, 1] plus integer labels.
// Readers validate every header field against the file before trusting it, and throw
// InputError naming the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "imgcls/tensor.hpp"

namespace imgcls {

struct Dataset {
  Tensor images;                     // [N, H, W, C], values in [0, 1]
  std::vector<std::int32_t> labels;  // [N]
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
};

// Random affine jitter for digit images, drawn per image: shift, rotation, scale (training
// applies it to each image of a batch; see FitOptions::augment).
struct AugmentOptions {
  float max_shift = 2.0f;  // pixels, each axis
  float max_rotation_degrees = 10.0f;
  float max_scale_change = 0.1f;  // scale in [1 - s, 1 + s]
};

// The first `count` samples of `data` (1 <= count <= data.size()), copied.
Dataset take_first(const Dataset& data, std::int64_t count);

// IDX files (the MNIST format), plain or gzip-compressed (detected by content).
// Images: magic 0x00000803, [N, rows, cols] unsigned bytes -> [N, rows, cols, 1] / 255.
Tensor read_idx_images(const std::string& path);
// Labels: magic 0x00000801, [N] unsigned bytes.
std::vector<std::int32_t> read_idx_labels(const std::string& path);
// Both, checking that the counts match.
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path);

struct MnistSplits {
  Dataset train;  // 60,000 images for the genuine MNIST
  Dataset test;   // 10,000
};
// dir holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each either plain or with a .gz suffix.
MnistSplits load_mnist(const std::string& dir);
// Only the test split (t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, plain or .gz).
Dataset load_mnist_test(const std::string& dir);

// Image folders: pictures sorted into one subfolder per class.
//   DIR/<class>/<picture>    e.g. DIR/cat/001.png, DIR/dog/a.jpg
// Classes are the subfolder names, sorted (byte order); label i is class i. Pictures are the
// files with a picture extension (has_image_extension: PNG, JPEG, BMP, PGM/PPM), sorted by
// name. Everything else (other files, folders inside class folders, files directly in DIR)
// is not read, and listed in ImageFolder::ignored so that the caller can say so. Each
// picture is decoded grey (read_image: 0 = black, 1 = white) and resized to height x width
// (resize_image); there is no digit preprocessing, no inversion: the values are the
// picture's own.
struct ImageFolderOptions {
  std::int64_t height = 28;
  std::int64_t width = 28;
  // false: a picture that does not decode is an error naming it. true: it is left out and
  // listed in ImageFolder::skipped with the reason.
  bool skip_bad_files = false;
};

// A file left out of a dataset, and why.
struct SkippedFile {
  std::string path;
  std::string reason;
};

struct ImageFolder {
  Dataset data;                          // images [N, height, width, 1]
  std::vector<std::string> class_names;  // [classes], sorted
  std::vector<std::string> ignored;      // paths not read: files without a picture extension,
                                         // folders in class folders, files beside class folders
  std::vector<SkippedFile> skipped;      // pictures that did not decode (skip_bad_files)
};

// Throws InputError naming the folder when it cannot be listed or holds no class subfolder,
// naming the class folder when it holds no picture (or none that decodes, with
// skip_bad_files), and naming the picture when it cannot be decoded (without
// skip_bad_files). Requires height, width >= 1.
ImageFolder read_image_folder(const std::string& dir, const ImageFolderOptions& options = {});

// A dataset folder as `imgcls train/evaluate --data DIR` take it, one of:
//   - the four MNIST IDX files (plain or .gz): load_mnist; class_names stays empty;
//   - DIR/train/<class>/ and DIR/test/<class>/: two image folders with the same classes;
//   - DIR/<class>/: one image folder; for training it is all training data (test is empty).
struct FolderSplits {
  Dataset train;
  Dataset test;                          // empty when the folder has no test split
  std::vector<std::string> class_names;  // image folders only
  std::vector<std::string> ignored;      // image folders: paths not read (ImageFolder::ignored)
  std::vector<SkippedFile> skipped;      // image folders: pictures left out (skip_bad_files)
};
// True when DIR holds train-images-idx3-ubyte or t10k-images-idx3-ubyte (plain or .gz).
bool is_idx_folder(const std::string& dir);
FolderSplits load_dataset_folder(const std::string& dir, const ImageFolderOptions& options);
// The test split only: t10k-* for IDX, DIR/test/ when there is one, else the whole DIR.
FolderSplits load_dataset_folder_test(const std::string& dir, const ImageFolderOptions& options);

}  // namespace imgcls
