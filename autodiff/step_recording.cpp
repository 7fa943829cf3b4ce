#include "elegy/autodiff/step_recording.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "elegy/autodiff/graph_segments.hpp"
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/core/error.hpp"
#include "elegy/core/stream_graph.hpp"
#include "elegy/kernels/conv_geometry.hpp"
#include "elegy/kernels/copy_list.hpp"
#include "elegy/kernels/view_list.hpp"

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

// The list ops pass a table of tensors or copies by pointer in ints[0]: the recording keeps a
// copy of the table and points the arguments at it.
bool has_table(kernels::Op op) {
  return op == kernels::Op::CopyMany || op == kernels::Op::SumSquaresMany ||
         op == kernels::Op::RunningMeans || op == kernels::Op::MulAddMany;
}

// A list op's table, as the recording keeps it (one of the two lists is used). Not copyable:
// `copies` and `view_list` point into its own vectors.
struct Table {
  std::vector<kernels::CopyPiece> pieces;
  kernels::CopyList copies;
  std::vector<kernels::BufferView> views;
  kernels::ViewList view_list;
  bool of_copies = false;

  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  explicit Table(const kernels::KernelArgs& args, kernels::Op op)
      : of_copies(op == kernels::Op::CopyMany) {
    if (of_copies) {
      const kernels::CopyList& list = kernels::copy_list_of("step recording", args);
      pieces.assign(list.pieces, list.pieces + list.count);
      copies = {pieces.data(), int(pieces.size())};
    } else {
      const kernels::ViewList& list = kernels::view_list_of("step recording", args);
      views.assign(list.views, list.views + list.count);
      view_list = {views.data(), int(views.size())};
    }
  }
  std::int64_t address() const {
    return of_copies ? kernels::address_of(copies) : kernels::address_of(view_list);
  }
  std::string length() const {
    return of_copies ? std::to_string(pieces.size()) + " copies"
                     : std::to_string(views.size()) + " tensors";
  }
  // Every address the table's op reads or writes.
  std::vector<const void*> addresses() const {
    std::vector<const void*> out;
    for (const kernels::CopyPiece& p : pieces) {
      out.push_back(p.dst);
      out.push_back(p.src);
    }
    for (const kernels::BufferView& v : views) out.push_back(v.data);
    return out;
  }
};

}  // namespace

struct StepRecording::Entry {
  enum class Kind { kernel, replay, check, resolve, constant };
  Kind kind = Kind::kernel;
  // How many blocks the step had allocated by then: an address means the latest of them that
  // holds it (planned blocks share bytes with dead ones).
  std::size_t time = 0;
  // kernel
  kernels::KernelFn fn = nullptr;
  std::string what;  // (a copy: the caller's name need not outlive the step)
  kernels::Op op = kernels::Op::Copy;
  DType dtype = DType::f32;
  kernels::KernelArgs args;
  int key_draw = -1;  // args.key is the step's draw number key_draw (bind_keys), else literal
  std::shared_ptr<kernels::ConvGeometry> geometry;
  std::shared_ptr<kernels::ConvBackwardOperands> conv_operands;
  std::shared_ptr<const Table> table;  // (has_table ops)
  // replay / check
  std::string description;
  std::vector<const void*> addresses;
  std::function<void()> replay;
  std::function<std::function<void()>()> start_check;
  // constant
  Tensor constant;
  std::vector<unsigned char> bytes;
};

StepRecording::StepRecording(std::shared_ptr<const MemoryPlan> plan) : plan_(std::move(plan)) {
  ELEGY_CHECK(t_current == nullptr, "StepRecording", "a step is already being recorded");
  if (plan_) {
    for (const auto& [device, nbytes] : plan_->arenas())
      arenas_.push_back({device, Storage::allocate(nbytes, device), {}});
    following_plan_ = true;
  }
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

StepRecording::Outside::Outside()
    : step_observer_(step_observer()), kernel_observer_(kernels::kernel_observer()) {
  step_observer() = nullptr;
  kernels::kernel_observer() = nullptr;
  ++t_paused;  // (add_constant, add_check and add_resolve go through current())
}
StepRecording::Outside::~Outside() {
  --t_paused;
  step_observer() = step_observer_;
  kernels::kernel_observer() = kernel_observer_;
}

void StepRecording::keep(const Tensor& t) {
  if (!t.defined()) return;
  const std::shared_ptr<Storage>& storage = t.storage();
  if (std::find(kept_.begin(), kept_.end(), storage) == kept_.end()) kept_.push_back(storage);
}

void StepRecording::add_replay(std::string description, std::vector<const void*> addresses,
                               std::function<void()> replay) {
  if (t_paused > 0) return;  // paused code records its own replay
  Entry e;
  e.kind = Entry::Kind::replay;
  e.description = std::move(description);
  e.addresses = std::move(addresses);
  e.replay = std::move(replay);
  e.time = allocated_.size();
  entries_.push_back(std::move(e));
}

void StepRecording::add_check(std::string description, std::vector<const void*> addresses,
                              std::function<std::function<void()>()> start) {
  if (t_paused > 0) return;
  Entry e;
  e.kind = Entry::Kind::check;
  e.description = std::move(description);
  e.addresses = std::move(addresses);
  e.start_check = std::move(start);
  e.time = allocated_.size();
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
  e.time = allocated_.size();
  entries_.push_back(std::move(e));
}

void StepRecording::fail(std::string why) {
  if (why_not_.empty()) why_not_ = std::move(why);
}

void StepRecording::bind_keys(std::span<const Key> draws) {
  num_draws_ = draws.size();
  for (Entry& e : entries_) {
    if (e.kind != Entry::Kind::kernel) continue;
    for (std::size_t j = 0; j < draws.size(); ++j) {
      if (draws[j].words()[0] == e.args.key[0] && draws[j].words()[1] == e.args.key[1]) {
        e.key_draw = int(j);
        break;
      }
    }
  }
}

std::size_t StepRecording::num_kernels() const {
  return std::size_t(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) {
    return e.kind == Entry::Kind::kernel || e.kind == Entry::Kind::replay;
  }));
}

std::size_t StepRecording::bytes_allocated() const {
  std::size_t n = 0;
  for (const Arena& arena : arenas_) n += arena.block->nbytes();
  for (const auto& s : allocated_) n += s->is_part() ? 0 : s->nbytes();
  return n;
}

std::size_t StepRecording::bytes_requested() const {
  std::size_t n = 0;
  for (const Span& s : spans_) n += s.nbytes;
  return n;
}

std::shared_ptr<const MemoryPlan> StepRecording::memory_plan() const {
  std::vector<BlockLifetime> blocks(spans_.size());
  for (std::size_t i = 0; i < blocks.size(); ++i)
    blocks[i] = {spans_[i].device, spans_[i].nbytes, i, ends_[i]};
  return MemoryPlan::pack(blocks);
}

void StepRecording::release_blocks() {
  ELEGY_CHECK(!watching_, "StepRecording::release_blocks", "the step is still being recorded");
  // (Closures of replays and checks hold tensors of the step too; comparisons read their
  // descriptions and addresses only.)
  for (Entry& e : entries_) {
    e.replay = nullptr;
    e.start_check = nullptr;
    e.constant = Tensor();
  }
  // (kept_ stays: an outside buffer is compared by its address, which must not be reused.)
  allocated_ = {};
  inputs_ = {};
  arenas_ = {};
  held_ = {};
  alive_ = {};
  graphs_.reset();
  released_ = true;
}

std::vector<std::string> StepRecording::operations() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    switch (e.kind) {
      case Entry::Kind::kernel:
        out.push_back(std::string(kernels::op_name(e.op)) + " " + std::string(name(e.dtype)) +
                      " (" + e.what +
                      (e.key_draw >= 0 ? ", drawn key " + std::to_string(e.key_draw) : "") +
                      (e.table ? ", " + e.table->length() : "") + ")");
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

std::shared_ptr<Storage> StepRecording::provide(std::size_t nbytes, Device device) {
  if (!following_plan_) return nullptr;
  const std::size_t k = allocated_.size();
  const std::vector<MemoryPlan::Placement>& placements = plan_->placements();
  if (k >= placements.size() || placements[k].device != device || placements[k].nbytes != nbytes) {
    following_plan_ = false;  // another step than the one planned: blocks of their own
    return nullptr;
  }
  const MemoryPlan::Placement& p = placements[k];
  if (!p.in_arena) return nullptr;
  auto arena = std::find_if(arenas_.begin(), arenas_.end(),
                            [&](const Arena& a) { return a.device == device; });
  if (arena == arenas_.end()) return nullptr;
  // The parts it shares bytes with were dead by now in the last recording; one still alive
  // here (the step held it longer this time) keeps its bytes, and this block gets its own.
  const std::size_t begin = p.offset, end = p.offset + nbytes;
  auto first = arena->parts.lower_bound(begin);
  if (first != arena->parts.begin() && std::prev(first)->second.first > begin) --first;
  auto last = first;
  for (; last != arena->parts.end() && last->first < end; ++last)
    if (allocated_[last->second.second].use_count() != 1) return nullptr;
  auto part = Storage::within(arena->block, begin, nbytes);
  arena->parts.erase(first, last);
  arena->parts.emplace(begin, std::pair{end, k});
  return part;
}

void StepRecording::on_allocate(const std::shared_ptr<Storage>& storage) {
  // Blocks nothing but the recording holds any more are dead from this allocation on: their
  // bytes may be this one's in a plan.
  const std::size_t now = allocated_.size();
  std::erase_if(alive_, [&](std::size_t i) {
    if (allocated_[i].use_count() != 1) return false;
    ends_[i] = now;
    return true;
  });
  allocated_.push_back(storage);
  spans_.push_back(
      {reinterpret_cast<std::uintptr_t>(storage->data()), storage->nbytes(), storage->device()});
  ends_.push_back(BlockLifetime::kAliveAtEnd);
  alive_.push_back(now);
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
  if (args.key_words != nullptr) {
    // A key read from someone's memory: the recording could neither compare it nor keep it.
    fail(std::string(what) + ": a kernel given its random key through memory (key_words)");
    return;
  }
  if (op == kernels::Op::OptimUpdate) {
    // Its arguments point at a host struct of the caller's: only the fused optimizer's own
    // replay (add_replay, which recomputes what it baked from the step counts) can run it again.
    fail(std::string(what) + ": a kernel whose arguments live on the host, run outside its replay");
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
  if (has_table(op)) {
    auto table = std::make_shared<const Table>(args, op);
    e.args.ints[0] = table->address();
    e.table = std::move(table);
  }
  e.time = allocated_.size();
  entries_.push_back(std::move(e));
}

// ------------------------------------------------------------------------------- comparison

namespace {

// Where an address lies: in an input (index, offset), in a block the step allocated (its order
// of allocation, offset: the latest block made before the entry that holds it, since a planned
// block shares bytes with blocks dead by then), or outside both (the address itself).
struct Role {
  int kind = 0;  // 0 null, 1 input, 2 allocated, 3 outside
  std::size_t index = 0;
  std::uintptr_t offset = 0;
  bool operator==(const Role&) const = default;
};

class Roles {
 public:
  Roles(const std::vector<std::pair<const void*, std::size_t>>& inputs,
        const std::vector<StepRecording::Span>& allocated) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].first) continue;
      // An input listed twice (a tied weight) keeps its first index.
      inputs_.emplace(reinterpret_cast<std::uintptr_t>(inputs[i].first),
                      Block{inputs[i].second, i});
    }
    for (const auto& s : allocated) allocated_.push_back({s.start, s.nbytes});
  }
  // The role of `address` in an entry made after the step's first `time` allocations.
  Role of(const void* address, std::size_t time) const {
    if (address == nullptr) return {};
    const auto a = reinterpret_cast<std::uintptr_t>(address);
    auto it = inputs_.upper_bound(a);
    if (it != inputs_.begin()) {
      --it;
      if (contains(it->first, it->second.size, a)) return {1, it->second.index, a - it->first};
    }
    for (std::size_t i = std::min(time, allocated_.size()); i-- > 0;)
      if (contains(allocated_[i].first, allocated_[i].second, a))
        return {2, i, a - allocated_[i].first};
    return {3, 0, a};
  }

 private:
  struct Block {
    std::uintptr_t size;
    std::size_t index;
  };
  static bool contains(std::uintptr_t start, std::uintptr_t size, std::uintptr_t a) {
    return (a >= start && a < start + size) || (size == 0 && a == start);
  }
  std::map<std::uintptr_t, Block> inputs_;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> allocated_;  // (start, size)
};

// Two recordings' entries with their Roles and times.
struct Side {
  const Roles& roles;
  std::size_t time;
  Role of(const void* address) const { return roles.of(address, time); }
};

bool same_view(const kernels::BufferView& a, const kernels::BufferView& b, const Side& sa,
               const Side& sb) {
  if (a.dtype != b.dtype || a.rank != b.rank) return false;
  for (int i = 0; i < kMaxRank; ++i)
    if (a.sizes[i] != b.sizes[i] || a.strides[i] != b.strides[i]) return false;
  return sa.of(a.data) == sb.of(b.data);
}

std::string same_kernel(const StepRecording::Entry& a, const StepRecording::Entry& b,
                        const Side& ra, const Side& rb) {
  const kernels::KernelArgs &x = a.args, &y = b.args;
  if (a.fn != b.fn || a.op != b.op || a.dtype != b.dtype) return "another kernel";
  if (!same_view(x.out, y.out, ra, rb)) return "its output";
  for (int i = 0; i < kernels::kMaxKernelInputs; ++i)
    if (!same_view(x.in[i], y.in[i], ra, rb)) return "input " + std::to_string(i);
  if (x.num_inputs != y.num_inputs || x.device != y.device || x.in_device != y.in_device ||
      x.out_on_host != y.out_on_host)
    return "its devices";
  for (int i = 0; i < 2; ++i)
    if (std::memcmp(&x.scalar[i], &y.scalar[i], sizeof(double)) != 0)
      return "scalar " + std::to_string(i) + " (" + std::to_string(x.scalar[i]) + " vs " +
             std::to_string(y.scalar[i]) + ")";
  if (a.key_draw != b.key_draw) return "its random key";
  if (a.key_draw < 0 && (x.key[0] != y.key[0] || x.key[1] != y.key[1])) return "its random key";
  for (int i = 0; i < 4; ++i) {
    if (i == 0 && a.table) {
      const Table &p = *a.table, &q = *b.table;
      if (p.pieces.size() != q.pieces.size() || p.views.size() != q.views.size())
        return "the length of its list";
      for (std::size_t k = 0; k < p.pieces.size(); ++k)
        if (p.pieces[k].bytes != q.pieces[k].bytes ||
            ra.of(p.pieces[k].dst) != rb.of(q.pieces[k].dst) ||
            ra.of(p.pieces[k].src) != rb.of(q.pieces[k].src))
          return "copy " + std::to_string(k) + " of its list";
      for (std::size_t k = 0; k < p.views.size(); ++k)
        if (!same_view(p.views[k], q.views[k], ra, rb))
          return "tensor " + std::to_string(k) + " of its list";
      continue;
    }
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
  if (a.num_draws_ != b.num_draws_)
    return "the steps drew " + std::to_string(a.num_draws_) + " and " +
           std::to_string(b.num_draws_) + " random keys";
  const Roles ra(a.input_blocks_, a.spans_), rb(b.input_blocks_, b.spans_);
  const std::size_t n = std::min(a.entries_.size(), b.entries_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Entry &x = a.entries_[i], &y = b.entries_[i];
    const Side sa{ra, x.time}, sb{rb, y.time};
    std::ostringstream at;
    at << "step entry " << i << " (" << (x.kind == Entry::Kind::kernel ? x.what : x.description)
       << ")";
    if (x.kind != y.kind) return at.str() + " is followed by something else in the next step";
    switch (x.kind) {
      case Entry::Kind::kernel:
        if (std::string d = same_kernel(x, y, sa, sb); !d.empty())
          return at.str() + ": " + d + " differs between two steps";
        break;
      case Entry::Kind::constant:
        if (x.bytes != y.bytes || sa.of(x.addresses[0]) != sb.of(y.addresses[0]))
          return at.str() + ": a constant the host wrote differs between two steps";
        break;
      case Entry::Kind::replay:
      case Entry::Kind::check:
        if (x.description != y.description || x.addresses.size() != y.addresses.size())
          return at.str() + " differs between two steps";
        for (std::size_t k = 0; k < x.addresses.size(); ++k)
          if (sa.of(x.addresses[k]) != sb.of(y.addresses[k]))
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

std::vector<bool> StepRecording::inputs_touched() const {
  const Roles roles(input_blocks_, spans_);
  std::vector<bool> touched(input_blocks_.size(), false);
  const auto mark = [&](const void* address, std::size_t time) {
    const Role r = roles.of(address, time);
    if (r.kind == 1) touched[r.index] = true;
  };
  for (const Entry& e : entries_) {
    if (e.kind == Entry::Kind::kernel) {
      mark(e.args.out.data, e.time);
      for (int i = 0; i < kernels::kMaxKernelInputs; ++i) mark(e.args.in[i].data, e.time);
      if (e.conv_operands) {
        const kernels::ConvBackwardOperands& o = *e.conv_operands;
        for (const auto* v : {&o.x, &o.w, &o.gy, &o.y, &o.dx, &o.dw, &o.db}) mark(v->data, e.time);
      }
      if (e.table)
        for (const void* address : e.table->addresses()) mark(address, e.time);
    }
    for (const void* address : e.addresses) mark(address, e.time);
  }
  // (Roles names a buffer listed twice by its first input.)
  std::unordered_set<const void*> touched_blocks;
  for (std::size_t i = 0; i < touched.size(); ++i)
    if (touched[i]) touched_blocks.insert(input_blocks_[i].first);
  for (std::size_t i = 0; i < touched.size(); ++i)
    touched[i] = touched_blocks.contains(input_blocks_[i].first);
  return touched;
}

struct StepRecording::Graphs {
  struct Run {
    GraphSegment segment;
    std::unique_ptr<StreamGraph> graph;
    bool tried = false;  // captured, or refused (graph null)
  };
  std::vector<Run> runs;
  std::vector<std::int32_t> run_at;  // per entry: the run starting there, else -1
  std::string why_not;
  // Per GPU that runs a kernel given a drawn key: the replay's keys (2 words per draw), copied
  // there at the start of each replay. The kernels read their key from it (KernelArgs::
  // key_words), so a graph may hold them and still draw each step's numbers.
  std::vector<std::pair<Device, Tensor>> key_tables;
  const std::uint32_t* key_table(Device device) const {
    for (const auto& [d, t] : key_tables)
      if (d == device) return static_cast<const std::uint32_t*>(t.address());
    return nullptr;
  }

  // Run r's capture was refused: its halves are tried at the next replays instead (the first
  // takes its place; a half too short for a graph runs kernel by kernel).
  void split(std::size_t r) {
    const GraphSegment refused = runs[r].segment;
    const std::vector<GraphSegment> halves = split_refused(refused, kMinGraphKernels);
    if (halves.empty()) return;
    run_at[refused.begin] = -1;
    for (std::size_t h = 0; h < halves.size(); ++h) {
      const std::size_t slot = h == 0 ? r : runs.size();
      if (h == 0)
        runs[r] = {halves[h], nullptr, false};
      else
        runs.push_back({halves[h], nullptr, false});
      run_at[halves[h].begin] = std::int32_t(slot);
    }
  }
};

void StepRecording::use_graphs(bool on) {
  if (on == use_graphs_) return;
  use_graphs_ = on;
  graphs_.reset();
  graphs_dropped_.clear();
}

void StepRecording::plan_graphs() const {
  auto graphs = std::make_unique<Graphs>();
  std::vector<std::optional<Device>> capturable(entries_.size());
  std::optional<Device> kernels_on;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.kind != Entry::Kind::kernel) continue;
    kernels_on = e.args.device;
    // A copy from or to the host touches pageable memory a graph cannot hold (and one to the
    // host waits). A kernel given a drawn key reads it from the device's key table.
    const bool host_copy =
        e.op == kernels::Op::Copy && (e.args.in_device != e.args.device || e.args.out_on_host);
    if (!e.args.device.is_cuda() || host_copy) continue;
    capturable[i] = e.args.device;
    if (e.key_draw >= 0 && !graphs->key_table(e.args.device))
      graphs->key_tables.emplace_back(
          e.args.device,
          Tensor::empty(Shape{std::int64_t(2 * num_draws_)}, DType::i32, e.args.device));
  }
  for (const GraphSegment& segment : graph_segments(capturable, kMinGraphKernels))
    graphs->runs.push_back({segment, nullptr, false});
  graphs->run_at.assign(entries_.size(), -1);
  for (std::size_t r = 0; r < graphs->runs.size(); ++r)
    graphs->run_at[graphs->runs[r].segment.begin] = std::int32_t(r);
  if (!kernels_on) {
    graphs->why_not = "the step runs no kernel";
  } else if (graphs->runs.empty()) {
    std::ostringstream os;
    if (!kernels_on->is_cuda())
      os << "graphs hold a GPU's work; this step's kernels run on " << *kernels_on;
    else
      os << "no run of " << kMinGraphKernels
         << " or more GPU kernels without host work or a host copy between them";
    graphs->why_not = os.str();
  }
  graphs_ = std::move(graphs);
}

StepRecording::GraphStatus StepRecording::graph_status() const {
  GraphStatus status;
  if (!use_graphs_) {
    status.why_not = "graphs are off";
    return status;
  }
  if (!graphs_) {
    status.why_not =
        graphs_dropped_.empty() ? "not replayed since graphs were turned on" : graphs_dropped_;
    return status;
  }
  status.why_not = graphs_->why_not;
  for (const Graphs::Run& run : graphs_->runs) {
    if (run.graph) {
      ++status.graphs;
      status.kernels += run.segment.end - run.segment.begin;
    } else if (run.tried) {
      ++status.refused;
    }
  }
  return status;
}

void StepRecording::run_kernel(const Entry& e, std::span<const Key> draws) const {
  if (e.key_draw < 0) {
    e.fn(e.args);
  } else {
    // The replay's key for this draw: from the GPU's key table when graphs are on (a graph
    // holds the address, not the key), from the host's copy of the draws on the CPU, else
    // passed by value.
    kernels::KernelArgs args = e.args;
    const std::size_t word = 2 * std::size_t(e.key_draw);
    const std::uint32_t* table =
        graphs_ && e.args.device.is_cuda() ? graphs_->key_table(e.args.device) : nullptr;
    if (table != nullptr) {
      args.key_words = table + word;
    } else if (e.args.device.is_cpu()) {
      args.key_words = key_words_.data() + word;
    } else {
      const Key& key = draws[std::size_t(e.key_draw)];
      args.key[0] = key.words()[0];
      args.key[1] = key.words()[1];
    }
    e.fn(args);
  }
  ++kernels::kernels_run_by_this_thread();
}

void StepRecording::write_keys(std::span<const Key> draws) const {
  key_words_.resize(2 * draws.size());
  for (std::size_t j = 0; j < draws.size(); ++j) {
    key_words_[2 * j] = draws[j].words()[0];
    key_words_[2 * j + 1] = draws[j].words()[1];
  }
  if (!graphs_ || draws.empty()) return;
  // (The copy stages the words in pinned memory before it returns, so the next replay may
  // rewrite them: core/cuda/host_staging.cpp.)
  for (const auto& [device, table] : graphs_->key_tables) {
    kernels::KernelArgs args;
    args.out = buffer_view(table);
    args.in[0] = args.out;
    args.in[0].data = key_words_.data();
    args.num_inputs = 1;
    args.device = device;
    args.in_device = Device::cpu();
    kernels::run("step replay's keys", kernels::Op::Copy, DType::i32, args);
  }
}

void StepRecording::replay(std::span<const Key> draws) const {
  ELEGY_CHECK(!released_, "StepRecording::replay",
              "the recording let go of its blocks (release_blocks): it can only be compared");
  ELEGY_CHECK(draws.size() == num_draws_, "StepRecording::replay", "the step drew ", num_draws_,
              " random keys, the replay was given ", draws.size());
  if (use_graphs_ && !graphs_ && graphs_dropped_.empty()) plan_graphs();
  try {
    write_keys(draws);
    run_entries(draws);
  } catch (const OutOfMemoryError& e) {
    // The graphs keep their launchers' temporaries, which the allocator's free-and-retry cannot
    // reach: they go, so the next replay (kernel by kernel) has that memory back.
    if (graphs_) {
      graphs_.reset();
      graphs_dropped_ = std::string("graphs dropped when a replay ran out of memory: ") + e.what();
    }
    throw;
  }
}

void StepRecording::run_entries(std::span<const Key> draws) const {
  Graphs* graphs = use_graphs_ ? graphs_.get() : nullptr;
  std::vector<std::function<void()>> pending;
  auto run_checks = [&] {
    std::vector<std::function<void()>> now;
    now.swap(pending);
    for (const auto& check : now) check();
  };
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (graphs != nullptr && graphs->run_at[i] >= 0) {
      const std::size_t r = std::size_t(graphs->run_at[i]);
      Graphs::Run& run = graphs->runs[r];
      const GraphSegment segment = run.segment;
      const auto run_kernels = [&] {
        for (std::size_t j = segment.begin; j < segment.end; ++j) run_kernel(entries_[j], draws);
      };
      bool refused = false;
      if (!run.tried) {
        run.tried = true;
        std::string why;
        const std::uint64_t launched = kernels::kernels_run_by_this_thread();
        try {
          run.graph = StreamGraph::capture(segment.device, run_kernels, why);
          refused = !run.graph;
        } catch (const std::exception& failed) {  // the capture itself failed (its begin, a
          why = failed.what();                    // bad_alloc): nothing of the run was queued
        }
        kernels::kernels_run_by_this_thread() = launched;  // (captured, not run)
        if (!run.graph && graphs->why_not.empty()) graphs->why_not = why;
      }
      if (run.graph) {
        run.graph->launch();
        ++kernels::kernels_run_by_this_thread();  // one launch
      } else {
        run_kernels();
      }
      if (refused) graphs->split(r);  // (`run` is not used past this point)
      i = segment.end - 1;
      continue;
    }
    switch (e.kind) {
      case Entry::Kind::kernel:
        run_kernel(e, draws);
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
