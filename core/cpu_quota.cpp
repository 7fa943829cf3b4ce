#include "elegy/core/cpu_quota.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace elegy {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<long long> parse_integer(std::string_view s) {
  s = trim(s);
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int affinity_cpus() {
  // Large enough for any machine's mask (CPU_SETSIZE is 1024).
  for (int n = 1024; n <= (1 << 16); n *= 4) {
    cpu_set_t* set = CPU_ALLOC(std::size_t(n));
    if (!set) break;
    const std::size_t bytes = CPU_ALLOC_SIZE(std::size_t(n));
    CPU_ZERO_S(bytes, set);
    const bool ok = sched_getaffinity(0, bytes, set) == 0;
    const int count = ok ? CPU_COUNT_S(bytes, set) : 0;
    CPU_FREE(set);
    if (ok) return count;
  }
  return 0;
}

// The cgroup path of this process for the v2 hierarchy ("0::/path") or for v1's cpu controller
// ("N:cpu,cpuacct:/path"), from /proc/self/cgroup.
std::optional<std::string> cgroup_path(bool v2) {
  const std::optional<std::string> text = read_file("/proc/self/cgroup");
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (v2 ? (line.compare(0, a, "0") == 0 && controllers.empty())
           : (std::string("," + controllers + ",").find(",cpu,") != std::string::npos))
      return line.substr(b + 1);
  }
  return std::nullopt;
}

// The tightest limit among the cgroup at `path` (below `mount`) and its ancestors, up to the
// mount's root. Inside a container the path may name the host's hierarchy while the mount shows
// the container's own cgroup as its root: the path's folders are then missing and the root's
// limit (the container's) is the one read.
template <class ReadLimit>
std::optional<double> tightest_limit(const std::string& mount, std::string path,
                                     ReadLimit read_limit) {
  std::optional<double> best;
  auto consider = [&](std::optional<double> v) {
    if (v && (!best || *v < *best)) best = v;
  };
  while (true) {
    consider(read_limit(mount + (path == "/" ? "" : path)));
    if (path.empty() || path == "/") break;
    const std::size_t slash = path.find_last_of('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return best;
}

std::optional<double> cgroup_cpu_limit() {
  if (const std::optional<std::string> path = cgroup_path(/*v2=*/true))
    if (std::optional<double> v2 =
            tightest_limit("/sys/fs/cgroup", *path, [](const std::string& dir) {
              const std::optional<std::string> text = read_file(dir + "/cpu.max");
              return text ? cpu_limits::from_cgroup_v2(*text) : std::nullopt;
            }))
      return v2;
  if (const std::optional<std::string> path = cgroup_path(/*v2=*/false))
    for (const char* mount : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"})
      if (std::optional<double> v1 = tightest_limit(mount, *path, [](const std::string& dir) {
            const std::optional<std::string> quota = read_file(dir + "/cpu.cfs_quota_us");
            const std::optional<std::string> period = read_file(dir + "/cpu.cfs_period_us");
            return quota && period ? cpu_limits::from_cgroup_v1(*quota, *period) : std::nullopt;
          }))
        return v1;
  return std::nullopt;
}

}  // namespace

namespace cpu_limits {

std::optional<double> from_cgroup_v2(std::string_view cpu_max) {
  cpu_max = trim(cpu_max);
  const std::size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::optional<long long> quota = parse_integer(cpu_max.substr(0, space));
  const std::optional<long long> period = parse_integer(cpu_max.substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return double(*quota) / double(*period);
}

std::optional<double> from_cgroup_v1(std::string_view cfs_quota_us,
                                     std::string_view cfs_period_us) {
  const std::optional<long long> quota = parse_integer(cfs_quota_us);
  const std::optional<long long> period = parse_integer(cfs_period_us);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return double(*quota) / double(*period);
}

int thread_count(double limit, int cpus) {
  const double rounded = std::ceil(limit - 1e-9);  // 2.0000000001 CPUs are 2
  return std::clamp(rounded >= double(cpus) ? cpus : int(rounded), 1, std::max(cpus, 1));
}

}  // namespace cpu_limits

int available_cpus() {
  int cpus = affinity_cpus();
  if (cpus <= 0) cpus = int(std::thread::hardware_concurrency());
  cpus = std::max(cpus, 1);
  if (const std::optional<double> limit = cgroup_cpu_limit())
    return cpu_limits::thread_count(*limit, cpus);
  return cpus;
}

}  // namespace elegy
