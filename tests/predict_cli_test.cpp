// `imgcls predict`, run as a user runs it: exit codes (0 all classified, 1 some picture
// unusable but the rest still printed, 2 usage error), the text, --top and --json
// outputs, folders, and --save-preprocessed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "support/process.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kShippedModel = std::string(IMGCLS_SOURCE_DIR) + "/models/digits.safetensors";
const std::string kDigits = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits";
// Two pictures the fixture gets right (a 4 drawn by hand, a 3 in a font; see labels.csv).
const std::string kFour = kDigits + "/hand_004.pgm";
const std::string kThree = kDigits + "/font_003.bmp";

using imgcls::testing_support::Outcome;

using imgcls::testing_support::lines_of;

class PredictCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("imgcls_predict_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `imgcls predict <args>`, capturing stdout and stderr.
  Outcome predict(const std::vector<std::string>& args) const {
    std::vector<std::string> all{"predict"};
    all.insert(all.end(), args.begin(), args.end());
    return imgcls::testing_support::run_process(IMGCLS_BINARY, all, dir_);
  }

  std::string file(const std::string& name, const std::string& bytes) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

TEST_F(PredictCli, AllGoodPicturesExitZero) {
  const Outcome run = predict({kModel, kFour, kThree});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2u) << run.out;
  EXPECT_EQ(lines[0].rfind(kFour + "  4  ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind(kThree + "  3  ", 0), 0u) << lines[1];
  EXPECT_TRUE(run.err.empty()) << run.err;
}

TEST_F(PredictCli, ThreadCountDoesNotChangeTheAnswer) {
  const Outcome one = predict({kModel, kFour, kThree, "--json"});
  const Outcome two = predict({kModel, kFour, kThree, "--json", "--threads", "2"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(one.out, two.out);
  EXPECT_EQ(predict({kModel, kFour, "--threads", "0"}).exit_code, 2);
}

TEST_F(PredictCli, OneBadPictureExitsOneAfterPrintingTheOthers) {
  const std::string garbage = file("garbage.png", "not a picture");
  const Outcome run = predict({kModel, kFour, garbage, kThree});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(lines_of(run.out).size(), 2u) << run.out;
  EXPECT_NE(run.err.find(garbage), std::string::npos) << run.err;
  EXPECT_NE(run.out.find(kThree), std::string::npos) << run.out;
}

TEST_F(PredictCli, MissingPathAndEmptyFolderAreBadInput) {
  fs::create_directories(dir_ / "empty");
  const Outcome run =
      predict({kModel, (dir_ / "nothing.png").string(), (dir_ / "empty").string(), kFour});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(lines_of(run.out).size(), 1u) << run.out;
  EXPECT_NE(run.err.find("nothing.png"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("no pictures"), std::string::npos) << run.err;
}

TEST_F(PredictCli, BadModelIsBadInput) {
  const Outcome run = predict({file("model.safetensors", "junk"), kFour});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("model.safetensors"), std::string::npos) << run.err;
}

TEST_F(PredictCli, UsageErrorsExitTwo) {
  EXPECT_EQ(predict({}).exit_code, 2);
  EXPECT_EQ(predict({kModel}).exit_code, 2);
  EXPECT_EQ(predict({kModel, kFour, "--top", "0"}).exit_code, 2);
  EXPECT_EQ(predict({kModel, kFour, "--no-such-flag"}).exit_code, 2);
}

// Without a model the built-in digits model answers: the committed models/digits.safetensors,
// so its answers are that file's. The model may be named with --model or first among the paths.
TEST_F(PredictCli, WithoutAModelTheBuiltInDigitsModelAnswers) {
  const Outcome builtin = predict({kFour, kThree, "--json"});
  ASSERT_EQ(builtin.exit_code, 0) << builtin.err;
  const std::vector<std::string> lines = lines_of(builtin.out);
  ASSERT_EQ(lines.size(), 2u) << builtin.out;
  EXPECT_EQ(nlohmann::json::parse(lines[0]).at("label"), 4);
  EXPECT_EQ(nlohmann::json::parse(lines[1]).at("label"), 3);
  const Outcome committed = predict({"--model", kShippedModel, kFour, kThree, "--json"});
  EXPECT_EQ(committed.exit_code, 0) << committed.err;
  EXPECT_EQ(committed.out, builtin.out);

  const Outcome named = predict({"--model", kModel, kFour, "--json"});
  const Outcome first = predict({kModel, kFour, "--json"});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(first.out, named.out);
  EXPECT_NE(named.out, predict({kFour, "--json"}).out) << "--model was not used";
}

TEST_F(PredictCli, TopListsTheBestClassesInOrder) {
  const Outcome run = predict({kModel, kFour, "--top", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::istringstream line(lines_of(run.out).at(0));
  std::string file;
  int label = -1;
  double p = 0.0, previous = 1.0, sum = 0.0;
  line >> file;
  EXPECT_EQ(file, kFour);
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(line >> label >> p) << run.out;
    if (k == 0) {
      EXPECT_EQ(label, 4);
    }
    EXPECT_LE(p, previous);
    previous = p;
    sum += p;
  }
  EXPECT_LE(sum, 1.0001);
  EXPECT_FALSE(line >> label);
}

TEST_F(PredictCli, JsonIsOneObjectPerLine) {
  const Outcome run = predict({kModel, kFour, kThree, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["file"], kFour);
  EXPECT_EQ(first["label"], 4);
  EXPECT_EQ(first["class"], "4");
  const auto probabilities = first["probabilities"].get<std::vector<double>>();
  ASSERT_EQ(probabilities.size(), 10u);
  double sum = 0.0;
  for (double q : probabilities) sum += q;
  EXPECT_NEAR(sum, 1.0, 1e-4);
  EXPECT_DOUBLE_EQ(first["confidence"].get<double>(), probabilities[4]);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["label"], 3);
}

// With --json every input gets its line, in order: a prediction, or {"file", "error"} for a
// path or picture that could not be classified, so a consumer sees every input.
TEST_F(PredictCli, JsonGivesEveryInputALineErrorsIncluded) {
  fs::create_directories(dir_ / "empty");
  const std::string garbage = file("garbage.png", "not a picture");
  const std::string missing = (dir_ / "nothing.png").string();
  const std::string empty = (dir_ / "empty").string();
  const Outcome run = predict({kModel, kFour, missing, garbage, empty, kThree, "--json"});
  EXPECT_EQ(run.exit_code, 1);
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 5u) << run.out;
  const std::vector<std::string> files = {kFour, missing, garbage, empty, kThree};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json line = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(line.at("file"), files[i]);
    const bool failed = i >= 1 && i <= 3;
    EXPECT_EQ(line.contains("error"), failed) << lines[i];
    EXPECT_EQ(line.contains("label"), !failed) << lines[i];
  }
  EXPECT_NE(nlohmann::json::parse(lines[1]).at("error").get<std::string>().find("no such file"),
            std::string::npos);
  EXPECT_NE(
      nlohmann::json::parse(lines[2]).at("error").get<std::string>().find("not a readable picture"),
      std::string::npos);
  EXPECT_NE(nlohmann::json::parse(lines[3]).at("error").get<std::string>().find("no pictures"),
            std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(lines[4]).at("label"), 3);
}

TEST_F(PredictCli, FolderIsReadInNameOrder) {
  fs::create_directories(dir_ / "in");
  fs::copy_file(kThree, dir_ / "in" / "b.bmp");
  fs::copy_file(kFour, dir_ / "in" / "a.pgm");
  file("in/notes.txt", "not a picture, and not picked up");
  const Outcome run = predict({kModel, (dir_ / "in").string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2u) << run.out;
  EXPECT_NE(lines[0].find("a.pgm  4"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("b.bmp  3"), std::string::npos) << lines[1];
}

TEST_F(PredictCli, SavePreprocessedWritesWhatTheModelSaw) {
  const fs::path out = dir_ / "seen";
  const Outcome run = predict({kModel, kFour, kThree, "--save-preprocessed", out.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* name : {"hand_004.png", "font_003.png"}) {
    const GreyImage seen = read_image((out / name).string());
    EXPECT_EQ(seen.height, 28);
    EXPECT_EQ(seen.width, 28);
    EXPECT_EQ(seen.at(0, 0), 0.0f);  // MNIST form: dark background
  }
}

TEST_F(PredictCli, SavedNamesDoNotCollide) {
  fs::create_directories(dir_ / "a");
  fs::create_directories(dir_ / "b");
  fs::copy_file(kFour, dir_ / "a" / "digit.pgm");
  fs::copy_file(kThree, dir_ / "b" / "digit.bmp");
  const fs::path out = dir_ / "seen";
  const Outcome run = predict(
      {kModel, (dir_ / "a").string(), (dir_ / "b").string(), "--save-preprocessed", out.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(out / "digit.png"));
  EXPECT_TRUE(fs::exists(out / "digit-2.png"));
}

TEST_F(PredictCli, ModelDeclaringNoPreprocessingGetsAPlainResize) {
  Sequential model = load_model(kModel);
  model.set_preprocessing(Preprocessing::stretch);
  const std::string plain_model = (dir_ / "plain.safetensors").string();
  save_model(model, plain_model);
  const fs::path out = dir_ / "seen";
  const Outcome run = predict({plain_model, kFour, "--save-preprocessed", out.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const GreyImage seen = read_image((out / "hand_004.png").string());
  EXPECT_EQ(seen.height, 28);
  EXPECT_GT(seen.at(0, 0), 0.9f);  // white paper, resized but not inverted
}

TEST_F(PredictCli, NoPreprocessStillClassifiesMnistFormPictures) {
  // A saved preprocessed picture is in MNIST form: --no-preprocess must agree on it.
  const fs::path out = dir_ / "seen";
  ASSERT_EQ(predict({kModel, kFour, "--save-preprocessed", out.string()}).exit_code, 0);
  const Outcome run = predict({kModel, (out / "hand_004.png").string(), "--no-preprocess"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("  4  "), std::string::npos) << run.out;
}

}  // namespace
}  // namespace imgcls
