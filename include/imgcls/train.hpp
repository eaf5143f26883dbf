// Training and evaluation loops: fit, evaluate, predict.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"

namespace imgcls {

struct EpochStats {
  int epoch = 0;           // 1-based
  double loss = 0.0;       // mean training loss over the epoch
  double accuracy = 0.0;   // training accuracy over the epoch
  double seconds = 0.0;    // wall time of the epoch
};

struct History {
  std::vector<EpochStats> epochs;
  double train_seconds = 0.0;
};

struct FitOptions {
  int epochs = 5;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 1;  // shuffling; a new permutation every epoch
  // Called after every `progress_every` steps and at the end of each epoch.
  std::function<void(int epoch, std::int64_t step, std::int64_t steps, double mean_loss)> on_progress;
  std::int64_t progress_every = 100;
  std::function<void(const EpochStats&)> on_epoch_end;
};

// Trains `model` on `data` with mini-batches drawn without replacement from a fresh
// permutation each epoch (the last batch is smaller when N is not a multiple).
History fit(Sequential& model, Optimizer& optimizer, const Dataset& data,
            const FitOptions& options);

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
  std::int64_t count = 0;
  Tensor probabilities;              // [N, classes]
  std::vector<std::int32_t> predicted;  // [N]
};

Evaluation evaluate(Sequential& model, const Dataset& data, std::int64_t batch_size = 1000);

// images [N, ...input_shape] -> probabilities [N, classes]
Tensor predict(Sequential& model, const Tensor& images, std::int64_t batch_size = 1000);

}  // namespace imgcls
