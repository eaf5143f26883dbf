// Data-parallel training: the ranks of a job and the two collectives fit needs.
//
//   auto world = imgcls::make_mpi_communicator({.collective_timeout_seconds = 300});
//   imgcls::fit(model, adam, train, {.batch_size = 64, .communicator = world.get()});
//
// Every rank runs the same program on the same data with the same seed. fit gives rank r
// its shard of each global batch, averages the gradients over the ranks (weighted by shard
// size, so the step equals the single-process step up to float summation order) and keeps
// the weights identical on every rank. MPI stays behind this interface: the fit loop only
// sees a Communicator, and a build without MPI has the single-process one alone.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "imgcls/layers.hpp"

namespace imgcls {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 .. size() - 1
  virtual int size() const = 0;
  // Every rank passes a buffer of the same length; each ends with the element-wise sum.
  virtual void allreduce_sum(std::span<float> values) = 0;
  // Rank `root`'s values replace every other rank's (same length on every rank).
  virtual void broadcast(std::span<float> values, int root) = 0;
  // Wall time spent inside collectives so far (waiting for slower ranks included).
  virtual double collective_seconds() const = 0;
};

// One process: rank 0 of 1; the collectives leave the values as they are.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void broadcast(std::span<float>, int) override {}
  double collective_seconds() const override { return 0.0; }
};

struct MpiOptions {
  // A collective that has not completed after this long means a rank died or hung: the
  // watchdog prints which collective and ends the whole job (MPI_Abort).
  double collective_timeout_seconds = 300.0;
};

// True when this build has MPI (CMake option IMGCLS_MPI).
bool mpi_built();
// True when the process was started by an MPI launcher (mpirun/mpiexec set the job's size
// in the environment).
bool launched_by_mpi();
// MPI_COMM_WORLD with errors returned (thrown as imgcls::Error) and a collective watchdog.
// Initializes MPI; the destructor finalizes it, except while an exception unwinds: then the
// process exits without finalizing and the launcher ends the other ranks. At most one per
// process. Throws UsageError in a build without MPI.
std::unique_ptr<Communicator> make_mpi_communicator(const MpiOptions& options = {});

// Copies rank `root`'s values of `tensors` to every rank, in one broadcast.
void broadcast_values(Communicator& communicator, const std::vector<Param>& tensors, int root = 0);

}  // namespace imgcls
