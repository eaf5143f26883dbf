// Rng: the seeded random number generator used for initialisation, shuffling and dropout.
// Its output is defined by this file alone (splitmix64 + xoshiro256**), so a seed gives
// the same numbers with any compiler or standard library.
#pragma once

#include <cstdint>

namespace imgcls {

// A seed for an independent stream: derive_seed(seed, epoch, step) gives each (epoch, step)
// its own numbers, so any step can be replayed without running the ones before it.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0);

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next_u64();
  // Uniform in [0, bound); bound > 0. Unbiased (rejection sampling).
  std::uint64_t uniform_index(std::uint64_t bound);
  // Uniform in [low, high).
  float uniform(float low, float high);

 private:
  std::uint64_t state_[4];
};

}  // namespace imgcls
