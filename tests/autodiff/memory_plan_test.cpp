// A compiled step's blocks packed by lifetime (autodiff/memory_plan.hpp): hand-placed offsets,
// and a recording that follows a plan only where what it shares bytes with is dead.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include <elegy/autodiff/memory_plan.hpp>
#include <elegy/autodiff/step_recording.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;
using autodiff::BlockLifetime;
using autodiff::MemoryPlan;

TEST_CASE("blocks alive at the same time get disjoint bytes, the others share") {
  const Device cpu = Device::cpu();
  constexpr std::size_t end = BlockLifetime::kAliveAtEnd;
  // (sizes round up to 256 bytes: 1024, 1024, 512, 2048)
  const std::vector<BlockLifetime> blocks = {
      {cpu, 1000, 0, 2},    // A: dead from the step's third allocation on
      {cpu, 1000, 1, 3},    // B: alive with A
      {cpu, 500, 2, end},   // C: alive with B and D
      {cpu, 2000, 3, end},  // D: alive with C only
      {Device::meta(), 64, 4, end},
  };
  const auto plan = MemoryPlan::pack(blocks);
  const auto& p = plan->placements();
  REQUIRE(p.size() == 5);
  // Largest first: D at 0; A (not alive with D) at 0 too; B beside A; C past D and B.
  CHECK(p[3].offset == 0);
  CHECK(p[0].offset == 0);
  CHECK(p[1].offset == 1024);
  CHECK(p[2].offset == 2048);
  CHECK(p[4].in_arena == false);  // meta: nothing to place
  REQUIRE(plan->arenas().size() == 1);
  CHECK(plan->arenas()[0].first == cpu);
  CHECK(plan->arenas()[0].second == 2560);  // against 4608 laid end to end
}

// The plan's offsets against a first-fit that scans every block placed before (the packing
// the lifetime index must reproduce), on lifetimes like a deep step's: mostly short-lived
// temporaries, some kept to the end, on two devices.
TEST_CASE("pack places random lifetimes as a full scan would, never overlapping live blocks") {
  constexpr std::size_t end = BlockLifetime::kAliveAtEnd;
  const Device cpu = Device::cpu(), other = Device::cuda(0);
  std::mt19937_64 rng(7);
  std::vector<BlockLifetime> blocks(600);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::size_t r = rng() % 10;
    const std::size_t last = r < 7 ? i + 1 + rng() % 6 : r < 9 ? i + 1 + rng() % 300 : end;
    blocks[i] = {rng() % 4 == 0 ? other : cpu, 1 + rng() % 5000, i,
                 last == end ? end : std::min(last, blocks.size() + 3)};
  }
  const auto plan = MemoryPlan::pack(blocks);
  const auto& p = plan->placements();
  const auto aligned = [](std::size_t n) { return (n + 255) / 256 * 256; };
  const auto together = [&](std::size_t a, std::size_t b) {
    return blocks[a].first < blocks[b].end && blocks[b].first < blocks[a].end &&
           blocks[a].device == blocks[b].device;
  };
  // Largest first, ties in allocation order.
  std::vector<std::size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return blocks[a].nbytes > blocks[b].nbytes;
  });
  std::vector<std::size_t> placed;
  std::size_t mismatches = 0, overlapping = 0;
  for (const std::size_t i : order) {
    std::vector<std::pair<std::size_t, std::size_t>> taken;
    for (const std::size_t j : placed)
      if (together(i, j)) taken.emplace_back(p[j].offset, p[j].offset + aligned(p[j].nbytes));
    std::sort(taken.begin(), taken.end());
    std::size_t offset = 0;
    for (const auto& [b, e] : taken) {
      if (offset + aligned(blocks[i].nbytes) <= b) break;
      offset = std::max(offset, e);
    }
    mismatches += p[i].offset != offset;
    for (const auto& [b, e] : taken)
      overlapping += p[i].offset < e && b < p[i].offset + blocks[i].nbytes;
    placed.push_back(i);
  }
  CHECK(mismatches == 0);
  CHECK(overlapping == 0);
  for (const auto& [device, nbytes] : plan->arenas())
    for (std::size_t i = 0; i < blocks.size(); ++i)
      if (p[i].device == device) CHECK(p[i].offset + p[i].nbytes <= nbytes);
}

TEST_CASE("a recording follows its plan only where the bytes it shares are dead") {
  const Device cpu = Device::cpu();
  // The first recording: a dies before b is made, so b takes a's bytes in the plan.
  auto first = std::make_unique<autodiff::StepRecording>();
  { const Tensor a = Tensor::empty(Shape{256}, DType::f32, cpu); }
  { const Tensor b = Tensor::empty(Shape{256}, DType::f32, cpu); }
  first->stop();
  const auto plan = first->memory_plan();
  REQUIRE(plan->placements().size() == 2);
  CHECK(plan->placements()[1].offset == plan->placements()[0].offset);
  CHECK(plan->arenas()[0].second == 1024);
  SUBCASE("the same lifetimes: both blocks in the arena, at the same address") {
    autodiff::StepRecording second(plan);
    const void* at = nullptr;
    {
      const Tensor a = Tensor::empty(Shape{256}, DType::f32, cpu);
      at = a.address();
    }
    const Tensor b = Tensor::empty(Shape{256}, DType::f32, cpu);
    CHECK(b.address() == at);
    CHECK(b.storage()->is_part());
    second.stop();
    CHECK(second.bytes_allocated() == 1024);
    CHECK(second.bytes_requested() == 2048);
  }
  SUBCASE("a block alive longer this time keeps its bytes; the next gets its own") {
    autodiff::StepRecording second(plan);
    const Tensor a = Tensor::empty(Shape{256}, DType::f32, cpu);
    const Tensor b = Tensor::empty(Shape{256}, DType::f32, cpu);
    CHECK(b.address() != a.address());
    CHECK(a.storage()->is_part());
    CHECK_FALSE(b.storage()->is_part());
    second.stop();
    CHECK(second.bytes_allocated() == 1024 + 1024);
  }
  SUBCASE("another size than planned: blocks of their own from there on") {
    autodiff::StepRecording second(plan);
    const Tensor a = Tensor::empty(Shape{100}, DType::f32, cpu);
    CHECK_FALSE(a.storage()->is_part());
  }
}

TEST_CASE("a block planned inside a dead block's bytes shares them only while that one is dead") {
  // First recording: A (4 KB) dies; B (1 KB) then takes A's first KB, and C (1 KB), alive with
  // B, the next one.
  const Device cpu = Device::cpu();
  auto first = std::make_unique<autodiff::StepRecording>();
  { const Tensor a = Tensor::empty(Shape{1024}, DType::f32, cpu); }
  {
    const Tensor b = Tensor::empty(Shape{256}, DType::f32, cpu);
    const Tensor c = Tensor::empty(Shape{256}, DType::f32, cpu);
  }
  first->stop();
  const auto plan = first->memory_plan();
  REQUIRE(plan->placements().size() == 3);
  REQUIRE(plan->placements()[1].offset == 0);
  REQUIRE(plan->placements()[2].offset == 1024);
  SUBCASE("the same lifetimes: B and C in A's bytes") {
    autodiff::StepRecording second(plan);
    const char* a_at = nullptr;
    {
      const Tensor a = Tensor::empty(Shape{1024}, DType::f32, cpu);
      a_at = static_cast<const char*>(a.address());
    }
    const Tensor b = Tensor::empty(Shape{256}, DType::f32, cpu);
    const Tensor c = Tensor::empty(Shape{256}, DType::f32, cpu);
    CHECK(b.address() == a_at);
    CHECK(c.address() == a_at + 1024);
  }
  SUBCASE("A alive this time: neither B at its start nor C in its middle takes its bytes") {
    autodiff::StepRecording second(plan);
    const Tensor a = Tensor::empty(Shape{1024}, DType::f32, cpu);
    const Tensor b = Tensor::empty(Shape{256}, DType::f32, cpu);
    const Tensor c = Tensor::empty(Shape{256}, DType::f32, cpu);
    second.stop();
    CHECK(a.storage()->is_part());
    CHECK_FALSE(b.storage()->is_part());
    CHECK_FALSE(c.storage()->is_part());
    const auto* a_at = static_cast<const char*>(a.address());
    const auto* c_at = static_cast<const char*>(c.address());
    CHECK((c_at + 1024 <= a_at || c_at >= a_at + 4096));
  }
}

TEST_CASE("a released recording frees the step's blocks and still compares") {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{4}, cpu);
  auto step = [&] { return sum(x * 2.0 + 1.0); };
  autodiff::StepRecording first;
  first.add_inputs(std::vector<Tensor>{x});
  std::weak_ptr<Storage> temporary;
  {
    const Tensor y = step();
    temporary = y.storage();
  }
  first.stop();
  const auto plan = first.memory_plan();
  const std::size_t requested = first.bytes_requested();
  CHECK(requested > 0);
  CHECK_FALSE(temporary.expired());  // the recording held it
  first.release_blocks();
  CHECK(temporary.expired());
  CHECK(first.bytes_requested() == requested);
  CHECK(first.memory_plan()->arenas() == plan->arenas());
  CHECK_THROWS_AS(first.replay(), Error);

  autodiff::StepRecording second(plan);
  second.add_inputs(std::vector<Tensor>{x});
  { const Tensor y = step(); }
  second.stop();
  CHECK(autodiff::StepRecording::difference(first, second).empty());
  autodiff::StepRecording other(plan);
  other.add_inputs(std::vector<Tensor>{x});
  { const Tensor y = sum(x * 3.0 + 1.0); }
  other.stop();
  CHECK_FALSE(autodiff::StepRecording::difference(first, other).empty());
}
