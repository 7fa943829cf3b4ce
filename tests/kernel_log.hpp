// KernelLog: the kernels run on this thread while it lives, by op, and the largest output each
// op wrote. What the tests of a fusion count (a kernel saved is a launch saved on a GPU).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <elegy/elegy.hpp>

namespace elegy::testing {

class KernelLog : public kernels::KernelObserver {
 public:
  KernelLog() { kernels::kernel_observer() = this; }
  ~KernelLog() override { stop(); }
  KernelLog(const KernelLog&) = delete;
  KernelLog& operator=(const KernelLog&) = delete;

  // Stops watching (the counts stay).
  void stop() {
    if (kernels::kernel_observer() == this) kernels::kernel_observer() = previous_;
  }
  int count(kernels::Op op) const { return count_[std::size_t(op)]; }
  int total() const { return total_; }
  // Elements of the largest output `op` wrote (0 when it did not run).
  std::int64_t largest(kernels::Op op) const { return largest_[std::size_t(op)]; }

  void on_kernel(kernels::KernelFn, const char*, kernels::Op op, DType,
                 const kernels::KernelArgs& a) override {
    std::int64_t n = 1;
    for (int i = 0; i < a.out.rank; ++i) n *= a.out.sizes[i];
    ++count_[std::size_t(op)];
    ++total_;
    largest_[std::size_t(op)] = std::max(largest_[std::size_t(op)], n);
  }

 private:
  kernels::KernelObserver* previous_ = kernels::kernel_observer();
  std::vector<int> count_ = std::vector<int>(kernels::kNumOps, 0);
  std::vector<std::int64_t> largest_ = std::vector<std::int64_t>(kernels::kNumOps, 0);
  int total_ = 0;
};

}  // namespace elegy::testing
