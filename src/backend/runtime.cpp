// Public runtime settings, forwarded to the backend.
#include "imgcls/runtime.hpp"

#include "backend/backend.hpp"

namespace imgcls {

void set_num_threads(int threads) { backend::set_num_threads(threads); }
int num_threads() { return backend::num_threads(); }

}  // namespace imgcls
