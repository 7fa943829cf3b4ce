// The copies one CopyMany kernel makes: dense byte ranges on one device, in one launch. A
// compiled step ends by copying the small states it computed (running totals, counts, step
// counters) into their slots: one launch for all of them instead of a Copy each.
#pragma once

#include <cstdint>

#include "elegy/kernels/host_table.hpp"

namespace elegy::kernels {

struct CopyPiece {
  void* dst = nullptr;
  const void* src = nullptr;
  std::int64_t bytes = 0;
};

// What KernelArgs::ints[0] points at for Op::CopyMany (the caller keeps it alive for the call).
// No piece may overlap another's source or destination: on a GPU the pieces are copied at once,
// in no order.
struct CopyList {
  const CopyPiece* pieces = nullptr;
  int count = 0;
  const CopyPiece* entries() const { return pieces; }
};

inline const CopyList& copy_list_of(const char* op, const KernelArgs& a) {
  return host_table<CopyList>(op, a);
}

// Pieces one CUDA launch takes (their table is a kernel argument); longer lists take more.
inline constexpr int kCopyPiecesPerLaunch = 32;
// CopyMany is for small pieces: on CUDA one thread block copies each.
inline constexpr std::int64_t kMaxCopyPieceBytes = 64 * 1024;

}  // namespace elegy::kernels
