// The dispatch table: one kernel per (Op, DeviceKind, DType). Kernels register themselves at the
// first lookup (explicit registration functions, no static initialisers, so static linking
// works); a missing entry raises an Error naming all three keys.
#pragma once

#include <array>
#include <cstdint>

#include "elegy/kernels/buffer_view.hpp"
#include "elegy/kernels/op.hpp"

namespace elegy::kernels {

class Registry {
 public:
  void add(Op op, DeviceKind device, DType dtype, KernelFn fn) {
    table_[index(op, device, dtype)] = fn;
  }
  KernelFn find(Op op, DeviceKind device, DType dtype) const {
    return table_[index(op, device, dtype)];
  }

 private:
  static constexpr int index(Op op, DeviceKind device, DType dtype) {
    return (int(op) * kNumDeviceKinds + int(device)) * kNumDTypes + int(dtype);
  }
  std::array<KernelFn, kNumOps * kNumDeviceKinds * kNumDTypes> table_{};
};

// The process-wide table, filled on first use.
const Registry& registry();

// The kernel for (op, device, dtype); Error "<what>: no <op> kernel for <dtype> on <device>".
KernelFn lookup(const char* what, Op op, Device device, DType dtype);

// Error for reading the values of a meta tensor (they do not exist).
[[noreturn]] void fail_meta_read(const char* what);

// How many kernels this thread has run (looked up and called, meta tensors excepted): on a GPU
// each is a launch with its host-side cost, so ELEGY_FIT_PROFILE reports the count per step.
inline std::uint64_t& kernels_run_by_this_thread() {
  static thread_local std::uint64_t count = 0;
  return count;
}

// What a step being compiled sees of each kernel it runs (autodiff/step_recording.hpp): the
// kernel and its plain-data arguments, enough to run it again. Per thread; null when not
// recording.
class KernelObserver {
 public:
  virtual ~KernelObserver() = default;
  virtual void on_kernel(KernelFn fn, const char* what, Op op, DType dtype,
                         const KernelArgs& args) = 0;
};
KernelObserver*& kernel_observer();

// Runs `fn` (found by lookup) and tells the observer: for callers that look a kernel up once and
// run it several times.
inline void call(KernelFn fn, const char* what, Op op, DType dtype, const KernelArgs& args) {
  fn(args);
  ++kernels_run_by_this_thread();
  if (KernelObserver* o = kernel_observer()) [[unlikely]]
    o->on_kernel(fn, what, op, dtype, args);
}

// Looks up and runs; `what` is the user-facing op name for errors (e.g. "log_softmax"). On the
// meta device nothing runs (outputs have shapes, no values); copying a meta tensor's values
// to a real device is an Error.
inline void run(const char* what, Op op, DType dtype, const KernelArgs& args) {
  if (args.device.is_meta()) [[unlikely]]
    return;
  if (args.in_device.is_meta()) [[unlikely]]
    fail_meta_read(what);
  call(lookup(what, op, args.device, dtype), what, op, dtype, args);
}

// Registration entry points, one per kernel family (kernels/cpu/*.cpp, kernels/cuda/*.cu).
void register_cpu_copy(Registry& r);
void register_cpu_unary(Registry& r);
void register_cpu_binary(Registry& r);
void register_cpu_mul_add(Registry& r);        // kernels/cpu/mul_add.cpp
void register_cpu_running_means(Registry& r);  // kernels/cpu/running_means.cpp
void register_cpu_mul_add_many(Registry& r);   // kernels/cpu/mul_add_many.cpp
void register_cpu_reduce(Registry& r);
void register_cpu_softmax(Registry& r);
void register_cpu_softmax_xent(Registry& r);  // kernels/cpu/softmax_xent.cpp
void register_cpu_index(Registry& r);
void register_cpu_random(Registry& r);
void register_cpu_gemm(Registry& r);
void register_cpu_conv(Registry& r);                  // kernels/cpu/conv.cpp, conv_col2im.cpp
void register_cpu_conv_direct(Registry& r);           // kernels/cpu/conv_direct.cpp
void register_cpu_conv_direct_filter(Registry& r);    // kernels/cpu/conv_direct_filter.cpp
void register_cpu_conv_direct_backward(Registry& r);  // kernels/cpu/conv_direct_backward.cpp
void register_cpu_pool(Registry& r);                  // kernels/cpu/pool.cpp
void register_cpu_norm(Registry& r);      // kernels/cpu/norm.cpp (normalisation, dropout)
void register_cpu_bias_act(Registry& r);  // kernels/cpu/bias_act.cpp (layer epilogues)
void register_cpu_optim(Registry& r);     // kernels/cpu/optim_update.cpp (fused optimizer updates)
void register_cuda_kernels(Registry& r);  // only in CUDA builds

}  // namespace elegy::kernels
