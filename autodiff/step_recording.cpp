#include "elegy/autodiff/step_recording.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>
#include <utility>

#include "elegy/core/error.hpp"
#include "elegy/kernels/conv_geometry.hpp"

namespace elegy::autodiff {

namespace {

thread_local StepRecording* t_current = nullptr;
thread_local int t_paused = 0;

// The conv ops pass their geometry (and ConvDirectBackward its operands) by pointer in ints:
// the recording keeps copies and points the arguments at them.
bool has_geometry(kernels::Op op) {
  using kernels::Op;
  return op == Op::Im2Col || op == Op::Col2Im || op == Op::ConvDirect ||
         op == Op::ConvDirectFilter || op == Op::ConvDirectBackward;
}

}  // namespace

struct StepRecording::Entry {
  enum class Kind { kernel, replay, check, resolve, constant };
  Kind kind = Kind::kernel;
  // kernel
  kernels::KernelFn fn = nullptr;
  std::string what;  // (a copy: the caller's name need not outlive the step)
  kernels::Op op = kernels::Op::Copy;
  DType dtype = DType::f32;
  kernels::KernelArgs args;
  std::shared_ptr<kernels::ConvGeometry> geometry;
  std::shared_ptr<kernels::ConvBackwardOperands> conv_operands;
  // replay / check
  std::string description;
  std::vector<const void*> addresses;
  std::function<void()> replay;
  std::function<std::function<void()>()> start_check;
  // constant
  Tensor constant;
  std::vector<unsigned char> bytes;
};

StepRecording::StepRecording() {
  ELEGY_CHECK(t_current == nullptr, "StepRecording", "a step is already being recorded");
  outer_step_observer_ = step_observer();
  outer_kernel_observer_ = kernels::kernel_observer();
  step_observer() = this;
  kernels::kernel_observer() = this;
  t_current = this;
  watching_ = true;
}

StepRecording::~StepRecording() {
  stop();
}

void StepRecording::stop() {
  if (!watching_) return;
  step_observer() = outer_step_observer_;
  kernels::kernel_observer() = outer_kernel_observer_;
  t_current = nullptr;
  watching_ = false;
}

StepRecording* StepRecording::current() {
  return t_current;
}

StepRecording::Paused::Paused() {
  ++t_paused;
}
StepRecording::Paused::~Paused() {
  --t_paused;
}

void StepRecording::add_inputs(std::span<const Tensor> inputs, bool keep) {
  for (const Tensor& t : inputs) {
    const Storage* s = t.storage().get();
    input_blocks_.emplace_back(s ? s->data() : nullptr, s ? s->nbytes() : 0);
    if (!keep) continue;
    inputs_.push_back(t);
    if (s) ++held_[s];
  }
}

long StepRecording::references_held(const Storage* storage) const {
  const auto it = held_.find(storage);
  return it == held_.end() ? 0 : it->second;
}

void StepRecording::add_replay(std::string description, std::vector<const void*> addresses,
                               std::function<void()> replay) {
  if (t_paused > 0) return;  // paused code records its own replay
  Entry e{.kind = Entry::Kind::replay, .description = std::move(description)};
  e.addresses = std::move(addresses);
  e.replay = std::move(replay);
  entries_.push_back(std::move(e));
}

void StepRecording::add_check(std::string description, std::vector<const void*> addresses,
                              std::function<std::function<void()>()> start) {
  if (t_paused > 0) return;
  Entry e{.kind = Entry::Kind::check, .description = std::move(description)};
  e.addresses = std::move(addresses);
  e.start_check = std::move(start);
  entries_.push_back(std::move(e));
}

void StepRecording::add_resolve() {
  if (t_paused > 0) return;  // paused code records its own replay
  Entry e;
  e.kind = Entry::Kind::resolve;
  entries_.push_back(std::move(e));
}

void StepRecording::add_constant(const Tensor& t) {
  if (t_paused > 0) return;  // paused code records its own replay
  Entry e;
  e.kind = Entry::Kind::constant;
  e.constant = t;
  const auto* p = static_cast<const unsigned char*>(t.address());
  e.bytes.assign(p, p + t.nbytes());
  e.addresses = {t.address()};
  entries_.push_back(std::move(e));
}

void StepRecording::fail(std::string why) {
  if (why_not_.empty()) why_not_ = std::move(why);
}

std::size_t StepRecording::num_kernels() const {
  return std::size_t(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) {
    return e.kind == Entry::Kind::kernel || e.kind == Entry::Kind::replay;
  }));
}

std::size_t StepRecording::bytes_allocated() const {
  std::size_t n = 0;
  for (const auto& s : allocated_) n += s->nbytes();
  return n;
}

std::vector<std::string> StepRecording::operations() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    switch (e.kind) {
      case Entry::Kind::kernel:
        out.push_back(std::string(kernels::op_name(e.op)) + " " + std::string(name(e.dtype)) +
                      " (" + e.what + ")");
        break;
      case Entry::Kind::replay:
        out.push_back(e.description);
        break;
      case Entry::Kind::check:
        out.push_back("check (" + e.description + ")");
        break;
      case Entry::Kind::resolve:
        out.push_back("resolve checks");
        break;
      case Entry::Kind::constant:
        out.push_back("constant");
        break;
    }
  }
  return out;
}

void StepRecording::on_allocate(const std::shared_ptr<Storage>& storage) {
  allocated_.push_back(storage);
  ++held_[storage.get()];
}

void StepRecording::on_host_access(const Tensor& t) {
  if (t_paused > 0 || t.device().is_meta()) return;
  fail("the host read or wrote the values of " + describe(t) +
       " during the step (item(), to_vector(), data<T>(), a host-side loop)");
}

void StepRecording::on_kernel(kernels::KernelFn fn, const char* what, kernels::Op op, DType dtype,
                              const kernels::KernelArgs& args) {
  if (t_paused > 0) return;
  if (op == kernels::Op::OptimUpdate) {
    // Its arguments point at a host struct of the caller's: only the fused optimizer's own
    // replay (add_replay) can run it again.
    fail(std::string(what) + ": an optimizer update kernel run outside the fused optimizer");
    return;
  }
  Entry e;
  e.kind = Entry::Kind::kernel;
  e.fn = fn;
  e.what = what;
  e.op = op;
  e.dtype = dtype;
  e.args = args;
  if (has_geometry(op)) {
    e.geometry = std::make_shared<kernels::ConvGeometry>(kernels::geometry_of(args));
    kernels::set_geometry(e.args, *e.geometry);
  }
  if (op == kernels::Op::ConvDirectBackward) {
    e.conv_operands = std::make_shared<kernels::ConvBackwardOperands>(
        *reinterpret_cast<const kernels::ConvBackwardOperands*>(std::intptr_t(args.ints[1])));
    e.args.ints[1] = std::int64_t(reinterpret_cast<std::intptr_t>(e.conv_operands.get()));
  }
  entries_.push_back(std::move(e));
}

// ------------------------------------------------------------------------------- comparison

namespace {

// Where an address lies: in an input (index, offset), in a block the step allocated (its order
// of allocation, offset), or outside both (the address itself).
struct Role {
  int kind = 0;  // 0 null, 1 input, 2 allocated, 3 outside
  std::size_t index = 0;
  std::uintptr_t offset = 0;
  bool operator==(const Role&) const = default;
};

class Roles {
 public:
  Roles(const std::vector<std::pair<const void*, std::size_t>>& inputs,
        const std::vector<std::shared_ptr<Storage>>& allocated) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].first) add(inputs[i].first, inputs[i].second, 1, i);
    for (std::size_t i = 0; i < allocated.size(); ++i)
      add(allocated[i]->data(), allocated[i]->nbytes(), 2, i);
  }
  Role of(const void* address) const {
    if (address == nullptr) return {};
    const auto a = reinterpret_cast<std::uintptr_t>(address);
    auto it = blocks_.upper_bound(a);
    if (it != blocks_.begin()) {
      --it;
      const Block& b = it->second;
      if (a < it->first + b.size || (b.size == 0 && a == it->first))
        return {b.kind, b.index, a - it->first};
    }
    return {3, 0, a};
  }

 private:
  struct Block {
    std::uintptr_t size;
    int kind;
    std::size_t index;
  };
  void add(const void* data, std::size_t nbytes, int kind, std::size_t index) {
    // An input listed twice (a tied weight) keeps its first index.
    blocks_.emplace(reinterpret_cast<std::uintptr_t>(data), Block{nbytes, kind, index});
  }
  std::map<std::uintptr_t, Block> blocks_;
};

bool same_view(const kernels::BufferView& a, const kernels::BufferView& b, const Roles& ra,
               const Roles& rb) {
  if (a.dtype != b.dtype || a.rank != b.rank) return false;
  for (int i = 0; i < kMaxRank; ++i)
    if (a.sizes[i] != b.sizes[i] || a.strides[i] != b.strides[i]) return false;
  return ra.of(a.data) == rb.of(b.data);
}

std::string same_kernel(const StepRecording::Entry& a, const StepRecording::Entry& b,
                        const Roles& ra, const Roles& rb) {
  const kernels::KernelArgs &x = a.args, &y = b.args;
  if (a.fn != b.fn || a.op != b.op || a.dtype != b.dtype) return "another kernel";
  if (!same_view(x.out, y.out, ra, rb)) return "its output";
  for (int i = 0; i < kernels::kMaxKernelInputs; ++i)
    if (!same_view(x.in[i], y.in[i], ra, rb)) return "input " + std::to_string(i);
  if (x.num_inputs != y.num_inputs || x.device != y.device || x.in_device != y.in_device)
    return "its devices";
  for (int i = 0; i < 2; ++i)
    if (std::memcmp(&x.scalar[i], &y.scalar[i], sizeof(double)) != 0)
      return "scalar " + std::to_string(i) + " (" + std::to_string(x.scalar[i]) + " vs " +
             std::to_string(y.scalar[i]) + ")";
  if (x.key[0] != y.key[0] || x.key[1] != y.key[1]) return "its random key";
  for (int i = 0; i < 4; ++i) {
    if (i == 0 && a.geometry) {
      if (std::memcmp(a.geometry.get(), b.geometry.get(), sizeof(kernels::ConvGeometry)) != 0)
        return "its convolution geometry";
      continue;
    }
    if (i == 1 && a.conv_operands) {
      const kernels::ConvBackwardOperands &p = *a.conv_operands, &q = *b.conv_operands;
      for (auto m : {&kernels::ConvBackwardOperands::x, &kernels::ConvBackwardOperands::w,
                     &kernels::ConvBackwardOperands::gy, &kernels::ConvBackwardOperands::y,
                     &kernels::ConvBackwardOperands::dx, &kernels::ConvBackwardOperands::dw,
                     &kernels::ConvBackwardOperands::db})
        if (!same_view(p.*m, q.*m, ra, rb)) return "its convolution operands";
      continue;
    }
    if (x.ints[i] != y.ints[i])
      return "integer " + std::to_string(i) + " (" + std::to_string(x.ints[i]) + " vs " +
             std::to_string(y.ints[i]) + ")";
  }
  return "";
}

}  // namespace

std::string StepRecording::difference(const StepRecording& a, const StepRecording& b) {
  if (!a.replayable()) return a.why_not();
  if (!b.replayable()) return b.why_not();
  if (a.input_blocks_.size() != b.input_blocks_.size()) return "the steps have different inputs";
  const Roles ra(a.input_blocks_, a.allocated_), rb(b.input_blocks_, b.allocated_);
  const std::size_t n = std::min(a.entries_.size(), b.entries_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Entry &x = a.entries_[i], &y = b.entries_[i];
    std::ostringstream at;
    at << "step entry " << i << " (" << (x.kind == Entry::Kind::kernel ? x.what : x.description)
       << ")";
    if (x.kind != y.kind) return at.str() + " is followed by something else in the next step";
    switch (x.kind) {
      case Entry::Kind::kernel:
        if (std::string d = same_kernel(x, y, ra, rb); !d.empty())
          return at.str() + ": " + d + " differs between two steps";
        break;
      case Entry::Kind::constant:
        if (x.bytes != y.bytes || ra.of(x.addresses[0]) != rb.of(y.addresses[0]))
          return at.str() + ": a constant the host wrote differs between two steps";
        break;
      case Entry::Kind::replay:
      case Entry::Kind::check:
        if (x.description != y.description || x.addresses.size() != y.addresses.size())
          return at.str() + " differs between two steps";
        for (std::size_t k = 0; k < x.addresses.size(); ++k)
          if (ra.of(x.addresses[k]) != rb.of(y.addresses[k]))
            return at.str() + ": its buffers differ between two steps";
        break;
      case Entry::Kind::resolve:
        break;
    }
  }
  if (a.entries_.size() != b.entries_.size())
    return "the steps ran " + std::to_string(a.entries_.size()) + " and " +
           std::to_string(b.entries_.size()) + " operations";
  return "";
}

// ----------------------------------------------------------------------------------- replay

void StepRecording::replay() const {
  std::vector<std::function<void()>> pending;
  auto run_checks = [&] {
    std::vector<std::function<void()>> now;
    now.swap(pending);
    for (const auto& check : now) check();
  };
  for (const Entry& e : entries_) {
    switch (e.kind) {
      case Entry::Kind::kernel:
        e.fn(e.args);
        ++kernels::kernels_run_by_this_thread();
        break;
      case Entry::Kind::replay:
        e.replay();
        break;
      case Entry::Kind::check:
        pending.push_back(e.start_check());
        break;
      case Entry::Kind::resolve:
        run_checks();
        break;
      case Entry::Kind::constant:
        std::memcpy(e.constant.address(), e.bytes.data(), e.bytes.size());
        break;
    }
  }
  run_checks();
}

void check_on_host(const char* description, const std::vector<Tensor>& reads,
                   const std::function<void()>& check) {
  StepRecording* recording = StepRecording::current();
  if (recording == nullptr) {
    check();
    return;
  }
  {
    StepRecording::Paused paused;
    check();
  }
  std::vector<const void*> addresses;
  for (const Tensor& t : reads) addresses.push_back(t.address());
  recording->add_check(description, std::move(addresses),
                       [check, reads] { return [check, reads] { check(); }; });
}

}  // namespace elegy::autodiff
