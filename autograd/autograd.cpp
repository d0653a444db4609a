// The tape: grad mode, Node lifetime, and recording an op's outputs with its backward rule.
#include "proxima/autograd/autograd.h"

#include <atomic>
#include <utility>

#include "proxima/core/ops.h"

namespace px {

namespace {
thread_local bool grad_enabled = true;
std::atomic<std::uint64_t> next_sequence{0};
std::atomic<std::int64_t> nodes_alive{0};
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

namespace autograd {

Node::Node() { nodes_alive.fetch_add(1, std::memory_order_relaxed); }

// Destroying the last reference to a long chain would recurse once per node; instead steal
// the input edges of every node about to die and release them from a local stack.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& edge : inputs) {
    if (edge.node) pending.push_back(std::move(edge.node));
  }
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node.use_count() == 1) {
      for (Edge& edge : node->inputs) {
        if (edge.node) pending.push_back(std::move(edge.node));
      }
    }
  }
  nodes_alive.fetch_sub(1, std::memory_order_relaxed);
}

std::int64_t live_node_count() { return nodes_alive.load(); }

bool should_record(const TensorList& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

namespace {

Edge make_edge(const Tensor& input) {
  Edge edge;
  if (!input.defined()) return edge;
  edge.shape = input.shape();
  edge.dtype = input.dtype();
  if (!input.requires_grad()) return edge;
  const AutogradMeta* meta = input.autograd_meta();
  if (meta->grad_fn) {
    edge.node = meta->grad_fn;
    edge.output_index = meta->output_index;
  } else {
    edge.leaf = input;  // keeps the leaf (and its grad slot) alive while the graph lives
  }
  return edge;
}

// A new handle on the same storage and layout, with no autograd history.
Tensor fresh_alias(const Tensor& t) { return Tensor(t.storage(), t.shape(), t.strides(), t.offset(), t.dtype()); }

}  // namespace

TensorList record(const char* name, const TensorList& inputs, TensorList outputs, BackwardFn backward) {
  if (!should_record(inputs)) return outputs;
  auto node = std::make_shared<Node>();
  node->sequence = next_sequence.fetch_add(1);
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const Tensor& input : inputs) node->inputs.push_back(make_edge(input));
  node->backward = std::move(backward);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Tensor& out = outputs[i];
    node->outputs.push_back({out.shape(), out.dtype(), out.device()});
    if (!is_floating(out.dtype())) continue;  // integer outputs never require grad
    if (out.autograd_meta() != nullptr) out = fresh_alias(out);
    AutogradMeta& meta = out.ensure_autograd_meta();
    meta.requires_grad = true;
    meta.grad_fn = node;
    meta.output_index = static_cast<std::uint32_t>(i);
  }
  return outputs;
}

Tensor record(const char* name, const TensorList& inputs, Tensor output, UnaryBackwardFn backward) {
  if (!should_record(inputs)) return output;
  BackwardFn many = [fn = std::move(backward)](const TensorList& grads, const Needs& needs) {
    return fn(grads[0], needs);
  };
  return record(name, inputs, TensorList{std::move(output)}, std::move(many))[0];
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const auto ndim = static_cast<std::int64_t>(shape.size());
  const std::int64_t lead = grad.dim() - ndim;
  PX_CHECK(lead >= 0, ShapeError, "sum_to: gradient of shape ", shape_str(grad.shape()),
           " cannot be reduced to shape ", shape_str(shape));
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (std::int64_t d = 0; d < ndim; ++d) {
    const std::int64_t g = grad.shape()[static_cast<std::size_t>(lead + d)];
    const std::int64_t s = shape[static_cast<std::size_t>(d)];
    PX_CHECK(s == g || s == 1, ShapeError, "sum_to: gradient of shape ", shape_str(grad.shape()),
             " is not a broadcast of shape ", shape_str(shape));
    if (s == 1 && g != 1) dims.push_back(lead + d);
  }
  if (dims.empty()) return ops::reshape(grad, shape);
  return ops::reshape(ops::sum(grad, dims, /*keepdim=*/true), shape);
}

}  // namespace autograd
}  // namespace px
