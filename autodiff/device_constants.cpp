#include "elegy/autodiff/device_constants.hpp"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/step_recording.hpp"
#include "elegy/core/error.hpp"
#include "elegy/core/stream_graph.hpp"

namespace elegy::autodiff {
namespace {

struct Key {
  std::uint64_t bits;
  DType dtype;
  Device device;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const {
    return std::hash<std::uint64_t>()(k.bits) ^
           (std::size_t(k.dtype) << 3 ^ std::size_t(k.device.kind) << 7 ^
            std::size_t(k.device.index) << 9);
  }
};

struct Cache {
  std::mutex mutex;
  std::unordered_map<Key, Tensor, KeyHash> constants;
};

Cache& cache() {
  // Leaked on purpose: releasing GPU blocks at static exit can run after the driver is gone.
  static auto* c = new Cache();
  return *c;
}

constexpr std::size_t kMaxConstants = 4096;

}  // namespace

Tensor device_constant(double value, DType dtype, Device device) {
  ELEGY_CHECK(!device.is_cpu(), "device_constant", "CPU scalars are written directly");
  Key key{0, dtype, device};
  std::memcpy(&key.bits, &value, sizeof(value));  // -0.0 and each NaN payload apart
  Cache& c = cache();
  Tensor t;
  {
    std::lock_guard lock(c.mutex);
    if (auto it = c.constants.find(key); it != c.constants.end()) t = it->second;
  }
  if (!t.defined()) {
    // Made once for every later step: not part of a step being recorded (whose next recording
    // finds it made, and must agree with this one).
    // Constants the cache lets go of are released after the capture is back (declared first,
    // destroyed last): freed while it is suspended, their blocks would skip its bookkeeping
    // (graph kernels captured earlier may read them) and could be handed out again.
    std::unordered_map<Key, Tensor, KeyHash> evicted;
    StepRecording::Outside outside;
    CaptureSuspended now;  // (written now, not by a graph that may never launch)
    t = scalar(value, dtype, device);
    std::lock_guard lock(c.mutex);
    if (c.constants.size() >= kMaxConstants) evicted.swap(c.constants);
    t = c.constants.emplace(key, t).first->second;
  }
  // A replay reads it again, even once the cache has started over.
  if (StepRecording* recording = StepRecording::current()) recording->keep(t);
  return t;
}

}  // namespace elegy::autodiff
