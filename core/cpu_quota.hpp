// How many CPUs this process may really use. std::thread::hardware_concurrency() counts the
// machine's online CPUs; in a container the scheduler may allow far fewer, through the affinity
// mask (cpuset) or a CFS quota (cgroup cpu.max). A pool sized past the quota has its spinning
// workers throttled for the rest of each 100 ms period: every step then waits on a descheduled
// thread. JVMs, .NET and Go (1.25) size their pools from the same two limits.
#pragma once

#include <optional>
#include <string_view>

namespace elegy {

// CPUs in this process's affinity mask, capped by the tightest CFS quota of its cgroup and the
// cgroup's ancestors (v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up; at
// least 1. Without limits: the online CPU count.
int available_cpus();

namespace cpu_limits {

// The CPUs a cgroup v2 `cpu.max` allows ("150000 100000" -> 1.5); nullopt for "max ..." (no
// limit) or text that is not "QUOTA PERIOD".
std::optional<double> from_cgroup_v2(std::string_view cpu_max);
// The same for cgroup v1's two files (quota -1: no limit).
std::optional<double> from_cgroup_v1(std::string_view cfs_quota_us, std::string_view cfs_period_us);
// A CPU limit as a thread count: rounded up (1.5 CPUs keep two threads busy half the time each),
// at least 1, at most `cpus`.
int thread_count(double limit, int cpus);

}  // namespace cpu_limits
}  // namespace elegy
