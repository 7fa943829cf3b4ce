// Data movement on CUDA: Copy (host -> device, device -> host, device -> device), Fill, Arange.
// Copies move bits, so they are instantiated per element size, not per dtype. Dense copies are
// one cudaMemcpyAsync on the device's stream; strided device sources go through the map kernel.
// Host sources go through the device's pinned staging ring. The stream is synchronised only
// where the host reads the result right after (device -> host).
#include <cstring>
#include <type_traits>

#include "elegy/core/error.hpp"
#include "elegy/kernels/copy_list.hpp"
#include "elegy/kernels/cuda/device_scratch.cuh"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kCopy = "copy (cuda)";

// Unsigned integer of the same size as a dtype's elements: what a copy moves.
template <class T>
using Bits = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                                std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

template <class T>
struct identity {
  __device__ T operator()(T x) const { return x; }
};

cudaPointerAttributes attributes(const void* p) {
  cudaPointerAttributes attr{};
  ELEGY_CUDA_CHECK(cudaPointerGetAttributes(&attr, p), kCopy);
  return attr;
}

// True for host memory (pageable or pinned): where the copy must end with a synchronisation.
bool is_host_memory(const void* p) {
  const cudaMemoryType type = attributes(p).type;
  return type == cudaMemoryTypeHost || type == cudaMemoryTypeUnregistered;
}

// A dense view of `like`'s shape at `data`.
BufferView dense_like(const BufferView& like, void* data) {
  BufferView v = like;
  v.data = data;
  std::int64_t stride = 1;
  for (int i = v.rank - 1; i >= 0; --i) {
    v.strides[i] = stride;
    stride *= v.sizes[i];
  }
  return v;
}

template <class B>
void strided_device_copy(const BufferView& out, const BufferView& in, Device device) {
  KernelArgs g;
  g.out = out;
  g.in[0] = in;
  g.num_inputs = 1;
  g.device = device;
  map<B, B, 1>(g, identity<B>{}, kCopy);
}

void host_to_device(const KernelArgs& a, std::size_t bytes) {
  ELEGY_CHECK(a.in[0].is_contiguous() && a.out.is_contiguous(), kCopy, "a host -> ", a.device,
              " copy needs dense operands (the caller makes a strided host "
              "source contiguous first)");
  // Through the device's pinned staging ring: queued without waiting for the stream, and the
  // source is free when this returns (core/cuda/host_staging.cpp).
  elegy::cuda::copy_host_to_device(a.device.index, a.out.data, a.in[0].data, bytes, kCopy);
}

template <class B>
void device_to_host(const KernelArgs& a, std::size_t bytes, cudaStream_t s) {
  ELEGY_CHECK(a.out.is_contiguous(), kCopy, "a ", a.in_device,
              " -> host copy needs a dense host destination");
  if (a.in[0].is_contiguous()) {
    ELEGY_CUDA_CHECK(cudaMemcpyAsync(a.out.data, a.in[0].data, bytes, cudaMemcpyDeviceToHost, s),
                     kCopy);
  } else {
    // Gather on the device first, so the transfer is one dense block.
    const DeviceScratch dense(a.device, bytes);  // (the caching allocator: capture-aware)
    const BufferView packed = dense_like(a.in[0], dense.get());
    strided_device_copy<B>(packed, a.in[0], a.device);
    ELEGY_CUDA_CHECK(cudaMemcpyAsync(a.out.data, dense.get(), bytes, cudaMemcpyDeviceToHost, s),
                     kCopy);
  }
  elegy::cuda::synchronize_stream(s, kCopy);  // the host reads the result next
}

void peer_to_peer(const KernelArgs& a, std::size_t bytes, cudaStream_t s) {
  ELEGY_CHECK(a.in[0].is_contiguous() && a.out.is_contiguous(), kCopy, "a ", a.in_device, " -> ",
              a.device,
              " copy needs dense operands (the caller makes the source contiguous first)");
  // The source's pending writes are on its own stream, and its block may be freed on that
  // stream as soon as we return: order both sides with the host. Cross-GPU copies are rare.
  elegy::cuda::synchronize(a.in_device.index);
  ELEGY_CUDA_CHECK(
      cudaMemcpyPeerAsync(a.out.data, a.device.index, a.in[0].data, a.in_device.index, bytes, s),
      kCopy);
  elegy::cuda::synchronize_stream(s, kCopy);
}

// args.device is the CUDA device running the copy, args.in_device where the source lives; the
// destination is the host only for a device -> host copy (then in_device == device).
template <class B>
void copy_kernel(const KernelArgs& a) {
  const std::int64_t n = a.out.numel();
  ELEGY_CHECK(a.in[0].numel() == n, kCopy, "source has ", a.in[0].numel(),
              " elements, destination ", n);
  if (n == 0) return;
  const std::size_t bytes = std::size_t(n) * sizeof(B);
  const cudaStream_t s = prepare(a.device);
  if (a.in_device.is_cpu()) return host_to_device(a, bytes);
  if (a.in_device != a.device) return peer_to_peer(a, bytes, s);
  if (a.out_on_host || is_host_memory(a.out.data)) return device_to_host<B>(a, bytes, s);
  if (a.in[0].is_contiguous() && a.out.is_contiguous()) {
    ELEGY_CUDA_CHECK(cudaMemcpyAsync(a.out.data, a.in[0].data, bytes, cudaMemcpyDeviceToDevice, s),
                     kCopy);
    return;
  }
  strided_device_copy<B>(a.out, a.in[0], a.device);
}

template <class B>
__global__ void fill_kernel(Layout<1> l, std::int64_t n, B* out, B value) {
  const bool dense = l.rank == 1 && l.strides[0][0] == 1;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (dense) {
      out[i] = value;
    } else {
      std::int64_t off[1];
      l.element_offsets(i, off);
      out[off[0]] = value;
    }
  }
}

// Dense, 16-byte aligned output: the value repeated over 16-byte stores (a quarter of the
// store instructions for float32; an H200 filled 64 MB at 1.1 TB/s one element per thread),
// the n % (16 / sizeof(B)) last elements by the first threads.
template <class B>
__global__ void fill_dense_kernel(std::int64_t n, B* out, Pack<B> pattern, B value) {
  constexpr int W = Pack<B>::kWidth;
  const std::int64_t packs = n / W;
  const std::int64_t first = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t v = first; v < packs; v += step) reinterpret_cast<Pack<B>*>(out)[v] = pattern;
  const std::int64_t t = packs * W + first;
  if (t < n) out[t] = value;
}

// The value is converted to T on the host (as the CPU kernel does), then written as raw bits.
template <class T>
void fill(const KernelArgs& a) {
  const BufferView* views[1] = {&a.out};
  const Layout<1> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  const T value = T(a.scalar[0]);
  Bits<T> bits;
  std::memcpy(&bits, &value, sizeof(T));
  const cudaStream_t s = prepare(a.device);
  auto* out = static_cast<Bits<T>*>(a.out.data);
  if (l.rank == 1 && l.strides[0][0] == 1 && aligned16(out)) {
    Pack<Bits<T>> pattern;
    for (auto& lane : pattern.v) lane = bits;
    fill_dense_kernel<Bits<T>>
        <<<blocks_for(n / Pack<Bits<T>>::kWidth + 1), kThreads, 0, s>>>(n, out, pattern, bits);
  } else {
    fill_kernel<Bits<T>><<<blocks_for(n), kThreads, 0, s>>>(l, n, out, bits);
  }
  check_launch("fill (cuda)");
}

// Rounded multiply and add (never a fused multiply-add), so every value is bit-identical to
// the CPU kernel's start + i * step.
template <class T>
__global__ void arange_kernel(std::int64_t n, std::int64_t stride, T* out, double start,
                              double step) {
  const std::int64_t grid = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += grid)
    out[i * stride] = T(__dadd_rn(start, __dmul_rn(double(i), step)));
}

template <class T>
void arange(const KernelArgs& a) {
  const std::int64_t n = a.out.sizes[0];
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  arange_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
      n, a.out.strides[0], static_cast<T*>(a.out.data), a.scalar[0], a.scalar[1]);
  check_launch("arange (cuda)");
}

// CopyMany: block b copies piece b of the table (a kernel argument), 16 bytes per thread and
// step where both ends are 16-byte aligned, else byte by byte (the pieces are small states).
struct CopyTable {
  void* dst[kCopyPiecesPerLaunch];
  const void* src[kCopyPiecesPerLaunch];
  std::int64_t bytes[kCopyPiecesPerLaunch];
};

__global__ void copy_many_kernel(CopyTable t) {
  const int b = blockIdx.x;
  char* dst = static_cast<char*>(t.dst[b]);
  const char* src = static_cast<const char*>(t.src[b]);
  const std::int64_t n = t.bytes[b];
  std::int64_t done = 0;
  if (((reinterpret_cast<std::uintptr_t>(dst) | reinterpret_cast<std::uintptr_t>(src)) & 15) == 0) {
    const std::int64_t packs = n / 16;
    for (std::int64_t i = threadIdx.x; i < packs; i += blockDim.x)
      reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
    done = packs * 16;
  }
  for (std::int64_t i = done + threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

void copy_many(const KernelArgs& a) {
  const CopyList& list = copy_list_of("copy_many (cuda)", a);
  if (list.count == 0) return;
  for (int i = 0; i < list.count; ++i)  // (all checked before any is queued)
    ELEGY_CHECK(list.pieces[i].bytes >= 0 && list.pieces[i].bytes <= kMaxCopyPieceBytes,
                "copy_many (cuda)", "piece ", i, " has ", list.pieces[i].bytes,
                " bytes; CopyMany takes pieces of at most ", kMaxCopyPieceBytes);
  const cudaStream_t s = prepare(a.device);
  for (int first = 0; first < list.count; first += kCopyPiecesPerLaunch) {
    CopyTable t{};
    const int n = std::min(kCopyPiecesPerLaunch, list.count - first);
    for (int i = 0; i < n; ++i) {
      const CopyPiece& p = list.pieces[first + i];
      t.dst[i] = p.dst;
      t.src[i] = p.src;
      t.bytes[i] = p.bytes;
    }
    copy_many_kernel<<<unsigned(n), kThreads, 0, s>>>(t);
    check_launch("copy_many (cuda)");
  }
}

}  // namespace

void register_copy(Registry& r) {
  r.add(Op::CopyMany, DeviceKind::cuda, DType::u8, copy_many);
  for (int t = 0; t < kNumDTypes; ++t) {
    visit_dtype(DType(t), [&](auto tag) {
      using T = decltype(tag);
      r.add(Op::Copy, DeviceKind::cuda, DType(t), copy_kernel<Bits<T>>);
      r.add(Op::Fill, DeviceKind::cuda, DType(t), fill<T>);
      if constexpr (!std::is_same_v<T, bool>)
        r.add(Op::Arange, DeviceKind::cuda, DType(t), arange<T>);
    });
  }
}

}  // namespace elegy::kernels::cuda
