// Image-folder datasets (DIR/<class>/<picture>) and the choice between them and IDX folders
// for `--data DIR`. The contracts are in imgcls/data.hpp.
#include <algorithm>
#include <filesystem>

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
    "or the four MNIST IDX files in DIR";

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

ImageFolder read_image_folder(const std::string& dir, const ImageFolderOptions& options) {
  IMGCLS_CHECK(options.height >= 1 && options.width >= 1, "image folder size {}x{}", options.height,
               options.width);
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

  std::vector<GreyImage> images;
  for (const fs::path& class_dir : class_dirs) {
    std::vector<fs::path> pictures;
    for (const fs::path& entry :
         sorted_entries(class_dir, [](const fs::directory_entry&) { return true; })) {
      std::error_code ec;
      if (fs::is_regular_file(entry, ec) && has_image_extension(entry.string()))
        pictures.push_back(entry);
      else
        folder.ignored.push_back(entry.string());
    }
    if (pictures.empty())
      throw InputError(class_dir.string(), "no pictures in this class folder",
                       "each class needs at least one .png .jpg .jpeg .bmp .pgm .ppm or .pnm file");
    const auto label = static_cast<std::int32_t>(folder.class_names.size());
    std::int64_t decoded = 0;
    for (const fs::path& picture : pictures) {
      GreyImage image;
      try {
        image = read_image(picture.string());
      } catch (const InputError& e) {
        if (!options.skip_bad_files) throw;
        folder.skipped.push_back({picture.string(), e.problem()});
        continue;
      }
      images.push_back(resize_image(image, options.height, options.width));
      folder.data.labels.push_back(label);
      ++decoded;
    }
    if (decoded == 0)
      throw InputError(class_dir.string(),
                       "none of the pictures in this class folder could be decoded");
    folder.class_names.push_back(class_dir.filename().string());
  }
  folder.data.images = to_batch(images);
  return folder;
}

bool is_idx_folder(const std::string& dir) {
  std::error_code ec;
  for (const char* name : {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"})
    for (const char* suffix : {"", ".gz"})
      if (fs::exists(fs::path(dir) / (std::string(name) + suffix), ec)) return true;
  return false;
}

FolderSplits load_dataset_folder(const std::string& dir, const ImageFolderOptions& options) {
  if (is_idx_folder(dir) || !is_folder(dir)) {
    MnistSplits mnist = load_mnist(dir);  // a missing folder is reported by its IDX file names
    return {std::move(mnist.train), std::move(mnist.test), {}};
  }
  if (!is_split_folder(dir)) {
    ImageFolder all = read_image_folder(dir, options);
    return {std::move(all.data),
            {},
            std::move(all.class_names),
            std::move(all.ignored),
            std::move(all.skipped)};
  }
  ImageFolder train = read_image_folder((fs::path(dir) / "train").string(), options);
  ImageFolder test = read_image_folder((fs::path(dir) / "test").string(), options);
  check_same_classes(train, test, dir);
  FolderSplits splits{std::move(train.data), std::move(test.data), std::move(train.class_names),
                      std::move(train.ignored), std::move(train.skipped)};
  splits.ignored.insert(splits.ignored.end(), test.ignored.begin(), test.ignored.end());
  splits.skipped.insert(splits.skipped.end(), test.skipped.begin(), test.skipped.end());
  return splits;
}

FolderSplits load_dataset_folder_test(const std::string& dir, const ImageFolderOptions& options) {
  if (is_idx_folder(dir) || !is_folder(dir)) return {{}, load_mnist_test(dir), {}};
  const std::string test_dir = is_split_folder(dir) ? (fs::path(dir) / "test").string() : dir;
  ImageFolder test = read_image_folder(test_dir, options);
  return {{},
          std::move(test.data),
          std::move(test.class_names),
          std::move(test.ignored),
          std::move(test.skipped)};
}

}  // namespace imgcls
