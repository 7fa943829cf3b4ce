// The host tables of list ops (CopyList, ViewList): KernelArgs::ints[0] holds a table's address,
// which the caller keeps alive for the call. One checked way to read it back and to write it.
#pragma once

#include <cstdint>

#include "elegy/core/error.hpp"
#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

// The table at ints[0]; Error naming `op` when there is none, or when it claims entries it
// does not point at. List: a struct with `count` and `entries()`.
template <class List>
const List& host_table(const char* op, const KernelArgs& a) {
  ELEGY_CHECK(a.ints[0] != 0, op, "needs its list (ints[0] = the address of its table)");
  const auto& list = *reinterpret_cast<const List*>(std::uintptr_t(a.ints[0]));
  ELEGY_CHECK(list.count >= 0 && (list.count == 0 || list.entries() != nullptr), op, "a list of ",
              list.count, " entries without them");
  return list;
}

// What ints[0] holds for `list`.
template <class List>
std::int64_t address_of(const List& list) {
  return std::int64_t(reinterpret_cast<std::uintptr_t>(&list));
}

}  // namespace elegy::kernels
