// The walk every CPU elementwise kernel shares (unary.cpp, binary.cpp): coalesce the operands'
// layouts, cut the flat index range into chunks for the thread pool, and hand each chunk to a
// "run" function as pieces of innermost rows. A run only ever sees a dense output and inputs
// that are dense (stride 1) or one repeated value (stride 0, a broadcast); operands with any
// other inner stride (transposed, sliced) are gathered into a small stack buffer first, so the
// SIMD code has exactly two cases per input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/buffer_view.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy::kernels::elementwise {

// Operand 0 is the output, operands 1..N-1 are KernelArgs::in[0..N-2].
template <int N>
struct Run {
  char* ptr[N];
  std::int64_t stride[N];  // output: 1; inputs: 1 (dense) or 0 (one value for the whole run)
  std::int64_t n;
};
template <int N>
using RunFn = void (*)(const Run<N>&);

// Elements of work per chunk handed to a pool thread: about 32K cheap operations (an add) is
// where waking a second thread starts to pay; ops that cost more per element (exp, pow) divide
// it by their relative cost.
inline constexpr std::int64_t kGrain = 32768;
// Elements gathered per block when an operand is strided: small enough for the stack and L1.
inline constexpr std::int64_t kBlock = 256;

namespace detail {

inline void strided_copy(char* dst, std::int64_t dst_stride, const char* src,
                         std::int64_t src_stride, std::int64_t n, int size) {
  auto copy = [&](auto tag) {
    using U = decltype(tag);
    U* d = reinterpret_cast<U*>(dst);
    const U* s = reinterpret_cast<const U*>(src);
    for (std::int64_t i = 0; i < n; ++i) d[i * dst_stride] = s[i * src_stride];
  };
  switch (size) {
    case 1:
      return copy(std::uint8_t{});
    case 2:
      return copy(std::uint16_t{});
    case 4:
      return copy(std::uint32_t{});
    default:
      return copy(std::uint64_t{});
  }
}

// Calls fn on `r`, gathering/scattering the operands whose stride the run functions do not take.
template <int N, class Fn>
void run_piece(const Run<N>& r, const int (&size)[N], const Fn& fn) {
  bool direct = r.stride[0] == 1;
  for (int k = 1; k < N; ++k) direct &= r.stride[k] == 0 || r.stride[k] == 1;
  if (direct) {
    fn(r);
    return;
  }
  alignas(64) char buf[N][kBlock * 8];
  for (std::int64_t j = 0; j < r.n; j += kBlock) {
    Run<N> b;
    b.n = std::min(kBlock, r.n - j);
    for (int k = 0; k < N; ++k) {
      const std::int64_t s = r.stride[k];
      if (s == 1 || (k > 0 && s == 0)) {
        b.ptr[k] = r.ptr[k] + j * s * size[k];
        b.stride[k] = s;
      } else {
        b.ptr[k] = buf[k];
        b.stride[k] = 1;
        if (k > 0) strided_copy(buf[k], 1, r.ptr[k] + j * s * size[k], s, b.n, size[k]);
      }
    }
    fn(b);
    if (r.stride[0] != 1)
      strided_copy(r.ptr[0] + j * r.stride[0] * size[0], r.stride[0], buf[0], 1, b.n, size[0]);
  }
}

// Flat elements [begin, end) of layout `l`, row piece by row piece.
template <int N, class Fn>
void walk(const Layout<N>& l, char* const (&base)[N], const int (&size)[N], std::int64_t begin,
          std::int64_t end, const Fn& fn) {
  const int last = l.rank - 1;
  const std::int64_t inner = l.sizes[last];
  std::int64_t row = begin / inner, col = begin % inner;
  // Odometer over the outer dimensions, so moving to the next row costs no division.
  std::int64_t idx[kMaxRank] = {};
  std::int64_t off[N] = {};
  for (int d = last - 1; d >= 0; --d) {
    idx[d] = row % l.sizes[d];
    row /= l.sizes[d];
    for (int k = 0; k < N; ++k) off[k] += idx[d] * l.strides[k][d];
  }
  while (begin < end) {
    Run<N> r;
    r.n = std::min(inner - col, end - begin);
    for (int k = 0; k < N; ++k) {
      r.stride[k] = l.strides[k][last];
      r.ptr[k] = base[k] + (off[k] + col * r.stride[k]) * size[k];
    }
    run_piece(r, size, fn);
    begin += r.n;
    col = 0;
    for (int d = last - 1; d >= 0; --d) {
      for (int k = 0; k < N; ++k) off[k] += l.strides[k][d];
      if (++idx[d] < l.sizes[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= l.strides[k][d] * l.sizes[d];
      idx[d] = 0;
    }
  }
}

}  // namespace detail

// Runs fn(const Run<N>&) over every element of a.out (operand 0) and a.in[0..N-2], which all
// have a.out's shape (broadcast inputs carry stride 0). `size` is each operand's element size.
// Above `grain` elements the range is split over the thread pool.
template <int N, class Fn>
void for_each_run(const KernelArgs& a, const int (&size)[N], std::int64_t grain, const Fn& fn) {
  const BufferView* views[N];
  char* base[N];
  views[0] = &a.out;
  base[0] = static_cast<char*>(a.out.data);
  for (int k = 1; k < N; ++k) {
    views[k] = &a.in[k - 1];
    base[k] = static_cast<char*>(a.in[k - 1].data);
  }
  const Layout<N> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  if (n <= grain) {
    detail::walk(l, base, size, 0, n, fn);
    return;
  }
  parallel_for(n, grain,
               [&](std::int64_t begin, std::int64_t end) { detail::walk(l, base, size, begin, end, fn); });
}

// Calls fn(std::integral_constant<bool, s == 1>...) for each input stride s (0 or 1) of `r`,
// so plain loops are compiled once per dense/broadcast combination and vectorise.
template <int N, class Fn>
void with_dense_flags(const Run<N>& r, const Fn& fn) {
  auto flag = [&](int k, auto&& next) {
    if (r.stride[k] == 1)
      next(std::true_type{});
    else
      next(std::false_type{});
  };
  if constexpr (N == 2) {
    flag(1, [&](auto a) { fn(a); });
  } else if constexpr (N == 3) {
    flag(1, [&](auto a) { flag(2, [&](auto b) { fn(a, b); }); });
  } else {
    static_assert(N == 4, "at most three inputs");
    flag(1, [&](auto a) { flag(2, [&](auto b) { flag(3, [&](auto c) { fn(a, b, c); }); }); });
  }
}

}  // namespace elegy::kernels::elementwise
