// The fused fast path of the aliases (fused.hpp): recognise a state this path can step, run
// Op::OptimUpdate over every leaf, rebuild optax's state.
#include "elegy/optim/fused.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/step_recording.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/cpu/optim_fused.hpp"
#include "elegy/optim/detail.hpp"

namespace elegy::optim::detail {

namespace {

std::atomic<std::int64_t> g_fused_updates{0};

// A {count: int32 scalar on the cpu} map (the state of a scheduled scale or weight decay).
std::optional<std::int32_t> count_of(const OptState& s) {
  if (!s.is_map() || s.size() != 1 || !s.contains("count") || !s["count"].is_leaf())
    return std::nullopt;
  const Tensor& c = s["count"].tensor();
  if (c.dtype() != DType::i32 || c.numel() != 1 || !c.device().is_cpu()) return std::nullopt;
  return *c.data<std::int32_t>();
}

// The state of scale_by_learning_rate / add_decayed_weights for `value` (None for a number,
// {count} for a schedule); its step count through `count` (0 for a number).
bool scalar_state_fits(const ScalarOrSchedule& value, const OptState& s, std::int32_t* count) {
  if (std::holds_alternative<double>(value)) {
    *count = 0;
    return s.is_none();
  }
  const auto c = count_of(s);
  if (c) *count = *c;
  return c.has_value();
}

// The state with every count incremented (scheduled scales and weight decays).
OptState advance_counts(const OptState& s) {
  if (!s.is_map()) return s;
  Tree::Map out;
  for (const auto& [k, v] : s.items())
    out.emplace(k, k == "count" ? Tree(make_count(safe_increment(count_of(s).value())))
                                : advance_counts(v));
  return Tree::from_map(std::move(out));
}

// The (old, new) count tensors of advance_counts(old) == new, in order.
void count_pairs(const OptState& old_state, const OptState& new_state,
                 std::vector<std::pair<Tensor, Tensor>>& out) {
  if (!old_state.is_map()) return;
  for (const auto& [k, v] : old_state.items()) {
    if (k == "count")
      out.emplace_back(v.tensor(), new_state[k].tensor());
    else
      count_pairs(v, new_state[k], out);
  }
}

std::int32_t count_value(const Tensor& count) {
  return *static_cast<const std::int32_t*>(count.address());
}

// A fused step inside a step being compiled: everything it read on the host (the step counts)
// and computed from them (bias corrections, the scheduled learning rate and weight decay) is
// recomputed at each replay by `set_scalars` from the counts then, before the kernel runs again
// over the same buffers; the new counts are written where this step wrote them.
struct FusedReplay {
  kernels::OptimUpdateArgs args;
  std::vector<kernels::OptimTensor> tensors;
  std::vector<std::pair<Tensor, Tensor>> counts;  // (read, written with read + 1)
  std::function<void(kernels::OptimUpdateArgs&, std::vector<kernels::OptimTensor>&)> set_scalars;
  std::vector<kernels::OptimKind> passes;
  const char* what = "";
  DType dtype = DType::f32;
  Device device;

  void run() {
    set_scalars(args, tensors);
    for (const auto& [in, out] : counts)
      *static_cast<std::int32_t*>(out.address()) = safe_increment(count_value(in));
    args.tensors = tensors.data();
    for (kernels::OptimKind kind : passes) {
      args.kind = kind;
      kernels::KernelArgs k;
      k.device = device;
      k.ints[0] = std::int64_t(reinterpret_cast<std::uintptr_t>(&args));
      kernels::call(kernels::lookup(what, kernels::Op::OptimUpdate, device, dtype), what,
                    kernels::Op::OptimUpdate, dtype, k);
    }
  }
};

void record_replay(autodiff::StepRecording& recording, std::shared_ptr<FusedReplay> replay) {
  std::vector<const void*> addresses;
  for (const auto& [in, out] : replay->counts) {
    addresses.push_back(in.address());
    addresses.push_back(out.address());
  }
  for (const kernels::OptimTensor& t : replay->tensors)
    for (const void* a : {t.grad, t.param, t.mu, t.nu, static_cast<const void*>(t.mu_out),
                          static_cast<const void*>(t.nu_out), static_cast<const void*>(t.update),
                          static_cast<const void*>(t.param_out), static_cast<const void*>(t.sums)})
      addresses.push_back(a);
  recording.add_replay(std::string("fused ") + replay->what, std::move(addresses),
                       [replay] { replay->run(); });
}

// Every leaf contiguous with the dtype, device and shape of the matching leaf of `like`.
bool leaves_match(const std::vector<Tensor>& leaves, const std::vector<Tensor>& like) {
  if (leaves.size() != like.size()) return false;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const Tensor &a = leaves[i], &b = like[i];
    if (!a.defined() || !a.is_contiguous() || a.dtype() != b.dtype() || a.device() != b.device() ||
        a.shape() != b.shape())
      return false;
  }
  return true;
}

// The updates' leaves when they can be fused: non-empty, contiguous, one float dtype and device.
std::optional<std::vector<Tensor>> fusable_leaves(const Tree& updates) {
  std::vector<Tensor> g = updates.leaves();
  if (g.empty()) return std::nullopt;
  const DType dtype = g[0].dtype();
  if (dtype != DType::f32 && dtype != DType::f64) return std::nullopt;
  for (const Tensor& t : g)
    if (!t.defined() || !t.is_contiguous() || t.dtype() != dtype || t.device() != g[0].device())
      return std::nullopt;
  return g;
}

// The leaves `tree` has where the structure matches `updates` (else nullopt).
std::optional<std::vector<Tensor>> matching_leaves(const Tree& updates, const Tree& tree,
                                                   const std::vector<Tensor>& like) {
  if (!Tree::structure_difference(updates, tree).empty()) return std::nullopt;
  std::vector<Tensor> out = tree.leaves();
  if (!leaves_match(out, like)) return std::nullopt;
  return out;
}

double learning_rate_step(const ScalarOrSchedule& lr, std::int32_t count) {
  if (const double* v = std::get_if<double>(&lr)) return -*v;
  return -eval_checked("scale_by_learning_rate", "learning-rate", std::get<Schedule>(lr), count);
}

void run_kernel(const char* what, kernels::OptimUpdateArgs& args, DType dtype, Device device) {
  kernels::KernelArgs k;
  k.device = device;
  k.ints[0] = std::int64_t(reinterpret_cast<std::uintptr_t>(&args));
  kernels::run(what, kernels::Op::OptimUpdate, dtype, k);
}

// The weight decay of each leaf: `value` on the leaves the mask selects, 0 elsewhere.
std::vector<double> leaf_weight_decays(const Mask& mask, const Tree& updates, double value) {
  const std::size_t n = updates.num_leaves();
  if (std::holds_alternative<std::monostate>(mask)) return std::vector<double>(n, value);
  // Mask a tree of leaf indices: the selected ones survive.
  std::vector<Tensor> indices;
  for (std::size_t i = 0; i < n; ++i)
    indices.push_back(Tensor::from_vector(std::vector<std::int32_t>{std::int32_t(i)}, Shape{}));
  const Tree selected =
      mask_tree("add_decayed_weights", resolve_mask(mask, updates), updates.unflatten(indices));
  std::vector<double> out(n, 0.0);
  for (const Tensor& t : selected.leaves()) out[std::size_t(*t.data<std::int32_t>())] = value;
  return out;
}

// What a fused step returns: the updates (or, when applied, the new params) and the new state.
struct FusedStep {
  Tree tree;
  OptState state;
};

// The caller's trees a step may take over (update_and_apply's donated state and params); both
// null for update(), which only reads them.
struct Donation {
  OptState* state = nullptr;
  Tree* params = nullptr;
};

// Where a step writes the new value of leaf `in`: into `in` itself when the step took it over and
// nobody else holds it (the kernels read each element before they write it), else a fresh buffer.
Tensor output_for(const Tensor& in, bool donated) {
  if (donated && in.is_sole_owner()) return in;
  return Tensor::empty(in.shape(), in.dtype(), in.device());
}

// Takes the caller's donated trees over (they become None), so the leaf vectors the step holds
// are the only references wherever the caller's were. Returns false when there is nothing to
// take. (The steps copy `updates` first: it may be, or live inside, a donated tree.)
bool take_donation(const Donation& d) {
  if (!d.state || !d.params) return false;
  *d.state = OptState();
  *d.params = Tree();
  return true;
}

// The composed chain's update followed by apply_updates.
StepResult composed_step(const GradientTransformation& chain, const Tree& updates,
                         const OptState& state, const Tree& params) {
  UpdateResult u = chain.update(updates, state, params);
  return {apply_updates(params, u.updates), std::move(u.state)};
}

// One fused adam/adamw/nadam/lamb step, or nullopt when the state or trees do not fit the fused
// path (the caller then runs the composed chain). With `apply`, the tree is the new params.
// `donation` may point at `state` and `params`: once every check has passed, the step takes them
// over and writes in place where it can (nothing is taken when it returns nullopt or throws).
std::optional<FusedStep> adam_step(const std::shared_ptr<const FusedAdamSpec>& s,
                                   const Tree& updates, const OptState& state, const Tree& params,
                                   bool apply, const Donation& donation = {}) {
  // Inside a step being compiled the host reads below are this step's own: it records its replay.
  autodiff::StepRecording* const recording = autodiff::StepRecording::current();
  std::optional<autodiff::StepRecording::Paused> paused;
  if (recording) paused.emplace();
  const std::size_t n_tx = 2 + (s->weight_decay ? 1 : 0) + (s->lamb ? 1 : 0);
  const auto g = fusable_leaves(updates);
  if (!g || !state.is_list() || state.size() != n_tx) return std::nullopt;
  const Tree& adam_state = state[0];
  if (!adam_state.is_map() || adam_state.size() != 3 || !adam_state.contains("mu") ||
      !adam_state.contains("nu") || !adam_state.contains("count"))
    return std::nullopt;
  const auto count0 = [&]() -> std::optional<std::int32_t> {
    const Tree& c = adam_state["count"];
    if (!c.is_leaf() || c.tensor().dtype() != DType::i32 || c.tensor().numel() != 1 ||
        !c.tensor().device().is_cpu())
      return std::nullopt;
    return *c.tensor().data<std::int32_t>();
  }();
  const auto mu = matching_leaves(updates, adam_state["mu"], *g);
  const auto nu = matching_leaves(updates, adam_state["nu"], *g);
  if (!count0 || !mu || !nu) return std::nullopt;
  std::vector<Tensor> p;
  const bool needs_params = apply || s->weight_decay.has_value() || s->lamb;
  if (needs_params) {
    const auto pl = matching_leaves(updates, params, *g);
    if (!pl) return std::nullopt;
    p = *pl;
  }
  // The small states: weight decay (maybe masked), trust ratio (None), learning rate.
  std::int32_t lr_count = 0, wd_count = 0;
  if (!scalar_state_fits(s->learning_rate, state[n_tx - 1], &lr_count)) return std::nullopt;
  // The count tensors the scalars follow from (undefined where a number needs none).
  auto count_tensor = [](const Tree& t) {
    return t.is_map() && t.contains("count") ? t["count"].tensor() : Tensor();
  };
  const Tensor count_in = adam_state["count"].tensor();
  const Tensor lr_count_in = count_tensor(state[n_tx - 1]);
  Tensor wd_count_in;
  if (s->weight_decay) {
    const bool is_masked = !std::holds_alternative<std::monostate>(s->mask);
    const Tree& wd_state = state[1];
    if (is_masked &&
        !(wd_state.is_map() && wd_state.size() == 1 && wd_state.contains("inner_state")))
      return std::nullopt;
    const Tree& wd_counted = is_masked ? wd_state["inner_state"] : wd_state;
    if (!scalar_state_fits(*s->weight_decay, wd_counted, &wd_count)) return std::nullopt;
    wd_count_in = count_tensor(wd_counted);
  }
  if (s->lamb && !state[2].is_none()) return std::nullopt;
  // 1 on the leaves the weight decay's mask selects, 0 elsewhere.
  const std::vector<double> selected = leaf_weight_decays(s->mask, updates, 1.0);

  const DType dtype = (*g)[0].dtype();
  const Device device = (*g)[0].device();
  const std::int32_t count = safe_increment(*count0);
  // The scalars of the step after `c0` (bias corrections, learning rate, weight decays).
  auto set_scalars = [s, selected, dtype](kernels::OptimUpdateArgs& a,
                                          std::vector<kernels::OptimTensor>& ts, std::int32_t c0,
                                          std::int32_t lr_c, std::int32_t wd_c) {
    const std::int32_t c = safe_increment(c0);
    a.b1 = s->b1;
    a.b2 = s->b2;
    a.eps = s->eps;
    a.eps_root = s->eps_root;
    a.bc1 = bias_correction(s->b1, c, dtype);
    a.bc2 = bias_correction(s->b2, c, dtype);
    a.bc1_next = bias_correction(s->b1, safe_increment(c), dtype);
    a.nesterov = s->nesterov;
    a.step = learning_rate_step(s->learning_rate, lr_c);
    double weight_decay = 0.0;
    if (s->weight_decay) {
      if (const double* v = std::get_if<double>(&*s->weight_decay))
        weight_decay = *v;
      else
        weight_decay = eval_checked("add_decayed_weights", "weight_decay",
                                    std::get<Schedule>(*s->weight_decay), wd_c);
    }
    for (std::size_t i = 0; i < ts.size(); ++i)
      ts[i].weight_decay = selected[i] != 0.0 ? weight_decay : 0.0;
  };
  kernels::OptimUpdateArgs args;
  args.kind = s->lamb ? kernels::OptimKind::lamb_moments : kernels::OptimKind::adam;

  // The new state's small parts, taken before `state` may be given up below.
  Tree::List new_state{Tree()};
  for (std::size_t k = 1; k < n_tx; ++k) new_state.push_back(advance_counts(state[k]));
  std::vector<Tree> old_small_states(state.elements().begin(), state.elements().end());
  old_small_states[0] = adam_state["count"];

  autodiff::NoGrad no_grad;
  const Tree structure = updates;  // `updates` may live inside a donated tree
  const bool donated = apply && take_donation(donation);
  // From here `state`, `params` and `updates` may be gone: only the leaf vectors and the copies
  // above are read. Whatever fails gives the caller its trees back (restore_caller).
  auto restore_caller = [&] {
    if (!donated) return;
    old_small_states[0] = Tree{{"count", old_small_states[0]},
                               {"mu", structure.unflatten(*mu)},
                               {"nu", structure.unflatten(*nu)}};
    *donation.state = Tree::from_list(std::move(old_small_states));
    *donation.params = structure.unflatten(p);
  };
  const std::size_t n = g->size();
  std::vector<Tensor> mu_out(n), nu_out(n), u_out(n), p_out(n);
  std::vector<kernels::OptimTensor> tensors(n);
  try {
    // Everything that can fail before the kernel writes anything: outputs, result trees.
    const Tensor sums =
        s->lamb ? Tensor::empty(Shape{std::int64_t(2 * n)}, DType::f64, device) : Tensor();
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor& gi = (*g)[i];
      mu_out[i] = output_for((*mu)[i], donated);
      nu_out[i] = output_for((*nu)[i], donated);
      // lamb's first pass keeps its unscaled update for the second, even when applying.
      if (!apply || s->lamb) u_out[i] = Tensor::empty(gi.shape(), dtype, device);
      if (apply) p_out[i] = output_for(p[i], donated);
      kernels::OptimTensor& t = tensors[i];
      t.grad = gi.address();
      t.param = needs_params ? p[i].address() : nullptr;
      t.mu = (*mu)[i].address();
      t.nu = (*nu)[i].address();
      t.mu_out = mu_out[i].address();
      t.nu_out = nu_out[i].address();
      t.update = u_out[i].defined() ? u_out[i].address() : nullptr;
      t.param_out = apply ? p_out[i].address() : nullptr;
      t.sums = s->lamb ? static_cast<double*>(sums.address()) + 2 * i : nullptr;
      t.numel = gi.numel();
    }
    set_scalars(args, tensors, *count0, lr_count, wd_count);
    new_state[0] = Tree{{"count", make_count(count)},
                        {"mu", structure.unflatten(mu_out)},
                        {"nu", structure.unflatten(nu_out)}};
    // params has the structure of updates (matching_leaves checked it).
    FusedStep result{structure.unflatten(apply ? p_out : u_out),
                     Tree::from_list(std::move(new_state))};
    args.tensors = tensors.data();
    args.num_tensors = int(n);
    ++g_fused_updates;
    const char* what = s->lamb ? "lamb" : "adam";
    // A kernel that fails partway (a CUDA launch error) leaves some buffers updated in place:
    // the caller gets its trees back holding them.
    run_kernel(what, args, dtype, device);
    if (s->lamb) {
      args.kind = kernels::OptimKind::lamb_scale;
      run_kernel(what, args, dtype, device);
    }
    if (recording) {
      paused.reset();
      auto replay = std::make_shared<FusedReplay>();
      replay->args = args;
      replay->tensors = tensors;
      replay->counts.emplace_back(count_in, result.state[0]["count"].tensor());
      for (std::size_t k = 1; k < n_tx; ++k)
        count_pairs(old_small_states[k], result.state[k], replay->counts);
      replay->set_scalars = [set_scalars, count_in, lr_count_in, wd_count_in](
                                kernels::OptimUpdateArgs& a,
                                std::vector<kernels::OptimTensor>& ts) {
        set_scalars(a, ts, count_value(count_in),
                    lr_count_in.defined() ? count_value(lr_count_in) : 0,
                    wd_count_in.defined() ? count_value(wd_count_in) : 0);
      };
      replay->passes = {args.kind};
      if (s->lamb)
        replay->passes = {kernels::OptimKind::lamb_moments, kernels::OptimKind::lamb_scale};
      replay->what = what;
      replay->dtype = dtype;
      replay->device = device;
      record_replay(*recording, std::move(replay));
    }
    return result;
  } catch (...) {
    restore_caller();
    throw;
  }
}

// One fused sgd-with-momentum step, or nullopt (see adam_step).
std::optional<FusedStep> momentum_step(double decay, bool nesterov,
                                       const ScalarOrSchedule& learning_rate, const Tree& updates,
                                       const OptState& state, const Tree& params, bool apply,
                                       const Donation& donation = {}) {
  autodiff::StepRecording* const recording = autodiff::StepRecording::current();
  std::optional<autodiff::StepRecording::Paused> paused;  // see adam_step
  if (recording) paused.emplace();
  const auto g = fusable_leaves(updates);
  if (!g || !state.is_list() || state.size() != 2) return std::nullopt;
  const Tree& trace_state = state[0];
  if (!trace_state.is_map() || trace_state.size() != 1 || !trace_state.contains("trace"))
    return std::nullopt;
  const auto tr = matching_leaves(updates, trace_state["trace"], *g);
  std::int32_t lr_count = 0;
  if (!tr || !scalar_state_fits(learning_rate, state[1], &lr_count)) return std::nullopt;
  std::vector<Tensor> p;
  if (apply) {
    const auto pl = matching_leaves(updates, params, *g);
    if (!pl) return std::nullopt;
    p = *pl;
  }

  const DType dtype = (*g)[0].dtype();
  const Device device = (*g)[0].device();
  kernels::OptimUpdateArgs args;
  args.kind = kernels::OptimKind::momentum;
  args.decay = decay;
  args.nesterov = nesterov;
  args.step = learning_rate_step(learning_rate, lr_count);
  const Tensor lr_count_in =
      state[1].is_map() && state[1].contains("count") ? state[1]["count"].tensor() : Tensor();
  const Tree lr_state = advance_counts(state[1]);
  Tree old_lr_state = state[1];
  autodiff::NoGrad no_grad;
  const Tree structure = updates;  // `updates` may live inside a donated tree
  const bool donated = apply && take_donation(donation);
  // From here `state`, `params` and `updates` may be gone (see adam_step).
  auto restore_caller = [&] {
    if (!donated) return;
    *donation.state =
        Tree::from_list({Tree{{"trace", structure.unflatten(*tr)}}, std::move(old_lr_state)});
    *donation.params = structure.unflatten(p);
  };
  const std::size_t n = g->size();
  std::vector<Tensor> tr_out(n), u_out(n), p_out(n);
  std::vector<kernels::OptimTensor> tensors(n);
  try {
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor& gi = (*g)[i];
      tr_out[i] = output_for((*tr)[i], donated);
      kernels::OptimTensor& t = tensors[i];
      t.grad = gi.address();
      t.mu = (*tr)[i].address();
      t.mu_out = tr_out[i].address();
      if (apply) {
        p_out[i] = output_for(p[i], donated);
        t.param = p[i].address();
        t.param_out = p_out[i].address();
      } else {
        u_out[i] = Tensor::empty(gi.shape(), dtype, device);
        t.update = u_out[i].address();
      }
      t.numel = gi.numel();
    }
    FusedStep result{structure.unflatten(apply ? p_out : u_out),
                     Tree::from_list({Tree{{"trace", structure.unflatten(tr_out)}}, lr_state})};
    args.tensors = tensors.data();
    args.num_tensors = int(n);
    ++g_fused_updates;
    run_kernel("sgd", args, dtype, device);  // a partial failure: see adam_step
    if (recording) {
      paused.reset();
      auto replay = std::make_shared<FusedReplay>();
      replay->args = args;
      replay->tensors = tensors;
      count_pairs(old_lr_state, lr_state, replay->counts);
      replay->set_scalars = [learning_rate, lr_count_in](kernels::OptimUpdateArgs& a,
                                                         std::vector<kernels::OptimTensor>&) {
        a.step =
            learning_rate_step(learning_rate, lr_count_in.defined() ? count_value(lr_count_in) : 0);
      };
      replay->passes = {kernels::OptimKind::momentum};
      replay->what = "sgd";
      replay->dtype = dtype;
      replay->device = device;
      record_replay(*recording, std::move(replay));
    }
    return result;
  } catch (...) {
    restore_caller();
    throw;
  }
}

}  // namespace

std::int64_t fused_update_count() {
  return g_fused_updates.load();
}

GradientTransformation fused_adam(GradientTransformation composed, FusedAdamSpec spec) {
  auto chain_ = std::make_shared<const GradientTransformation>(std::move(composed));
  auto s = std::make_shared<const FusedAdamSpec>(std::move(spec));
  GradientTransformation t;
  t.init = chain_->init;
  t.update = [chain_, s](const Tree& updates, const OptState& state, const Tree& params) {
    if (auto r = adam_step(s, updates, state, params, /*apply=*/false))
      return UpdateResult{std::move(r->tree), std::move(r->state)};
    return chain_->update(updates, state, params);
  };
  t.update_and_apply = [chain_, s](const Tree& updates, OptState&& state, Tree&& params) {
    if (auto r = adam_step(s, updates, state, params, /*apply=*/true, {&state, &params}))
      return StepResult{std::move(r->tree), std::move(r->state)};
    return composed_step(*chain_, updates, state, params);
  };
  return t;
}

GradientTransformation fused_momentum(GradientTransformation composed, double decay, bool nesterov,
                                      ScalarOrSchedule learning_rate) {
  auto chain_ = std::make_shared<const GradientTransformation>(std::move(composed));
  GradientTransformation t;
  t.init = chain_->init;
  t.update = [chain_, decay, nesterov, learning_rate](const Tree& updates, const OptState& state,
                                                      const Tree& params) {
    if (auto r = momentum_step(decay, nesterov, learning_rate, updates, state, params, false))
      return UpdateResult{std::move(r->tree), std::move(r->state)};
    return chain_->update(updates, state, params);
  };
  t.update_and_apply = [chain_, decay, nesterov, learning_rate](const Tree& updates,
                                                                OptState&& state, Tree&& params) {
    if (auto r = momentum_step(decay, nesterov, learning_rate, updates, state, params, true,
                               {&state, &params}))
      return StepResult{std::move(r->tree), std::move(r->state)};
    return composed_step(*chain_, updates, state, params);
  };
  return t;
}

}  // namespace elegy::optim::detail
