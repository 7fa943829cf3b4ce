// Checkpoints of a model's States: every leaf of every field in one safetensors file under a
// flat name ("net_params/mlp/linear/w", "optimizer_states/0/mu/linear/w"), and a manifest —
// format version, epochs done, the RNG key and each field's exact tree structure (maps, lists,
// None) — stored in the file's __metadata__ (so the pair is written in one atomic rename) and
// copied beside it as `<path>.json` for people to read.
#pragma once

#include <string>

#include "elegy/model/states.hpp"

namespace elegy::io {

struct Checkpoint {
  States states;
  int epoch = 0;  // epochs completed when it was saved
};

void save_states(const std::string& path, const States& states, int epoch);

// Reads a checkpoint written by save_states. With `like` (the model's current states), each
// field's structure, shapes and dtypes must match: otherwise an Error naming the first
// mismatching path and both shapes ("net_params/linear/w: file has float32[784,300], model has
// float32[784,100]"). Any corruption is an Error; nothing is returned half-loaded.
Checkpoint load_states(const std::string& path, const States* like = nullptr);

}  // namespace elegy::io
