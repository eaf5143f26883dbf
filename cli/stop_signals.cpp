// StopSignals and BlockStopSignals: see stop_signals.hpp for why no handler is installed.
#include "stop_signals.hpp"

#include <pthread.h>

#include <cstdlib>
#include <ctime>

namespace imgcls::cli {

BlockStopSignals::BlockStopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
}

BlockStopSignals::~BlockStopSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

namespace {

// The default action of `signal` (for SIGINT and SIGTERM: the process ends), taken now: the
// signal is unblocked in this thread alone and sent to it.
[[noreturn]] void end_process_by(int signal) {
  std::signal(signal, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signal);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  pthread_kill(pthread_self(), signal);
  std::_Exit(128 + signal);  // not reached: the default action ended the process
}

}  // namespace

StopSignals::StopSignals(std::atomic<bool>& stop_requested)
    : stop_requested_(stop_requested), watcher_([this] { watch(); }) {}

// A run that was asked to stop is on its way out: the signals that follow are ignored, before
// blocked_ restores the mask, so that none pending or still to come ends the process before it
// returns its own exit code.
StopSignals::~StopSignals() {
  quit_.store(true);
  watcher_.join();
  if (stop_requested_.load()) {
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
  }
}

void StopSignals::watch() {
  constexpr timespec kPoll{.tv_sec = 0, .tv_nsec = 20'000'000};  // how soon quit_ is seen
  while (!quit_.load()) {
    const int signal = sigtimedwait(&blocked_.signals(), nullptr, &kPoll);
    if (signal <= 0) continue;
    if (catching_.load() || stop_requested_.load())
      stop_requested_.store(true);
    else
      end_process_by(signal);
  }
}

}  // namespace imgcls::cli
