// A compiled step's blocks packed by lifetime (autodiff/memory_plan.hpp): hand-placed offsets,
// and a recording that follows a plan only where what it shares bytes with is dead.
#include <doctest/doctest.h>

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
  // D shares bytes with A and B, which must be dead when it is made.
  CHECK(p[3].overlaps == std::vector<std::size_t>{0, 1});
  CHECK(p[0].overlaps.empty());
  CHECK(p[1].overlaps.empty());
  CHECK(p[2].overlaps.empty());
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
  CHECK(plan->placements()[1].overlaps == std::vector<std::size_t>{0});
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
