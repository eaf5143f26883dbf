// SIGINT and SIGTERM without a signal handler.
//
// A handler runs on the stack of whichever thread the signal interrupts, below its stack
// pointer. oneDNN 2.6's JIT GEMM kernels (used by inner products, and by some convolutions)
// point rsp into a heap buffer while they run, so a handler's frame is written over heap memory:
// the heap is corrupted and the process aborts later in free() (oneDNN issue #4845, fixed
// upstream in 2026; Debian's 2.6.3 has it). imgcls therefore never installs a handler for them:
// the signals are blocked in the command's threads and taken by one watcher thread with
// sigtimedwait, which never runs oneDNN code.
#pragma once

#include <atomic>
#include <csignal>
#include <thread>

namespace imgcls::cli {

// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread it starts after; the
// mask is restored on destruction. Construct it before any other thread exists.
class BlockStopSignals {
 public:
  BlockStopSignals();
  ~BlockStopSignals();
  BlockStopSignals(const BlockStopSignals&) = delete;
  BlockStopSignals& operator=(const BlockStopSignals&) = delete;
  const sigset_t& signals() const { return signals_; }

 private:
  sigset_t signals_{};
  sigset_t previous_{};
};

// BlockStopSignals plus a watcher thread that takes the signals. While catching (set_catching)
// or once a stop was requested, a signal sets `stop_requested`; otherwise it ends the process
// as its default action would (exit status 128 + the signal), so Ctrl-C while data loads still
// quits at once. Once a stop was requested, signals that come after the watcher ends are ignored.
class StopSignals {
 public:
  explicit StopSignals(std::atomic<bool>& stop_requested);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  void set_catching(bool catching) { catching_.store(catching); }

 private:
  void watch();

  BlockStopSignals blocked_;
  std::atomic<bool>& stop_requested_;
  std::atomic<bool> catching_{false};
  std::atomic<bool> quit_{false};
  std::thread watcher_;
};

}  // namespace imgcls::cli
