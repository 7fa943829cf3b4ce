// Storage: one block of bytes on one device. It knows nothing of shapes or dtypes; tensors
// (views) share it through a shared_ptr and the block goes back to its allocator with the last.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "elegy/core/allocator.hpp"
#include "elegy/core/device.hpp"

namespace elegy {

class Storage {
 public:
  static std::shared_ptr<Storage> allocate(std::size_t nbytes, Device device);
  // Memory owned elsewhere (a memory-mapped file, a caller's buffer); `release` runs when the
  // last tensor using it goes away (pass an empty function to never release).
  static std::shared_ptr<Storage> wrap(void* data, std::size_t nbytes, Device device,
                                       std::function<void(void*)> release);

  // `nbytes` at `offset` of `block`, which it keeps alive: a part of a larger block (a compiled
  // step's arena, autodiff/memory_plan.hpp), written like any block an allocator gave.
  static std::shared_ptr<Storage> within(std::shared_ptr<Storage> block, std::size_t offset,
                                         std::size_t nbytes);

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // True for wrap()ped memory: a caller's buffer or a mapped file, which elegy must never write
  // behind its owner's back (in-place updates skip it).
  bool is_wrapped() const { return allocator_ == nullptr && parent_ == nullptr; }
  // True for a part of another block (within).
  bool is_part() const { return parent_ != nullptr; }

  struct Private;  // construction goes through allocate()/wrap()
  Storage(const Private&, void* data, std::size_t nbytes, Device device, Allocator* allocator,
          std::function<void(void*)> release);

 private:
  void* data_;
  std::size_t nbytes_;
  Device device_;
  Allocator* allocator_;                // set when the block came from an allocator
  std::function<void(void*)> release_;  // set for wrapped memory
  std::shared_ptr<Storage> parent_;     // set for a part of another block (within)
};

}  // namespace elegy
