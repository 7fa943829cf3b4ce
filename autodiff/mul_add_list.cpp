#include "elegy/autodiff/mul_add_list.hpp"

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/mul_add_list.hpp"

namespace elegy::autodiff {

std::optional<std::vector<Tensor>> mul_add_list(std::span<const MulAddTerm> terms) {
  if (terms.empty()) return std::nullopt;
  const DType dtype = terms[0].a.dtype();
  const Device device = terms[0].a.device();
  for (const MulAddTerm& t : terms) {
    const bool fits = t.a.defined() && t.b.defined() && t.c.defined() && is_floating(dtype) &&
                      t.a.dtype() == dtype && t.b.dtype() == dtype && t.c.dtype() == dtype &&
                      t.a.device() == device && t.b.device() == device && t.c.device() == device &&
                      t.b.ndim() == 0 && t.a.shape() == t.c.shape() &&
                      (t.a.numel() == 0 || (t.a.is_contiguous() && t.c.is_contiguous())) &&
                      !should_record(t.a, t.b, t.c);
    if (!fits) return std::nullopt;
  }
  std::vector<Tensor> outs;
  std::vector<kernels::BufferView> views;
  outs.reserve(terms.size());
  views.reserve(terms.size() * kernels::kMulAddViews);
  for (const MulAddTerm& t : terms) {
    outs.push_back(Tensor::empty(t.a.shape(), dtype, device));
    views.insert(views.end(),
                 {buffer_view(outs.back()), buffer_view(t.a), buffer_view(t.b), buffer_view(t.c)});
  }
  const kernels::ViewList list{views.data(), int(views.size())};
  kernels::KernelArgs args;
  args.ints[0] = kernels::address_of(list);
  args.device = device;
  kernels::run("mul_add", kernels::Op::MulAddMany, dtype, args);
  return outs;
}

}  // namespace elegy::autodiff
