// Standard dataset formats besides MNIST's IDX files and image folders:
//  - CIFAR-10 and CIFAR-100 binary files and folders (imgcls/data.hpp), written here record by
//    record with known labels and pixels and read back exactly (planes interleaved, checked
//    pixel by pixel), the class names files, and every refusal naming the file at fault:
//    empty, truncated, of the other kind, a label out of range, a missing batch or test file,
//    both kinds in one folder, bad names files, the archive's folder given one level too high;
//  - `imgcls train/evaluate/show --data DIR` on such folders;
//  - Fashion-MNIST by name (`--data fashion-mnist`, Debian's dataset-fashion-mnist): its test
//    split, and a model trained on it that names clothes and is not a digit model.
#include "data/cifar.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "support/ci.hpp"
#include "support/process.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using testing::HasSubstr;
using testing_support::Outcome;

constexpr int kSide = 32;
constexpr int kPlane = kSide * kSide;
constexpr int kRecords = 20;                     // per file
constexpr int kCifar10Files = 6, kTestFile = 5;  // data_batch_1..5.bin, then test_batch.bin

// The byte at row y, column x of plane c (0 red, 1 green, 2 blue) of record r of file f: an
// axis read in the wrong order, or the planes read as if interleaved, gives other values.
std::uint8_t pixel(int file, int record, int c, int y, int x) {
  return static_cast<std::uint8_t>(file * 41 + record * 7 + c * 85 + y * 3 + x * 5);
}
std::int32_t cifar10_label(int file, int record) { return (file * 3 + record) % 10; }
std::int32_t fine_label(int file, int record) { return (file * 37 + record * 11) % 100; }
std::int32_t coarse_label(int file, int record) { return (file + record * 3) % 20; }

// A file of `count` records of `kind`: the labels, then the planes (red, green, blue), each
// row by row.
Bytes cifar_file(CifarKind kind, int file, int count = kRecords) {
  Bytes bytes;
  for (int r = 0; r < count; ++r) {
    if (kind == CifarKind::cifar10) {
      bytes.push_back(static_cast<std::uint8_t>(cifar10_label(file, r)));
    } else {
      bytes.push_back(static_cast<std::uint8_t>(coarse_label(file, r)));
      bytes.push_back(static_cast<std::uint8_t>(fine_label(file, r)));
    }
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x) bytes.push_back(pixel(file, r, c, y, x));
  }
  return bytes;
}

std::string cifar10_file_name(int file) {
  return file == kTestFile ? "test_batch.bin" : "data_batch_" + std::to_string(file + 1) + ".bin";
}

// The pixels of `data`'s image `index` are those of record `record` of file `file`: counts
// the differences (0 when all 3072 agree), so a failure says how much is wrong.
int pixel_differences(const Dataset& data, std::int64_t index, int file, int record) {
  const std::uint8_t* image = data.images.data() + index * 3 * kPlane;
  int differences = 0;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x)
      for (int c = 0; c < 3; ++c)
        if (image[(y * kSide + x) * 3 + c] != pixel(file, record, c, y, x)) ++differences;
  return differences;
}

std::string lines(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += name + "\n";
  return text;
}

class CifarTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("imgcls_cifar_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write(const std::string& name, const Bytes& bytes) const {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream out(path(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << name;
    return path(name);
  }
  std::string write_text(const std::string& name, const std::string& text) const {
    return write(name, Bytes(text.begin(), text.end()));
  }

  // A CIFAR-10 folder `name`/ with every file, or all but `left_out`.
  std::string cifar10_folder(const std::string& name, int left_out = -1) const {
    for (int f = 0; f < kCifar10Files; ++f)
      if (f != left_out)
        write(name + "/" + cifar10_file_name(f), cifar_file(CifarKind::cifar10, f));
    return path(name);
  }
  // A CIFAR-100 folder `name`/: train.bin (file 0, 2 * kRecords records) and test.bin (file 1).
  std::string cifar100_folder(const std::string& name) const {
    write(name + "/train.bin", cifar_file(CifarKind::cifar100, 0, 2 * kRecords));
    write(name + "/test.bin", cifar_file(CifarKind::cifar100, 1));
    return path(name);
  }

  Outcome run(const std::vector<std::string>& args) const {
    return testing_support::run_process(IMGCLS_BINARY, args, dir_);
  }

  // The InputError `load` throws; fails the test when none is thrown.
  template <typename Load>
  static InputError error_of(Load load) {
    try {
      load();
    } catch (const InputError& e) {
      return e;
    }
    ADD_FAILURE() << "no InputError";
    return InputError("", "");
  }

  fs::path dir_;
};

TEST_F(CifarTest, Cifar10FileIsReadRecordByRecordWithItsPlanesInterleaved) {
  const Dataset data =
      read_cifar_file(write("one.bin", cifar_file(CifarKind::cifar10, 2)), CifarKind::cifar10);
  ASSERT_EQ(data.images.shape(), (Shape{kRecords, kSide, kSide, 3}));
  ASSERT_EQ(data.size(), kRecords);
  for (int r = 0; r < kRecords; ++r) {
    EXPECT_EQ(data.labels[static_cast<std::size_t>(r)], cifar10_label(2, r)) << "record " << r;
    EXPECT_EQ(pixel_differences(data, r, 2, r), 0) << "record " << r;
  }
  // One pixel spelled out: record 3, row 1, column 2 is red 0+..., green +85, blue +170.
  const std::uint8_t* rgb = data.images.data() + ((3 * kSide + 1) * kSide + 2) * 3;
  EXPECT_EQ(rgb[0], pixel(2, 3, 0, 1, 2));
  EXPECT_EQ(rgb[1], static_cast<std::uint8_t>(rgb[0] + 85));
  EXPECT_EQ(rgb[2], static_cast<std::uint8_t>(rgb[0] + 170));
  // The same from bytes in memory (the parser a fuzz harness can call).
  const Bytes bytes = cifar_file(CifarKind::cifar10, 2);
  const Dataset parsed = parse_cifar(bytes, "memory", CifarKind::cifar10, CifarLabels::fine);
  EXPECT_EQ(parsed.images.values(), data.images.values());
  EXPECT_EQ(parsed.labels, data.labels);
}

TEST_F(CifarTest, Cifar100FileGivesFineLabelsOrCoarseOnRequest) {
  const std::string file = write("train.bin", cifar_file(CifarKind::cifar100, 4));
  const Dataset fine = read_cifar_file(file, CifarKind::cifar100);
  const Dataset coarse = read_cifar_file(file, CifarKind::cifar100, CifarLabels::coarse);
  ASSERT_EQ(fine.images.shape(), (Shape{kRecords, kSide, kSide, 3}));
  for (int r = 0; r < kRecords; ++r) {
    EXPECT_EQ(fine.labels[static_cast<std::size_t>(r)], fine_label(4, r)) << "record " << r;
    EXPECT_EQ(coarse.labels[static_cast<std::size_t>(r)], coarse_label(4, r)) << "record " << r;
    EXPECT_EQ(pixel_differences(fine, r, 4, r), 0) << "record " << r;
  }
  EXPECT_EQ(coarse.images.values(), fine.images.values());
}

TEST_F(CifarTest, Cifar10FolderTrainsOnTheFiveBatchesInOrderAndTestsOnTheTestBatch) {
  const std::string dir = cifar10_folder("cifar-10-batches-bin");
  ASSERT_EQ(cifar_folder_kind(dir), CifarKind::cifar10);
  for (const FolderSplits& splits : {load_cifar_folder(dir), load_dataset_folder(dir, {})}) {
    ASSERT_EQ(splits.train.images.shape(), (Shape{5 * kRecords, kSide, kSide, 3}));
    ASSERT_EQ(splits.test.images.shape(), (Shape{kRecords, kSide, kSide, 3}));
    for (int f = 0; f < 5; ++f)
      for (int r = 0; r < kRecords; ++r) {
        const std::int64_t i = f * kRecords + r;
        EXPECT_EQ(splits.train.labels[static_cast<std::size_t>(i)], cifar10_label(f, r)) << i;
        EXPECT_EQ(pixel_differences(splits.train, i, f, r), 0) << "training image " << i;
      }
    for (int r = 0; r < kRecords; ++r) {
      EXPECT_EQ(splits.test.labels[static_cast<std::size_t>(r)], cifar10_label(kTestFile, r));
      EXPECT_EQ(pixel_differences(splits.test, r, kTestFile, r), 0) << "test image " << r;
    }
    EXPECT_EQ(splits.class_names, cifar_class_names(CifarKind::cifar10));  // no batches.meta.txt
  }
  const FolderSplits test = load_dataset_folder_test(dir, {});
  EXPECT_EQ(test.train.size(), 0);
  EXPECT_EQ(test.test.labels, load_cifar_folder(dir).test.labels);
  EXPECT_EQ(test.class_names, cifar_class_names(CifarKind::cifar10));
}

TEST_F(CifarTest, Cifar100FolderReadsTrainAndTestWithFineOrCoarseLabels) {
  const std::string dir = cifar100_folder("cifar-100-binary");
  ASSERT_EQ(cifar_folder_kind(dir), CifarKind::cifar100);
  const FolderSplits fine = load_dataset_folder(dir, {});
  ASSERT_EQ(fine.train.size(), 2 * kRecords);
  ASSERT_EQ(fine.test.size(), kRecords);
  for (int r = 0; r < 2 * kRecords; ++r) {
    EXPECT_EQ(fine.train.labels[static_cast<std::size_t>(r)], fine_label(0, r));
    EXPECT_EQ(pixel_differences(fine.train, r, 0, r), 0) << "training image " << r;
  }
  EXPECT_EQ(fine.test.labels[5], fine_label(1, 5));
  EXPECT_EQ(fine.class_names, cifar_class_names(CifarKind::cifar100));
  const FolderSplits coarse = load_cifar_folder(dir, {.labels = CifarLabels::coarse});
  EXPECT_EQ(coarse.train.labels[7], coarse_label(0, 7));
  EXPECT_EQ(coarse.class_names, cifar_class_names(CifarKind::cifar100, CifarLabels::coarse));
  EXPECT_EQ(load_dataset_folder_test(dir, {}).test.labels, fine.test.labels);
}

// The archives' name files, as they come (a blank line at the end, maybe CRLF), and the
// standard names used without them.
TEST_F(CifarTest, NamesFilesNameTheClassesAndTheStandardNamesStandInForThem) {
  const std::vector<std::string> ten = cifar_class_names(CifarKind::cifar10);
  const std::vector<std::string> fine = cifar_class_names(CifarKind::cifar100);
  const std::vector<std::string> coarse =
      cifar_class_names(CifarKind::cifar100, CifarLabels::coarse);
  ASSERT_EQ(ten.size(), 10u);
  ASSERT_EQ(fine.size(), 100u);
  ASSERT_EQ(coarse.size(), 20u);
  EXPECT_EQ(ten.front(), "airplane");
  EXPECT_EQ(ten.back(), "truck");
  EXPECT_EQ(fine.front(), "apple");
  EXPECT_EQ(fine[1], "aquarium_fish");
  EXPECT_EQ(fine[39], "keyboard");
  EXPECT_EQ(fine.back(), "worm");
  EXPECT_EQ(coarse.front(), "aquatic_mammals");
  EXPECT_EQ(coarse.back(), "vehicles_2");
  for (const auto* names :
       {&ten, &fine, &coarse}) {  // sorted lists, so distinct when strictly rising
    std::vector<std::string> sorted = *names;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  }

  const std::string dir = cifar10_folder("named");
  write_text(
      "named/batches.meta.txt",
      "plane\r\ncar\r\n bird \r\ncat\r\ndeer\r\ndog\r\nfrog\r\nhorse\r\nship\r\ntruck\r\n\r\n\n");
  EXPECT_EQ(load_dataset_folder(dir, {}).class_names,
            (std::vector<std::string>{"plane", "car", "bird", "cat", "deer", "dog", "frog", "horse",
                                      "ship", "truck"}));
  EXPECT_EQ(load_dataset_folder_test(dir, {}).class_names[0], "plane");

  const std::string hundred = cifar100_folder("named100");
  std::vector<std::string> fine_names, coarse_names;
  for (int c = 0; c < 100; ++c) fine_names.push_back("fine " + std::to_string(c));
  for (int c = 0; c < 20; ++c) coarse_names.push_back("coarse " + std::to_string(c));
  write_text("named100/fine_label_names.txt", lines(fine_names));
  write_text("named100/coarse_label_names.txt", lines(coarse_names));
  EXPECT_EQ(load_cifar_folder(hundred).class_names, fine_names);
  EXPECT_EQ(load_cifar_folder(hundred, {.labels = CifarLabels::coarse}).class_names, coarse_names);
}

TEST_F(CifarTest, TheTestSplitAloneNeedsOnlyTheTestFile) {
  write("only_test/test_batch.bin", cifar_file(CifarKind::cifar10, kTestFile));
  EXPECT_EQ(load_dataset_folder_test(path("only_test"), {}).test.size(), kRecords);
  const InputError training = error_of([&] { load_dataset_folder(path("only_test"), {}); });
  EXPECT_EQ(training.source(), path("only_test/data_batch_1.bin"));
}

TEST_F(CifarTest, DamagedFilesAreRefusedNamingTheFileAndTheProblem) {
  const Bytes good = cifar_file(CifarKind::cifar10, 0);

  const Bytes truncated(good.begin(), good.end() - 1);
  const InputError short_file =
      error_of([&] { read_cifar_file(write("short.bin", truncated), CifarKind::cifar10); });
  EXPECT_EQ(short_file.source(), path("short.bin"));
  EXPECT_EQ(short_file.problem(),
            "61459 bytes are not a whole number of 3073-byte CIFAR-10 records (19 records and "
            "3072 bytes more)");
  EXPECT_THAT(short_file.hint(), HasSubstr("truncated"));

  const InputError empty =
      error_of([&] { read_cifar_file(write("empty.bin", {}), CifarKind::cifar10); });
  EXPECT_EQ(empty.source(), path("empty.bin"));
  EXPECT_THAT(empty.problem(), HasSubstr("the file is empty"));

  // A file of the other kind: the hint says which it looks like.
  const std::string hundred = write("train.bin", cifar_file(CifarKind::cifar100, 0));
  const InputError wrong_kind = error_of([&] { read_cifar_file(hundred, CifarKind::cifar10); });
  EXPECT_THAT(wrong_kind.problem(), HasSubstr("not a whole number of 3073-byte CIFAR-10 records"));
  EXPECT_THAT(wrong_kind.hint(), HasSubstr("is it a CIFAR-100 file"));
  const std::string ten = write("ten.bin", cifar_file(CifarKind::cifar10, 0));
  EXPECT_THAT(error_of([&] { read_cifar_file(ten, CifarKind::cifar100); }).hint(),
              HasSubstr("is it a CIFAR-10 file"));

  const InputError missing =
      error_of([&] { read_cifar_file(path("nowhere.bin"), CifarKind::cifar10); });
  EXPECT_EQ(missing.source(), path("nowhere.bin"));
  EXPECT_THAT(missing.problem(), HasSubstr("not found"));
}

TEST_F(CifarTest, LabelsOutOfRangeAreRefusedNamingTheRecord) {
  constexpr std::size_t kRecord10 = 3073, kRecord100 = 3074;
  Bytes ten = cifar_file(CifarKind::cifar10, 0);
  ten[5 * kRecord10] = 10;
  const InputError label =
      error_of([&] { read_cifar_file(write("ten.bin", ten), CifarKind::cifar10); });
  EXPECT_EQ(label.source(), path("ten.bin"));
  EXPECT_EQ(label.problem(),
            "record 5 (at byte 15365) has the label 10; CIFAR-10 labels are 0 to 9");

  Bytes coarse = cifar_file(CifarKind::cifar100, 0);
  coarse[2 * kRecord100] = 20;
  // Either label out of range is damage, whichever labels are asked for.
  const InputError bad_coarse =
      error_of([&] { read_cifar_file(write("coarse.bin", coarse), CifarKind::cifar100); });
  EXPECT_EQ(bad_coarse.source(), path("coarse.bin"));
  EXPECT_THAT(bad_coarse.problem(),
              HasSubstr("record 2 (at byte 6148) has the coarse label 20; CIFAR-100 coarse labels "
                        "are 0 to 19"));

  Bytes fine = cifar_file(CifarKind::cifar100, 0);
  fine[7 * kRecord100 + 1] = 100;
  const InputError bad_fine = error_of(
      [&] { read_cifar_file(write("fine.bin", fine), CifarKind::cifar100, CifarLabels::coarse); });
  EXPECT_THAT(bad_fine.problem(),
              HasSubstr("record 7 (at byte 21518) has the fine label 100; CIFAR-100 fine labels "
                        "are 0 to 99"));
}

// A partial set is refused (not read with a warning): the missing file is named before any
// file is read, whichever it is.
TEST_F(CifarTest, PartialSetsAreRefusedNamingTheMissingFile) {
  const std::string dir = cifar10_folder("partial", 2);
  for (const auto& load : std::vector<std::function<void()>>{
           [&] { load_cifar_folder(dir); }, [&] { load_dataset_folder(dir, {}); }}) {
    const InputError missing = error_of(load);
    EXPECT_EQ(missing.source(), path("partial/data_batch_3.bin"));
    EXPECT_EQ(missing.problem(),
              "not found: a CIFAR-10 folder holds data_batch_1.bin to data_batch_5.bin and "
              "test_batch.bin");
    EXPECT_THAT(missing.hint(), HasSubstr("CIFAR-10 binary version"));
  }
  const std::string no_test = cifar10_folder("no_test", kTestFile);
  EXPECT_EQ(error_of([&] { load_dataset_folder(no_test, {}); }).source(),
            path("no_test/test_batch.bin"));
  EXPECT_EQ(error_of([&] { load_dataset_folder_test(no_test, {}); }).source(),
            path("no_test/test_batch.bin"));

  write("hundred/train.bin", cifar_file(CifarKind::cifar100, 0));
  const InputError no_test100 = error_of([&] { load_dataset_folder(path("hundred"), {}); });
  EXPECT_EQ(no_test100.source(), path("hundred/test.bin"));
  EXPECT_EQ(no_test100.problem(), "not found: a CIFAR-100 folder holds train.bin and test.bin");

  // A damaged batch among good ones is named.
  const std::string damaged = cifar10_folder("damaged");
  const Bytes good = cifar_file(CifarKind::cifar10, 3);
  write("damaged/data_batch_4.bin", Bytes(good.begin(), good.begin() + 100));
  EXPECT_EQ(error_of([&] { load_dataset_folder(damaged, {}); }).source(),
            path("damaged/data_batch_4.bin"));
}

TEST_F(CifarTest, FoldersThatAreNotOneCifarSetAreRefusedNamingTheFolder) {
  const std::string both = cifar10_folder("both");
  write("both/train.bin", cifar_file(CifarKind::cifar100, 0));
  const InputError mixed = error_of([&] { load_dataset_folder(both, {}); });
  EXPECT_EQ(mixed.source(), both);
  EXPECT_THAT(mixed.problem(), HasSubstr("holds both CIFAR-10 files and CIFAR-100 files"));

  fs::create_directories(path("plain"));
  EXPECT_FALSE(cifar_folder_kind(path("plain")).has_value());
  EXPECT_THAT(error_of([&] { load_cifar_folder(path("plain")); }).problem(),
              HasSubstr("holds no CIFAR files"));

  // The folder the archive unpacks into, given one level too high.
  cifar10_folder("download/cifar-10-batches-bin");
  for (const auto& load : std::vector<std::function<void()>>{
           [&] { load_dataset_folder(path("download"), {}); },
           [&] { load_dataset_folder_test(path("download"), {}); }}) {
    const InputError nested = error_of(load);
    EXPECT_EQ(nested.source(), path("download"));
    EXPECT_THAT(nested.problem(), HasSubstr("holds the CIFAR-10 folder cifar-10-batches-bin"));
    EXPECT_THAT(nested.hint(), HasSubstr("give " + path("download/cifar-10-batches-bin")));
  }
}

TEST_F(CifarTest, BadNamesFilesAreRefusedNamingThem) {
  const std::string dir = cifar10_folder("names");
  const std::string names = path("names/batches.meta.txt");
  const std::vector<std::string> nine = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  struct Case {
    std::string text, problem;
  };
  for (const Case& bad : std::vector<Case>{
           {lines(nine), "9 class names for 10 classes"},
           {"a\nb\n\nc\nd\ne\nf\ng\nh\ni\n", "line 3 is blank"},
           {"a\nb\nc\nd\ne\nf\ng\nh\ni\nb\n", "line 10 names \"b\" again (line 2)"},
           {"a\nb\nc\x1b[2J\nd\ne\nf\ng\nh\ni\nj\n", "line 3 holds a control character"}}) {
    write_text("names/batches.meta.txt", bad.text);
    const InputError error = error_of([&] { load_dataset_folder(dir, {}); });
    EXPECT_EQ(error.source(), names);
    EXPECT_EQ(error.problem(), bad.problem);
  }
}

// --- The command line -------------------------------------------------------------------

TEST_F(CifarTest, TrainEvaluateAndShowCommandsTakeACifar10Folder) {
  const std::string dir = cifar10_folder("cifar-10-batches-bin");
  const std::string model = path("cifar.safetensors");
  const Outcome trained = run({"train", "--arch", "seed", "--data", dir, "--epochs", "1",
                               "--batch-size", "10", "--threads", "1", "--json", "--out", model});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto result = nlohmann::json::parse(trained.out);
  EXPECT_EQ(result.at("data"), dir);

  const Sequential saved = load_model(model);
  EXPECT_EQ(saved.input_shape(), (Shape{kSide, kSide, 3}));
  EXPECT_EQ(saved.output_shape(), (Shape{10}));
  EXPECT_EQ(saved.declared_class_names(), cifar_class_names(CifarKind::cifar10));
  EXPECT_EQ(saved.preprocessing(), Preprocessing::stretch);

  const Outcome evaluated =
      run({"evaluate", model, "--json", "--threads", "1"});  // data as recorded
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const auto evaluation = nlohmann::json::parse(evaluated.out);
  EXPECT_EQ(evaluation.at("n"), kRecords);
  EXPECT_DOUBLE_EQ(evaluation.at("accuracy").get<double>(),
                   result.at("test_accuracy").get<double>());
  EXPECT_EQ(evaluation.at("per_class").at(0).at("class"), "airplane");

  const Outcome shown =
      run({"show", model, "--kind", "samples", "--out", path("samples.png"), "--threads", "1"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("(20 images from " + dir + ")"));
  EXPECT_TRUE(fs::exists(path("samples.png")));

  // Data of the same shape with other classes is refused.
  const Outcome other = run({"evaluate", model, "--data", cifar100_folder("cifar-100-binary")});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr("the data's classes [apple, aquarium_fish"));
  EXPECT_THAT(other.err, HasSubstr("differ from the model's [airplane, automobile"));
}

TEST_F(CifarTest, TrainCommandTakesACifar100FolderWithItsFineLabels) {
  const std::string dir = cifar100_folder("cifar-100-binary");
  const std::string model = path("cifar100.safetensors");
  const Outcome trained = run({"train", "--arch", "seed", "--data", dir, "--epochs", "1",
                               "--threads", "1", "--out", model});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_THAT(trained.out,
              HasSubstr("40 training, 0 validation and 20 test images of [32, 32, 3]"));
  const Sequential saved = load_model(model);
  EXPECT_EQ(saved.output_shape(), (Shape{100}));
  EXPECT_EQ(saved.declared_class_names(), cifar_class_names(CifarKind::cifar100));
}

TEST_F(CifarTest, TrainCommandRefusesDamagedOrPartialFoldersAndPictureOptions) {
  const std::string partial = cifar10_folder("partial", 4);
  const Outcome missing = run({"train", "--data", partial, "--epochs", "1", "--out", path("m")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr(path("partial/data_batch_5.bin") + ": not found"));

  const std::string dir = cifar10_folder("full");
  Bytes labels_wrong = cifar_file(CifarKind::cifar10, 1);
  labels_wrong[0] = 200;
  write("full/data_batch_2.bin", labels_wrong);
  const Outcome damaged = run({"train", "--data", dir, "--epochs", "1", "--out", path("m")});
  EXPECT_EQ(damaged.exit_code, 1);
  EXPECT_THAT(damaged.err, HasSubstr(path("full/data_batch_2.bin") + ": record 0 (at byte 0) has "
                                                                     "the label 200"));

  write("full/data_batch_2.bin", cifar_file(CifarKind::cifar10, 1));
  const Outcome grey =
      run({"train", "--data", dir, "--channels", "1", "--epochs", "1", "--out", path("m")});
  EXPECT_EQ(grey.exit_code, 1);
  EXPECT_THAT(grey.err,
              HasSubstr("--channels: 1 for the images of " + dir + ", which are [32, 32, 3]"));
  EXPECT_FALSE(fs::exists(path("m")));
}

// Digits (an IDX folder without names) are prepared as MNIST digits: --resize is refused.
TEST_F(CifarTest, ResizeIsRefusedForDigits) {
  Bytes images{0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28};
  images.resize(images.size() + 4 * 28 * 28, 128);
  const Bytes labels{0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4};
  for (const char* split : {"train", "t10k"}) {
    write(std::string("digits/") + split + "-images-idx3-ubyte", images);
    write(std::string("digits/") + split + "-labels-idx1-ubyte", labels);
  }
  const Outcome refused = run({"train", "--data", path("digits"), "--resize", "crop", "--epochs",
                               "1", "--out", path("d.safetensors")});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("--resize: the digits of " + path("digits") +
                                     " are prepared as MNIST digits"));
  const Outcome digits = run({"train", "--data", path("digits"), "--epochs", "1", "--out",
                              path("d.safetensors"), "--threads", "1"});
  ASSERT_EQ(digits.exit_code, 0) << digits.err;
  EXPECT_EQ(load_model(path("d.safetensors")).preprocessing(), Preprocessing::mnist_digit);
  EXPECT_EQ(class_names(load_model(path("d.safetensors"))),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
}

// --- Fashion-MNIST ----------------------------------------------------------------------

constexpr const char* kFashionMissing =
    "Debian's dataset-fashion-mnist is not installed (scripts/setup.sh installs it)";

TEST(FashionMnistTest, TheInstalledPackageHoldsTenThousandTestImagesOfTenClasses) {
  if (!fs::is_directory(kDebianFashionMnistDir)) IMGCLS_SKIP_OR_FAIL_UNDER_CI(kFashionMissing);
  const Dataset test = load_mnist_test(kDebianFashionMnistDir);
  ASSERT_EQ(test.images.shape(), (Shape{10000, 28, 28, 1}));
  std::vector<int> per_class(10, 0);
  for (const std::int32_t label : test.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++per_class[static_cast<std::size_t>(label)];
  }
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));
  EXPECT_EQ(fashion_mnist_class_names(),
            (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}));
}

// One short epoch (a tenth of the training images; the rest validate): the model records
// "fashion-mnist", names the ten kinds of clothing, and prepares pictures by stretching,
// not as digits. evaluate finds the data by that name, and refuses digit models on it.
TEST_F(CifarTest, FashionMnistByNameTrainsAModelThatNamesClothes) {
  if (!fs::is_directory(kDebianFashionMnistDir)) IMGCLS_SKIP_OR_FAIL_UNDER_CI(kFashionMissing);
  const std::string model = path("fashion.safetensors");
  const Outcome trained =
      run({"train", "--data", "fashion-mnist", "--epochs", "1", "--val-split", "0.9",
           "--batch-size", "64", "--threads", "2", "--json", "--out", model});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_EQ(nlohmann::json::parse(trained.out).at("data"), "fashion-mnist");
  const Sequential saved = load_model(model);
  EXPECT_EQ(saved.declared_class_names(), fashion_mnist_class_names());
  EXPECT_EQ(saved.preprocessing(), Preprocessing::stretch);
  EXPECT_EQ(read_model_metadata(model).training.at("data"), "fashion-mnist");

  const Outcome evaluated = run({"evaluate", model, "--json", "--threads", "2"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const auto evaluation = nlohmann::json::parse(evaluated.out);
  EXPECT_EQ(evaluation.at("n"), 10000);
  EXPECT_EQ(evaluation.at("per_class").at(9).at("class"), "Ankle boot");
  EXPECT_GT(evaluation.at("accuracy").get<double>(), 0.3);  // chance is 0.1

  // The folder itself is recorded by its name too.
  const Outcome by_folder =
      run({"evaluate", model, "--data", kDebianFashionMnistDir, "--json", "--threads", "2"});
  ASSERT_EQ(by_folder.exit_code, 0) << by_folder.err;
  EXPECT_EQ(nlohmann::json::parse(by_folder.out).at("accuracy"), evaluation.at("accuracy"));

  // A digit model is no clothes model.
  const Outcome digits = run({"evaluate", IMGCLS_PREDICT_FIXTURES_DIR "/seed_model.safetensors",
                              "--data", "fashion-mnist"});
  EXPECT_EQ(digits.exit_code, 1);
  EXPECT_THAT(digits.err, HasSubstr("the data's classes [T-shirt/top, Trouser"));
  EXPECT_THAT(digits.err, HasSubstr("differ from the model's [0, 1, 2"));
}

}  // namespace
}  // namespace imgcls
