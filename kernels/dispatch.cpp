#include "elegy/kernels/dispatch.hpp"

#include "elegy/core/error.hpp"

namespace elegy::kernels {

const Registry& registry() {
  static const Registry table = [] {
    Registry r;
    register_cpu_copy(r);
    register_cpu_unary(r);
    register_cpu_binary(r);
    register_cpu_mul_add(r);
    register_cpu_running_means(r);
    register_cpu_mul_add_many(r);
    register_cpu_reduce(r);
    register_cpu_softmax(r);
    register_cpu_softmax_xent(r);
    register_cpu_index(r);
    register_cpu_random(r);
    register_cpu_gemm(r);
    register_cpu_conv(r);
    register_cpu_conv_direct(r);
    register_cpu_conv_direct_filter(r);
    register_cpu_conv_direct_backward(r);
    register_cpu_pool(r);
    register_cpu_norm(r);
    register_cpu_optim(r);
    register_cpu_bias_act(r);
#ifdef ELEGY_WITH_CUDA
    register_cuda_kernels(r);
#endif
    return r;
  }();
  return table;
}

KernelFn lookup(const char* what, Op op, Device device, DType dtype) {
  KernelFn fn = registry().find(op, device.kind, dtype);
  if (fn == nullptr) [[unlikely]] {
    fail(what, "no ", op_name(op), " kernel for ", dtype, " on ", device,
         device.is_cuda() && !cuda_compiled()
             ? " (this build has no CUDA backend)"
             : " (this dtype/device combination is not supported)");
  }
  return fn;
}

KernelObserver*& kernel_observer() {
  static thread_local KernelObserver* observer = nullptr;
  return observer;
}

void fail_meta_read(const char* what) {
  fail(what,
       "reads the values of a meta tensor, which has a shape and a dtype but no data "
       "(a shape-only pass, such as Model::summary's, cannot read values)");
}

}  // namespace elegy::kernels
