// Model files (imgcls/io.hpp) and architecture specs (Sequential::from_config):
//  - save_model / load_model round trip: same architecture, bit-identical parameters and
//    identical predictions on a random batch;
//  - damaged or wrong files are refused with an InputError naming the file and the problem:
//    truncated, absurd header length, header not JSON, deeply nested JSON, data_offsets out
//    of range, a parameter of the wrong shape, a missing parameter, an extra tensor, wrong
//    format metadata; NaN weights are refused at save time and leave no file;
//  - from_config refuses unknown keys, unknown layer types, wrongly typed values and shapes
//    that cannot work, naming the layer index.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/train.hpp"
#include "io/safetensors.hpp"

namespace imgcls {
namespace {

using nlohmann::json;
using testing::AllOf;
using testing::HasSubstr;

// A small model with every layer kind, on 9x9 greyscale images.
Sequential small_model() {
  Sequential model({9, 9, 1});
  model.add(layers::Conv2D(
      {.filters = 4, .kernel_size = 3, .padding = Padding::same, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Conv2D({.filters = 3, .kernel_size = 2, .strides = 2}));
  model.add(layers::ReLU());
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 6, .activation = Activation::relu}));
  model.add(layers::Dense({.units = 3}));
  model.initialize(7);
  return model;
}

Tensor random_batch(std::int64_t n, std::uint64_t seed) {
  Tensor batch({n, 9, 9, 1});
  Rng rng(seed);
  for (std::int64_t i = 0; i < batch.size(); ++i) batch[i] = rng.uniform(0.0f, 1.0f);
  return batch;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The parts of a safetensors file, to damage one at a time.
struct Container {
  json header;
  std::string data;
};

Container split(const std::string& bytes) {
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  return {json::parse(bytes.substr(8, header_size)), bytes.substr(8 + header_size)};
}

std::string join(const std::string& header_text, const std::string& data) {
  std::string bytes(8, '\0');
  const std::uint64_t header_size = header_text.size();
  std::memcpy(bytes.data(), &header_size, 8);
  return bytes + header_text + data;
}

class ModelFileTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ =
        std::filesystem::temp_directory_path() /
        ("imgcls_model_file_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    good_path_ = path("good.safetensors");
    save_model(model_, good_path_);
    good_ = read_all(good_path_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `bytes` as a file and expects load_model to refuse it, naming the file and every
  // fragment of `problem`.
  void expect_refused(const std::string& name, const std::string& bytes,
                      const std::vector<std::string>& problem) {
    const std::string file = path(name);
    write_all(file, bytes);
    expect_load_error(file, problem);
  }

  void expect_load_error(const std::string& file, const std::vector<std::string>& problem) {
    try {
      load_model(file);
      ADD_FAILURE() << "load_model accepted " << file;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(file));
      for (const std::string& fragment : problem) EXPECT_THAT(e.what(), HasSubstr(fragment));
    }
  }

  // Writes a model file from the good one's metadata and the given tensors.
  std::string write_tensors(const std::string& name, std::map<std::string, std::string> metadata,
                            const std::vector<std::pair<std::string, const Tensor*>>& tensors) {
    const std::string file = path(name);
    io::write_safetensors(file, metadata, tensors);
    return file;
  }

  std::filesystem::path dir_;
  Sequential model_ = small_model();
  std::string good_path_, good_;
};

TEST_F(ModelFileTest, RoundTripKeepsArchitectureWeightsAndPredictions) {
  Sequential loaded = load_model(good_path_);
  EXPECT_EQ(loaded.config(), model_.config());
  EXPECT_EQ(loaded.parameter_count(), model_.parameter_count());
  const std::vector<Param> original = model_.params(), restored = loaded.params();
  ASSERT_EQ(restored.size(), original.size());
  for (std::size_t i = 0; i < original.size(); ++i) {
    EXPECT_EQ(restored[i].name, original[i].name);
    EXPECT_EQ(restored[i].value->shape(), original[i].value->shape());
    EXPECT_EQ(restored[i].value->values(), original[i].value->values()) << original[i].name;
  }
  const Tensor batch = random_batch(5, 11);
  const Tensor want = predict(model_, batch);
  const Tensor got = predict(loaded, batch);
  EXPECT_EQ(got.shape(), (Shape{5, 3}));
  EXPECT_EQ(got.values(), want.values());  // same weights, same ops: identical bits
}

TEST_F(ModelFileTest, Truncated) {
  expect_refused("cut_data", good_.substr(0, good_.size() - 4), {"data_offsets", "outside"});
  expect_refused("cut_header", good_.substr(0, 20), {"header length", "does not fit"});
  expect_refused("cut_length", good_.substr(0, 5), {"too short"});
  expect_refused("empty", "", {"too short"});
}

TEST_F(ModelFileTest, AbsurdHeaderLength) {
  std::string bytes = good_;
  const std::uint64_t absurd = std::uint64_t{1} << 40;
  std::memcpy(bytes.data(), &absurd, 8);
  expect_refused("absurd_length", bytes, {"header length 1099511627776 does not fit"});
}

TEST_F(ModelFileTest, HeaderNotJson) {
  const Container parts = split(good_);
  const std::string header_text = parts.header.dump();
  std::string garbage(header_text.size(), 'x');
  garbage.front() = '{';
  expect_refused("not_json", join(garbage, parts.data), {"header is not valid JSON"});
}

TEST_F(ModelFileTest, DeeplyNestedJsonHeader) {
  // 100,000 levels would overflow a recursive parser's stack; the reader stops at 16.
  constexpr int kDepth = 100000;
  const std::string header_text =
      "{\"a\":" + std::string(kDepth, '[') + std::string(kDepth, ']') + "}";
  expect_refused("nested", join(header_text, ""), {"not valid JSON", "nested deeper than 16"});
}

TEST_F(ModelFileTest, DataOffsetsOutOfRange) {
  Container parts = split(good_);
  auto& offsets = parts.header["dense_6.bias"]["data_offsets"];
  offsets[1] = offsets[1].get<std::uint64_t>() + 1000000;
  expect_refused("offsets", join(parts.header.dump(), parts.data),
                 {"tensor \"dense_6.bias\"", "data_offsets", "outside"});
  // A range of the right size that overlaps another tensor's.
  Container overlapping = split(good_);
  const auto weight_begin =
      overlapping.header["conv2d_0.weight"]["data_offsets"][0].get<std::uint64_t>();
  overlapping.header["conv2d_0.bias"]["data_offsets"] = {weight_begin, weight_begin + 4 * 4};
  expect_refused("overlap", join(overlapping.header.dump(), overlapping.data),
                 {"overlap or leave gaps"});
}

TEST_F(ModelFileTest, WrongShapeForAParameter) {
  // Same byte count, other shape: the container is valid, the architecture does not fit it.
  Container parts = split(good_);
  parts.header["conv2d_0.weight"]["shape"] = {4, 1, 9, 1};
  expect_refused("shape", join(parts.header.dump(), parts.data),
                 {"parameter conv2d_0.weight", "[4, 1, 9, 1]", "needs F32 [4, 1, 3, 3]"});
}

TEST_F(ModelFileTest, MissingParameter) {
  const io::SafetensorsFile good = io::read_safetensors(good_path_);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const Param& p : model_.params())
    if (p.name != "dense_5.bias") tensors.emplace_back(p.name, p.value);
  expect_load_error(write_tensors("missing.safetensors", good.metadata, tensors),
                    {"missing parameter dense_5.bias"});
}

TEST_F(ModelFileTest, ExtraTensor) {
  const io::SafetensorsFile good = io::read_safetensors(good_path_);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const Param& p : model_.params()) tensors.emplace_back(p.name, p.value);
  const Tensor extra({2, 2});
  tensors.emplace_back("stowaway", &extra);
  expect_load_error(write_tensors("extra.safetensors", good.metadata, tensors),
                    {"tensor stowaway is not a parameter"});
}

TEST_F(ModelFileTest, WrongFormatMetadata) {
  const io::SafetensorsFile good = io::read_safetensors(good_path_);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const Param& p : model_.params()) tensors.emplace_back(p.name, p.value);

  auto metadata = good.metadata;
  metadata["format"] = "pytorch";
  expect_load_error(write_tensors("format.safetensors", metadata, tensors),
                    {"not an imgcls model file"});
  metadata.erase("format");
  expect_load_error(write_tensors("no_format.safetensors", metadata, tensors),
                    {"not an imgcls model file"});
  metadata = good.metadata;
  metadata["version"] = "2";
  expect_load_error(write_tensors("version.safetensors", metadata, tensors),
                    {"unsupported model file version"});
  metadata = good.metadata;
  metadata["architecture"] = "{not json";
  expect_load_error(write_tensors("arch.safetensors", metadata, tensors),
                    {"architecture is not valid JSON"});
}

TEST_F(ModelFileTest, NanWeightsAreRefusedAtSave) {
  (*model_.params()[2].value)[1] = NAN;
  const std::string file = path("nan.safetensors");
  try {
    save_model(model_, file);
    ADD_FAILURE() << "save_model wrote NaN weights";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(file), HasSubstr("conv2d_2.weight"), HasSubstr("NaN")));
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST_F(ModelFileTest, NanWeightsAreRefusedAtLoad) {
  const io::SafetensorsFile good = io::read_safetensors(good_path_);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::vector<Tensor> copies;
  copies.reserve(model_.params().size());
  for (const Param& p : model_.params()) {
    copies.push_back(*p.value);
    if (p.name == "dense_6.weight") copies.back()[0] = INFINITY;
    tensors.emplace_back(p.name, &copies.back());
  }
  expect_load_error(write_tensors("inf.safetensors", good.metadata, tensors),
                    {"dense_6.weight", "NaN or Inf"});
}

TEST_F(ModelFileTest, MissingFile) {
  expect_load_error(path("nowhere.safetensors"), {"no such file"});
}

// --- Sequential::from_config ---

json seed_like_config() {
  return json::parse(R"({"input_shape": [12, 12, 1], "layers": [
      {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
      {"type": "MaxPool2D", "pool_size": 2},
      {"type": "Flatten"},
      {"type": "Dense", "units": 10}]})");
}

// Expects from_config to throw an InputError whose message holds every fragment.
void expect_config_error(const json& config, const std::vector<std::string>& fragments) {
  try {
    Sequential::from_config(config, "spec.json");
    ADD_FAILURE() << "accepted " << config.dump();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("spec.json"));
    for (const std::string& fragment : fragments) EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}

TEST(FromConfig, AcceptsAGoodSpecAndRoundTrips) {
  const Sequential model = Sequential::from_config(seed_like_config(), "spec.json");
  EXPECT_EQ(model.layer_count(), 4u);
  EXPECT_EQ(model.output_shape(), (Shape{10}));
  EXPECT_EQ(Sequential::from_config(model.config(), "again").config(), model.config());
}

TEST(FromConfig, UnknownKeys) {
  json config = seed_like_config();
  config["optimizer"] = "adam";
  expect_config_error(config, {"unknown key \"optimizer\""});
  config = seed_like_config();
  config["layers"][1]["pool"] = 2;
  expect_config_error(config, {"layer 1", "unknown key \"pool\""});
}

TEST(FromConfig, UnknownLayerType) {
  json config = seed_like_config();
  config["layers"][2]["type"] = "Flatten3D";
  expect_config_error(config, {"layer 2", "unknown layer type \"Flatten3D\""});
  config["layers"][2].erase("type");
  expect_config_error(config, {"layer 2", "needs a string \"type\""});
}

TEST(FromConfig, WrongTypes) {
  json config = seed_like_config();
  config["layers"][0]["filters"] = "4";
  expect_config_error(config, {"layer 0", "\"filters\" must be an integer"});
  config = seed_like_config();
  config["layers"][3]["units"] = 2.5;
  expect_config_error(config, {"layer 3", "\"units\" must be an integer"});
  config = seed_like_config();
  config["layers"][0]["activation"] = "tanh";
  expect_config_error(config, {"layer 0", "\"activation\" must be"});
  config = seed_like_config();
  config["layers"][0]["filters"] = -3;
  expect_config_error(config, {"layer 0", "\"filters\""});
  config = seed_like_config();
  config["input_shape"] = "28x28";
  expect_config_error(config, {"\"input_shape\""});
  config = seed_like_config();
  config["layers"] = json::object();
  expect_config_error(config, {"\"layers\""});
  config = seed_like_config();
  config["layers"][1] = 5;
  expect_config_error(config, {"layer 1", "JSON object"});
}

TEST(FromConfig, ImpossibleShapes) {
  json config = json::parse(R"({"input_shape": [3, 3, 1], "layers": [
      {"type": "Conv2D", "filters": 2, "kernel_size": 5}, {"type": "Flatten"}]})");
  expect_config_error(config, {"layer 0", "5x5 kernel does not fit the input [3, 3, 1]"});

  config = seed_like_config();
  config["layers"].erase(2);  // Dense straight after a pooled image
  expect_config_error(config, {"layer 2", "Dense needs a flat input"});

  config = json::parse(R"({"input_shape": [4, 4, 1], "layers": [
      {"type": "MaxPool2D", "pool_size": 2}, {"type": "MaxPool2D", "pool_size": 3}]})");
  expect_config_error(config, {"layer 1", "3x3 pool does not fit"});
}

}  // namespace
}  // namespace imgcls
