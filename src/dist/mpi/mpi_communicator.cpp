// The MPI communicator: MPI_COMM_WORLD with MPI_ERRORS_RETURN, so a failed call throws
// instead of aborting silently, and a watchdog thread that ends the job when a collective
// hangs. Open MPI's mpirun already ends the job when a rank exits abnormally (killed, or
// non-zero before MPI_Finalize); the watchdog covers what it cannot see: a rank that hangs,
// or a network that stops delivering.
// The C API only: without these, <mpi.h> in C++ drags in the deprecated C++ bindings,
// which need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "core/check.hpp"
#include "imgcls/distributed.hpp"

namespace imgcls {

namespace {

using Clock = std::chrono::steady_clock;

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(fmt::format("MPI: {} failed: {} (another rank probably died)", call,
                          std::string(text, static_cast<std::size_t>(length))));
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const MpiOptions& options)
      : timeout_(options.collective_timeout_seconds) {
    IMGCLS_CHECK(options.collective_timeout_seconds > 0.0, "timeout {}",
                 options.collective_timeout_seconds);
    int initialized = 0;
    MPI_Initialized(&initialized);
    IMGCLS_CHECK(!initialized, "MPI is initialized already: one MPI communicator per process");
    // The watchdog calls MPI_Abort from its own thread, which MPI allows only with
    // MPI_THREAD_MULTIPLE; with less it ends this process and lets mpirun end the rest.
    int provided = MPI_THREAD_SINGLE;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
    abort_allowed_ = provided == MPI_THREAD_MULTIPLE;
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    watchdog_ = std::thread([this] { watch(); });
  }

  ~MpiCommunicator() override {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    // Finalizing waits for every rank; while an exception unwinds, the others may be inside
    // a collective and never arrive. Exiting without it makes mpirun end the job instead.
    if (std::uncaught_exceptions() > 0) return;
    MPI_Comm_free(&comm_);
    MPI_Finalize();
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_sum(std::span<float> values) override {
    Collective guard(*this, "MPI_Allreduce");
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT,
                            MPI_SUM, comm_),
              "MPI_Allreduce");
  }

  void broadcast(std::span<float> values, int root) override {
    Collective guard(*this, "MPI_Bcast");
    check_mpi(MPI_Bcast(values.data(), static_cast<int>(values.size()), MPI_FLOAT, root, comm_),
              "MPI_Bcast");
  }

  double collective_seconds() const override { return collective_seconds_; }

 private:
  // Arms the watchdog for one collective and adds its duration to collective_seconds_.
  class Collective {
   public:
    Collective(MpiCommunicator& owner, const char* name) : owner_(owner), start_(Clock::now()) {
      std::lock_guard lock(owner_.mutex_);
      owner_.pending_ = name;
      owner_.pending_since_ = start_;
    }
    ~Collective() {
      {
        std::lock_guard lock(owner_.mutex_);
        owner_.pending_ = nullptr;
      }
      owner_.collective_seconds_ += std::chrono::duration<double>(Clock::now() - start_).count();
    }
    Collective(const Collective&) = delete;
    Collective& operator=(const Collective&) = delete;

   private:
    MpiCommunicator& owner_;
    Clock::time_point start_;
  };

  void watch() {
    constexpr auto kPoll = std::chrono::milliseconds(200);
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kPoll, [this] { return closing_; })) {
      if (pending_ == nullptr) continue;
      const double waited = std::chrono::duration<double>(Clock::now() - pending_since_).count();
      if (waited < timeout_) continue;
      std::fprintf(stderr,
                   "imgcls: error: rank %d of %d: %s has not completed after %.0f s: another rank "
                   "died or hangs; "
                   "ending the job (the communicator's collective timeout sets the limit)\n",
                   rank_, size_, pending_, waited);
      std::fflush(stderr);
      if (abort_allowed_) MPI_Abort(comm_, 1);
      _exit(1);
    }
  }

  double timeout_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool abort_allowed_ = false;
  double collective_seconds_ = 0.0;
  std::mutex mutex_;
  std::condition_variable wake_;
  const char* pending_ = nullptr;  // the collective in progress, if any
  Clock::time_point pending_since_;
  bool closing_ = false;
  std::thread watchdog_;
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator(const MpiOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace imgcls
