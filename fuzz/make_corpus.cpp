// Writes the seed corpora of the fuzzers: small valid inputs for each harness, so that they
// start from files that get past the first checks.
//
//   make_fuzz_corpus <repository root>      the committed corpora of fuzz/corpus/:
//     idx/           3 images of 2x4 pixels and their labels, plain and gzip
//     image/         the format test pictures of tests/images/formats and two digits
//     model/         a 6x6x1 model (every layer kind with weights) and a checkpoint of it
//     architecture/  the seed model's architecture
//   Run this again when a format changes.
//
//   make_fuzz_corpus --registry <folder> <repository root>
//                                           what follows the layer registry, written at
//   fuzz time (make fuzz) so that a new layer kind is fuzzed without editing anything:
//     architecture/         one spec per example of every registered kind, in a classifier
//     architecture.dict     fuzz/dict/architecture.dict, then every kind's name and tokens
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/train.hpp"
#include "layers/registry.hpp"

namespace {

namespace fs = std::filesystem;
using Bytes = std::string;

void write(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

Bytes gzip(const Bytes& bytes) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 16 + MAX_WBITS;
  constexpr int kMemoryLevel = 8;
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemoryLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  Bytes out(deflateBound(&stream, static_cast<uLong>(bytes.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// magic 0x0000 0x08 <dims>, the dimensions big-endian, then the data.
Bytes idx_file(const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes bytes{0, 0, 0x08, static_cast<char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(d >> shift));
  return bytes + data;
}

void write_idx(const fs::path& dir) {
  Bytes pixels;
  for (int i = 0; i < 3 * 2 * 4; ++i) pixels.push_back(static_cast<char>(i * 11));
  const Bytes images = idx_file({3, 2, 4}, pixels);
  const Bytes labels = idx_file({3}, Bytes{7, 0, 9});
  write(dir / "images-idx3", images);
  write(dir / "images-idx3.gz", gzip(images));
  write(dir / "labels-idx1", labels);
  write(dir / "labels-idx1.gz", gzip(labels));
}

void copy_pictures(const fs::path& root, const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path formats = root / "tests/images/formats";
  for (const auto& entry : fs::directory_iterator(formats))
    if (entry.path().extension() != ".json")
      fs::copy_file(entry.path(), dir / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
  for (const char* digit : {"colour_000.png", "colour_001.jpg"})
    fs::copy_file(root / "tests/images/digits" / digit, dir / digit,
                  fs::copy_options::overwrite_existing);
}

// 6x6x1 -> Conv2D 2 3x3 relu -> [4, 4, 2] -> MaxPool 2 -> [2, 2, 2] -> Flatten -> [8]
// -> Dense 3: 20 + 27 = 47 parameters.
imgcls::Sequential tiny_model() {
  using namespace imgcls;
  Sequential model({6, 6, 1});
  model.add(layers::Conv2D({.filters = 2, .kernel_size = 3, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 3}));
  model.initialize(1);
  model.set_class_names({"cat", "dog", "eel"});
  return model;
}

void write_models(const fs::path& dir) {
  using namespace imgcls;
  fs::create_directories(dir);
  Sequential model = tiny_model();
  save_model(model, (dir / "model.safetensors").string(), {{"epochs", 1}});

  Adam adam;
  adam.step(model.params());  // zero gradients: allocates the moment buffers
  TrainingState state;
  state.epoch = 2;
  state.step = 1;
  state.epoch_loss_sum = 0.5;
  state.epoch_correct = 1;
  state.epoch_seen = 2;
  state.finished.push_back({.epoch = 1,
                            .loss = 1.1,
                            .accuracy = 0.5,
                            .seconds = 0.1,
                            .learning_rate = 1e-3,
                            .validation_loss = 1.0,
                            .validation_accuracy = 0.5});
  state.best_val_loss = 1.0;
  for (const Param& p : model.params()) state.best_weights.push_back(*p.value);
  save_checkpoint((dir / "checkpoint.safetensors").string(), model, adam, state,
                  {{"epochs", 3}, {"batch_size", 2}});
}

void write_architectures(const fs::path& dir) {
  write(dir / "seed.json", imgcls::presets::seed().config().dump(1) + "\n");
}

// Each example of each kind as the first layer of a small classifier.
void write_registry_architectures(const fs::path& dir) {
  for (const imgcls::layers::LayerKind& kind : imgcls::layers::registry()) {
    for (std::size_t i = 0; i < kind.examples.size(); ++i) {
      const imgcls::layers::LayerExample& example = kind.examples[i];
      nlohmann::json layers = nlohmann::json::array({example.config});
      if (example.input_shape.size() > 2) layers.push_back({{"type", "Flatten"}});
      layers.push_back({{"type", "Dense"}, {"units", 3}});
      const nlohmann::json spec = {{"input_shape", imgcls::Shape(example.input_shape.begin() + 1,
                                                                 example.input_shape.end())},
                                   {"layers", layers}};
      write(dir / (kind.name + "_" + std::to_string(i) + ".json"), spec.dump(1) + "\n");
    }
  }
}

// The format's own words (the committed dictionary), then every kind's name and tokens.
void write_registry_dictionary(const fs::path& committed, const fs::path& out) {
  std::ifstream in(committed, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + committed.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text += "# From the layer registry (make_fuzz_corpus --registry):\n";
  for (const imgcls::layers::LayerKind& kind : imgcls::layers::registry()) {
    text += nlohmann::json(nlohmann::json(kind.name).dump()).dump() + "\n";
    for (const std::string& token : kind.fuzz_tokens)
      text += nlohmann::json(nlohmann::json(token).dump()).dump() + "\n";
  }
  write(out, text);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 3 && args[0] == "--registry") {
      const fs::path out = args[1];
      write_registry_architectures(out / "architecture");
      write_registry_dictionary(fs::path(args[2]) / "fuzz/dict/architecture.dict",
                                out / "architecture.dict");
      std::cout << "wrote " << out.string() << "\n";
      return 0;
    }
    if (args.size() != 1) {
      std::cerr
          << "usage: make_fuzz_corpus <repository root> | --registry <folder> <repository root>\n";
      return 2;
    }
    const fs::path corpus = fs::path(args[0]) / "fuzz/corpus";
    write_idx(corpus / "idx");
    copy_pictures(args[0], corpus / "image");
    write_models(corpus / "model");
    write_architectures(corpus / "architecture");
    std::cout << "wrote " << corpus.string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "make_fuzz_corpus: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
