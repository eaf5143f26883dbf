// The oneDNN engine, stream, thread count and FormatBridge.
#include <omp.h>

#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"
#include "core/check.hpp"

namespace imgcls::backend {

Context& context() {
  static Context instance;
  return instance;
}

void set_num_threads(int threads) {
  IMGCLS_CHECK(threads >= 1, "thread count must be at least 1, got {}", threads);
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

FormatBridge::FormatBridge(const dnnl::memory::desc& user, const dnnl::memory::desc& primitive)
    : same_(user == primitive), user_(user, context().engine, DNNL_MEMORY_NONE) {
  if (same_) return;
  primitive_ = dnnl::memory(primitive, context().engine);
  to_primitive_ = dnnl::reorder(user_, primitive_);
  to_user_ = dnnl::reorder(primitive_, user_);
}

dnnl::memory FormatBridge::to_primitive(const float* user_data) {
  bind(user_, user_data);
  if (same_) return user_;
  to_primitive_.execute(context().stream, user_, primitive_);
  return primitive_;
}

dnnl::memory FormatBridge::primitive_output(float* user_data) {
  bind(user_, user_data);
  return same_ ? user_ : primitive_;
}

void FormatBridge::to_user(float* user_data) {
  if (same_) return;
  bind(user_, user_data);
  to_user_.execute(context().stream, primitive_, user_);
}

}  // namespace imgcls::backend
