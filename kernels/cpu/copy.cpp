// Data movement on the CPU: strided copy, dtype conversion, fill and arange. Dense same-dtype
// copies are memcpy in parallel chunks (memcpy already runs at memory bandwidth); everything else
// walks coalesced rows, so a transposed or broadcast source is read with its own strides.
#include <cstring>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/copy_list.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy::kernels {
namespace {

// Below this many bytes a copy is not worth waking the pool for.
constexpr std::int64_t kParallelBytes = 1 << 18;

template <class To, class From>
void convert_rows(const Layout<2>& l, char* out, const char* in) {
  const std::int64_t rows = l.num_rows(), inner = l.inner_size();
  const std::int64_t so = l.inner_stride(0), si = l.inner_stride(1);
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelBytes / (inner * sizeof(To) + 1));
  auto body = [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      std::int64_t off[2];
      l.row_offsets(r, off);
      To* o = reinterpret_cast<To*>(out) + off[0];
      const From* x = reinterpret_cast<const From*>(in) + off[1];
      if (so == 1 && si == 1) {
        for (std::int64_t i = 0; i < inner; ++i) o[i] = To(x[i]);
      } else {
        for (std::int64_t i = 0; i < inner; ++i) o[i * so] = To(x[i * si]);
      }
    }
  };
  if (rows == 1) {
    // One long run: split it instead of the (single) row.
    parallel_for(inner, std::max<std::int64_t>(kParallelBytes / sizeof(To), 1),
                 [&](std::int64_t i0, std::int64_t i1) {
                   To* o = reinterpret_cast<To*>(out);
                   const From* x = reinterpret_cast<const From*>(in);
                   for (std::int64_t i = i0; i < i1; ++i) o[i * so] = To(x[i * si]);
                 });
  } else {
    parallel_for(rows, grain, body);
  }
}

template <class To, class From>
void convert(const KernelArgs& a) {
  const BufferView* views[2] = {&a.out, &a.in[0]};
  const Layout<2> l = coalesce(views);
  if (l.numel() == 0) return;
  if constexpr (std::is_same_v<To, From>) {
    if (l.rank == 1 && l.strides[0][0] == 1 && l.strides[1][0] == 1) {
      const std::int64_t bytes = l.sizes[0] * std::int64_t(sizeof(To));
      parallel_for(bytes, kParallelBytes, [&](std::int64_t b0, std::int64_t b1) {
        std::memcpy(static_cast<char*>(a.out.data) + b0,
                    static_cast<const char*>(a.in[0].data) + b0, std::size_t(b1 - b0));
      });
      return;
    }
  }
  convert_rows<To, From>(l, static_cast<char*>(a.out.data), static_cast<const char*>(a.in[0].data));
}

// bool outputs are normalised to 0/1 (a cast from 2.5 gives true, stored as 1).
template <class To, class From>
void cast_kernel(const KernelArgs& a) {
  if constexpr (std::is_same_v<To, bool>) {
    const BufferView* views[2] = {&a.out, &a.in[0]};
    const Layout<2> l = coalesce(views);
    const std::int64_t n = l.numel();
    parallel_for(n, kParallelBytes, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        std::int64_t off[2];
        l.element_offsets(i, off);
        static_cast<bool*>(a.out.data)[off[0]] =
            static_cast<const From*>(a.in[0].data)[off[1]] != From(0);
      }
    });
  } else {
    convert<To, From>(a);
  }
}

template <class From>
void cast_from(const KernelArgs& a) {
  visit_dtype(a.out.dtype, [&](auto to) { cast_kernel<decltype(to), From>(a); });
}

template <class T>
void copy_kernel(const KernelArgs& a) {
  convert<T, T>(a);
}

template <class T>
void fill_kernel(const KernelArgs& a) {
  const BufferView* views[1] = {&a.out};
  const Layout<1> l = coalesce(views);
  const T value = T(a.scalar[0]);
  T* out = static_cast<T*>(a.out.data);
  parallel_for(l.numel(), kParallelBytes / std::int64_t(sizeof(T)),
               [&](std::int64_t i0, std::int64_t i1) {
                 if (l.rank == 1 && l.strides[0][0] == 1) {
                   std::fill(out + i0, out + i1, value);
                   return;
                 }
                 for (std::int64_t i = i0; i < i1; ++i) {
                   std::int64_t off[1];
                   l.element_offsets(i, off);
                   out[off[0]] = value;
                 }
               });
}

template <class T>
void arange_kernel(const KernelArgs& a) {
  T* out = static_cast<T*>(a.out.data);
  const std::int64_t n = a.out.sizes[0], stride = a.out.strides[0];
  for (std::int64_t i = 0; i < n; ++i) out[i * stride] = T(a.scalar[0] + double(i) * a.scalar[1]);
}

// CopyMany: a few small dense copies (copy_list.hpp), one call. Keyed by u8 (bytes).
void copy_many_kernel(const KernelArgs& a) {
  const CopyList& list = copy_list_of("copy_many (cpu)", a);
  for (int i = 0; i < list.count; ++i) {
    const CopyPiece& p = list.pieces[i];
    if (p.bytes > 0 && p.dst != p.src) std::memcpy(p.dst, p.src, std::size_t(p.bytes));
  }
}

template <class T>
void register_for(Registry& r, DType t) {
  r.add(Op::Copy, DeviceKind::cpu, t, copy_kernel<T>);
  r.add(Op::Cast, DeviceKind::cpu, t, cast_from<T>);
  r.add(Op::Fill, DeviceKind::cpu, t, fill_kernel<T>);
  if constexpr (!std::is_same_v<T, bool>) r.add(Op::Arange, DeviceKind::cpu, t, arange_kernel<T>);
}

}  // namespace

void register_cpu_copy(Registry& r) {
  for (int t = 0; t < kNumDTypes; ++t)
    visit_dtype(DType(t), [&](auto tag) { register_for<decltype(tag)>(r, DType(t)); });
  r.add(Op::CopyMany, DeviceKind::cpu, DType::u8, copy_many_kernel);
}

}  // namespace elegy::kernels
