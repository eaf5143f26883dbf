// What every build has of data-parallel training: detecting an MPI launcher and
// broadcasting a list of tensors as one buffer.
#include <cstdlib>

#include "core/check.hpp"
#include "imgcls/distributed.hpp"

namespace imgcls {

bool launched_by_mpi() {
  // Open MPI's mpirun, then the PMI variables of MPICH's Hydra and of Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

void broadcast_values(Communicator& communicator, const std::vector<Param>& tensors, int root) {
  IMGCLS_CHECK(root >= 0 && root < communicator.size(), "root {} of {} ranks", root,
               communicator.size());
  if (communicator.size() == 1) return;
  std::size_t total = 0;
  for (const Param& p : tensors) total += static_cast<std::size_t>(p.value->size());
  std::vector<float> flat(total);
  std::size_t offset = 0;
  for (const Param& p : tensors) {
    std::copy(p.value->data(), p.value->data() + p.value->size(),
              flat.begin() + static_cast<std::ptrdiff_t>(offset));
    offset += static_cast<std::size_t>(p.value->size());
  }
  communicator.broadcast(flat, root);
  offset = 0;
  for (const Param& p : tensors) {
    std::copy(flat.begin() + static_cast<std::ptrdiff_t>(offset),
              flat.begin() + static_cast<std::ptrdiff_t>(offset) + p.value->size(),
              p.value->data());
    offset += static_cast<std::size_t>(p.value->size());
  }
}

}  // namespace imgcls
