// A step recorded to be run again without its host code: what Model's compiled train step
// (model/compiled_step.hpp) replays. While a StepRecording lives on a thread it keeps, in order,
// every kernel the thread runs (its plain-data KernelArgs), every block the step allocates (so
// the addresses stay valid and private to the replay), the host-written constants, and the
// checks ops make of their inputs; code that reads a value on the host and acts on it makes
// the recording unreplayable, with the reason. A replay runs the same kernels over the same
// buffers: the caller refills the input buffers (the next batch) and the states are updated in
// place. Two recordings of consecutive steps must agree (same kernels and constants, buffers in
// the same roles) before either is replayed: a value the host baked into a kernel's arguments
// (a step count, a literal RNG key) differs between them and keeps the step eager. The keys a
// step draws from its model's random sequence are the exception: bind_keys names them, and a
// replay is given the keys of its own step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "elegy/autodiff/memory_plan.hpp"
#include "elegy/core/random.hpp"
#include "elegy/core/step_observer.hpp"
#include "elegy/core/storage.hpp"
#include "elegy/core/tensor.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::autodiff {

class StepRecording final : public StepObserver, public kernels::KernelObserver {
 public:
  // Starts recording this thread's step (one recording per thread at a time). With a `plan`
  // (the memory_plan() of the same step's last recording), the step's blocks are parts of one
  // arena per device at the planned offsets.
  explicit StepRecording(std::shared_ptr<const MemoryPlan> plan = nullptr);
  ~StepRecording() override;
  StepRecording(const StepRecording&) = delete;
  StepRecording& operator=(const StepRecording&) = delete;
  // Stops watching the thread; the recording stays, to be compared and replayed.
  void stop();

  // The recording this thread is making, or null.
  static StepRecording* current();

  // The tensors the step reads that outlive it (the batch, the states), in a fixed order: the
  // buffers a replay reads again. Call before the step runs. With `keep`, the recording keeps
  // them (as it keeps every block the step allocates), which in-place updates do not count as
  // another owner; else their owner must keep them as long as the recording may be replayed.
  void add_inputs(std::span<const Tensor> inputs, bool keep = true);
  // The inputs it keeps, in order.
  const std::vector<Tensor>& inputs() const { return inputs_; }

  // While a Paused lives, this thread's kernels and host accesses are not recorded: code that
  // reads host values for its own reasons (a fused optimizer's step count) records its replay
  // itself with add_replay. Allocations still are kept.
  class Paused {
   public:
    Paused();
    ~Paused();
    Paused(const Paused&) = delete;
    Paused& operator=(const Paused&) = delete;
  };

  // While an Outside lives, this thread's work is no part of the step (a cache filled on first
  // use, which the next step finds filled): nothing of it is recorded, its allocations included,
  // so two recordings of the same step agree.
  class Outside {
   public:
    Outside();
    ~Outside();
    Outside(const Outside&) = delete;
    Outside& operator=(const Outside&) = delete;

   private:
    StepObserver* step_observer_;
    kernels::KernelObserver* kernel_observer_;
  };
  // Keeps `t`, made outside the step and read by its kernels (a cached device constant), alive
  // as long as the recording, so a replay reads it even after its cache let it go.
  void keep(const Tensor& t);

  // Host code for the replay to run at this point (it recomputes what it baked from the values
  // its tensors hold then). `description` and the addresses it uses are what two recordings
  // compare.
  void add_replay(std::string description, std::vector<const void*> addresses,
                  std::function<void()> replay);
  // A check of values the step computed: `start` runs at this point of each replay (on a GPU it
  // queues the copy) and returns the check itself, which runs at the next resolve point (before
  // anything is written in place) and raises when the values are bad.
  void add_check(std::string description, std::vector<const void*> addresses,
                 std::function<std::function<void()>()> start);
  // Where pending checks run (DeferredChecks::resolve).
  void add_resolve();
  // `t` (on the CPU, dense) was just written by the host with a constant: the replay writes the
  // same bytes again at this point.
  void add_constant(const Tensor& t);
  // (The add_* calls do nothing while a Paused lives.)
  // The keys the step drew, in order, from the sequence it was given (a Dropout's): kernels
  // whose key is draws[j] get the replay's j-th key instead. Call once the step has run.
  void bind_keys(std::span<const Key> draws);
  // How many keys a replay must be given (bind_keys' draws).
  std::size_t num_draws() const { return num_draws_; }
  // Makes the recording unreplayable (the first reason is kept).
  void fail(std::string why);

  bool replayable() const { return why_not_.empty(); }
  const std::string& why_not() const { return why_not_; }
  std::size_t num_kernels() const;
  // Bytes the recording keeps for the step's blocks (its arenas and any block of its own).
  std::size_t bytes_allocated() const;
  // Bytes of all the blocks the step allocated, laid end to end.
  std::size_t bytes_requested() const;
  // The step's blocks packed by lifetime (call once the recording has stopped).
  std::shared_ptr<const MemoryPlan> memory_plan() const;
  // Lets go of the step's blocks and inputs (once it has stopped): a recording kept only to be
  // compared with the next one need not hold a whole step's memory while that one runs. What
  // difference() and memory_plan() read stays; replay() is refused from now on.
  void release_blocks();
  // One line per entry ("Add f32", "fused adam", "check", ...): what a replay runs, in order.
  std::vector<std::string> operations() const;

  // "" when `a` and `b` did the same: the same kernels with the same arguments and constants, in
  // the same order, over addresses in the same roles (the same input at the same offset, the same
  // allocation of the step, or the very same outside buffer). Else what differs first.
  static std::string difference(const StepRecording& a, const StepRecording& b);

  // Per input (add_inputs' order): whether any kernel, replay, check or constant of the step
  // touches its buffer. Inputs sharing a buffer share the answer.
  std::vector<bool> inputs_touched() const;

  // Runs the step again (the caller has refilled the inputs' buffers), with `draws` (num_draws()
  // keys) in place of the keys the recorded step drew. A failing check raises its Error at its
  // resolve point, before the kernels after it run.
  void replay(std::span<const Key> draws = {}) const;

  // CUDA graphs for the replays (core/stream_graph.hpp). With `on`, the next replay captures
  // each run of at least kMinGraphKernels consecutive GPU kernels (no host code, check or
  // constant between them, no copy from or to the host) as one graph, and the replays after it
  // launch the graphs instead of the kernels: the same kernels with the same arguments, in the
  // same order, on the same stream. Kernels given a drawn key read it from a key table on their
  // GPU, which each replay first fills with its draws (one copy per device). A run whose capture is
  // refused (a launcher that waits on the host, ...) runs kernel by kernel that time, with the
  // reason kept, and its halves are tried at the next replays (graph_segments.hpp's split_refused),
  // until only runs too short to cut are left kernel by kernel. (What a launcher raises during
  // the capture counts as a refusal; a capture that cannot even begin is not retried: its run
  // stays kernel by kernel.) A replay that runs out of memory drops the graphs (their
  // launchers' temporaries are out of the allocator's reach) and the later replays run kernel
  // by kernel; graph_status says so.
  void use_graphs(bool on);
  static constexpr std::size_t kMinGraphKernels = 3;
  struct GraphStatus {
    std::size_t graphs = 0;   // graphs a replay launches
    std::size_t kernels = 0;  // the kernels they hold (of num_kernels())
    std::size_t refused = 0;  // runs not graphs: too short to cut further, or the capture failed
    std::string why_not;      // why a run is not a graph (the first reason), "" when all are
  };
  GraphStatus graph_status() const;

  // StepObserver / KernelObserver
  std::shared_ptr<Storage> provide(std::size_t nbytes, Device device) override;
  void on_allocate(const std::shared_ptr<Storage>& storage) override;
  void on_host_access(const Tensor& t) override;
  long references_held(const Storage* storage) const override;
  void on_kernel(kernels::KernelFn fn, const char* what, kernels::Op op, DType dtype,
                 const kernels::KernelArgs& args) override;

  struct Entry;
  // Where an allocated block lay.
  struct Span {
    std::uintptr_t start = 0;
    std::size_t nbytes = 0;
    Device device;
  };

 private:
  bool watching_ = false;
  StepObserver* outer_step_observer_ = nullptr;
  kernels::KernelObserver* outer_kernel_observer_ = nullptr;
  std::vector<Entry> entries_;
  std::vector<Tensor> inputs_;                                     // kept
  std::vector<std::pair<const void*, std::size_t>> input_blocks_;  // all: their storages
  std::vector<std::shared_ptr<Storage>> allocated_;
  std::vector<Span> spans_;  // per allocated block (kept by release_blocks)
  bool released_ = false;
  // Per allocated block: the allocation at which it was first found dead (no reference left but
  // the recording's), BlockLifetime::kAliveAtEnd while it is not; and which are still alive.
  std::vector<std::size_t> ends_;
  std::vector<std::size_t> alive_;
  std::shared_ptr<const MemoryPlan> plan_;
  bool following_plan_ = false;  // (until an allocation differs from the plan's)
  // A device's arena and the parts of it handed out, by offset: (end, index in allocated_).
  // Parts alive together never share bytes, so these are disjoint: a part replaces the (dead)
  // ones it overlaps.
  struct Arena {
    Device device;
    std::shared_ptr<Storage> block;
    std::map<std::size_t, std::pair<std::size_t, std::size_t>> parts;
  };
  std::vector<Arena> arenas_;
  std::unordered_map<const Storage*, long> held_;  // references in inputs_ and allocated_
  // Outside buffers the step reads (keep); not counted in held_: they are shared by design.
  std::vector<std::shared_ptr<Storage>> kept_;
  std::size_t num_draws_ = 0;
  std::string why_not_;
  // The replay's graphs: a cache of how the same kernels are launched, filled by the first
  // replay after use_graphs (so replay() stays const).
  struct Graphs;
  bool use_graphs_ = false;
  mutable std::unique_ptr<Graphs> graphs_;
  // The replay's draws as key words: on the host (CPU kernels read them there) and in each GPU
  // key table of the graphs (one copy per device, before anything of the replay runs).
  mutable std::vector<std::uint32_t> key_words_;
  void write_keys(std::span<const Key> draws) const;
  void run_entries(std::span<const Key> draws) const;
  // Why the graphs were dropped for good (a replay ran out of memory), or "".
  mutable std::string graphs_dropped_;
  void run_kernel(const Entry& e, std::span<const Key> draws) const;
  void plan_graphs() const;
};

// Runs `check` (host code reading CPU tensors, raising when they are bad) now and, while a step
// is recorded, again at each replay's resolve point. `description` names it for comparisons.
void check_on_host(const char* description, const std::vector<Tensor>& reads,
                   const std::function<void()>& check);

}  // namespace elegy::autodiff
