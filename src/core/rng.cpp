// Rng implementation: xoshiro256** seeded through splitmix64 (public-domain algorithms by
// Blackman and Vigna), chosen because its output is fixed by the algorithm, not by a library.
#include "imgcls/rng.hpp"

#include "core/check.hpp"

namespace imgcls {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = seed;
  std::uint64_t h = splitmix64(x);
  x = h ^ (a * 0xd1342543de82ef95ULL);
  h = splitmix64(x);
  x = h ^ (b * 0x9e3779b97f4a7c15ULL);
  return splitmix64(x);
}

Rng::Rng(std::uint64_t seed) {
  for (auto& s : state_) s = splitmix64(seed);
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

std::uint64_t Rng::uniform_index(std::uint64_t bound) {
  IMGCLS_CHECK(bound > 0, "bound must be positive");
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t x = next_u64();
  while (x >= limit) x = next_u64();
  return x % bound;
}

float Rng::uniform(float low, float high) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  const double unit = static_cast<double>(next_u64() >> 11) * kTwoToMinus53;
  return static_cast<float>(low + (high - low) * unit);
}

}  // namespace imgcls
