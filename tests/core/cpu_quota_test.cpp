// The default thread count's CPU limits: cgroup quota files parsed, rounded to threads.
#include <doctest/doctest.h>

#include <thread>

#include <elegy/elegy.hpp>

using namespace elegy;
using namespace elegy::cpu_limits;

TEST_CASE("cgroup v2 cpu.max gives the CPUs the quota allows") {
  CHECK(from_cgroup_v2("200000 100000\n") == doctest::Approx(2.0));
  CHECK(from_cgroup_v2("150000 100000") == doctest::Approx(1.5));
  CHECK(from_cgroup_v2("50000 100000\n") == doctest::Approx(0.5));
  CHECK_FALSE(from_cgroup_v2("max 100000\n"));  // no limit
  CHECK_FALSE(from_cgroup_v2(""));
  CHECK_FALSE(from_cgroup_v2("200000"));
  CHECK_FALSE(from_cgroup_v2("0 100000"));
  CHECK_FALSE(from_cgroup_v2("200000 0"));
  CHECK_FALSE(from_cgroup_v2("2e5 100000"));
}

TEST_CASE("cgroup v1 cfs quota and period give the CPUs the quota allows") {
  CHECK(from_cgroup_v1("400000\n", "100000\n") == doctest::Approx(4.0));
  CHECK(from_cgroup_v1("25000", "50000") == doctest::Approx(0.5));
  CHECK_FALSE(from_cgroup_v1("-1\n", "100000\n"));  // no limit
  CHECK_FALSE(from_cgroup_v1("abc", "100000"));
}

TEST_CASE("a CPU limit becomes a thread count: rounded up, within [1, cpus]") {
  CHECK(thread_count(2.0, 16) == 2);
  CHECK(thread_count(2.0000000001, 16) == 2);
  CHECK(thread_count(1.5, 16) == 2);
  CHECK(thread_count(0.25, 16) == 1);
  CHECK(thread_count(64.0, 16) == 16);
  CHECK(thread_count(3.0, 1) == 1);
}

TEST_CASE("available_cpus is at least 1 and at most the online CPUs") {
  const int cpus = available_cpus();
  CHECK(cpus >= 1);
  CHECK(cpus <= int(std::max(1u, std::thread::hardware_concurrency())));
}
