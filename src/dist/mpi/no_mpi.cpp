// A build without MPI (IMGCLS_MPI=OFF, or no MPI found): single-process training only.
#include "imgcls/distributed.hpp"
#include "imgcls/error.hpp"

namespace imgcls {

bool mpi_built() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator(const MpiOptions&) {
  throw UsageError("this imgcls was built without MPI (CMake option IMGCLS_MPI)");
}

}  // namespace imgcls
