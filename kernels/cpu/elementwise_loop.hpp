// The walk every CPU elementwise kernel shares (unary.cpp, binary.cpp): coalesce the operands'
// layouts, cut the flat index range into chunks for the thread pool, and hand each chunk to a
// "run" function as blocks of innermost rows. Within a row a run only ever sees a dense output
// and inputs that are dense (stride 1) or one repeated value (stride 0, a broadcast); operands
// with any other inner stride (transposed, sliced) are gathered into a small stack buffer
// first, so the SIMD code has exactly two cases per input. Consecutive whole rows go to one
// call (a [64,10] + [10] bias add is one call of 64 rows, not 64 calls).
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
  char* ptr[N];            // operand k of row 0
  std::int64_t stride[N];  // within a row, in elements; output: 1; inputs: 1 or 0 (broadcast)
  std::int64_t n;          // elements per row
  std::int64_t rows;       // row r of operand k starts at ptr[k] + r * outer[k]
  std::int64_t outer[N];   // in bytes
};
template <int N>
using RunFn = void (*)(const Run<N>&);

// Operand k's pointer for row `row`, as T*.
template <class T, int N>
inline T* row_ptr(const Run<N>& r, int k, std::int64_t row) {
  return reinterpret_cast<T*>(r.ptr[k] + row * r.outer[k]);
}

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

// Whether the run functions take these inner strides as they are.
template <int N>
bool is_direct(const std::int64_t (&stride)[N]) {
  bool direct = stride[0] == 1;
  for (int k = 1; k < N; ++k) direct &= stride[k] == 0 || stride[k] == 1;
  return direct;
}

// Calls fn on one row `r`, gathering/scattering the operands whose stride the run functions
// do not take, kBlock elements at a time.
template <int N, class Fn>
void run_gathered(const Run<N>& r, const int (&size)[N], const Fn& fn) {
  alignas(64) char buf[N][kBlock * 8];
  for (std::int64_t j = 0; j < r.n; j += kBlock) {
    Run<N> b;
    b.n = std::min(kBlock, r.n - j);
    b.rows = 1;
    for (int k = 0; k < N; ++k) {
      const std::int64_t s = r.stride[k];
      b.outer[k] = 0;
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

// Flat elements [begin, end) of layout `l`.
template <int N, class Fn>
void walk(const Layout<N>& l, char* const (&base)[N], const int (&size)[N], std::int64_t begin,
          std::int64_t end, const Fn& fn) {
  const int last = l.rank - 1;
  const std::int64_t inner = l.sizes[last];
  std::int64_t row = begin / inner, col = begin % inner;
  // Odometer over the outer dimensions, so moving on costs no division.
  std::int64_t idx[kMaxRank] = {};
  std::int64_t off[N] = {};
  for (int d = last - 1; d >= 0; --d) {
    idx[d] = row % l.sizes[d];
    row /= l.sizes[d];
    for (int k = 0; k < N; ++k) off[k] += idx[d] * l.strides[k][d];
  }
  Run<N> r;
  for (int k = 0; k < N; ++k) r.stride[k] = l.strides[k][last];
  const bool direct = is_direct(r.stride);
  while (begin < end) {
    r.n = std::min(inner - col, end - begin);
    r.rows = 1;
    for (int k = 0; k < N; ++k) {
      r.ptr[k] = base[k] + (off[k] + col * r.stride[k]) * size[k];
      r.outer[k] = 0;
    }
    if (direct && col == 0 && last >= 1) {
      // Whole rows left along dimension last-1 in this chunk: one call for all of them.
      r.rows = std::min(l.sizes[last - 1] - idx[last - 1], (end - begin) / inner);
      if (r.rows < 1) r.rows = 1;
      for (int k = 0; k < N; ++k) r.outer[k] = l.strides[k][last - 1] * size[k];
    }
    if (direct)
      fn(r);
    else
      run_gathered(r, size, fn);
    begin += r.n * r.rows;
    col = 0;
    // Advance the odometer by r.rows rows, carrying into the outer dimensions.
    int d = last - 1;
    if (d < 0) continue;
    idx[d] += r.rows;
    for (int k = 0; k < N; ++k) off[k] += r.rows * l.strides[k][d];
    while (idx[d] == l.sizes[d]) {
      for (int k = 0; k < N; ++k) off[k] -= l.sizes[d] * l.strides[k][d];
      idx[d] = 0;
      if (--d < 0) break;
      ++idx[d];
      for (int k = 0; k < N; ++k) off[k] += l.strides[k][d];
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
  parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    detail::walk(l, base, size, begin, end, fn);
  });
}

// Calls fn(std::integral_constant<bool, dense>...) with whether each input of `r` is dense
// (stride 1) rather than broadcast (stride 0), so plain loops are compiled once per combination.
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
