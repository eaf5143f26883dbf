// The layer registry's suites: every registered layer kind (src/layers/registry.hpp), on each
// of its examples, is
//  - complete: reads from its config, exports to ONNX, has reference ops, examples, and a
//    fuzz token for every option its examples use;
//  - read back from its own config() unchanged;
//  - computed by its kernel as its reference loops compute it (forward and backward in
//    Mode::infer, parameters and buffers random);
//  - differentiated right in Mode::train (the public gradient checker);
//  - saved and loaded into a model that predicts the same;
//  - exported to ONNX that onnx's checker accepts (onnxruntime itself runs every kind in
//    ctest -L onnx: onnx_runtime_every_kind).
// A new kind is picked up here by registering; nothing lists the kinds by hand.
#include "layers/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <set>

#include "imgcls/gradient_check.hpp"
#include "imgcls/io.hpp"
#include "imgcls/onnx.hpp"
#include "imgcls/predictor.hpp"
#include "layers/kernel.hpp"

namespace imgcls {
namespace {

using layers::LayerExample;
using layers::LayerKind;
using testing::HasSubstr;

struct Case {
  const LayerKind* kind;
  std::size_t example;
  const LayerExample& data() const { return kind->examples.at(example); }
  Shape sample() const { return Shape(data().input_shape.begin() + 1, data().input_shape.end()); }
};

// gtest prints a parameter with this.
void PrintTo(const Case& c, std::ostream* out) { *out << c.kind->name << " example " << c.example; }

std::vector<Case> every_example() {
  std::vector<Case> cases;
  for (const LayerKind& kind : layers::registry())
    for (std::size_t i = 0; i < kind.examples.size(); ++i) cases.push_back({&kind, i});
  return cases;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return info.param.kind->name + "_" + std::to_string(info.param.example);
}

void fill_uniform(Tensor& tensor, float low, float high, Rng& rng) {
  for (std::int64_t i = 0; i < tensor.size(); ++i) tensor[i] = rng.uniform(low, high);
}

// The built layer of an example, with random parameters (biases and scales included) and
// buffers (moving variances stay positive).
std::unique_ptr<Layer> built_layer(const Case& c, Rng& rng) {
  std::unique_ptr<Layer> layer = layers::from_config(c.data().config, c.kind->name);
  layer->set_name("under_test");
  layer->build(c.sample());
  layer->initialize(rng);
  for (const Param& p : layer->params()) fill_uniform(*p.value, -1.0f, 1.0f, rng);
  for (const Param& b : layer->buffers()) fill_uniform(*b.value, 0.5f, 1.5f, rng);
  return layer;
}

// max |got - want| / max(1, |want|)
double relative_error(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  double worst = 0.0;
  for (std::int64_t i = 0; i < std::min(got.size(), want.size()); ++i)
    worst = std::max(worst,
                     std::abs(double(got[i]) - want[i]) / std::max(1.0, std::abs(double(want[i]))));
  return worst;
}

class RegistryExample : public testing::TestWithParam<Case> {};

TEST_P(RegistryExample, ConfigReadsBackUnchanged) {
  const Case& c = GetParam();
  std::unique_ptr<Layer> layer = layers::from_config(c.data().config, "example");
  EXPECT_EQ(layer->kind(), c.kind->name);
  layer->build(c.sample());
  const nlohmann::json config = layer->config();
  EXPECT_EQ(config.at("type"), c.kind->name);
  for (const auto& [key, value] : c.data().config.items()) EXPECT_EQ(config.at(key), value) << key;
  EXPECT_EQ(layers::from_config(config, "again")->config(), config);
}

TEST_P(RegistryExample, KernelComputesWhatTheReferenceComputes) {
  const Case& c = GetParam();
  Rng rng(17);
  const std::unique_ptr<Layer> layer = built_layer(c, rng);
  Tensor src(c.data().input_shape);
  fill_uniform(src, -1.0f, 1.0f, rng);
  const std::unique_ptr<Kernel> kernel =
      layer->make_kernel({.batch = src.dim(0), .mode = Mode::infer});
  Tensor dst, want_dst;
  kernel->forward(src, dst);
  c.kind->reference.forward(*layer, src, want_dst);
  EXPECT_LE(relative_error(dst, want_dst), c.kind->reference_tolerance) << "dst";

  Tensor diff_dst(dst.shape()), diff_src, want_diff_src;
  fill_uniform(diff_dst, -1.0f, 1.0f, rng);
  std::vector<Tensor> diff_params, want_diff_params;
  std::vector<Tensor*> diff_param_pointers;
  for (const Param& p : layer->params()) diff_params.emplace_back(p.value->shape());
  for (Tensor& t : diff_params) diff_param_pointers.push_back(&t);
  kernel->backward(src, dst, diff_dst, &diff_src, diff_param_pointers);
  c.kind->reference.backward(*layer, src, want_dst, diff_dst, want_diff_src, want_diff_params);
  EXPECT_LE(relative_error(diff_src, want_diff_src), c.kind->reference_tolerance) << "diff_src";
  ASSERT_EQ(diff_params.size(), want_diff_params.size());
  for (std::size_t i = 0; i < diff_params.size(); ++i)
    EXPECT_LE(relative_error(diff_params[i], want_diff_params[i]), c.kind->reference_tolerance)
        << "param " << i;
}

// Explanations (src/plan/gradient_plan.hpp) run backward in Mode::infer asking for d(src)
// alone: an empty diff_params gives the same d(src) and writes no parameter gradient.
TEST_P(RegistryExample, BackwardWithoutParameterGradientsGivesTheSameDiffSrc) {
  const Case& c = GetParam();
  Rng rng(23);
  const std::unique_ptr<Layer> layer = built_layer(c, rng);
  Tensor src(c.data().input_shape);
  fill_uniform(src, -1.0f, 1.0f, rng);
  const std::unique_ptr<Kernel> kernel =
      layer->make_kernel({.batch = src.dim(0), .mode = Mode::infer});
  Tensor dst;
  kernel->forward(src, dst);
  Tensor diff_dst(dst.shape());
  fill_uniform(diff_dst, -1.0f, 1.0f, rng);
  std::vector<Tensor> diff_params;
  std::vector<Tensor*> diff_param_pointers;
  for (const Param& p : layer->params()) diff_params.emplace_back(p.value->shape());
  for (Tensor& t : diff_params) diff_param_pointers.push_back(&t);
  Tensor with_params, alone;
  kernel->backward(src, dst, diff_dst, &with_params, diff_param_pointers);
  // The layer's own gradient tensors, marked, must come through untouched.
  constexpr float kMark = 12345.0f;
  for (const Param& p : layer->params()) p.grad->fill(kMark);
  kernel->backward(src, dst, diff_dst, &alone, {});
  EXPECT_EQ(alone.shape(), with_params.shape());
  EXPECT_EQ(alone.values(), with_params.values());
  for (const Param& p : layer->params())
    EXPECT_TRUE(std::all_of(p.grad->values().begin(), p.grad->values().end(), [](float v) {
      return v == kMark;
    })) << p.name;
}

TEST_P(RegistryExample, GradientsMatchFiniteDifferences) {
  const Case& c = GetParam();
  std::unique_ptr<Layer> layer = layers::from_config(c.data().config, "example");
  const GradientCheckResult result =
      check_layer_gradients(*layer, c.data().input_shape, {.seed = 5});
  EXPECT_TRUE(result.ok()) << result.worst;
  // Most points are compared, not skipped as kinks, or the check would prove little.
  EXPECT_GE(result.checked, 2 * result.skipped)
      << result.checked << " checked, " << result.skipped << " skipped";
}

// The example as the first layer of a small classifier.
Sequential classifier_around(const Case& c) {
  Sequential model(c.sample());
  model.add(layers::from_config(c.data().config, "example"));
  if (model.output_shape().size() != 1) model.add(layers::Flatten());
  model.add(layers::Dense({.units = 3}));
  return model;
}

TEST_P(RegistryExample, SavedAndLoadedModelPredictsTheSame) {
  const Case& c = GetParam();
  Sequential model = classifier_around(c);
  model.initialize(3);
  Rng rng(4);
  for (const Param& b : model.buffers()) fill_uniform(*b.value, 0.5f, 1.5f, rng);
  static std::atomic<int> counter{0};
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("imgcls_registry_" + std::to_string(::getpid()) +
                                                "_" + std::to_string(counter++) + ".safetensors");
  save_model(model, path.string());
  Sequential loaded = load_model(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(loaded.config(), model.config());
  const std::vector<Param> want = model.params_and_buffers(), got = loaded.params_and_buffers();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(got[i].value->values(), want[i].value->values());
  Tensor images(c.data().input_shape);
  fill_uniform(images, -1.0f, 1.0f, rng);
  EXPECT_EQ(Predictor(loaded).predict(images).values(), Predictor(model).predict(images).values());
}

TEST_P(RegistryExample, ExportsToOnnxThatTheCheckerAccepts) {
  const Case& c = GetParam();
  Sequential model = classifier_around(c);
  model.initialize(3);
  EXPECT_NO_THROW(to_onnx(model));
}

INSTANTIATE_TEST_SUITE_P(EveryKind, RegistryExample, testing::ValuesIn(every_example()), case_name);

// --- The registry as a whole -----------------------------------------------------------------

TEST(Registry, EveryKindIsComplete) {
  ASSERT_FALSE(layers::registry().empty());
  for (const LayerKind& kind : layers::registry()) {
    SCOPED_TRACE(kind.name);
    EXPECT_TRUE(kind.from_config) << "no option reader";
    EXPECT_TRUE(kind.to_onnx) << "no ONNX export";
    EXPECT_TRUE(kind.reference.forward && kind.reference.backward) << "no reference ops";
    EXPECT_FALSE(kind.examples.empty()) << "no examples for the suites";
    EXPECT_GT(kind.reference_tolerance, 0.0);
    // The fuzzer's dictionary holds every option name the kind takes.
    const std::set<std::string> tokens(kind.fuzz_tokens.begin(), kind.fuzz_tokens.end());
    for (const LayerExample& example : kind.examples) {
      for (const auto& [key, value] : example.config.items()) {
        if (key == "type") continue;
        EXPECT_TRUE(tokens.count(key)) << "option \"" << key << "\" is not a fuzz token";
      }
    }
  }
}

TEST(Registry, KindsAreFoundByNameAndListedInErrors) {
  for (const LayerKind& kind : layers::registry()) EXPECT_EQ(layers::find_kind(kind.name), &kind);
  EXPECT_EQ(layers::find_kind("Mystery"), nullptr);
  try {
    layers::from_config({{"type", "Mystery"}}, "spec");
    FAIL() << "an unknown kind was read";
  } catch (const InputError& e) {
    for (const LayerKind& kind : layers::registry()) EXPECT_THAT(e.hint(), HasSubstr(kind.name));
  }
}

}  // namespace
}  // namespace imgcls
