#include "elegy/core/storage.hpp"

#include "elegy/core/step_observer.hpp"

namespace elegy {

struct Storage::Private {};

Storage::Storage(const Private&, void* data, std::size_t nbytes, Device device,
                 Allocator* allocator, std::function<void(void*)> release)
    : data_(data),
      nbytes_(nbytes),
      device_(device),
      allocator_(allocator),
      release_(std::move(release)) {}

Storage::~Storage() {
  if (allocator_ != nullptr)
    allocator_->deallocate(data_, nbytes_);
  else if (release_)
    release_(data_);
}

std::shared_ptr<Storage> Storage::allocate(std::size_t nbytes, Device device) {
  StepObserver* observer = step_observer();
  if (observer != nullptr) [[unlikely]] {
    if (auto planned = observer->provide(nbytes, device)) {
      observer->on_allocate(planned);
      return planned;
    }
  }
  Allocator& alloc = allocator_for(device);
  void* p = alloc.allocate(nbytes);
  std::shared_ptr<Storage> storage;
  try {
    storage = std::make_shared<Storage>(Private{}, p, nbytes, device, &alloc, nullptr);
  } catch (...) {
    alloc.deallocate(p, nbytes);
    throw;
  }
  // From here the storage owns the block: an observer that throws must not free it twice.
  if (observer != nullptr) [[unlikely]]
    observer->on_allocate(storage);
  return storage;
}

std::shared_ptr<Storage> Storage::wrap(void* data, std::size_t nbytes, Device device,
                                       std::function<void(void*)> release) {
  return std::make_shared<Storage>(Private{}, data, nbytes, device, nullptr, std::move(release));
}

}  // namespace elegy

namespace elegy {

std::shared_ptr<Storage> Storage::within(std::shared_ptr<Storage> block, std::size_t offset,
                                         std::size_t nbytes) {
  void* data = static_cast<char*>(block->data()) + offset;
  const Device device = block->device();
  auto part = std::make_shared<Storage>(Private{}, data, nbytes, device, nullptr, nullptr);
  part->parent_ = std::move(block);
  return part;
}

}  // namespace elegy
