// Image-folder datasets: DIR/<class>/ and DIR/train|test/<class>/ read by the library
// (classes sorted, labels, pixels, resizing, the errors naming the folder, class folder or
// picture at fault), and `imgcls train/evaluate --data DIR` on folders of MNIST digits
// written as PNG files: training learns, the model keeps the folder's class names, and
// mismatched folders are refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "support/process.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;
using testing_support::Outcome;

constexpr std::int64_t kSide = 28;

// MNIST test image `index` as a picture (white digit on black, as MNIST stores it).
GreyImage mnist_picture(const Dataset& mnist, std::int64_t index) {
  GreyImage picture(kSide, kSide);
  mnist.images.to_unit(index, 1, picture.pixels.data());
  return picture;
}

// Writes up to `per_class` MNIST digits of each class in `classes`, starting at image
// `first`, as dir/<class name>/<index>.png; class c takes the digits labelled c.
void write_digit_folder(const Dataset& mnist, const fs::path& dir,
                        const std::vector<std::string>& classes, std::int64_t per_class,
                        std::int64_t first) {
  std::vector<std::int64_t> written(classes.size(), 0);
  for (std::int64_t i = first; i < mnist.size(); ++i) {
    const auto label = static_cast<std::size_t>(mnist.labels[static_cast<std::size_t>(i)]);
    if (label >= classes.size() || written[label] == per_class) continue;
    fs::create_directories(dir / classes[label]);
    write_png((dir / classes[label] / (std::to_string(i) + ".png")).string(),
              mnist_picture(mnist, i));
    ++written[label];
  }
}

std::vector<std::string> digit_names() {
  std::vector<std::string> names;
  for (int d = 0; d < 10; ++d) names.push_back(std::to_string(d));
  return names;
}

class ImageFolderTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("imgcls_image_folder_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    mnist_ = new Dataset(load_mnist_test(IMGCLS_MNIST_DIR));
    write_digit_folder(*mnist_, root_ / "digits" / "train", digit_names(), 60, 0);
    write_digit_folder(*mnist_, root_ / "digits" / "test", digit_names(), 20, 5000);
    write_digit_folder(*mnist_, root_ / "abc", {"zero", "one", "two"}, 3, 0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(root_);
    delete mnist_;
  }
  static std::string path(const std::string& name) { return (root_ / name).string(); }
  Outcome run(const std::vector<std::string>& args) {
    return testing_support::run_process(IMGCLS_BINARY, args, root_);
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

  static fs::path root_;
  static Dataset* mnist_;
};
fs::path ImageFolderTest::root_;
Dataset* ImageFolderTest::mnist_ = nullptr;

TEST_F(ImageFolderTest, ClassesAreSortedFolderNamesAndPixelsAreThePictures) {
  const ImageFolder folder = read_image_folder(path("abc"));
  EXPECT_EQ(folder.class_names, (std::vector<std::string>{"one", "two", "zero"}));
  ASSERT_EQ(folder.data.size(), 9);
  EXPECT_EQ(folder.data.images.shape(), (Shape{9, kSide, kSide, 1}));
  EXPECT_EQ(folder.data.labels, (std::vector<std::int32_t>{0, 0, 0, 1, 1, 1, 2, 2, 2}));
  // The first "one" picture, by file name: the lowest MNIST index labelled 1 sorts first
  // only when names sort as numbers do, so find it by name instead.
  std::vector<std::string> ones;
  for (const auto& entry : fs::directory_iterator(root_ / "abc" / "one"))
    ones.push_back(entry.path().stem().string());
  std::sort(ones.begin(), ones.end());
  const GreyImage expected = mnist_picture(*mnist_, std::stoll(ones[0]));
  for (std::int64_t p = 0; p < kSide * kSide; ++p)
    ASSERT_NEAR(PixelTensor::unit(folder.data.images.data()[p]),
                expected.pixels[static_cast<std::size_t>(p)], 0.5 / 255.0 + 1e-6);
}

TEST_F(ImageFolderTest, PicturesAreResizedToTheRequestedInput) {
  const ImageFolder folder = read_image_folder(path("abc"), {.height = 14, .width = 10});
  EXPECT_EQ(folder.data.images.shape(), (Shape{9, 14, 10, 1}));
}

TEST_F(ImageFolderTest, SplitFoldersAndIdxFoldersAreBothDatasetFolders) {
  const FolderSplits digits = load_dataset_folder(path("digits"), {});
  EXPECT_EQ(digits.train.size(), 600);
  EXPECT_EQ(digits.test.size(), 200);
  EXPECT_EQ(digits.class_names, digit_names());
  EXPECT_EQ(load_dataset_folder_test(path("digits"), {}).test.size(), 200);

  const FolderSplits single = load_dataset_folder(path("abc"), {});
  EXPECT_EQ(single.train.size(), 9);
  EXPECT_EQ(single.test.size(), 0);
  EXPECT_EQ(load_dataset_folder_test(path("abc"), {}).test.size(), 9);

  EXPECT_TRUE(is_idx_folder(IMGCLS_MNIST_DIR));
  EXPECT_FALSE(is_idx_folder(path("digits")));
  const FolderSplits idx = load_dataset_folder_test(IMGCLS_MNIST_DIR, {});
  EXPECT_EQ(idx.test.size(), 10000);
  EXPECT_TRUE(idx.class_names.empty());
}

TEST_F(ImageFolderTest, ErrorsNameTheFolderOrPictureAtFault) {
  fs::create_directories(root_ / "empty");
  const InputError empty = error_of([&] { read_image_folder(path("empty")); });
  EXPECT_EQ(empty.source(), path("empty"));
  EXPECT_THAT(empty.problem(), HasSubstr("no class subfolders"));

  fs::create_directories(root_ / "no_pictures" / "cat");
  fs::create_directories(root_ / "no_pictures" / "dog");
  std::ofstream(root_ / "no_pictures" / "cat" / "notes.txt") << "not a picture";
  write_png((root_ / "no_pictures" / "dog" / "d.png").string(), GreyImage(4, 4, 0.5f));
  const InputError no_pictures = error_of([&] { read_image_folder(path("no_pictures")); });
  EXPECT_EQ(no_pictures.source(), (root_ / "no_pictures" / "cat").string());
  EXPECT_THAT(no_pictures.problem(), HasSubstr("no pictures in this class folder"));

  fs::create_directories(root_ / "broken" / "cat");
  const fs::path bad = root_ / "broken" / "cat" / "bad.png";
  std::ofstream(bad, std::ios::binary) << "\x89PNG\r\n\x1a\n but not really";
  EXPECT_EQ(error_of([&] { read_image_folder(path("broken")); }).source(), bad.string());

  const InputError missing = error_of([&] { load_dataset_folder(path("nowhere"), {}); });
  EXPECT_THAT(missing.what(), HasSubstr(path("nowhere")));

  fs::create_directories(root_ / "split" / "train");
  fs::create_directories(root_ / "split" / "test");
  fs::copy(root_ / "abc", root_ / "split" / "train", fs::copy_options::recursive);
  fs::copy(root_ / "abc" / "one", root_ / "split" / "test" / "one");
  const InputError split = error_of([&] { load_dataset_folder(path("split"), {}); });
  EXPECT_THAT(split.problem(),
              HasSubstr("train/ has the classes [one, two, zero] but test/ has [one]"));
}

TEST_F(ImageFolderTest, TrainAndEvaluateCommandsLearnFromAFolder) {
  const std::string model = path("digits.safetensors");
  const Outcome trained = run({"train", "--data", path("digits"), "--epochs", "3", "--batch-size",
                               "16", "--out", model, "--json", "--threads", "1", "--seed", "3"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto result = nlohmann::json::parse(trained.out);
  EXPECT_GT(result.at("test_accuracy").get<double>(), 0.5) << trained.out;  // chance is 0.1

  const Sequential saved = load_model(model);
  EXPECT_EQ(saved.declared_class_names(), digit_names());
  EXPECT_EQ(saved.preprocessing(),
            Preprocessing::stretch);  // predict feeds pictures as the folder did

  const Outcome evaluated =
      run({"evaluate", model, "--data", path("digits"), "--json", "--threads", "1"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const auto evaluation = nlohmann::json::parse(evaluated.out);
  EXPECT_EQ(evaluation.at("n").get<int>(), 200);
  EXPECT_DOUBLE_EQ(evaluation.at("accuracy").get<double>(),
                   result.at("test_accuracy").get<double>());

  // Evaluating on a folder whose classes are not the model's is refused.
  const Outcome mismatched = run({"evaluate", model, "--data", path("abc")});
  EXPECT_EQ(mismatched.exit_code, 1);
  EXPECT_THAT(mismatched.err,
              HasSubstr("the folder's classes [one, two, zero] differ from the model's [0, 1"));
}

// A preset is built for the folder's classes; an architecture file must already fit them.
TEST_F(ImageFolderTest, TrainCommandBuildsPresetsForTheFolderAndRefusesFilesThatDoNotFit) {
  const Outcome preset =
      run({"train", "--data", path("abc"), "--epochs", "1", "--out", path("abc.safetensors")});
  ASSERT_EQ(preset.exit_code, 0) << preset.err;
  const Sequential built = load_model(path("abc.safetensors"));
  EXPECT_EQ(built.output_shape(), (Shape{3}));
  EXPECT_EQ(built.declared_class_names(), (std::vector<std::string>{"one", "two", "zero"}));

  std::ofstream(path("ten.json")) << presets::seed().config().dump();
  const Outcome three = run({"train", "--arch", path("ten.json"), "--data", path("abc"), "--epochs",
                             "1", "--out", path("ten.safetensors")});
  EXPECT_EQ(three.exit_code, 1);
  EXPECT_THAT(three.err, HasSubstr("3 classes (one, two, zero) for a model with 10 outputs"));

  fs::create_directories(root_ / "empty_cli");
  const Outcome empty =
      run({"train", "--data", path("empty_cli"), "--epochs", "1", "--out", path("e.safetensors")});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, HasSubstr(path("empty_cli") + ": no class subfolders"));
}

// --image-size takes H (a square) or HxW; anything else is a usage error before any work.
TEST_F(ImageFolderTest, ImageSizeIsASideOrHeightByWidth) {
  const std::vector<std::pair<std::string, Shape>> sizes = {{"20", Shape{20, 20, 1}},
                                                            {"24x20", Shape{24, 20, 1}}};
  for (const auto& [size, shape] : sizes) {
    const std::string model = path("size_" + size + ".safetensors");
    const Outcome trained = run({"train", "--data", path("abc"), "--epochs", "1", "--image-size",
                                 size, "--threads", "1", "--out", model});
    ASSERT_EQ(trained.exit_code, 0) << size << ": " << trained.err;
    EXPECT_EQ(load_model(model).input_shape(), shape) << size;
  }
  for (const std::string bad : {"0", "20x", "x20", "20x20x3", "twenty", "20 ", "-4", "5000"}) {
    const Outcome refused = run({"train", "--data", path("abc"), "--epochs", "1", "--image-size",
                                 bad, "--out", path("bad_size.safetensors")});
    EXPECT_EQ(refused.exit_code, 2) << bad;
    EXPECT_THAT(refused.err, HasSubstr("--image-size: expected H or HxW (1 to 4096), got " + bad))
        << bad;
    EXPECT_THAT(refused.err, testing::Not(HasSubstr("Loading"))) << bad;
  }
  EXPECT_FALSE(fs::exists(path("bad_size.safetensors")));
}

// --arch fast brings its recipe for each option not given; given options win, and with
// --optimizer sgd its Adam values (learning rate, betas) are not used.
TEST_F(ImageFolderTest, TheFastPresetBringsItsRecipeForWhatIsNotGiven) {
  const auto run_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{
        "train",     "--arch", "fast",   "--data", path("abc"),
        "--threads", "1",      "--json", "--out",  path("fast.safetensors")};
    args.insert(args.end(), extra.begin(), extra.end());
    const Outcome trained = run(args);
    EXPECT_EQ(trained.exit_code, 0) << trained.err;
    return trained.exit_code == 0 ? nlohmann::json::parse(trained.out).at("run") : nlohmann::json();
  };
  const nlohmann::json recipe = run_of({});
  ASSERT_FALSE(recipe.is_null());
  EXPECT_EQ(recipe.at("arch"), "fast");
  EXPECT_EQ(recipe.at("epochs"), 1);
  EXPECT_EQ(recipe.at("batch_size"), 256);
  EXPECT_EQ(recipe.at("schedule"), "onecycle");
  EXPECT_DOUBLE_EQ(recipe.at("learning_rate").get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(recipe.at("beta1").get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(recipe.at("beta2").get<double>(), 0.9);
  EXPECT_EQ(load_model(path("fast.safetensors")).layer(0).kind(), "Conv2D");

  const nlohmann::json given = run_of({"--epochs", "2", "--lr", "0.003", "--beta1", "0.85",
                                       "--batch-size", "4", "--schedule", "cosine"});
  ASSERT_FALSE(given.is_null());
  EXPECT_EQ(given.at("epochs"), 2);
  EXPECT_EQ(given.at("batch_size"), 4);
  EXPECT_EQ(given.at("schedule"), "cosine");
  EXPECT_DOUBLE_EQ(given.at("learning_rate").get<double>(), 0.003);
  EXPECT_DOUBLE_EQ(given.at("beta1").get<double>(), 0.85);
  EXPECT_DOUBLE_EQ(given.at("beta2").get<double>(), 0.9);

  const nlohmann::json sgd = run_of({"--optimizer", "sgd"});
  ASSERT_FALSE(sgd.is_null());
  EXPECT_EQ(sgd.at("epochs"), 1);
  EXPECT_DOUBLE_EQ(sgd.at("learning_rate").get<double>(), 0.01);  // SGD's own default
  EXPECT_DOUBLE_EQ(sgd.at("beta1").get<double>(), 0.9);

  // Another preset keeps the usual defaults.
  const Outcome seed = run({"train", "--data", path("abc"), "--threads", "1", "--json", "--out",
                            path("seed_defaults.safetensors")});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  const nlohmann::json plain = nlohmann::json::parse(seed.out).at("run");
  EXPECT_EQ(plain.at("epochs"), 5);
  EXPECT_EQ(plain.at("batch_size"), 32);
  EXPECT_EQ(plain.at("schedule"), "constant");
  EXPECT_DOUBLE_EQ(plain.at("learning_rate").get<double>(), 0.001);
  EXPECT_DOUBLE_EQ(plain.at("beta1").get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(plain.at("beta2").get<double>(), 0.999);
}

TEST_F(ImageFolderTest, TrainCommandWithoutATestSplitSkipsTheTestEvaluation) {
  const Outcome trained = run({"train", "--data", path("digits/test"), "--epochs", "1", "--out",
                               path("single.safetensors"), "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_THAT(trained.out, HasSubstr("No test split in"));
  EXPECT_TRUE(fs::exists(path("single.safetensors")));
}

// Files the loader does not read are listed, not skipped silently; a picture that does not
// decode fails the load naming it, or with skip_bad_files is left out and listed.
TEST_F(ImageFolderTest, UnreadFilesAreListedAndBadPicturesFailOrAreSkipped) {
  fs::copy(root_ / "abc", root_ / "messy", fs::copy_options::recursive);
  std::ofstream(path("messy/one/notes.txt")) << "x";
  std::ofstream(path("messy/README")) << "x";
  fs::create_directories(root_ / "messy" / "two" / "more");
  const ImageFolder clean = read_image_folder(path("messy"));
  EXPECT_EQ(clean.data.size(), 9);
  EXPECT_EQ(clean.ignored,
            (std::vector<std::string>{path("messy/README"), path("messy/one/notes.txt"),
                                      path("messy/two/more")}));
  EXPECT_TRUE(clean.skipped.empty());

  std::ofstream(path("messy/two/broken.png"), std::ios::binary) << "\x89PNG\r\n\x1a\nnot really";
  const InputError broken = error_of([&] { read_image_folder(path("messy")); });
  EXPECT_EQ(broken.source(), path("messy/two/broken.png"));
  const ImageFolder skipping = read_image_folder(path("messy"), {.skip_bad_files = true});
  EXPECT_EQ(skipping.data.size(), 9);
  ASSERT_EQ(skipping.skipped.size(), 1u);
  EXPECT_EQ(skipping.skipped[0].path, path("messy/two/broken.png"));
  EXPECT_FALSE(skipping.skipped[0].reason.empty());

  // A class folder whose pictures all fail is still an error.
  fs::create_directories(root_ / "messy" / "zz");
  std::ofstream(path("messy/zz/bad.jpg"), std::ios::binary) << "junk";
  const InputError none =
      error_of([&] { read_image_folder(path("messy"), {.skip_bad_files = true}); });
  EXPECT_EQ(none.source(), path("messy/zz"));
}

// The same through the command: the warning names the files; --skip-bad-files goes on and
// reports the count and names; without it the picture is named, with the option as a hint.
TEST_F(ImageFolderTest, TrainCommandWarnsAboutUnreadFilesAndSkipsBadPicturesOnRequest) {
  fs::create_directories(root_ / "messy_cli");
  fs::copy(root_ / "digits" / "train", root_ / "messy_cli" / "train", fs::copy_options::recursive);
  fs::copy(root_ / "digits" / "test", root_ / "messy_cli" / "test", fs::copy_options::recursive);
  std::ofstream(path("messy_cli/train/3/notes.txt")) << "x";
  std::ofstream(path("messy_cli/train/5/broken.png"), std::ios::binary) << "junk";
  const std::vector<std::string> args = {"train",    "--data", path("messy_cli"),
                                         "--epochs", "1",      "--threads",
                                         "1",        "--out",  path("messy.safetensors")};
  const Outcome refused = run(args);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr(path("messy_cli/train/5/broken.png")));
  EXPECT_THAT(refused.err, HasSubstr("--skip-bad-files"));
  EXPECT_FALSE(fs::exists(path("messy.safetensors")));

  std::vector<std::string> skipping = args;
  skipping.push_back("--skip-bad-files");
  const Outcome trained = run(skipping);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_THAT(trained.err, HasSubstr("1 entry in " + path("messy_cli") + " is not read"));
  EXPECT_THAT(trained.err, HasSubstr(path("messy_cli/train/3/notes.txt")));
  EXPECT_THAT(trained.err, HasSubstr("left out 1 picture that did not decode"));
  EXPECT_THAT(trained.err, HasSubstr(path("messy_cli/train/5/broken.png")));
  EXPECT_THAT(trained.out, HasSubstr("600 training"));
}

// evaluate and show on a model trained on a folder use that folder (the model file records
// it), never MNIST; --data still wins; a model that records no data needs --data.
TEST_F(ImageFolderTest, EvaluateAndShowUseTheFolderTheModelWasTrainedOn) {
  const std::string model = path("recorded.safetensors");
  fs::create_directories(root_ / "cwd");
  // Trained from another folder, with --data relative to it.
  const Outcome trained = testing_support::run_process(
      "/bin/sh",
      {"-c", "cd \"$0\" && exec \"$1\" train --data ../digits --epochs 1 --out \"$2\" --threads 1",
       path("cwd"), IMGCLS_BINARY, model},
      root_);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_EQ(read_model_metadata(model).training.at("data"), path("digits"));

  const Outcome evaluated = run({"evaluate", model, "--json", "--threads", "1"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_EQ(nlohmann::json::parse(evaluated.out).at("n"), 200);  // digits/test, not MNIST's 10,000
  for (const std::string kind : {"samples", "errors", "confusion"}) {
    const std::string picture = path("show_" + kind + ".png");
    const Outcome shown = run({"show", model, "--kind", kind, "--out", picture, "--threads", "1"});
    ASSERT_EQ(shown.exit_code, 0) << kind << ": " << shown.err;
    EXPECT_THAT(shown.out, HasSubstr("(200 images from " + path("digits") + ")"));
    EXPECT_GT(read_image(picture).width, 300);
  }
  const Outcome given =
      run({"evaluate", model, "--data", path("digits/train"), "--json", "--threads", "1"});
  ASSERT_EQ(given.exit_code, 0) << given.err;
  EXPECT_EQ(nlohmann::json::parse(given.out).at("n"), 600);

  Sequential unrecorded = load_model(model);
  save_model(unrecorded, path("unrecorded.safetensors"));
  const Outcome unknown = run({"evaluate", path("unrecorded.safetensors")});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("does not record the data it was trained on"));
  EXPECT_THAT(unknown.err, HasSubstr("--data"));
  const Outcome unknown_show =
      run({"show", path("unrecorded.safetensors"), "--kind", "samples", "--out", path("x.png")});
  EXPECT_EQ(unknown_show.exit_code, 1);
  EXPECT_THAT(unknown_show.err, HasSubstr("does not record the data it was trained on"));
}

}  // namespace
}  // namespace imgcls
