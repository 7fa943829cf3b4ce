// Model's compiled train step (ModelOptions::run_eagerly = false, the default): Elegy jits its
// train step; elegy records it. The first two train_on_batch calls of a batch signature (the
// batch's tree structure, shapes, dtypes) run eagerly while an autodiff::StepRecording watches
// them; when both did the same (the same kernels with the same arguments and constants, over
// buffers in the same roles) and nothing on the host read a value mid-step, later calls replay
// the second recording: the batch is copied into the recording's input buffers, its kernels run
// again over the same buffers (no tape, no allocation, no tree or shape work on the host), the
// states are updated in place and the log tensors rewritten. What the host computed from the
// optimizer's step count is recomputed at each replay (optim/fused.cpp); the input checks ops
// make (labels, indices) run at each replay before anything is written in place.
//
// Once the train step is compiled, test_on_batch (evaluate, fit's validation) is recorded and
// replayed the same way, over the train step's state buffers (its metric states are written
// into them), so switching between training and evaluation copies nothing.
//
// Random numbers work as under jax.jit, where the key is an argument: the keys a recorded step
// drew from the model's rng (a Dropout's, in order) are found again in its kernels' arguments,
// and a replay draws its own from the model's rng and runs those kernels with them, so the
// numbers and the rng that follows are the eager step's.
//
// A step stays eager, with the reason in Model::compiled_step_status(), when it cannot be
// replayed: a host read mid-step (apply_if_finite, an optimizer without a fused path, a user's
// item()), a key the host derived from a drawn one (a literal key that changes between steps),
// states whose structure changes.
// As with jax.jit, host side effects of an overridden step (a counter it increments) happen
// only in the steps that ran eagerly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "elegy/autodiff/step_recording.hpp"
#include "elegy/model/states.hpp"
#include "elegy/model/steps.hpp"

namespace elegy {

// What Model::compiled_step_status() reports.
struct CompiledStepStatus {
  bool compiled = false;             // a recorded step is being replayed
  std::int64_t replays = 0;          // train_on_batch calls it served
  std::size_t kernels = 0;           // kernels per replayed step
  std::size_t bytes = 0;             // memory the recorded step keeps (buffers of its own)
  std::size_t unpacked_bytes = 0;    // its blocks laid end to end (without the memory plan)
  std::int64_t test_replays = 0;     // test_on_batch calls the compiled test step served
  std::int64_t predict_replays = 0;  // predict_on_batch calls a compiled pred step served
  std::string predict_why_eager;     // why predict_on_batch runs eagerly ("" when it need not)
  std::string why_eager;             // why the step runs eagerly ("" while compiled or recording)
  // ModelOptions::cuda_graphs, for the replayed train step: the CUDA graphs a replay launches,
  // the kernels they hold, and why a run of its kernels is not a graph ("" when all are).
  std::size_t graphs = 0;
  std::size_t graph_kernels = 0;
  std::string why_no_graphs;
  std::vector<std::string> operations;  // what a replay runs, in order (StepRecording)
};

namespace compiled {

// One compiled step (train or test) of one batch signature.
struct RecordedStep {
  enum class Phase { record_first, record_second, ready, eager };
  Phase phase = Phase::record_first;
  // The recorded batch (its leaves are the replay's input buffers) and its signature.
  Tree x, y;
  std::optional<Tensor> sample_weight, class_weight;
  // Until the second recording is compared: the first (its blocks released) and its plan.
  std::unique_ptr<autodiff::StepRecording> first;
  std::shared_ptr<const autodiff::MemoryPlan> first_plan;
  std::unique_ptr<autodiff::StepRecording> plan;  // the recording replayed
  StepLogs logs;                                  // the log tensors each replay rewrites
  std::int64_t replays = 0;
  std::string why_eager;

  // From now on (for this batch signature) the step runs eagerly, for `why`.
  void stay_eager(std::string why) {
    phase = Phase::eager;
    first.reset();
    first_plan.reset();
    why_eager = std::move(why);
  }
};

// The model's compiled train step, the states it updates in place, and the compiled test step
// over the same state buffers (recorded once the train step is; dropped with it).
struct CompiledSteps {
  RecordedStep train, test;
  // The states the plans read and update in place (the train plan's trees, leaves = the slots).
  States states;
  std::vector<Tensor> state_slots;
  // Per slot: the references the train plan itself holds (a replay finds exactly these, plus
  // the model's states' own, when nobody else took one; the test plan holds none).
  std::vector<long> plan_refs;
  bool settled = false;
};

// Where a view of a state leaf lies, without holding it (a reference would make an optimizer
// update it out of place, and the train plan find somebody else holding its slot).
struct LeafView {
  const void* address = nullptr;
  Shape shape;
  Strides strides;
  DType dtype = DType::f32;
  Device device;
  bool operator==(const LeafView&) const = default;
};
std::vector<LeafView> views_of(const std::vector<Tensor>& leaves);

// The compiled pred step (predict_on_batch) of one batch signature. It reads the model's state
// buffers where they were when it was recorded, and replays while the states are those very
// views (after training they move, unless the train step is compiled and updates them in
// place: then predict records again). Its outputs are copied out at each replay.
struct PredictPlan {
  RecordedStep step;
  std::vector<LeafView> states;  // those of the recording replayed (or being made)
  // Per state leaf: whether the plan reads it. Only those must stay put (a metric's states
  // reset by evaluate or fit do not matter to the pred step).
  std::vector<bool> reads;
  Tree outputs;  // the recorded y_pred, rewritten by each replay
};

// Copying a Model does not copy its plans (whose buffers are that model's states).
struct CompiledStepsHolder {
  std::shared_ptr<CompiledSteps> step;
  std::shared_ptr<PredictPlan> predict;
  CompiledStepsHolder() = default;
  CompiledStepsHolder(const CompiledStepsHolder&) {}
  CompiledStepsHolder& operator=(const CompiledStepsHolder&) {
    step.reset();
    predict.reset();
    return *this;
  }
};

// True when the batch has the recorded batch's signature (structure, shapes, dtypes; devices
// once moved to `device`, when set).
bool same_batch(const RecordedStep& c, const Tree& x, const Tree& y,
                const std::optional<Tensor>& sample_weight,
                const std::optional<Tensor>& class_weight, const std::optional<Device>& device);

// Gives `a` private copies of its batch (a replay refills them), keeps its signature in `s`,
// and starts recording with the batch as the first inputs. The second recording packs its
// blocks by the first one's lifetimes, in an arena of its own.
std::unique_ptr<autodiff::StepRecording> start_recording(RecordedStep& s, StepArgs& a);

// Stops a recording and keeps it as the first, or compares it with the first and makes it the
// plan when they agree (s.phase moves on; `logs` are the tensors a replay rewrites).
void conclude(RecordedStep& s, std::unique_ptr<autodiff::StepRecording> recording,
              const StepLogs& logs, const char* step);

// Ends a recorded step: copies the step's new states into `slots` (the buffers it read them
// from; recorded too), stops recording, and keeps or compares the recording (s.phase moves on).
// `in` are the states the step read, `out` those it returned (then holding the slots).
void finish_recording(RecordedStep& s, std::unique_ptr<autodiff::StepRecording> recording,
                      const std::vector<Tensor>& slots, const States& in, States& out,
                      const StepLogs& logs, const std::optional<RngSeq>& rng, const char* step);

// The most keys one step may draw from the model's rng (its Dropout layers' keys).
inline constexpr std::size_t kMaxDraws = 4096;

// The keys drawn from `before` (next() calls, in order) that leave it at `after`; none when
// `after` is not `before` advanced by at most kMaxDraws draws.
std::optional<std::vector<Key>> drawn_keys(const std::optional<RngSeq>& before,
                                           const std::optional<RngSeq>& after);

// `src`'s values written into `slot` (same shape and dtype; any devices).
void copy_into(const Tensor& slot, const Tensor& src);

// A dense copy of `t` in a new buffer of its own (on the same device).
Tensor private_copy(const Tensor& t);

}  // namespace compiled
}  // namespace elegy
