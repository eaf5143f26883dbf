// Datasets: images as 8-bit pixels [N, H, W, C] (a PixelTensor: the byte v stands for the
// value v / 255 the model takes) plus integer labels; training and evaluation turn them into
// floats a batch at a time, so a dataset takes a quarter of the memory floats would.
// Readers validate every header field against the file before trusting it, and throw
// InputError naming the file and the problem.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "imgcls/preprocess.hpp"
#include "imgcls/tensor.hpp"

namespace imgcls {

struct Dataset {
  PixelTensor images;                // [N, H, W, C], 8-bit (byte v: value v / 255)
  std::vector<std::int32_t> labels;  // [N]
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
};

// Random changes of a training image, drawn per image (training applies them to each image
// of a batch; see FitOptions::augment). The defaults are the digit jitter; natural images
// take AugmentOptions::natural() (random crop with padding, horizontal flip).
struct AugmentOptions {
  // An affine jitter about the centre, bilinear (all 0: none): for digits.
  float max_shift = 2.0f;  // pixels, each axis
  float max_rotation_degrees = 10.0f;
  float max_scale_change = 0.1f;  // scale in [1 - s, 1 + s]
  // > 0: pad each side by this many pixels of 0 and cut out a window of the image's size at
  // a random place (an integer shift of up to crop_padding pixels each axis).
  std::int64_t crop_padding = 0;
  // Mirror left to right with probability 1/2 (not for digits: a mirrored 2 is no digit).
  bool horizontal_flip = false;
  // Handwriting. An elastic distortion (Simard et al., 2003), with the jitter: every pixel
  // moves by a random field (uniform in [-1, 1] per pixel and axis) smoothed by a Gaussian of
  // `elastic_sigma` pixels and scaled by `elastic_alpha` (0: none).
  float elastic_alpha = 0.0f;
  float elastic_sigma = 4.0f;
  // Pen width: with this probability the strokes are thickened (a grey-level dilation by a
  // 3x3 cross) or, as often, thinned (the erosion); 0: never.
  float stroke_change = 0.0f;

  // Only the jitter of digits: the defaults.
  static AugmentOptions digits() { return {}; }
  // The jitter of digits, an elastic distortion (alpha 34, sigma 4: Simard's values for 28x28
  // digits) and a change of pen width in 4 images of 10: digits as people write them.
  static AugmentOptions handwriting() {
    return {.elastic_alpha = 34.0f, .elastic_sigma = 4.0f, .stroke_change = 0.4f};
  }
  // Only random crops with 4 pixels of padding and horizontal flips (the CIFAR-10 recipe).
  static AugmentOptions natural() {
    return {.max_shift = 0.0f,
            .max_rotation_degrees = 0.0f,
            .max_scale_change = 0.0f,
            .crop_padding = 4,
            .horizontal_flip = true};
  }
};

// The first `count` samples of `data` (1 <= count <= data.size()), copied.
Dataset take_first(const Dataset& data, std::int64_t count);

// IDX files (the MNIST format), plain or gzip-compressed (detected by content).
// Images: magic 0x00000803, [N, rows, cols] unsigned bytes -> [N, rows, cols, 1].
PixelTensor read_idx_images(const std::string& path);
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

// Fashion-MNIST (Zalando Research): MNIST's files, sizes and format, but pictures of ten kinds
// of clothing, not digits. Debian's package dataset-fashion-mnist installs its four IDX files
// (gzip-compressed) in kDebianFashionMnistDir; load_mnist reads them.
inline constexpr const char* kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";
// Its classes, label i the i-th: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt,
// Sneaker, Bag, Ankle boot.
std::vector<std::string> fashion_mnist_class_names();

// Image folders: pictures sorted into one subfolder per class.
//   DIR/<class>/<picture>    e.g. DIR/cat/001.png, DIR/dog/a.jpg
// Classes are the subfolder names, sorted (byte order); label i is class i. Pictures are the
// files with a picture extension (has_image_extension: PNG, JPEG, BMP, PGM/PPM), sorted by
// name. Everything else (other files, folders inside class folders, files directly in DIR)
// is not read, and listed in ImageFolder::ignored so that the caller can say so. Each
// picture is decoded (read_picture), given the folder's channels, and resized to its size by
// the resize rule (resize_picture); there is no digit preprocessing, no inversion. Pictures
// are decoded on several threads; the result does not depend on how many.
struct ImageFolderOptions {
  // The size of every image; 0 (both): the most common picture size in the folder (read
  // from the headers first).
  std::int64_t height = 0;
  std::int64_t width = 0;
  // 1 (grey) or 3 (colour); 0: 3 when any picture has colour, else 1.
  std::int64_t channels = 0;
  // How a picture of another size is brought to the size: stretch or crop (not mnist_digit).
  Preprocessing resize = Preprocessing::stretch;
  // false: a picture that does not decode is an error naming it. true: it is left out and
  // listed in ImageFolder::skipped with the reason.
  bool skip_bad_files = false;
  // Decoding threads; 0: one per core.
  int threads = 0;
  // Called on the calling thread about five times a second while pictures are decoded, and
  // once at the end: (pictures done, pictures in all).
  std::function<void(std::int64_t done, std::int64_t total)> on_progress;
};

// A file left out of a dataset, and why.
struct SkippedFile {
  std::string path;
  std::string reason;
};

struct ImageFolder {
  Dataset data;                          // images [N, height, width, channels]
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

// Pictures that are none of a model's classes, to train its rejection output (RejectionRule,
// model.hpp; imgcls train --negatives DIR): every picture file of `dir` and of its subfolders
// (by extension, sorted by path), made a model input of `input_shape` ([H, W, C]) by
// `preprocessing` exactly as predict makes one (picture_to_input), every label `label`.
// A picture digit preprocessing finds no digit in (NoDigitError) is left out and counted: a
// model answers such a picture "rejected" without running. One that does not decode is an
// error naming it, or with options.skip_bad_files left out and listed. Of `options`, only
// skip_bad_files, threads and on_progress are used. Throws InputError naming `dir` when it
// is not a folder or gives no input.
struct NegativePictures {
  Dataset data;
  std::int64_t without_digit = 0;  // pictures left out: digit preprocessing found no digit
  std::vector<SkippedFile> skipped;
};
NegativePictures read_negative_pictures(const std::string& dir, const Shape& input_shape,
                                        Preprocessing preprocessing, std::int32_t label,
                                        const ImageFolderOptions& options = {});

// A dataset folder as `imgcls train/evaluate --data DIR` take it, one of:
//   - the four MNIST IDX files (plain or .gz): load_mnist; class_names stays empty;
//   - CIFAR-10 or CIFAR-100 binary files (see load_cifar_folder below, fine labels);
//   - DIR/train/<class>/ and DIR/test/<class>/: two image folders with the same classes (the
//     test images get the size and channels the training images got);
//   - DIR/<class>/: one image folder; for training it is all training data (test is empty).
struct FolderSplits {
  Dataset train;
  Dataset test;                          // empty when the folder has no test split
  std::vector<std::string> class_names;  // image and CIFAR folders; empty for IDX
  std::vector<std::string> ignored;      // image folders: paths not read (ImageFolder::ignored)
  std::vector<SkippedFile> skipped;      // image folders: pictures left out (skip_bad_files)
};
// True when DIR holds train-images-idx3-ubyte or t10k-images-idx3-ubyte (plain or .gz).
bool is_idx_folder(const std::string& dir);
// `options` apply to image folders. An image folder one of whose subfolders is an IDX or
// CIFAR folder (DIR/cifar-10-batches-bin/, as the archive unpacks) is refused naming that
// subfolder: the data is in it, it is no class.
FolderSplits load_dataset_folder(const std::string& dir, const ImageFolderOptions& options);
// The test split only: t10k-* for IDX, test_batch.bin or test.bin for CIFAR, DIR/test/ when
// there is one, else the whole DIR.
FolderSplits load_dataset_folder_test(const std::string& dir, const ImageFolderOptions& options);

// CIFAR-10 and CIFAR-100, binary version: the archives "CIFAR-10 binary version" and
// "CIFAR-100 binary version" of www.cs.toronto.edu/~kriz/cifar.html. A file is a run of
// records of one size, with nothing before, between or after them:
//   CIFAR-10   <label: 1 byte, 0-9> <pixels: 3072 bytes>                          3073 bytes
//   CIFAR-100  <coarse label: 1 byte, 0-19> <fine label: 1 byte, 0-99> <pixels>   3074 bytes
// The pixels are a 32x32 colour picture plane by plane: 1024 red bytes, then 1024 green,
// then 1024 blue, each plane row by row from the top (its first 32 bytes are the top row).
// The reader interleaves them: images [N, 32, 32, 3], pixel (y, x) of plane c at [n, y, x, c].
enum class CifarKind { cifar10, cifar100 };
// Which of CIFAR-100's labels are the classes: fine (100 classes, the default; the command
// line always takes these) or coarse (the 20 superclasses). CIFAR-10 has one label.
enum class CifarLabels { fine, coarse };

// One CIFAR binary file, any whole number of records (1 or more). Throws InputError naming
// the file when it is missing or unreadable, empty, not a whole number of records (a
// truncated file), or holds a label out of range (either of CIFAR-100's two).
Dataset read_cifar_file(const std::string& path, CifarKind kind,
                        CifarLabels labels = CifarLabels::fine);

// The standard class names, as the archives' name files list them: CIFAR-10's ten (airplane,
// automobile, bird, cat, deer, dog, frog, horse, ship, truck); CIFAR-100's 100 fine ones
// (apple, aquarium_fish, baby, ...) or 20 coarse ones (aquatic_mammals, fish, ...).
std::vector<std::string> cifar_class_names(CifarKind kind, CifarLabels labels = CifarLabels::fine);

// A CIFAR folder, as the archives unpack (cifar-10-batches-bin/, cifar-100-binary/):
//   CIFAR-10   data_batch_1.bin ... data_batch_5.bin (training, in that order), test_batch.bin,
//              class names in batches.meta.txt
//   CIFAR-100  train.bin, test.bin, class names in fine_label_names.txt (coarse_label_names.txt
//              with CifarLabels::coarse)
// A names file holds one name per line (surrounding spaces and a final CR dropped, blank lines
// at the end ignored) and must name every class once; without it the classes take the
// standard names. Other files in the folder are not read. A partial set is refused: every
// file of the split read must be there (a missing data_batch_3.bin is an error naming it).
// The kind of files DIR holds: CIFAR-10's (any of data_batch_1.bin ... data_batch_5.bin,
// test_batch.bin), CIFAR-100's (train.bin or test.bin), or neither (nullopt). Throws
// InputError naming DIR when it holds both kinds.
std::optional<CifarKind> cifar_folder_kind(const std::string& dir);
struct CifarOptions {
  CifarLabels labels = CifarLabels::fine;  // CIFAR-100 only
};
// Both splits; FolderSplits::class_names holds the classes. Throws InputError naming the
// folder when it holds no CIFAR files, and naming the file at fault as read_cifar_file does
// or when a file of the set or the names file is missing or malformed.
FolderSplits load_cifar_folder(const std::string& dir, const CifarOptions& options = {});
// The test split only (test_batch.bin or test.bin; the training files need not be there).
FolderSplits load_cifar_folder_test(const std::string& dir, const CifarOptions& options = {});

}  // namespace imgcls
