// `imgcls explain`, run as a user runs it: a PNG per picture whose panels show the input the
// model saw and the map where --json says it is large; the text and JSON lines agree with
// predict; the output path checked before any work; exit codes 0, 1 (a missing picture, an
// unwritable folder) and 2 (a bad method, FILE.png for several pictures, no output, a class
// the model does not have); a colour model.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/preprocess.hpp"
#include "support/colour_model.hpp"
#include "support/process.hpp"
#include "viz/layout.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kDigits = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits";
// Pictures the fixture gets right (a 4 drawn by hand, a 3 in a font; see labels.csv).
const std::string kFour = kDigits + "/hand_004.pgm";
const std::string kThree = kDigits + "/font_003.bmp";
constexpr std::int64_t kSide = 28;

using imgcls::testing_support::Outcome;

using imgcls::testing_support::lines_of;

class ExplainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("imgcls_explain_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome run(const std::string& command, const std::vector<std::string>& args) const {
    std::vector<std::string> all{command};
    all.insert(all.end(), args.begin(), args.end());
    return imgcls::testing_support::run_process(IMGCLS_BINARY, all, dir_);
  }
  Outcome explain(const std::vector<std::string>& args) const { return run("explain", args); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// The pixel (x, y) of an RGB picture, as 0..255 values.
struct Rgb {
  int red, green, blue;
};
Rgb pixel_at(const Image& picture, double x, double y) {
  const auto column = static_cast<std::int64_t>(x), row = static_cast<std::int64_t>(y);
  const float* p = picture.pixels.data() + (row * picture.width + column) * picture.channels;
  return {int(std::lround(p[0] * 255)), int(std::lround(p[1] * 255)), int(std::lround(p[2] * 255))};
}

TEST_F(ExplainCli, HelpNamesTheMethodsAndTheOutput) {
  const Outcome help = explain({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* word : {"--method", "saliency", "integrated-gradients", "grad-cam", "--class",
                           "--out", "FILE.png", "--json"})
    EXPECT_NE(help.out.find(word), std::string::npos) << word << " missing from\n" << help.out;
  const Outcome top = run("--help", {});
  EXPECT_NE(top.out.find("explain"), std::string::npos) << top.out;
}

// The PNG's first panel is the input the model saw, block for block, and its second panel
// is reddest where the map is largest: at the map's top pixel, red stands out from green far
// more than at a pixel whose map value is 0.
TEST_F(ExplainCli, ThePngShowsTheInputAndTheMapWhereItIsLarge) {
  const Outcome out =
      explain({kModel, kFour, "--method", "grad-cam", "--out", path("maps"), "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::vector<std::string> lines = lines_of(out.out);
  ASSERT_EQ(lines.size(), 1u) << out.out;
  const nlohmann::json line = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(line.at("method"), "gradcam");
  EXPECT_EQ(line.at("layer"), "conv2d_2");
  EXPECT_EQ(line.at("predicted"), 4);
  const std::string png = line.at("out");
  EXPECT_EQ(png, (dir_ / "maps" / "hand_004-gradcam.png").string());
  const Image drawn = read_picture(png);
  ASSERT_EQ(drawn.channels, 3);

  const Image picture = read_picture(kFour);
  const viz::ExplanationLayout layout =
      viz::explanation_layout(kSide, kSide, picture.height, picture.width, 0);
  ASSERT_LE(layout.panels[2].right(), double(drawn.width));
  ASSERT_LE(layout.colour_bar.bottom(), double(drawn.height));
  const Image input =
      picture_to_input(picture, {kSide, kSide, 1}, Preprocessing::mnist_digit, kFour);
  const double block = layout.panels[0].width / kSide;
  const auto centre = [&](std::size_t panel, std::int64_t y, std::int64_t x) {
    return pixel_at(drawn, layout.panels[panel].x + (double(x) + 0.5) * block,
                    layout.panels[panel].y + (double(y) + 0.5) * block);
  };
  for (std::int64_t y = 0; y < kSide; y += 3)
    for (std::int64_t x = 0; x < kSide; x += 3) {
      const Rgb seen = centre(0, y, x);
      const int want = int(std::lround(input.pixels[std::size_t(y * kSide + x)] * 255));
      EXPECT_NEAR(seen.red, want, 1) << "input pixel " << y << ", " << x;
      EXPECT_EQ(seen.red, seen.green);
    }

  const nlohmann::json& map = line.at("map");
  ASSERT_EQ(map.size(), std::size_t(kSide));
  std::int64_t top_y = 0, top_x = 0, zero_y = -1, zero_x = -1;
  for (std::int64_t y = 0; y < kSide; ++y) {
    ASSERT_EQ(map[std::size_t(y)].size(), std::size_t(kSide));
    for (std::int64_t x = 0; x < kSide; ++x) {
      const double v = map[std::size_t(y)][std::size_t(x)];
      if (v > double(map[std::size_t(top_y)][std::size_t(top_x)])) top_y = y, top_x = x;
      if (v == 0.0 && zero_y < 0) zero_y = y, zero_x = x;
    }
  }
  ASSERT_GE(zero_y, 0) << "Grad-CAM's ReLU left no zero anywhere";
  const Rgb hot = centre(1, top_y, top_x), cold = centre(1, zero_y, zero_x);
  EXPECT_GT(hot.red - hot.blue, cold.red - cold.blue + 100)
      << "hot " << hot.red << "," << hot.green << "," << hot.blue << " cold " << cold.red << ","
      << cold.green << "," << cold.blue;
  EXPECT_EQ(cold.red, cold.blue) << "no colour where the map is 0";
}

TEST_F(ExplainCli, EveryMethodWritesAPngAndATextLinePerPicture) {
  for (const std::string method :
       {"saliency", "gradxinput", "integrated-gradients", "gradcam", "occlusion"}) {
    const Outcome out = explain({kModel, kFour, kThree, "--method", method, "--out", path(method)});
    ASSERT_EQ(out.exit_code, 0) << method << ": " << out.err;
    const std::vector<std::string> lines = lines_of(out.out);
    ASSERT_EQ(lines.size(), 2u) << out.out;
    const std::string four = path(method) + "/hand_004-" + method + ".png";
    const std::string three = path(method) + "/font_003-" + method + ".png";
    EXPECT_EQ(lines[0], kFour + "  4  " + lines[0].substr(kFour.size() + 5, 6) + "  " + method +
                            " 4  -> " + four);
    EXPECT_NE(lines[1].find(kThree + "  3  "), std::string::npos) << lines[1];
    for (const std::string& png : {four, three}) {
      const Image drawn = read_picture(png);
      EXPECT_GT(drawn.width, 900) << png;
      EXPECT_GT(drawn.height, 400) << png;
    }
  }
}

TEST_F(ExplainCli, AgreesWithPredictAndExplainsTheClassAsked) {
  const Outcome predicted = run("predict", {kModel, kFour, "--json"});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const nlohmann::json p = nlohmann::json::parse(lines_of(predicted.out).at(0));
  const Outcome out = explain({kModel, kFour, "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const nlohmann::json e = nlohmann::json::parse(lines_of(out.out).at(0));
  EXPECT_EQ(e.at("predicted"), p.at("label"));
  EXPECT_NEAR(double(e.at("predicted_probability")), double(p.at("confidence")), 1e-5);
  EXPECT_EQ(e.at("out"), nullptr);
  EXPECT_EQ(e.at("method"), "saliency");
  EXPECT_FALSE(fs::exists(dir_ / "hand_004-saliency.png"));

  const Outcome three = explain({kModel, kFour, "--json", "--class", "3", "--method",
                                 "integrated-gradients", "--steps", "16"});
  ASSERT_EQ(three.exit_code, 0) << three.err;
  const nlohmann::json t = nlohmann::json::parse(lines_of(three.out).at(0));
  EXPECT_EQ(t.at("class"), 3);
  EXPECT_EQ(t.at("predicted"), 4);
  EXPECT_EQ(t.at("signed"), true);
  EXPECT_LT(double(t.at("probability")), double(t.at("predicted_probability")));
  EXPECT_NE(e.at("map"), t.at("map"));
}

TEST_F(ExplainCli, OneFileForOnePicture) {
  const Outcome one = explain({kModel, kThree, "--out", path("three.png")});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_TRUE(fs::is_regular_file(path("three.png")));
  const Outcome two = explain({kModel, kThree, kFour, "--out", path("both.png")});
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_NE(two.err.find("folder"), std::string::npos) << two.err;
  EXPECT_FALSE(fs::exists(path("both.png")));
  const Outcome jpeg = explain({kModel, kThree, "--out", path("three.jpg")});
  EXPECT_EQ(jpeg.exit_code, 2);
  EXPECT_NE(jpeg.err.find("PNG"), std::string::npos) << jpeg.err;
}

// A bad output path is found before the model is read: the model here does not exist, and
// the error is about the output.
TEST_F(ExplainCli, TheOutputPathIsCheckedBeforeAnyWork) {
  const std::string no_model = path("missing.safetensors");
  const Outcome missing_folder = explain({no_model, kFour, "--out", path("no/such/x.png")});
  EXPECT_EQ(missing_folder.exit_code, 1);
  EXPECT_NE(missing_folder.err.find("no/such/x.png"), std::string::npos) << missing_folder.err;
  EXPECT_NE(missing_folder.err.find("does not exist"), std::string::npos) << missing_folder.err;
  EXPECT_EQ(missing_folder.err.find("missing.safetensors"), std::string::npos);

  std::ofstream(path("plain")) << "a file";
  const Outcome file_as_folder = explain({no_model, kFour, "--out", path("plain")});
  EXPECT_EQ(file_as_folder.exit_code, 1);
  EXPECT_NE(file_as_folder.err.find("not a folder"), std::string::npos) << file_as_folder.err;

  const Outcome nowhere = explain({no_model, kFour});
  EXPECT_EQ(nowhere.exit_code, 2);
  EXPECT_NE(nowhere.err.find("--out"), std::string::npos) << nowhere.err;
}

TEST_F(ExplainCli, AMissingPictureIsReportedAndTheOthersExplained) {
  const std::string missing = path("nothing.png");
  const Outcome out = explain({kModel, missing, kFour, "--out", path("maps"), "--json"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find("nothing.png"), std::string::npos) << out.err;
  const std::vector<std::string> lines = lines_of(out.out);
  ASSERT_EQ(lines.size(), 2u) << out.out;
  EXPECT_EQ(nlohmann::json::parse(lines[0]).at("file"), missing);
  EXPECT_TRUE(nlohmann::json::parse(lines[0]).contains("error"));
  EXPECT_TRUE(fs::is_regular_file(dir_ / "maps" / "hand_004-saliency.png"));
}

TEST_F(ExplainCli, UsageErrorsExitTwo) {
  const Outcome lime = explain({kModel, kFour, "--method", "lime", "--json"});
  EXPECT_EQ(lime.exit_code, 2);
  EXPECT_NE(lime.err.find("lime"), std::string::npos) << lime.err;
  const Outcome class_twelve = explain({kModel, kFour, "--class", "12", "--json"});
  EXPECT_EQ(class_twelve.exit_code, 2);
  EXPECT_NE(class_twelve.err.find("10 classes"), std::string::npos) << class_twelve.err;
  EXPECT_EQ(explain({kModel, "--json"}).exit_code, 2);
  EXPECT_EQ(explain({kModel, kFour, "--json", "--steps", "0"}).exit_code, 2);
  EXPECT_EQ(explain({kModel, kFour, "--json", "--no-such-flag"}).exit_code, 2);
}

TEST_F(ExplainCli, AColourModel) {
  testing_support::write_colour_model(path("colour.safetensors"));
  const std::string picture = path("picture.png");
  write_png(picture, testing_support::seeded_picture(40, 30, 3, 9));
  const Outcome out = explain({path("colour.safetensors"), picture, "--method", "gradxinput",
                               "--out", path("maps"), "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const nlohmann::json line = nlohmann::json::parse(lines_of(out.out).at(0));
  ASSERT_EQ(line.at("map").size(), std::size_t(testing_support::kColourHeight));
  EXPECT_EQ(line.at("map")[0].size(), std::size_t(testing_support::kColourWidth));
  const std::string name = line.at("predicted_name");
  EXPECT_NE(std::find(testing_support::kColourClasses.begin(),
                      testing_support::kColourClasses.end(), name),
            testing_support::kColourClasses.end());
  EXPECT_TRUE(fs::is_regular_file(dir_ / "maps" / "picture-gradxinput.png"));
}

}  // namespace
}  // namespace imgcls
