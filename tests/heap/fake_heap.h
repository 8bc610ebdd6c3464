// A heap for core tests: hands out fake contiguous memory and counts what is live.
#pragma once

#include <memory>

#include "heap/heap.h"

namespace dmaheap::testing {

class FakeHeap final : public Heap {
 public:
  struct State {
    int live = 0;
    uint64_t last_len = 0;
    int fail_errno = 0;
  };
  explicit FakeHeap(std::shared_ptr<State> state = std::make_shared<State>()) : state_(std::move(state)) {}
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) override {
    state_->last_len = len;
    if (state_->fail_errno) return makeError(state_->fail_errno, "fake failure");
    return std::unique_ptr<PhysicalAllocation>(std::make_unique<Alloc>(state_, len));
  }
  HeapDescriptor descriptor() const override { return HeapDescriptor{}; }
  HeapUsage usage() const override { return HeapUsage{}; }
  State& state() { return *state_; }

 private:
  class Alloc final : public PhysicalAllocation {
   public:
    Alloc(std::shared_ptr<State> s, uint64_t len) : s_(std::move(s)) {
      s_->live++;
      segments_.push_back(Segment{0x80000000, len});
    }
    ~Alloc() override { s_->live--; }

   private:
    std::shared_ptr<State> s_;
  };
  std::shared_ptr<State> state_;
};

}  // namespace dmaheap::testing
