// Public runtime settings, forwarded to the backend.
#include "imgcls/runtime.hpp"

#include <dnnl.hpp>

#include "backend/backend.hpp"

namespace imgcls {

void set_num_threads(int threads) { backend::set_num_threads(threads); }
int num_threads() { return backend::num_threads(); }

std::string_view to_string(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

bool bf16_supported() {
  // oneDNN's ISA values are nested bit masks: every ISA with bf16 holds avx512_core_bf16's bits.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
}

}  // namespace imgcls
