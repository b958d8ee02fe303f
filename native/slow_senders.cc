#include "slow_senders.h"

#include <pthread.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "threads.h"

namespace netns {

namespace {

size_t MaxFromEnv(size_t fallback) {
  const char* env = std::getenv("NETNS_NATIVE_SENDERS");
  if (env == nullptr || *env == '\0') return fallback;
  char* end = nullptr;
  unsigned long n = std::strtoul(env, &end, 10);
  if (*end != '\0' || n == 0 || n > 256) return fallback;
  return n;
}

}  // namespace

SlowSenders::SlowSenders(size_t max, int idleMs) : max_(MaxFromEnv(max)), idleMs_(idleMs) {}

SlowSenders::~SlowSenders() { Stop(); }

bool SlowSenders::Run(UniqueFunction<void()> task) {
  std::vector<std::thread> finished;
  bool ok = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (it->done) {
        finished.push_back(std::move(it->thread));
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
    if (stopping_) {
      ok = false;
    } else {
      queue_.push_back(std::move(task));
      if (idle_ >= queue_.size()) {
        cv_.notify_one();
      } else if (live_ < max_) {
        slots_.emplace_back();
        Slot* slot = &slots_.back();
        try {
          slot->thread = SpawnQuietThread([this, slot] { Main(slot); });
          ++live_;
        } catch (...) {
          // No thread now: a live one takes the task when it finishes; with none, fail it below.
          slots_.pop_back();
          if (live_ == 0) {
            queue_.pop_back();
            ok = false;
          }
        }
      }
    }
  }
  for (auto& t : finished) t.join();  // they have returned from Main or are about to
  return ok;
}

void SlowSenders::Main(Slot* slot) {
  pthread_setname_np(pthread_self(), "netns-sender");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty() && !stopping_) {
      ++idle_;
      cv_.wait_for(lock, std::chrono::milliseconds(idleMs_), [this] { return !queue_.empty() || stopping_; });
      --idle_;
    }
    if (queue_.empty() || stopping_) break;
    {
      UniqueFunction<void()> task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
      lock.unlock();
      task();
    }  // what the task owns (its socket) is released before the thread sleeps
    lock.lock();
    --running_;
  }
  --live_;
  slot->done = true;
  cv_.notify_all();  // Stop() waits for live_ == 0
}

bool SlowSenders::Stop(bool waitRunning) {
  std::list<Slot> slots;
  std::deque<UniqueFunction<void()>> dropped;
  {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    cv_.notify_all();
    if (!waitRunning && running_ > 0) {
      for (auto& s : slots_) s.thread.detach();
      return false;
    }
    cv_.wait(lock, [this] { return live_ == 0; });
    slots.swap(slots_);
  }
  for (auto& s : slots) s.thread.join();
  return true;
}

size_t SlowSenders::Live() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

size_t SlowSenders::Busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_ + queue_.size();
}

}  // namespace netns
