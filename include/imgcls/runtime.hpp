// Process-wide runtime settings.
#pragma once

namespace imgcls {

// CPU threads for every op (oneDNN and imgcls's own loops). Call before training.
void set_num_threads(int threads);
int num_threads();

}  // namespace imgcls
