#include "elegy/model/progbar.hpp"

#include <unistd.h>

#include <cmath>

namespace elegy {

ProgressBar::ProgressBar(std::int64_t target, int verbose, std::FILE* out)
    : target_(target),
      verbose_(verbose),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressBar::format_logs(const Logs& logs) {
  std::string s;
  char buf[64];
  for (const auto& [k, v] : logs) {
    if (k == "size") continue;
    const double a = std::abs(double(v));
    std::snprintf(buf, sizeof buf, (a <= 1e-3 && a > 0) ? "%.4e" : "%.4f", double(v));
    s += " - " + k + ": " + buf;
  }
  return s;
}

std::string ProgressBar::format_per_step(double seconds_per_step) {
  char buf[32];
  if (seconds_per_step >= 1)
    std::snprintf(buf, sizeof buf, "%.0fs/step", seconds_per_step);
  else if (seconds_per_step >= 1e-3)
    std::snprintf(buf, sizeof buf, "%.0fms/step", seconds_per_step * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0fus/step", seconds_per_step * 1e6);
  return buf;
}

std::string ProgressBar::bar(std::int64_t current) const {
  const int digits = int(std::to_string(target_).size());
  char count[64];
  std::snprintf(count, sizeof count, "%*lld/%lld", digits, (long long)current, (long long)target_);
  if (verbose_ == 2) return count;
  const int width = 30;
  const int filled = target_ > 0 ? int(width * double(current) / double(target_)) : width;
  std::string b = std::string(count) + " [";
  if (filled > 0) b += std::string(std::size_t(filled - 1), '=') + (current < target_ ? '>' : '=');
  b += std::string(std::size_t(width - std::max(filled, 0)), '.') + "]";
  return b;
}

void ProgressBar::update(std::int64_t current, const Logs& logs) {
  if (verbose_ != 1 || current >= target_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!tty_) {
    // A log file gets whole lines, at most one per 10% of the epoch or per 15 seconds.
    const bool tenth = target_ >= 10 && current * 10 / target_ > last_tenth_;
    if (!tenth && now - last_draw_ < std::chrono::seconds(15)) return;
    last_tenth_ = target_ >= 10 ? current * 10 / target_ : 0;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = current > 0 ? elapsed / double(current) * double(target_ - current) : 0;
    std::fprintf(out_, "%s - ETA: %.0fs%s\n", bar(current).c_str(), eta, format_logs(logs).c_str());
    std::fflush(out_);
    return;
  }
  if (now - last_draw_ < std::chrono::milliseconds(50) && current > 1) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = current > 0 ? elapsed / double(current) * double(target_ - current) : 0;
  char eta_s[32];
  std::snprintf(eta_s, sizeof eta_s, " - ETA: %.0fs", eta);
  std::string line = bar(current) + eta_s + format_logs(logs);
  const std::size_t width = line.size();
  if (width < last_width_) line += std::string(last_width_ - width, ' ');
  last_width_ = width;
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
}

void ProgressBar::finish(std::int64_t current, const Logs& logs) {
  if (verbose_ == 0) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char time_s[64];
  std::snprintf(time_s, sizeof time_s, " - %.0fs", elapsed);
  std::string line = bar(current) + time_s;
  if (verbose_ == 1) {
    line += ' ';  // appended piecewise: GCC 12's -Wrestrict misfires on `" " + std::string`
    line += format_per_step(elapsed / double(std::max<std::int64_t>(current, 1)));
  }
  line += format_logs(logs);
  if (tty_ && verbose_ == 1 && line.size() < last_width_)
    line += std::string(last_width_ - line.size(), ' ');
  std::fprintf(out_, "%s%s\n", tty_ && verbose_ == 1 ? "\r" : "", line.c_str());
  std::fflush(out_);
}

}  // namespace elegy
