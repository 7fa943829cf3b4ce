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

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // True for wrap()ped memory: a caller's buffer or a mapped file, which elegy must never write
  // behind its owner's back (in-place updates skip it).
  bool is_wrapped() const { return allocator_ == nullptr; }

  struct Private;  // construction goes through allocate()/wrap()
  Storage(const Private&, void* data, std::size_t nbytes, Device device, Allocator* allocator,
          std::function<void(void*)> release);

 private:
  void* data_;
  std::size_t nbytes_;
  Device device_;
  Allocator* allocator_;                // set when the block came from an allocator
  std::function<void(void*)> release_;  // set for wrapped memory
};

}  // namespace elegy
