// CIFAR-10 and CIFAR-100 binary files and folders. A file is read whole (bounded in size), its
// size checked to be a whole number of records before anything else is allocated, and every
// label checked against its range; the planes of each record are interleaved into the
// [N, 32, 32, 3] layout every dataset has. The contracts are in imgcls/data.hpp.
#include "data/cifar.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "core/read_file.hpp"
#include "imgcls/error.hpp"

namespace imgcls {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSide = 32;                               // every picture is 32x32
constexpr std::size_t kChannels = 3;                             // red, green, blue
constexpr std::size_t kPlaneBytes = std::size_t{32} * 32;        // one colour plane
constexpr std::size_t kPixelBytes = kChannels * kPlaneBytes;     // 3072: one picture
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{1} << 30;  // train.bin is 153,700,000
constexpr std::uint64_t kMaxNamesBytes = std::uint64_t{1} << 20;
constexpr std::int32_t kCifar10Classes = 10, kFineClasses = 100, kCoarseClasses = 20;

// What distinguishes the two datasets' files and folders.
struct Layout {
  const char* name;                // "CIFAR-10"
  std::size_t label_bytes;         // before the pixels of each record
  std::vector<std::string> train;  // the training files, in order
  std::string test;                // the test file
  const char* archive_folder;      // the folder the archive unpacks to
};

const Layout& layout(CifarKind kind) {
  static const Layout cifar10{"CIFAR-10",
                              1,
                              {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                               "data_batch_4.bin", "data_batch_5.bin"},
                              "test_batch.bin",
                              "cifar-10-batches-bin"};
  static const Layout cifar100{"CIFAR-100", 2, {"train.bin"}, "test.bin", "cifar-100-binary"};
  return kind == CifarKind::cifar10 ? cifar10 : cifar100;
}

std::size_t record_bytes(CifarKind kind) { return layout(kind).label_bytes + kPixelBytes; }

CifarKind other(CifarKind kind) {
  return kind == CifarKind::cifar10 ? CifarKind::cifar100 : CifarKind::cifar10;
}

// "a CIFAR-10 folder holds data_batch_1.bin to data_batch_5.bin and test_batch.bin"
std::string folder_contents(CifarKind kind) {
  const Layout& files = layout(kind);
  const std::string train = files.train.size() == 1
                                ? files.train.front()
                                : files.train.front() + " to " + files.train.back();
  return fmt::format("a {} folder holds {} and {}", files.name, train, files.test);
}

std::string archive_hint(CifarKind kind) {
  return fmt::format(
      "unpack the whole \"{} binary version\" archive (www.cs.toronto.edu/~kriz/cifar.html) and "
      "give its folder, {}",
      layout(kind).name, layout(kind).archive_folder);
}

// The label of CIFAR-100's byte `at` (0: coarse, 1: fine), or CIFAR-10's only one.
struct LabelByte {
  const char* what;  // "label", "coarse label", "fine label"
  std::int32_t classes;
};
std::array<LabelByte, 2> label_bytes_of(CifarKind kind) {
  if (kind == CifarKind::cifar10) return {LabelByte{"label", kCifar10Classes}, LabelByte{}};
  return {LabelByte{"coarse label", kCoarseClasses}, LabelByte{"fine label", kFineClasses}};
}

// Appends the records of one file: pixels interleaved, [count, 32, 32, 3], and the labels.
void append_records(std::span<const std::uint8_t> bytes, const std::string& source, CifarKind kind,
                    CifarLabels which, std::vector<std::uint8_t>& pixels,
                    std::vector<std::int32_t>& labels) {
  const Layout& files = layout(kind);
  const std::size_t record = record_bytes(kind);
  if (bytes.empty())
    throw InputError(
        source,
        fmt::format("the file is empty: a {} file holds records of {} bytes", files.name, record),
        archive_hint(kind));
  if (bytes.size() % record != 0) {
    const std::size_t other_record = record_bytes(other(kind));
    const std::string hint =
        bytes.size() % other_record == 0
            ? fmt::format(
                  "its size is a whole number of {}'s {}-byte records: is it a {} file "
                  "({})?",
                  layout(other(kind)).name, other_record, layout(other(kind)).name,
                  folder_contents(other(kind)))
            : "the file is truncated or damaged: " + archive_hint(kind);
    throw InputError(
        source,
        fmt::format("{} bytes are not a whole number of {}-byte {} records ({} "
                    "records and {} bytes more)",
                    bytes.size(), record, files.name, bytes.size() / record, bytes.size() % record),
        hint);
  }
  const std::size_t count = bytes.size() / record;
  const std::array<LabelByte, 2> label_bytes = label_bytes_of(kind);
  // CIFAR-100 records hold the coarse label first, then the fine one.
  const std::size_t kept_label = kind == CifarKind::cifar100 && which == CifarLabels::fine ? 1 : 0;
  const std::size_t first = pixels.size();
  pixels.resize(first + count * kPixelBytes);
  labels.reserve(labels.size() + count);
  for (std::size_t n = 0; n < count; ++n) {
    const std::uint8_t* in = bytes.data() + n * record;
    for (std::size_t b = 0; b < files.label_bytes; ++b)
      if (in[b] >= label_bytes[b].classes)
        throw InputError(source,
                         fmt::format("record {} (at byte {}) has the {} {}; {} {}s are 0 to {}", n,
                                     n * record, label_bytes[b].what, in[b], files.name,
                                     label_bytes[b].what, label_bytes[b].classes - 1),
                         fmt::format("the file is damaged, or not a {} file", files.name));
    labels.push_back(in[kept_label]);
    // planes [3][32 * 32] -> pixels [32 * 32][3]
    const std::uint8_t* planes = in + files.label_bytes;
    std::uint8_t* out = pixels.data() + first + n * kPixelBytes;
    for (std::size_t p = 0; p < kPlaneBytes; ++p)
      for (std::size_t c = 0; c < kChannels; ++c)
        out[p * kChannels + c] = planes[c * kPlaneBytes + p];
  }
}

Dataset dataset_of(std::vector<std::uint8_t> pixels, std::vector<std::int32_t> labels) {
  const auto count = static_cast<std::int64_t>(labels.size());
  return {
      PixelTensor({count, kSide, kSide, static_cast<std::int64_t>(kChannels)}, std::move(pixels)),
      std::move(labels)};
}

std::vector<std::uint8_t> read_cifar_bytes(const std::string& path, CifarKind kind) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw InputError(path, "not found: " + folder_contents(kind), archive_hint(kind));
  return read_file_bounded(path, kMaxFileBytes, std::string("a ") + layout(kind).name + " file");
}

std::string names_file(CifarKind kind, CifarLabels labels) {
  if (kind == CifarKind::cifar10) return "batches.meta.txt";
  return labels == CifarLabels::fine ? "fine_label_names.txt" : "coarse_label_names.txt";
}

std::size_t class_count(CifarKind kind, CifarLabels labels) {
  if (kind == CifarKind::cifar10) return kCifar10Classes;
  return labels == CifarLabels::fine ? kFineClasses : kCoarseClasses;
}

bool is_present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// The folder's splits: the test split, and the training split when `with_train`.
FolderSplits load_cifar(const std::string& dir, const CifarOptions& options, bool with_train) {
  const std::optional<CifarKind> found = cifar_folder_kind(dir);
  if (!found)
    throw InputError(
        dir, "holds no CIFAR files",
        folder_contents(CifarKind::cifar10) + "; " + folder_contents(CifarKind::cifar100));
  const CifarKind kind = *found;
  const Layout& files = layout(kind);
  // Every file is looked for before any is read: a partial set fails at once.
  std::vector<std::string> split_files = {files.test};
  if (with_train) split_files.insert(split_files.begin(), files.train.begin(), files.train.end());
  for (const std::string& name : split_files)
    if (!is_present(fs::path(dir) / name))
      throw InputError((fs::path(dir) / name).string(), "not found: " + folder_contents(kind),
                       archive_hint(kind));

  FolderSplits splits;
  const fs::path names_path = fs::path(dir) / names_file(kind, options.labels);
  const std::size_t classes = class_count(kind, options.labels);
  splits.class_names = is_present(names_path)
                           ? parse_class_names(read_file_bounded(names_path.string(),
                                                                 kMaxNamesBytes, "a names file"),
                                               names_path.string(), classes)
                           : cifar_class_names(kind, options.labels);
  if (with_train) {
    std::vector<std::uint8_t> pixels;
    std::vector<std::int32_t> labels;
    for (const std::string& name : files.train) {
      const std::string path = (fs::path(dir) / name).string();
      append_records(read_cifar_bytes(path, kind), path, kind, options.labels, pixels, labels);
    }
    splits.train = dataset_of(std::move(pixels), std::move(labels));
  }
  splits.test = read_cifar_file((fs::path(dir) / files.test).string(), kind, options.labels);
  return splits;
}

}  // namespace

Dataset parse_cifar(std::span<const std::uint8_t> bytes, const std::string& source, CifarKind kind,
                    CifarLabels labels) {
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> kept;
  append_records(bytes, source, kind, labels, pixels, kept);
  return dataset_of(std::move(pixels), std::move(kept));
}

std::vector<std::string> parse_class_names(std::span<const std::uint8_t> bytes,
                                           const std::string& source, std::size_t classes) {
  const char* hint = "write one class name per line, label 0 first";
  std::vector<std::string> names;
  std::string line;
  const auto finish_line = [&] {
    constexpr const char* kSpace = " \t\r";
    const std::size_t begin = line.find_first_not_of(kSpace);
    names.push_back(begin == std::string::npos
                        ? std::string()
                        : line.substr(begin, line.find_last_not_of(kSpace) - begin + 1));
    line.clear();
  };
  for (const std::uint8_t byte : bytes) {
    if (byte == '\n')
      finish_line();
    else
      line.push_back(static_cast<char>(byte));
  }
  if (!line.empty()) finish_line();
  while (!names.empty() && names.back().empty()) names.pop_back();

  constexpr unsigned char kFirstPrintable = 0x20, kDelete = 0x7f;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t line_number = i + 1;
    if (names[i].empty())
      throw InputError(source, fmt::format("line {} is blank", line_number), hint);
    if (std::any_of(names[i].begin(), names[i].end(), [](char c) {
          const auto byte = static_cast<unsigned char>(c);
          return byte < kFirstPrintable || byte == kDelete;
        }))
      throw InputError(source, fmt::format("line {} holds a control character", line_number), hint);
    const auto earlier =
        std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]);
    if (earlier != names.begin() + static_cast<std::ptrdiff_t>(i))
      throw InputError(source,
                       fmt::format("line {} names \"{}\" again (line {})", line_number, names[i],
                                   earlier - names.begin() + 1),
                       "each class needs a name of its own");
  }
  if (names.size() != classes)
    throw InputError(source, fmt::format("{} class names for {} classes", names.size(), classes),
                     hint);
  return names;
}

Dataset read_cifar_file(const std::string& path, CifarKind kind, CifarLabels labels) {
  return parse_cifar(read_cifar_bytes(path, kind), path, kind, labels);
}

std::vector<std::string> cifar_class_names(CifarKind kind, CifarLabels labels) {
  if (kind == CifarKind::cifar10)
    return {"airplane", "automobile", "bird",  "cat",  "deer",
            "dog",      "frog",       "horse", "ship", "truck"};
  if (labels == CifarLabels::coarse)
    return {"aquatic_mammals",
            "fish",
            "flowers",
            "food_containers",
            "fruit_and_vegetables",
            "household_electrical_devices",
            "household_furniture",
            "insects",
            "large_carnivores",
            "large_man-made_outdoor_things",
            "large_natural_outdoor_scenes",
            "large_omnivores_and_herbivores",
            "medium_mammals",
            "non-insect_invertebrates",
            "people",
            "reptiles",
            "small_mammals",
            "trees",
            "vehicles_1",
            "vehicles_2"};
  return {"apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
          "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
          "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
          "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
          "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
          "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
          "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
          "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
          "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
          "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
          "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
          "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
          "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
          "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
          "table",       "tank",          "telephone", "television", "tiger",        "tractor",
          "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
          "willow_tree", "wolf",          "woman",     "worm"};
}

std::optional<CifarKind> cifar_folder_kind(const std::string& dir) {
  const auto holds_any = [&](CifarKind kind) {
    const Layout& files = layout(kind);
    if (is_present(fs::path(dir) / files.test)) return true;
    return std::any_of(files.train.begin(), files.train.end(),
                       [&](const std::string& name) { return is_present(fs::path(dir) / name); });
  };
  const bool cifar10 = holds_any(CifarKind::cifar10), cifar100 = holds_any(CifarKind::cifar100);
  if (cifar10 && cifar100)
    throw InputError(dir,
                     "holds both CIFAR-10 files and CIFAR-100 files (" +
                         folder_contents(CifarKind::cifar10) + "; " +
                         folder_contents(CifarKind::cifar100) + ")",
                     "keep each dataset in a folder of its own");
  if (cifar10) return CifarKind::cifar10;
  if (cifar100) return CifarKind::cifar100;
  return std::nullopt;
}

FolderSplits load_cifar_folder(const std::string& dir, const CifarOptions& options) {
  return load_cifar(dir, options, true);
}

FolderSplits load_cifar_folder_test(const std::string& dir, const CifarOptions& options) {
  return load_cifar(dir, options, false);
}

}  // namespace imgcls
