// ONNX export: the exported graphs pass onnx's own checker and have the documented
// interface, every layer kind exports, and failures are clean (an error naming the layer or
// the file, exit 1, nothing written).
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "../support/process.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/onnx.hpp"
#include "layers/kernel.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kSeedModel = IMGCLS_ONNX_FIXTURES_DIR "/seed_model.safetensors";
const std::string kEveryLayer = IMGCLS_ONNX_TEST_DIR "/every_layer.json";

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes));
  return model;
}

// A graph value's dimensions, a dynamic one as its name.
std::vector<std::string> dims_of(const onnx::ValueInfoProto& value) {
  std::vector<std::string> dims;
  for (const auto& d : value.type().tensor_type().shape().dim())
    dims.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return dims;
}

std::multiset<std::string> op_types(const onnx::ModelProto& model) {
  std::multiset<std::string> ops;
  for (const auto& node : model.graph().node()) ops.insert(node.op_type());
  return ops;
}

// A layer kind outside the registry (a user's own Layer class), so without an ONNX export.
class UnknownLayer final : public imgcls::Layer {
 public:
  std::string kind() const override { return "Mystery"; }
  imgcls::Shape build(const imgcls::Shape& input_shape) override { return input_shape; }
  nlohmann::json config() const override { return {{"type", kind()}}; }
  std::unique_ptr<imgcls::Kernel> make_kernel(const imgcls::KernelSpec&) const override {
    return nullptr;
  }
};

class OnnxExport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("imgcls_onnx_export_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  imgcls::testing_support::Outcome imgcls_export(const std::vector<std::string>& args) const {
    std::vector<std::string> all{"export"};
    all.insert(all.end(), args.begin(), args.end());
    return imgcls::testing_support::run_process(IMGCLS_BINARY, all, dir_);
  }

  fs::path dir_;
};

TEST_F(OnnxExport, SeedModelPassesTheCheckerWithTheDocumentedInterface) {
  imgcls::Sequential model = imgcls::load_model(kSeedModel);
  const onnx::ModelProto proto = parse(imgcls::to_onnx(model));
  EXPECT_NO_THROW(onnx::checker::check_model(proto));
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).version(), imgcls::kOnnxOpset);
  EXPECT_GE(imgcls::kOnnxOpset, 13);
  const auto& graph = proto.graph();
  ASSERT_EQ(graph.input_size(), 1);
  EXPECT_EQ(graph.input(0).name(), "image");
  EXPECT_EQ(dims_of(graph.input(0)), (std::vector<std::string>{"batch", "1", "28", "28"}));
  ASSERT_EQ(graph.output_size(), 2);
  EXPECT_EQ(graph.output(0).name(), "logits");
  EXPECT_EQ(graph.output(1).name(), "probabilities");
  EXPECT_EQ(dims_of(graph.output(1)), (std::vector<std::string>{"batch", "10"}));
  // Every parameter is in the graph: 121,930 values.
  std::int64_t values = 0;
  for (const auto& init : graph.initializer()) values += init.float_data_size();
  EXPECT_EQ(values, model.parameter_count());
}

TEST_F(OnnxExport, EveryLayerKindExports) {
  imgcls::Sequential model = imgcls::read_architecture(kEveryLayer);
  model.initialize(3);
  const onnx::ModelProto proto = parse(imgcls::to_onnx(model));
  EXPECT_NO_THROW(onnx::checker::check_model(proto));
  const auto ops = op_types(proto);
  for (const char* op :
       {"Conv", "Relu", "BatchNormalization", "LeakyRelu", "MaxPool", "AveragePool",
        "GlobalAveragePool", "Flatten", "Identity", "Gemm", "Softmax"})
    EXPECT_EQ(ops.count(op) > 0, true) << op;
  std::int64_t values = 0;
  for (const auto& init : proto.graph().initializer()) values += init.float_data_size();
  EXPECT_EQ(values, model.parameter_count() + model.non_trainable_count());
}

TEST_F(OnnxExport, StrongPresetFlattensThroughATransposeToNhwc) {
  imgcls::Sequential model = imgcls::presets::strong();
  model.initialize(1);
  const onnx::ModelProto proto = parse(imgcls::to_onnx(model));
  EXPECT_NO_THROW(onnx::checker::check_model(proto));
  const auto& nodes = proto.graph().node();
  const auto transpose = std::find_if(nodes.begin(), nodes.end(),
                                      [](const auto& n) { return n.op_type() == "Transpose"; });
  ASSERT_NE(transpose, nodes.end());
  ASSERT_EQ(transpose->attribute_size(), 1);
  EXPECT_EQ(std::vector<std::int64_t>(transpose->attribute(0).ints().begin(),
                                      transpose->attribute(0).ints().end()),
            (std::vector<std::int64_t>{0, 2, 3, 1}));
}

TEST_F(OnnxExport, UnknownLayerKindFailsNamingTheLayerAndWritesNothing) {
  imgcls::Sequential model({4});
  model.add(std::make_unique<UnknownLayer>());
  const std::string path = (dir_ / "out.onnx").string();
  try {
    imgcls::export_onnx(model, path);
    FAIL() << "export should fail";
  } catch (const imgcls::InputError& e) {
    EXPECT_EQ(e.source(), "mystery_0");
    EXPECT_NE(e.problem().find("Mystery"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(OnnxExport, NonFlatOutputFails) {
  imgcls::Sequential model({8, 8, 1});
  model.add(imgcls::layers::Conv2D({.filters = 2}));
  EXPECT_THROW(imgcls::to_onnx(model), imgcls::InputError);
}

TEST_F(OnnxExport, CommandWritesACheckedFile) {
  const std::string out = (dir_ / "seed.onnx").string();
  const auto run = imgcls_export({kSeedModel, "--onnx", out});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("seed.onnx"), std::string::npos) << run.out;
  EXPECT_NO_THROW(onnx::checker::check_model(out));
}

TEST_F(OnnxExport, CommandOnABadModelFileExitsOneNamingItAndWritesNothing) {
  const std::string bad = (dir_ / "broken.safetensors").string();
  std::ofstream(bad, std::ios::binary) << "this is not a safetensors file";
  const std::string out = (dir_ / "out.onnx").string();
  const auto run = imgcls_export({bad, "--onnx", out});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("broken.safetensors"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(out));

  const auto missing = imgcls_export({(dir_ / "missing.safetensors").string(), "--onnx", out});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find("missing.safetensors"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(OnnxExport, CommandNeedsTheOutputPath) {
  EXPECT_EQ(imgcls_export({kSeedModel}).exit_code, 2);
}

TEST_F(OnnxExport, CommandIntoAMissingFolderExitsOneNamingIt) {
  const auto run =
      imgcls_export({kSeedModel, "--onnx", (dir_ / "no_such_dir" / "m.onnx").string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("no_such_dir"), std::string::npos) << run.err;
}

}  // namespace
