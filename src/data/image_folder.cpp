// Image-folder datasets (DIR/<class>/<picture>) and the choice between them and IDX folders
// for `--data DIR`. The contracts are in imgcls/data.hpp.
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "core/check.hpp"
#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/preprocess.hpp"

namespace imgcls {

namespace {

namespace fs = std::filesystem;

constexpr const char* kLayoutHint =
    "put each class's pictures in DIR/<class name>/ (or DIR/train/<class>/ and DIR/test/<class>/), "
    "or the four MNIST IDX files or the CIFAR binary files in DIR";

// The entries of `dir` that satisfy `keep`, sorted by name; throws when it cannot be listed.
template <typename Keep>
std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
  std::error_code ec;
  fs::directory_iterator listing(dir, ec);
  if (ec) throw InputError(dir.string(), "cannot list the folder: " + ec.message(), kLayoutHint);
  std::vector<fs::path> entries;
  for (const fs::directory_entry& entry : listing)
    if (keep(entry)) entries.push_back(entry.path());
  std::sort(entries.begin(), entries.end());
  return entries;
}

bool is_folder(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

bool is_split_folder(const fs::path& dir) {
  return is_folder(dir / "train") && is_folder(dir / "test");
}

// train and test must name the same classes in the same order, or labels would differ.
void check_same_classes(const ImageFolder& train, const ImageFolder& test, const fs::path& dir) {
  if (train.class_names == test.class_names) return;
  auto list = [](const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
    return text;
  };
  throw InputError(dir.string(),
                   "train/ has the classes [" + list(train.class_names) + "] but test/ has [" +
                       list(test.class_names) + "]",
                   "give train/ and test/ the same class subfolders");
}

}  // namespace

namespace {

// A picture of the folder: its file and its label.
struct Listed {
  fs::path path;
  std::int32_t label = 0;
};

// Runs work(i) for i in [0, count) on `threads` threads, reporting progress on this thread.
// An exception other than InputError (which `work` handles) ends the run and is rethrown.
template <typename Work>
void run_parallel(std::int64_t count, int threads, const ImageFolderOptions& options, Work work) {
  std::atomic<std::int64_t> next{0}, done{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto worker = [&] {
    for (std::int64_t i = next++; i < count; i = next++) {
      try {
        work(i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = count;  // the others stop too
      }
      ++done;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  if (!options.on_progress || threads <= 1) {
    worker();
  } else {
    constexpr auto kReportEvery = std::chrono::milliseconds(200);
    while (done < count && !failure) {
      std::this_thread::sleep_for(kReportEvery);
      options.on_progress(std::min<std::int64_t>(done, count), count);
    }
  }
  for (std::thread& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
  if (options.on_progress) options.on_progress(count, count);
}

int thread_count(const ImageFolderOptions& options) {
  if (options.threads > 0) return options.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The most common size among the pictures' headers (ties: the larger area, then the
// taller): pictures whose headers cannot be read are left to the decoding pass to report.
PictureSize most_common_size(const std::vector<Listed>& pictures, int threads) {
  std::vector<PictureSize> sizes(pictures.size());
  std::vector<char> read(pictures.size(), 0);
  run_parallel(std::ssize(pictures), threads, ImageFolderOptions{}, [&](std::int64_t i) {
    const auto at = static_cast<std::size_t>(i);
    try {
      sizes[at] = probe_picture(pictures[at].path.string());
      read[at] = 1;
    } catch (const InputError&) {
    }
  });
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> counts;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    if (read[i]) ++counts[{sizes[i].height, sizes[i].width}];
  // No header readable: any size will do, the decoding pass reports each picture.
  if (counts.empty()) return {1, 1};
  const auto best =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
        const auto area = [](const auto& size) { return size.first * size.second; };
        return std::tuple(a.second, area(a.first), a.first.first) <
               std::tuple(b.second, area(b.first), b.first.first);
      });
  return {best->first.first, best->first.second};
}

}  // namespace

ImageFolder read_image_folder(const std::string& dir, const ImageFolderOptions& options) {
  IMGCLS_CHECK(
      options.height >= 0 && options.width >= 0 && (options.height == 0) == (options.width == 0),
      "image folder size {}x{}", options.height, options.width);
  IMGCLS_CHECK(options.channels == 0 || options.channels == 1 || options.channels == 3,
               "{} channels", options.channels);
  IMGCLS_CHECK(options.resize != Preprocessing::mnist_digit, "image folders stretch or crop");
  ImageFolder folder;
  std::vector<fs::path> class_dirs;
  for (const fs::path& entry :
       sorted_entries(dir, [](const fs::directory_entry&) { return true; })) {
    if (is_folder(entry))
      class_dirs.push_back(entry);
    else
      folder.ignored.push_back(entry.string());
  }
  if (class_dirs.empty()) throw InputError(dir, "no class subfolders in this folder", kLayoutHint);

  std::vector<Listed> pictures;
  for (const fs::path& class_dir : class_dirs) {
    const auto label = static_cast<std::int32_t>(folder.class_names.size());
    std::int64_t found = 0;
    for (const fs::path& entry :
         sorted_entries(class_dir, [](const fs::directory_entry&) { return true; })) {
      std::error_code ec;
      if (fs::is_regular_file(entry, ec) && has_image_extension(entry.string())) {
        pictures.push_back({entry, label});
        ++found;
      } else {
        folder.ignored.push_back(entry.string());
      }
    }
    if (found == 0)
      throw InputError(class_dir.string(), "no pictures in this class folder",
                       "each class needs at least one .png .jpg .jpeg .bmp .pgm .ppm or .pnm file");
    folder.class_names.push_back(class_dir.filename().string());
  }

  const int threads = thread_count(options);
  PictureSize size{options.height, options.width};
  if (size.height == 0) size = most_common_size(pictures, threads);
  // Decoded into three channels unless one is asked for; reduced after when none had colour.
  const std::int64_t stored_channels = options.channels == 1 ? 1 : 3;
  const std::int64_t item = size.height * size.width * stored_channels;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(item) * pictures.size());
  std::vector<std::optional<std::string>> problems(pictures.size());
  std::atomic<bool> any_colour{false};
  run_parallel(std::ssize(pictures), threads, options, [&](std::int64_t i) {
    const auto at = static_cast<std::size_t>(i);
    Image picture;
    try {
      picture = read_picture(pictures[at].path.string());
    } catch (const InputError& e) {
      problems[at] = e.problem();
      return;
    }
    if (has_colour(picture)) any_colour = true;
    const Image resized = resize_picture(with_channels(picture, stored_channels), size.height,
                                         size.width, options.resize);
    const Tensor values({size.height, size.width, stored_channels}, resized.pixels);
    const PixelTensor bytes = PixelTensor::from_unit(values);
    std::copy(bytes.data(), bytes.data() + item,
              pixels.begin() + static_cast<std::ptrdiff_t>(at) * item);
  });

  // Failures in file order: the first is an error, or each is left out and listed.
  std::vector<std::int64_t> kept;
  for (std::size_t i = 0; i < pictures.size(); ++i) {
    if (!problems[i]) {
      kept.push_back(static_cast<std::int64_t>(i));
      continue;
    }
    if (!options.skip_bad_files) throw InputError(pictures[i].path.string(), *problems[i]);
    folder.skipped.push_back({pictures[i].path.string(), *problems[i]});
  }
  for (std::size_t c = 0; c < folder.class_names.size(); ++c)
    if (std::none_of(kept.begin(), kept.end(), [&](std::int64_t i) {
          return pictures[static_cast<std::size_t>(i)].label == std::int32_t(c);
        }))
      throw InputError((fs::path(dir) / folder.class_names[c]).string(),
                       "none of the pictures in this class folder could be decoded");

  const std::int64_t channels = options.channels != 0 ? options.channels : any_colour ? 3 : 1;
  std::vector<std::uint8_t> images(static_cast<std::size_t>(size.height * size.width * channels) *
                                   kept.size());
  std::uint8_t* out = images.data();
  for (const std::int64_t i : kept) {
    const std::uint8_t* in = pixels.data() + i * item;
    if (channels == stored_channels) {
      out = std::copy(in, in + item, out);
    } else {  // grey pictures stored in three equal channels
      for (std::int64_t p = 0; p < size.height * size.width; ++p) *out++ = in[p * stored_channels];
    }
    folder.data.labels.push_back(pictures[static_cast<std::size_t>(i)].label);
  }
  folder.data.images =
      PixelTensor({std::ssize(kept), size.height, size.width, channels}, std::move(images));
  return folder;
}

NegativePictures read_negative_pictures(const std::string& dir, const Shape& input_shape,
                                        Preprocessing preprocessing, std::int32_t label,
                                        const ImageFolderOptions& options) {
  IMGCLS_CHECK(input_shape.size() == 3, "negatives for an input {}", to_string(input_shape));
  if (!is_folder(dir)) throw InputError(dir, "not a folder of pictures");
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code entry_ec;
    if (it->is_regular_file(entry_ec) && has_image_extension(it->path().string()))
      files.push_back(it->path());
  }
  if (ec) throw InputError(dir, "cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw InputError(dir, "no pictures in this folder or its subfolders",
                     "imgcls reads .png .jpg .jpeg .bmp .pgm .ppm .pnm files");

  const std::int64_t item = element_count(input_shape);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(item) * files.size());
  // Per file: empty when made an input; "" when no digit was found; else the problem.
  std::vector<std::optional<std::string>> outcome(files.size());
  run_parallel(std::ssize(files), thread_count(options), options, [&](std::int64_t i) {
    const auto at = static_cast<std::size_t>(i);
    try {
      const Image input = picture_to_input(read_picture(files[at].string()), input_shape,
                                           preprocessing, files[at].string());
      const PixelTensor bytes = PixelTensor::from_unit(Tensor(input_shape, input.pixels));
      std::copy(bytes.data(), bytes.data() + item,
                pixels.begin() + static_cast<std::ptrdiff_t>(at) * item);
    } catch (const NoDigitError&) {
      outcome[at] = std::string();
    } catch (const InputError& e) {
      outcome[at] = e.problem();
    }
  });

  NegativePictures negatives;
  std::vector<std::uint8_t> images;
  images.reserve(pixels.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (outcome[i] && outcome[i]->empty()) {
      ++negatives.without_digit;
      continue;
    }
    if (outcome[i]) {
      if (!options.skip_bad_files) throw InputError(files[i].string(), *outcome[i]);
      negatives.skipped.push_back({files[i].string(), *outcome[i]});
      continue;
    }
    const auto first = pixels.begin() + static_cast<std::ptrdiff_t>(i) * item;
    images.insert(images.end(), first, first + item);
    negatives.data.labels.push_back(label);
  }
  if (negatives.data.labels.empty())
    throw InputError(dir, fmt::format("none of its {} pictures gives a model input", files.size()),
                     "pictures in which digit preprocessing finds no digit are rejected "
                     "without training; negatives must show something");
  Shape shape = {negatives.data.size()};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  negatives.data.images = PixelTensor(shape, std::move(images));
  return negatives;
}

bool is_idx_folder(const std::string& dir) {
  std::error_code ec;
  for (const char* name : {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"})
    for (const char* suffix : {"", ".gz"})
      if (fs::exists(fs::path(dir) / (std::string(name) + suffix), ec)) return true;
  return false;
}

namespace {
// An image folder whose "class" is a dataset folder: DIR/cifar-10-batches-bin/ as the archive
// unpacks, or DIR/mnist/. Reading it as a class would fail on its first file, far from the
// point.
void refuse_dataset_subfolders(const std::string& dir) {
  for (const fs::path& entry : sorted_entries(dir, [](const fs::directory_entry& e) {
         std::error_code ec;
         return e.is_directory(ec);
       })) {
    const std::optional<CifarKind> cifar = cifar_folder_kind(entry.string());
    if (!cifar && !is_idx_folder(entry.string())) continue;
    const char* kind = !cifar ? "IDX" : *cifar == CifarKind::cifar10 ? "CIFAR-10" : "CIFAR-100";
    throw InputError(dir,
                     "holds the " + std::string(kind) + " folder " + entry.filename().string() +
                         ": the data is in that folder",
                     "give " + entry.string() + " itself");
  }
}
}  // namespace

FolderSplits load_dataset_folder(const std::string& dir, const ImageFolderOptions& options) {
  if (is_idx_folder(dir) || !is_folder(dir)) {
    MnistSplits mnist = load_mnist(dir);  // a missing folder is reported by its IDX file names
    return {std::move(mnist.train), std::move(mnist.test), {}};
  }
  if (cifar_folder_kind(dir)) return load_cifar_folder(dir);
  refuse_dataset_subfolders(dir);
  if (!is_split_folder(dir)) {
    ImageFolder all = read_image_folder(dir, options);
    return {std::move(all.data),
            {},
            std::move(all.class_names),
            std::move(all.ignored),
            std::move(all.skipped)};
  }
  ImageFolder train = read_image_folder((fs::path(dir) / "train").string(), options);
  // The test images as the training images came out: same size and channels.
  ImageFolderOptions same = options;
  same.height = train.data.images.dim(1);
  same.width = train.data.images.dim(2);
  same.channels = train.data.images.dim(3);
  ImageFolder test = read_image_folder((fs::path(dir) / "test").string(), same);
  check_same_classes(train, test, dir);
  FolderSplits splits{std::move(train.data), std::move(test.data), std::move(train.class_names),
                      std::move(train.ignored), std::move(train.skipped)};
  splits.ignored.insert(splits.ignored.end(), test.ignored.begin(), test.ignored.end());
  splits.skipped.insert(splits.skipped.end(), test.skipped.begin(), test.skipped.end());
  return splits;
}

FolderSplits load_dataset_folder_test(const std::string& dir, const ImageFolderOptions& options) {
  if (is_idx_folder(dir) || !is_folder(dir)) return {{}, load_mnist_test(dir), {}};
  if (cifar_folder_kind(dir)) return load_cifar_folder_test(dir);
  refuse_dataset_subfolders(dir);
  const std::string test_dir = is_split_folder(dir) ? (fs::path(dir) / "test").string() : dir;
  ImageFolder test = read_image_folder(test_dir, options);
  return {{},
          std::move(test.data),
          std::move(test.class_names),
          std::move(test.ignored),
          std::move(test.skipped)};
}

}  // namespace imgcls
