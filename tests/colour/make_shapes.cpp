// make_shapes: writes the generated colour dataset of shapes.hpp as an image folder, and
// optionally the same pictures as CIFAR-10 binary files.
//   make_shapes --out DIR [--seed S] [--train-per-class N] [--test-per-class M] [--max-side S]
//               [--cifar CIFAR_DIR]
// DIR gets train/<class>/ and test/<class>/ (PNG files, 32x32 or, with --max-side, of sides
// 32 to S); CIFAR_DIR gets data_batch_1.bin
// ... data_batch_5.bin, test_batch.bin and batches.meta.txt, so that `imgcls train --data DIR`
// and `--data CIFAR_DIR` see the same images in the same order.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "colour/shapes.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Write the generated colour dataset of coloured shapes (tests/colour/shapes.hpp)"};
  imgcls::shapes::ShapesOptions options;
  std::string out, cifar;
  app.add_option("--out", out, "The folder to write: DIR/train/<class>/, DIR/test/<class>/")
      ->required();
  app.add_option("--seed", options.seed, "Seed of every picture")->capture_default_str();
  app.add_option("--train-per-class", options.train_per_class, "Training pictures per class")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--test-per-class", options.test_per_class, "Test pictures per class")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-side", options.max_side,
                 "Pictures of many sizes: each picture's height and width drawn from [32, this]")
      ->check(CLI::Range(32, 4096));
  app.add_option("--cifar", cifar,
                 "Also write the same pictures as CIFAR-10 binary files into this folder");
  CLI11_PARSE(app, argc, argv);
  try {
    const std::int64_t written = imgcls::shapes::write_shapes_folder(out, options);
    fmt::print("make_shapes: {} pictures of {} classes in {}\n", written,
               imgcls::shapes::class_names().size(), out);
    if (!cifar.empty()) {
      imgcls::shapes::write_shapes_cifar10(cifar, options);
      fmt::print("make_shapes: CIFAR-10 binary files in {}\n", cifar);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "make_shapes: {}\n", e.what());
    return 1;
  }
  return 0;
}
