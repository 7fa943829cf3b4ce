#include "elegy/autodiff/tape.hpp"

namespace elegy::autodiff {

RecordingState& recording_state() {
  thread_local RecordingState state;
  return state;
}

namespace {

template <class Inputs, class Get>
void attach_node(const char* op, Tensor& out, const Inputs& inputs, Get get, Vjp vjp,
                 bool keep_output) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  node->input_shapes.reserve(inputs.size());
  node->input_dtypes.reserve(inputs.size());
  for (const auto& item : inputs) {
    const Tensor& in = get(item);
    node->inputs.push_back(in.node());
    node->input_shapes.push_back(in.shape());
    node->input_dtypes.push_back(in.dtype());
  }
  node->vjp = std::move(vjp);
  if (keep_output) node->kept_output = out.detached();
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  out.set_node(std::move(node));
}

}  // namespace

void record(const char* op, Tensor& out, std::initializer_list<const Tensor*> inputs, Vjp vjp,
            bool keep_output) {
  attach_node(
      op, out, inputs, [](const Tensor* t) -> const Tensor& { return *t; }, std::move(vjp),
      keep_output);
}

void record(const char* op, Tensor& out, std::span<const Tensor> inputs, Vjp vjp,
            bool keep_output) {
  attach_node(
      op, out, inputs, [](const Tensor& t) -> const Tensor& { return t; }, std::move(vjp),
      keep_output);
}

}  // namespace elegy::autodiff
