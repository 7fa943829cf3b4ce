// CopyMany (kernels/copy_list.hpp): many small dense copies in one kernel call, as a compiled
// step copies its small states into their slots. Every piece lands whole and nothing around it
// is touched: sizes around the 16-byte packs, misaligned ends, and more pieces than one CUDA
// launch takes. On the CPU, and on the GPU when there is one.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <elegy/autodiff/kernel_call.hpp>
#include <elegy/elegy.hpp>
#include <elegy/kernels/copy_list.hpp>

using namespace elegy;

namespace {

// Copies pieces of a source buffer into a destination buffer (0xAB everywhere first) on
// `device`, then checks every byte of the destination on the host.
void check_copy_many(Device device) {
  // (offset in src, offset in dst, bytes): aligned and not, empty, one byte, the largest piece.
  struct Spec {
    std::int64_t src, dst, bytes;
  };
  std::vector<Spec> specs = {{0, 0, 4},     {16, 32, 16},       {35, 67, 17},   {100, 200, 0},
                             {128, 256, 1}, {1024, 2048, 4099}, {8192, 9000, 8}};
  std::int64_t at = 20000;
  for (int i = 0; i < 36; ++i, at += 40)
    specs.push_back({at, at + 7, 4 + (i % 5)});  // > one launch
  specs.push_back({30000, 40000, kernels::kMaxCopyPieceBytes});
  const std::int64_t size = 40000 + kernels::kMaxCopyPieceBytes + 64;
  std::vector<std::uint8_t> src_bytes(static_cast<std::size_t>(size));
  const std::vector<std::uint8_t> background(static_cast<std::size_t>(size), 0xAB);
  for (std::size_t i = 0; i < src_bytes.size(); ++i) src_bytes[i] = std::uint8_t(i * 7 + 3);
  const Tensor src = Tensor::from_vector(src_bytes, Shape{size}).to(device);
  const Tensor dst = Tensor::from_vector(background, Shape{size}).to(device);
  std::vector<kernels::CopyPiece> pieces;
  for (const Spec& s : specs)
    pieces.push_back({static_cast<char*>(dst.address()) + s.dst,
                      static_cast<const char*>(src.address()) + s.src, s.bytes});
  const kernels::CopyList list{pieces.data(), int(pieces.size())};
  kernels::KernelArgs args;
  args.device = device;
  args.ints[0] = kernels::address_of(list);
  kernels::run("test", kernels::Op::CopyMany, DType::u8, args);

  std::vector<std::uint8_t> want = background;
  for (const Spec& s : specs)
    std::memcpy(want.data() + s.dst, src_bytes.data() + s.src, std::size_t(s.bytes));
  const std::vector<std::uint8_t> got = dst.to(Device::cpu()).to_vector<std::uint8_t>();
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) bad += got[i] != want[i];
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("CopyMany copies every piece whole and nothing else, on the CPU") {
  check_copy_many(Device::cpu());
}

TEST_CASE("cuda: CopyMany copies every piece whole and nothing else" *
          doctest::skip(!cuda_available())) {
  check_copy_many(Device::cuda());
}
