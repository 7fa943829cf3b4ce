#include "elegy/autodiff/device_constants.hpp"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
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
  // Each float constant's storage -> its key and its value as its dtype holds it (emptied with
  // `constants`; by storage, not address: every meta tensor has the same address).
  struct Known {
    Key key;
    double value;
  };
  std::unordered_map<const Storage*, Known> values;
};

// `value` rounded to `dtype` (what scalar() stores), for the floating dtypes the fold handles.
double as_stored(double value, DType dtype) {
  return dtype == DType::f32 ? double(float(value)) : value;
}

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
    if (c.constants.size() >= kMaxConstants) {
      evicted.swap(c.constants);
      c.values.clear();
    }
    const auto [it, made] = c.constants.emplace(key, t);
    t = it->second;
    if (made && (dtype == DType::f32 || dtype == DType::f64))
      c.values[t.storage().get()] = {key, as_stored(value, dtype)};
  }
  // A replay reads it again, even once the cache has started over.
  if (StepRecording* recording = StepRecording::current()) recording->keep(t);
  return t;
}

std::optional<double> device_constant_value(const Tensor& t) {
  if (!t.defined() || t.device().is_cpu() || t.ndim() != 0 || t.node() != nullptr) return {};
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  const auto it = c.values.find(t.storage().get());
  // (The constant's own dtype at its own place: a view of its buffer as another type is none.)
  if (it == c.values.end() || it->second.key.dtype != t.dtype() || t.offset() != 0) return {};
  return it->second.value;
}

}  // namespace elegy::autodiff
