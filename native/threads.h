// Starting addon threads. They block every signal so that signals keep going to Node's own
// threads (libuv's handlers), and so our blocking syscalls are not interrupted by them.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace netns {

template <class F>
std::thread SpawnQuietThread(F&& fn) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits this mask
  try {
    std::thread t(std::forward<F>(fn));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
}

}  // namespace netns
