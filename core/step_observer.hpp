// The hooks a compiled step (autodiff/step_recording.hpp) watches a step through: every block
// allocated and every host access to a tensor's bytes on the thread that records. Core only
// calls them; the recording decides what they mean. Unset (the usual case) they cost one
// thread-local load.
#pragma once

#include <cstddef>
#include <memory>

#include "elegy/core/device.hpp"

namespace elegy {

class Storage;
class Tensor;

class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // The block the step's memory plan placed for this allocation (its next one), or null to
  // allocate as usual.
  virtual std::shared_ptr<Storage> provide(std::size_t nbytes, Device device) = 0;
  // A block the step allocated: the recording keeps it, so a replay can write there again.
  virtual void on_allocate(const std::shared_ptr<Storage>& storage) = 0;
  // Host code touched `t`'s bytes (Tensor::raw_data/data<T>): a value the host may branch on or
  // bake into the step, which a replay would not see again.
  virtual void on_host_access(const Tensor& t) = 0;
  // How many references to `storage` the recording itself holds: an in-place update still
  // sees a buffer only the step uses as its own (Tensor::is_sole_owner).
  virtual long references_held(const Storage* storage) const = 0;
};

// This thread's observer, or null.
StepObserver*& step_observer();

}  // namespace elegy
