// predict_on_batch's compiled pred step (compiled::PredictPlan): recorded twice over the model's
// state buffers as they are, replayed while the states are those same views, its outputs copied
// out at each replay (the next one rewrites the recorded ones).
#include "elegy/autodiff/step_recording.hpp"
#include "elegy/model/compiled_step.hpp"
#include "elegy/model/model.hpp"

namespace elegy {

namespace {

using Phase = compiled::RecordedStep::Phase;

bool same_views(const States& states, const std::vector<compiled::LeafView>& views) {
  return compiled::views_of(states.leaves()) == views;
}

// The leaves the plan reads are still the views it was recorded over.
bool same_read_views(const States& states, const compiled::PredictPlan& p) {
  const std::vector<compiled::LeafView> now = compiled::views_of(states.leaves());
  if (now.size() != p.states.size()) return false;
  for (std::size_t i = 0; i < now.size(); ++i)
    if (p.reads[i] ? !(now[i] == p.states[i])
                   : !(now[i].shape == p.states[i].shape && now[i].strides == p.states[i].strides &&
                       now[i].dtype == p.states[i].dtype && now[i].device == p.states[i].device))
      return false;  // (host code may have read an unread leaf's shape: only it may move)
  return true;
}

}  // namespace

std::optional<Tree> Model::replay_predict_step(const Tree& x) {
  compiled::PredictPlan* p = compiled_.predict.get();
  if (p == nullptr || p->step.phase != Phase::ready) return std::nullopt;
  if (autodiff::StepRecording::current() != nullptr) return std::nullopt;  // inside another's
  // Another batch signature (the last, smaller batch) runs eagerly; the plan stays.
  if (!compiled::same_batch(p->step, x, Tree(), std::nullopt, std::nullopt, options_.device))
    return std::nullopt;
  // The plan reads the state buffers it was recorded over: once they moved (an eager train
  // step, set_states, load), the step is recorded again over the new ones.
  if (!same_read_views(states_, *p)) {
    compiled_.predict.reset();
    return std::nullopt;
  }
  const std::vector<Tensor> batch = x.leaves();
  const std::vector<Tensor>& inputs = p->step.plan->inputs();
  for (std::size_t i = 0; i < batch.size(); ++i) compiled::copy_into(inputs[i], batch[i]);
  p->step.plan->use_graphs(cuda_graphs_enabled());
  // A failing check (an embedding id out of range) raises here, before the outputs are copied.
  p->step.plan->replay();
  ++p->step.replays;
  return p->outputs.map(compiled::private_copy);
}

std::unique_ptr<autodiff::StepRecording> Model::begin_predict_recording(StepArgs& a) {
  if (autodiff::StepRecording::current() != nullptr) return nullptr;
  auto& p = compiled_.predict;
  if (p && p->step.phase == Phase::ready) return nullptr;  // another signature: eager
  if (p && p->step.phase == Phase::eager) {
    if (compiled::same_batch(p->step, a.x, Tree(), std::nullopt, std::nullopt, std::nullopt))
      return nullptr;
    p.reset();  // a new signature: try again
  }
  if (!p) p = std::make_shared<compiled::PredictPlan>();
  const std::vector<Tensor> state_leaves = a.states.leaves();
  p->states = compiled::views_of(state_leaves);
  // An arena of its own (not the train plan's, whose bytes somebody may still hold).
  auto recording = compiled::start_recording(p->step, a);
  // The states are the model's own buffers: the plan must not hold them (see LeafView).
  recording->add_inputs(state_leaves, /*keep=*/false);
  return recording;
}

void Model::finish_predict_recording(std::unique_ptr<autodiff::StepRecording> recording,
                                     const StepArgs& a, PredStep& r) {
  compiled::PredictPlan& p = *compiled_.predict;
  // A pred step that changes the states (or draws from the rng) would need them written back
  // at each replay: it stays eager.
  if (!States::same_structure(a.states, r.states) || !same_views(r.states, p.states) ||
      a.states.has_rng() != r.states.has_rng() ||
      (a.states.has_rng() && !(a.states.rng() == r.states.rng())))
    recording->fail("the pred step changed the model's states");
  // The plan keeps its outputs to copy them out at each replay: one that is a state's buffer
  // would be a reference to it the train plan does not expect (it would copy the states in at
  // every step).
  for (const Tensor& y : r.y_pred.leaves())
    for (const Tensor& s : a.states.leaves())
      if (y.storage() == s.storage()) {
        recording->fail("the pred step returns a buffer of the model's states");
        break;
      }
  recording->stop();
  const Tree outputs = r.y_pred;
  // The caller gets copies (made outside the recording): the recorded outputs are the plan's,
  // rewritten by its replays.
  if (recording->replayable()) r.y_pred = r.y_pred.map(compiled::private_copy);
  compiled::conclude(p.step, std::move(recording), StepLogs(), "pred");
  if (p.step.phase == Phase::ready) {
    p.outputs = outputs;
    const std::vector<bool> touched = p.step.plan->inputs_touched();
    // (The batch's leaves come first, then the states'.)
    p.reads.assign(touched.end() - std::ptrdiff_t(p.states.size()), touched.end());
  }
}

}  // namespace elegy
