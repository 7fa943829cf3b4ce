// Model's compiled train step (compiled_step.hpp): recording, comparing, replaying.
#include "elegy/model/compiled_step.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string_view>
#include <unordered_map>

#include "elegy/autodiff/deferred_checks.hpp"
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/core/error.hpp"
#include "elegy/kernels/copy_list.hpp"
#include "elegy/model/fit_profile.hpp"
#include "elegy/model/logs.hpp"
#include "elegy/model/model.hpp"

namespace elegy {
namespace compiled {

namespace {

bool same_leaves(const Tree& recorded, const Tree& given, const std::optional<Device>& device) {
  if (!Tree::same_structure(recorded, given)) return false;
  const std::vector<Tensor> a = recorded.leaves(), b = given.leaves();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape() || a[i].dtype() != b[i].dtype()) return false;
    if (a[i].device() != device.value_or(b[i].device())) return false;
  }
  return true;
}

bool same_optional(const std::optional<Tensor>& recorded, const std::optional<Tensor>& given,
                   const std::optional<Device>& device) {
  if (recorded.has_value() != given.has_value()) return false;
  return !recorded || same_leaves(Tree(*recorded), Tree(*given), device);
}

// Every leaf of the batch in a fixed order: x, y, then the weights.
std::vector<Tensor> batch_leaves(const Tree& x, const Tree& y,
                                 const std::optional<Tensor>& sample_weight,
                                 const std::optional<Tensor>& class_weight) {
  std::vector<Tensor> out = x.leaves();
  for (const Tensor& t : y.leaves()) out.push_back(t);
  if (sample_weight) out.push_back(*sample_weight);
  if (class_weight) out.push_back(*class_weight);
  return out;
}

// How often each buffer occurs among `leaves`.
std::unordered_map<const Storage*, long> occurrences(const std::vector<Tensor>& leaves) {
  std::unordered_map<const Storage*, long> out;
  for (const Tensor& t : leaves) ++out[t.storage().get()];
  return out;
}

long count_of(const std::unordered_map<const Storage*, long>& counts, const Tensor& t) {
  const auto found = counts.find(t.storage().get());
  return found == counts.end() ? 0 : found->second;
}

// The small states' copies into their slots at the end of a step (running totals, counts, step
// counters: 8 in the mlp main), as one CopyMany kernel per device: one launch, not one each.
// (The recording keeps its own copy of the list: its addresses are the plan's, fixed between
// replays, and on a GPU a graph may hold it like any kernel.)
struct SmallCopies {
  Device device;
  std::vector<kernels::CopyPiece> pieces;
  std::vector<std::size_t> states;  // which state each piece is (copy_states' index)

  void run() const {
    const kernels::CopyList list{pieces.data(), int(pieces.size())};
    kernels::KernelArgs args;
    args.device = device;
    args.ints[0] = kernels::address_of(list);
    kernels::run("compiled step", kernels::Op::CopyMany, DType::u8, args);
  }
};

// Whether the copy of `src` into `slot` can be a piece of a CopyMany.
bool small_copy(const Tensor& slot, const Tensor& src) {
  return slot.device() == src.device() && slot.is_contiguous() && src.is_contiguous() &&
         slot.nbytes() == src.nbytes() && slot.nbytes() <= kernels::kMaxCopyPieceBytes;
}

// Copies `srcs[i]` into `slots[i]` (recorded by the step's recording): the small ones of a device
// together, the rest one Copy each. No src may be another's slot (the copies run in any order).
void copy_states(const std::vector<Tensor>& slots, const std::vector<Tensor>& srcs) {
  std::vector<SmallCopies> groups;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].numel() == 0) continue;
    if (!small_copy(slots[i], srcs[i])) {
      copy_into(slots[i], srcs[i]);
      continue;
    }
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const SmallCopies& g) { return g.device == slots[i].device(); });
    if (group == groups.end()) group = groups.insert(groups.end(), {slots[i].device(), {}, {}});
    group->pieces.push_back(
        {slots[i].address(), srcs[i].address(), std::int64_t(slots[i].nbytes())});
    group->states.push_back(i);
  }
  for (const SmallCopies& g : groups) {
    if (g.pieces.size() == 1)  // (a Copy kernel: the same launch without a table)
      copy_into(slots[g.states[0]], srcs[g.states[0]]);
    else
      g.run();
  }
}

bool debug_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("ELEGY_JIT_DEBUG");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return on;
}

}  // namespace

std::optional<std::vector<Key>> drawn_keys(const std::optional<RngSeq>& before,
                                           const std::optional<RngSeq>& after) {
  if (before.has_value() != after.has_value()) return std::nullopt;
  std::vector<Key> draws;
  if (!before) return draws;
  RngSeq seq = *before;
  for (std::size_t i = 0; i <= kMaxDraws; ++i) {
    if (seq == *after) return draws;
    draws.push_back(seq.next());
  }
  return std::nullopt;
}

bool same_batch(const RecordedStep& c, const Tree& x, const Tree& y,
                const std::optional<Tensor>& sample_weight,
                const std::optional<Tensor>& class_weight, const std::optional<Device>& device) {
  return same_leaves(c.x, x, device) && same_leaves(c.y, y, device) &&
         same_optional(c.sample_weight, sample_weight, device) &&
         same_optional(c.class_weight, class_weight, device);
}

std::unique_ptr<autodiff::StepRecording> start_recording(RecordedStep& s, StepArgs& a) {
  if (s.phase == RecordedStep::Phase::record_second &&
      !same_batch(s, a.x, a.y_true, a.sample_weight, a.class_weight, std::nullopt)) {
    s.phase = RecordedStep::Phase::record_first;  // another signature: start over
    s.first.reset();
    s.first_plan.reset();
  }
  a.x = a.x.map(private_copy);
  a.y_true = a.y_true.map(private_copy);
  if (a.sample_weight) a.sample_weight = private_copy(*a.sample_weight);
  if (a.class_weight) a.class_weight = private_copy(*a.class_weight);
  s.x = a.x;
  s.y = a.y_true;
  s.sample_weight = a.sample_weight;
  s.class_weight = a.class_weight;
  // The second recording lays the step's blocks out as the first one's lifetimes allow: the
  // replays reuse its addresses.
  auto recording = std::make_unique<autodiff::StepRecording>(
      s.phase == RecordedStep::Phase::record_second ? s.first_plan : nullptr);
  recording->add_inputs(batch_leaves(a.x, a.y_true, a.sample_weight, a.class_weight));
  return recording;
}

void finish_recording(RecordedStep& s, std::unique_ptr<autodiff::StepRecording> recording,
                      const std::vector<Tensor>& slots, const States& in, States& out,
                      const StepLogs& logs, const std::optional<RngSeq>& rng, const char* step) {
  std::vector<Tensor> leaves = out.leaves();
  // The new states go into the buffers the step read the old ones from (where the optimizer did
  // not write them in place already), so the next replay reads them there.
  bool fits = leaves.size() == slots.size() && States::same_structure(in, out);
  for (std::size_t i = 0; fits && i < leaves.size(); ++i)
    fits = leaves[i].shape() == slots[i].shape() && leaves[i].dtype() == slots[i].dtype() &&
           leaves[i].device() == slots[i].device();
  if (!fits) recording->fail("the step changed the structure, shapes or dtypes of its states");
  const std::optional<RngSeq> rng_after =
      out.has_rng() ? std::optional<RngSeq>(out.rng()) : std::nullopt;
  // The keys the step drew from the model's rng (a Dropout's): a replay draws its own.
  if (const auto draws = drawn_keys(rng, rng_after))
    recording->bind_keys(*draws);
  else
    recording->fail("the step changed its rng other than by drawing at most " +
                    std::to_string(kMaxDraws) + " keys from it");
  // A new state that is another state's old buffer would be overwritten by that state's copy
  // (or race it): such a step is not replayed, and its states stay where it put them.
  for (std::size_t i = 0; fits && i < leaves.size(); ++i)
    if (leaves[i].address() != slots[i].address())
      for (const Tensor& t : slots)
        if (t.storage() == leaves[i].storage())
          recording->fail("the step's states alias each other");
  if (recording->replayable()) {
    std::vector<Tensor> to, from;
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      if (leaves[i].address() == slots[i].address()) continue;
      to.push_back(slots[i]);
      from.push_back(leaves[i]);
    }
    copy_states(to, from);
    out = out.with_leaves(slots);
  }
  leaves.clear();
  conclude(s, std::move(recording), logs, step);
}

constexpr const char* kPlanOutOfMemory = "packing the step's memory plan ran out of memory";

void conclude(RecordedStep& s, std::unique_ptr<autodiff::StepRecording> recording,
              const StepLogs& logs, const char* step) {
  using Phase = RecordedStep::Phase;
  recording->stop();
  if (!recording->replayable()) {
    s.stay_eager(recording->why_not());
  } else if (s.phase == Phase::record_first) {
    // Its blocks go back to the allocator before the second recording runs (that one's arena
    // and the step's memory would otherwise be held together).
    try {
      s.first_plan = recording->memory_plan();
      recording->release_blocks();
      s.first = std::move(recording);
      s.phase = Phase::record_second;
    } catch (const std::bad_alloc&) {  // (the host's memory, for the plan itself)
      s.stay_eager(kPlanOutOfMemory);
    } catch (const OutOfMemoryError&) {
      s.stay_eager(kPlanOutOfMemory);
    }
  } else {
    std::string difference = autodiff::StepRecording::difference(*s.first, *recording);
    s.first.reset();
    s.first_plan.reset();
    if (difference.empty()) {
      s.plan = std::move(recording);
      s.logs = logs;
      s.phase = Phase::ready;
      s.why_eager.clear();
    } else {
      s.stay_eager(std::move(difference));
    }
  }
  if (debug_enabled() && s.phase == Phase::eager)
    std::fprintf(stderr, "elegy: the %s step runs eagerly: %s\n", step, s.why_eager.c_str());
}

std::vector<LeafView> views_of(const std::vector<Tensor>& leaves) {
  std::vector<LeafView> out;
  out.reserve(leaves.size());
  for (const Tensor& t : leaves)
    out.push_back({t.address(), t.shape(), t.strides(), t.dtype(), t.device()});
  return out;
}

void copy_into(const Tensor& slot, const Tensor& src) {
  if (slot.numel() == 0 || slot.address() == src.address()) return;
  // A transfer between devices moves one dense block.
  const Tensor from = src.device() == slot.device() || src.is_contiguous() ? src : src.contiguous();
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(slot);
  args.in[0] = autodiff::buffer_view(from);
  args.num_inputs = 1;
  args.device = slot.device().is_cuda() ? slot.device() : from.device();
  args.in_device = from.device();
  args.out_on_host = slot.device().is_cpu() && !from.device().is_cpu();
  kernels::run("compiled step", kernels::Op::Copy, slot.dtype(), args);
}

Tensor private_copy(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  copy_into(out, t);
  return out;
}

}  // namespace compiled

bool Model::compiled_step_enabled() const {
  static const bool forced_eager = [] {
    const char* v = std::getenv("ELEGY_RUN_EAGERLY");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return !options_.run_eagerly && !forced_eager;
}

bool Model::cuda_graphs_enabled() const {
  static const int forced = [] {
    const char* v = std::getenv("ELEGY_CUDA_GRAPHS");
    if (v == nullptr) return -1;
    return std::string_view(v) == "1" ? 1 : std::string_view(v) == "0" ? 0 : -1;
  }();
  return forced >= 0 ? forced == 1 : options_.cuda_graphs;
}

CompiledStepStatus Model::compiled_step_status() const {
  CompiledStepStatus s;
  if (const auto& c = compiled_.step) {
    const compiled::RecordedStep& t = c->train;
    s.compiled = t.phase == compiled::RecordedStep::Phase::ready;
    s.replays = t.replays;
    s.test_replays = c->test.replays;
    if (t.plan) {
      s.kernels = t.plan->num_kernels();
      s.operations = t.plan->operations();
      s.bytes = t.plan->bytes_allocated();
      s.unpacked_bytes = t.plan->bytes_requested();
      const autodiff::StepRecording::GraphStatus g = t.plan->graph_status();
      s.graphs = g.graphs;
      s.graph_kernels = g.kernels;
      s.why_no_graphs = g.why_not;
    }
    s.why_eager = t.why_eager;
  } else if (!compiled_step_enabled()) {
    s.why_eager = "run_eagerly is set";
  }
  if (const auto& p = compiled_.predict) {
    s.predict_replays = p->step.replays;
    s.predict_why_eager = p->step.why_eager;
  } else if (!compiled_step_enabled()) {
    s.predict_why_eager = "run_eagerly is set";
  }
  return s;
}

std::optional<Logs> Model::replay_step(compiled::RecordedStep compiled::CompiledSteps::*which,
                                       const char* step, const Tree& x, const Tree& y,
                                       const std::optional<Tensor>& sample_weight,
                                       const std::optional<Tensor>& class_weight) {
  compiled::CompiledSteps* c = compiled_.step.get();
  using Phase = compiled::RecordedStep::Phase;
  if (c == nullptr || c->train.phase != Phase::ready || !c->settled) return std::nullopt;
  compiled::RecordedStep& s = c->*which;
  if (s.phase != Phase::ready) return std::nullopt;
  // Inside another model's step being recorded (an override training a second model), this
  // step runs eagerly, so the outer recording sees everything it does.
  if (autodiff::StepRecording::current() != nullptr) return std::nullopt;
  // Another batch signature (the last, smaller batch of an epoch) runs eagerly; the plan stays.
  if (!compiled::same_batch(s, x, y, sample_weight, class_weight, options_.device))
    return std::nullopt;
  // The states must be the plan's slots, seen by nobody but the plan and the model (so the
  // replay may write them in place). Leaves that are not (reset_metrics, set_states, load, an
  // eager step of another batch shape) are copied into their slot, when nobody else holds it.
  if (!bind_states(*c)) {
    // Somebody else sees a slot (a States copy a callback keeps, a user's tensor), or the
    // states changed structure: record again, over private copies.
    compiled_.step.reset();
    return std::nullopt;
  }
  const std::vector<Tensor> batch = compiled::batch_leaves(x, y, sample_weight, class_weight);
  const std::vector<Tensor>& inputs = s.plan->inputs();
  for (std::size_t i = 0; i < batch.size(); ++i) compiled::copy_into(inputs[i], batch[i]);
  detail::FitProfile::mark_current(detail::FitProfile::kCopyIn);
  // The keys the step draws (a Dropout's), from the model's rng as the eager step would.
  std::vector<Key> draws;
  std::optional<RngSeq> rng;
  if (s.plan->num_draws() > 0) {
    if (!states_.has_rng()) return std::nullopt;  // (eager: the step's own Error says why)
    rng = states_.rng();
    for (std::size_t i = 0; i < s.plan->num_draws(); ++i) draws.push_back(rng->next());
  }
  s.plan->use_graphs(cuda_graphs_enabled());
  // A failing check (a label out of range) raises before anything is written in place.
  s.plan->replay(draws);
  if (rng) states_ = states_.update_rng(*rng);
  ++s.replays;
  detail::FitProfile::mark_current(detail::FitProfile::kStep);
  return to_logs(step, s.logs);
}

std::optional<Logs> Model::replay_train_step(const Tree& x, const Tree& y,
                                             const std::optional<Tensor>& sample_weight,
                                             const std::optional<Tensor>& class_weight) {
  return replay_step(&compiled::CompiledSteps::train, "train_step", x, y, sample_weight,
                     class_weight);
}

std::optional<Logs> Model::replay_test_step(const Tree& x, const Tree& y,
                                            const std::optional<Tensor>& sample_weight,
                                            const std::optional<Tensor>& class_weight) {
  return replay_step(&compiled::CompiledSteps::test, "test_step", x, y, sample_weight,
                     class_weight);
}

std::unique_ptr<autodiff::StepRecording> Model::begin_train_recording(StepArgs& a) {
  using Phase = compiled::RecordedStep::Phase;
  auto& c = compiled_.step;
  if (autodiff::StepRecording::current() != nullptr) return nullptr;  // inside another's
  if (c && c->train.phase == Phase::ready) return nullptr;            // another signature: eager
  if (c && c->train.phase == Phase::eager) {
    if (compiled::same_batch(c->train, a.x, a.y_true, a.sample_weight, a.class_weight,
                             std::nullopt))
      return nullptr;
    c.reset();  // a new signature: try again
  }
  if (!c) c = std::make_shared<compiled::CompiledSteps>();
  // The recording's inputs are its own buffers: a replay refills the batch's and updates the
  // states' in place, which must not be a user's tensors.
  std::vector<Tensor> state_leaves = a.states.leaves();
  for (Tensor& t : state_leaves) t = compiled::private_copy(t);
  a.states = a.states.with_leaves(state_leaves);
  auto recording = compiled::start_recording(c->train, a);
  recording->add_inputs(state_leaves);
  return recording;
}

void Model::finish_train_recording(std::unique_ptr<autodiff::StepRecording> recording,
                                   const StepArgs& a, TrainStep& r,
                                   const std::optional<RngSeq>& rng) {
  compiled::CompiledSteps& c = *compiled_.step;
  const std::vector<Tensor>& inputs = recording->inputs();
  const std::size_t num_batch =
      compiled::batch_leaves(c.train.x, c.train.y, c.train.sample_weight, c.train.class_weight)
          .size();
  const std::vector<Tensor> slots(inputs.begin() + std::ptrdiff_t(num_batch), inputs.end());
  compiled::finish_recording(c.train, std::move(recording), slots, a.states, r.states, r.logs, rng,
                             "train");
  if (c.train.phase == compiled::RecordedStep::Phase::ready) {
    c.state_slots = slots;
    c.states = r.states.with_leaves(slots);
    c.settled = false;
    c.test = compiled::RecordedStep();  // (none yet: it records over these slots)
  }
}

std::unique_ptr<autodiff::StepRecording> Model::begin_test_recording(StepArgs& a) {
  using Phase = compiled::RecordedStep::Phase;
  compiled::CompiledSteps* c = compiled_.step.get();
  // The test step records over the train step's state buffers, so it waits for that plan.
  if (c == nullptr || c->train.phase != Phase::ready || !c->settled) return nullptr;
  if (autodiff::StepRecording::current() != nullptr) return nullptr;
  compiled::RecordedStep& t = c->test;
  if (t.phase == Phase::ready) return nullptr;  // another signature: eager
  if (t.phase == Phase::eager) {
    if (compiled::same_batch(t, a.x, a.y_true, a.sample_weight, a.class_weight, std::nullopt))
      return nullptr;
    t = compiled::RecordedStep();
  }
  a.states = States();  // (a copy of the states' trees would read as another holder)
  const bool bound = bind_states(*c);
  a.states = states_;  // the slots, when bound
  if (!bound) {
    compiled_.step.reset();
    return nullptr;
  }
  // (Its arena is its own: the train plan's may hold bytes somebody kept from its recording.)
  auto recording = compiled::start_recording(t, a);
  // The train plan keeps the slots; the test plan holds no reference to them (which would make
  // the train plan's count of references wrong).
  recording->add_inputs(c->state_slots, /*keep=*/false);
  return recording;
}

void Model::finish_test_recording(std::unique_ptr<autodiff::StepRecording> recording,
                                  const StepArgs& a, TestStep& r,
                                  const std::optional<RngSeq>& rng) {
  compiled::CompiledSteps& c = *compiled_.step;
  compiled::finish_recording(c.test, std::move(recording), c.state_slots, a.states, r.states,
                             r.logs, rng, "test");
}

bool Model::bind_states(compiled::CompiledSteps& c) {
  std::vector<Tensor> current = states_.leaves();
  const std::size_t n = c.state_slots.size();
  if (current.size() != n || !States::same_structure(states_, c.states)) return false;
  const std::vector<bool> unshared = states_.leaves_uniquely_owned();
  std::vector<bool> copy(n, false);
  bool rebuild = false;
  // How often each buffer occurs in the states (each also held by `current`).
  const auto occurs = compiled::occurrences(current);
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor& slot = c.state_slots[i];
    const long occurrences = compiled::count_of(occurs, slot);
    const long refs = slot.storage().use_count();
    if (current[i].storage() == slot.storage() && current[i].address() == slot.address()) {
      if (!unshared[i] || refs != c.plan_refs[i] + 2 * occurrences) return false;
    } else {
      if (occurrences != 0 || refs != c.plan_refs[i] || current[i].shape() != slot.shape() ||
          current[i].dtype() != slot.dtype() || current[i].device() != slot.device())
        return false;
      copy[i] = rebuild = true;
    }
    rebuild = rebuild || !unshared[i];
  }
  for (std::size_t i = 0; i < n; ++i)
    if (copy[i]) compiled::copy_into(c.state_slots[i], current[i]);
  current.clear();
  if (rebuild) states_ = states_.with_leaves(c.state_slots);
  return true;
}

void Model::settle_compiled_step() {
  compiled::CompiledSteps* c = compiled_.step.get();
  if (c == nullptr || c->train.phase != compiled::RecordedStep::Phase::ready || c->settled) return;
  // Now that the step's locals are gone: the references the plan and the model hold, which a
  // replay finds again when nobody else took one.
  const std::vector<Tensor> current = states_.leaves();
  bool ok = current.size() == c->state_slots.size() && states_.uniquely_owned();
  c->plan_refs.assign(c->state_slots.size(), 0);
  const auto occurs = compiled::occurrences(current);
  for (std::size_t i = 0; ok && i < current.size(); ++i) {
    const Tensor& slot = c->state_slots[i];
    ok = current[i].storage() == slot.storage() && current[i].address() == slot.address();
    // The states' trees and `current` hold one reference per occurrence each.
    c->plan_refs[i] = slot.storage().use_count() - 2 * compiled::count_of(occurs, slot);
  }
  if (!ok) {
    compiled_.step.reset();
    return;
  }
  c->settled = true;
}

}  // namespace elegy
