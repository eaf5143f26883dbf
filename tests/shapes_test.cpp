// The generated colour dataset of tests/colour (coloured shapes) and its CIFAR-10 copy: the
// same seed writes the same files and another seed others; every class has its pictures in
// both splits, 32x32 PNG (or of many sizes), none repeated; each class's shape is in its hue; the
// CIFAR-10 files hold the drawn pixels in CIFAR-10's layout; and imgcls reads the image folder and
// the CIFAR-10 files into the same dataset, bit for bit.
#include "colour/shapes.hpp"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "support/ci.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using imgcls::shapes::ShapesOptions;
using imgcls::testing_support::read_file;
using imgcls::testing_support::TemporaryFolder;

constexpr ShapesOptions kSmall{.train_per_class = 12, .test_per_class = 4};
constexpr std::size_t kClasses = 10;

// Every file under `dir`, by path relative to it, with its bytes.
std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file())
      files[fs::relative(entry.path(), dir).string()] = read_file(entry.path());
  return files;
}

TEST(ShapesFolder, TheSameSeedWritesTheSameFilesAndAnotherSeedOthers) {
  const TemporaryFolder tmp("imgcls_shapes_seed");
  EXPECT_EQ(imgcls::shapes::write_shapes_folder((tmp.path() / "a").string(), kSmall),
            std::int64_t(kClasses) * 16);
  imgcls::shapes::write_shapes_folder((tmp.path() / "b").string(), kSmall);
  ShapesOptions other = kSmall;
  other.seed = 2;
  imgcls::shapes::write_shapes_folder((tmp.path() / "c").string(), other);
  const auto a = files_under(tmp.path() / "a");
  EXPECT_EQ(a.size(), kClasses * 16);
  EXPECT_TRUE(a == files_under(tmp.path() / "b")) << "seed 1 twice gave different files";
  const auto c = files_under(tmp.path() / "c");
  EXPECT_EQ(c.size(), a.size());
  std::size_t same = 0;
  for (const auto& [path, bytes] : a) same += c.contains(path) && c.at(path) == bytes ? 1 : 0;
  EXPECT_EQ(same, 0u) << "seed 2 repeated pictures of seed 1";
}

// The folder as imgcls reads it: ten classes in name order, 32x32 colour pictures, as many
// of each class as asked in each split; and no picture twice, within or across splits.
TEST(ShapesFolder, EveryClassHasItsShareOfDistinctColourPicturesInBothSplits) {
  const TemporaryFolder tmp("imgcls_shapes_layout");
  imgcls::shapes::write_shapes_folder(tmp.path().string(), kSmall);
  const std::vector<std::string>& names = imgcls::shapes::class_names();
  ASSERT_EQ(names.size(), kClasses);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), kClasses);
  for (const std::string split : {"train", "test"})
    for (const std::string& name : names) {
      std::int64_t count = 0;
      for (const auto& entry : fs::directory_iterator(tmp.path() / split / name)) {
        EXPECT_EQ(entry.path().extension(), ".png") << entry.path();
        const imgcls::PictureSize size = imgcls::probe_picture(entry.path().string());
        EXPECT_EQ(size.height, 32) << entry.path();
        EXPECT_EQ(size.width, 32) << entry.path();
        ++count;
      }
      EXPECT_EQ(count, split == "train" ? kSmall.train_per_class : kSmall.test_per_class)
          << split << "/" << name;
    }

  const imgcls::FolderSplits data = imgcls::load_dataset_folder(tmp.path().string(), {});
  EXPECT_EQ(data.class_names, names);
  EXPECT_TRUE(data.ignored.empty());
  ASSERT_EQ(data.train.images.shape(),
            (imgcls::Shape{std::int64_t(kClasses) * kSmall.train_per_class, 32, 32, 3}));
  ASSERT_EQ(data.test.images.shape(),
            (imgcls::Shape{std::int64_t(kClasses) * kSmall.test_per_class, 32, 32, 3}));
  for (const imgcls::Dataset* split : {&data.train, &data.test}) {
    std::vector<std::int64_t> per_class(kClasses, 0);
    for (const std::int32_t label : split->labels) ++per_class.at(static_cast<std::size_t>(label));
    EXPECT_THAT(per_class, testing::Each(split->size() / std::int64_t(kClasses)));
  }
  std::set<std::string> pictures;
  constexpr std::size_t kPictureBytes = 32 * 32 * 3;
  for (const imgcls::Dataset* split : {&data.train, &data.test})
    for (std::int64_t i = 0; i < split->size(); ++i) {
      const auto* first = reinterpret_cast<const char*>(split->images.data()) + i * kPictureBytes;
      pictures.emplace(first, kPictureBytes);
    }
  EXPECT_EQ(pictures.size(), std::size_t(data.train.size() + data.test.size()))
      << "some pictures are the same";
}

// Each class's shape is in its hue: the strongly coloured pixels (saturation above 0.55;
// the warm-lit backgrounds stay below 0.5) of eight of its pictures have a mean hue within
// 15 degrees of the class's (its name's colour). Checks the byte order of the drawing (red
// must not come out blue) and that no class lost its shape.
TEST(ShapesFolder, EachClassIsDrawnInTheHueItsNameSays) {
  const std::map<std::string, double> hues{{"azure_hexagon", 216}, {"blue_diamond", 252},
                                           {"cyan_ring", 180},     {"green_square", 144},
                                           {"lime_cross", 108},    {"orange_triangle", 36},
                                           {"pink_crescent", 324}, {"red_circle", 0},
                                           {"violet_bar", 288},    {"yellow_star", 72}};
  for (int label = 0; label < int(kClasses); ++label) {
    const std::string& name = imgcls::shapes::class_names()[static_cast<std::size_t>(label)];
    ASSERT_TRUE(hues.contains(name)) << name;
    double x = 0, y = 0;  // the sum of the strong pixels' hues as unit vectors
    std::int64_t strong = 0;
    for (std::int64_t i = 0; i < 8; ++i) {
      const imgcls::shapes::Picture picture = imgcls::shapes::draw_picture(kSmall, 0, label, i);
      ASSERT_EQ(picture.height, 32);
      ASSERT_EQ(picture.width, 32);
      ASSERT_EQ(picture.rgb.size(), std::size_t(32 * 32 * 3));
      for (std::size_t p = 0; p < picture.rgb.size(); p += 3) {
        const double r = picture.rgb[p], g = picture.rgb[p + 1], b = picture.rgb[p + 2];
        const double high = std::max({r, g, b}), low = std::min({r, g, b});
        if (high == 0 || (high - low) / high <= 0.55) continue;
        // The hue of (r, g, b), in radians.
        const double hue = std::atan2(std::sqrt(3.0) * (g - b), 2 * r - g - b);
        x += std::cos(hue);
        y += std::sin(hue);
        ++strong;
      }
    }
    EXPECT_GT(strong, 8 * 30) << name << ": hardly any strongly coloured pixels";
    const double mean = std::atan2(y, x) * 180.0 / std::numbers::pi;
    const double off = std::remainder(mean - hues.at(name), 360.0);
    EXPECT_LT(std::abs(off), 15.0) << name << ": mean hue " << mean;
  }
}

// The CIFAR-10 record layout read back by hand: label byte, red plane, green, blue; the
// training pictures split evenly over five files, in folder order.
TEST(ShapesCifar, TheBinaryFilesHoldTheDrawnPicturesInCifar10Layout) {
  const TemporaryFolder tmp("imgcls_shapes_cifar");
  imgcls::shapes::write_shapes_cifar10(tmp.path().string(), kSmall);
  constexpr std::size_t kPlane = 32 * 32, kRecord = 1 + 3 * kPlane;
  const std::int64_t train = std::int64_t(kClasses) * kSmall.train_per_class;
  // The records of `file`, which must be pictures [first, first + count) of `split`.
  const auto check = [&](const std::string& file, int split, std::int64_t first,
                         std::int64_t count) {
    const std::string bytes = read_file(tmp.path() / file);
    ASSERT_EQ(bytes.size(), std::size_t(count) * kRecord) << file;
    const std::int64_t per_class = split == 0 ? kSmall.train_per_class : kSmall.test_per_class;
    for (std::int64_t n = 0; n < count; ++n) {
      const auto* record = reinterpret_cast<const std::uint8_t*>(bytes.data()) + n * kRecord;
      const std::int64_t index = first + n;
      const int label = int(index / per_class);
      ASSERT_EQ(record[0], label) << file << " record " << n;
      const imgcls::shapes::Picture picture =
          imgcls::shapes::draw_picture(kSmall, split, label, index % per_class);
      for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t p = 0; p < kPlane; ++p)
          ASSERT_EQ(record[1 + c * kPlane + p], picture.rgb[p * 3 + c])
              << file << " record " << n << ", channel " << c << ", pixel " << p;
    }
  };
  for (int b = 0; b < 5; ++b)
    check(fmt::format("data_batch_{}.bin", b + 1), 0, train * b / 5,
          train * (b + 1) / 5 - train * b / 5);
  check("test_batch.bin", 1, 0, std::int64_t(kClasses) * kSmall.test_per_class);
  std::string names;
  for (const std::string& name : imgcls::shapes::class_names()) names += name + "\n";
  EXPECT_EQ(read_file(tmp.path() / "batches.meta.txt"), names);
  EXPECT_FALSE(fs::exists(tmp.path() / "data_batch_6.bin"));
}

// Parity: the image folder (PNG files, decoded; pictures of many sizes made 32x32 as the
// folder reader makes them) and the CIFAR-10 files (imgcls's CIFAR reader) give the same
// dataset: class names, labels and every pixel byte of both splits.
class ShapesParity : public testing::TestWithParam<std::int64_t> {};
TEST_P(ShapesParity, TheFolderAndTheCifarFilesReadAsTheSameDatasetBitForBit) {
  const TemporaryFolder tmp("imgcls_shapes_parity");
  const ShapesOptions options{
      .seed = 5, .train_per_class = 20, .test_per_class = 5, .max_side = GetParam()};
  imgcls::shapes::write_shapes_folder((tmp.path() / "folder").string(), options);
  imgcls::shapes::write_shapes_cifar10((tmp.path() / "cifar").string(), options);
  if (options.max_side > 0) {  // pictures of many sizes, within the bounds
    std::set<std::pair<std::int64_t, std::int64_t>> sizes;
    for (const auto& entry : fs::recursive_directory_iterator(tmp.path() / "folder"))
      if (entry.is_regular_file()) {
        const imgcls::Image picture = imgcls::read_picture(entry.path().string());
        EXPECT_GE(std::min(picture.height, picture.width), 32) << entry.path();
        EXPECT_LE(std::max(picture.height, picture.width), options.max_side) << entry.path();
        sizes.emplace(picture.height, picture.width);
      }
    EXPECT_GT(sizes.size(), 100u) << "of 250 pictures";
  }
  const imgcls::FolderSplits folder =
      imgcls::load_dataset_folder((tmp.path() / "folder").string(), {.height = 32, .width = 32});
  ASSERT_EQ(imgcls::cifar_folder_kind((tmp.path() / "cifar").string()), imgcls::CifarKind::cifar10);
  const imgcls::FolderSplits cifar =
      imgcls::load_dataset_folder((tmp.path() / "cifar").string(), {});
  EXPECT_EQ(cifar.class_names, imgcls::shapes::class_names());
  EXPECT_EQ(folder.class_names, cifar.class_names);
  const auto same = [](const imgcls::Dataset& a, const imgcls::Dataset& b, const char* split) {
    ASSERT_EQ(a.images.shape(), b.images.shape()) << split;
    EXPECT_EQ(a.labels, b.labels) << split;
    const std::int64_t bytes = a.images.size();
    std::int64_t differ = 0;
    for (std::int64_t i = 0; i < bytes; ++i) differ += a.images.data()[i] != b.images.data()[i];
    EXPECT_EQ(differ, 0) << split << ": pixel bytes differ";
  };
  same(folder.train, cifar.train, "train");
  same(folder.test, cifar.test, "test");
  EXPECT_EQ(folder.train.size(), 10 * options.train_per_class);
  EXPECT_EQ(folder.test.size(), 10 * options.test_per_class);
}
INSTANTIATE_TEST_SUITE_P(Sizes, ShapesParity, testing::Values(0, 96),
                         [](const testing::TestParamInfo<std::int64_t>& param) {
                           return param.param == 0 ? std::string("AllThirtyTwo")
                                                   : fmt::format("SidesUpTo{}", param.param);
                         });

TEST(ShapesCifar, OnlyThirtyTwoPixelPicturesMakeCifarFiles) {
  const TemporaryFolder tmp("imgcls_shapes_cifar_side");
  ShapesOptions options = kSmall;
  options.side = 40;
  EXPECT_THROW(imgcls::shapes::write_shapes_cifar10(tmp.path().string(), options), imgcls::Error);
  EXPECT_FALSE(fs::exists(tmp.path() / "test_batch.bin"));
}

TEST(ShapesFolder, AFolderThatCannotBeMadeIsNamed) {
  const TemporaryFolder tmp("imgcls_shapes_unwritable");
  const fs::path file = tmp.path() / "a_file";
  std::ofstream(file) << "not a folder";
  try {
    imgcls::shapes::write_shapes_folder((file / "data").string(), kSmall);
    ADD_FAILURE() << "wrote under a file";
  } catch (const imgcls::InputError& e) {
    EXPECT_THAT(e.source(), testing::StartsWith((file / "data").string()));
  }
}

}  // namespace
