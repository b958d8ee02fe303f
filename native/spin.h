// Bounded spinning (docs/threading.md, "The path of one request"): the clock, the pause hint, the
// preemption test shared by the worker that spins for its next job and the JS thread that spins for
// a completion, and the integer environment knobs of the request path.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <ctime>

namespace netns {

inline int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// A gap this long between two looks at the clock means the spinning thread was preempted: the CPUs
// are wanted by others, and spinning would only take one from the thread it waits for.
constexpr int64_t kPreemptedNs = 30 * 1000;

// The integer in environment variable `name` when it is one within [lo, hi], else `dflt`.
inline long EnvInt(const char* name, long lo, long hi, long dflt) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') return dflt;
  char* end = nullptr;
  long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < lo || n > hi) return dflt;
  return n;
}

}  // namespace netns
