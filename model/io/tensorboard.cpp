#include "elegy/model/io/tensorboard.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "elegy/core/error.hpp"

namespace elegy::io {
namespace {

constexpr const char* kWho = "TensorBoard";

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected poly
    table[i] = c;
  }
  return table;
}

// ---- protobuf encoding (only what Event/Summary need) ----
void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += char((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += char(v);
}
void tag(std::string& out, int field, int wire_type) {
  varint(out, std::uint64_t(field) << 3 | std::uint64_t(wire_type));
}
void fixed64(std::string& out, double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 0; i < 8; ++i) out += char((bits >> (8 * i)) & 0xFF);
}
void fixed32(std::string& out, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) out += char((bits >> (8 * i)) & 0xFF);
}
void bytes_field(std::string& out, int field, std::string_view data) {
  tag(out, field, 2);
  varint(out, data.size());
  out += data;
}

std::string event(double wall_time, std::int64_t step) {
  std::string e;
  tag(e, 1, 1);  // wall_time: double
  fixed64(e, wall_time);
  tag(e, 2, 0);  // step: int64
  varint(e, std::uint64_t(step));
  return e;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc32c(std::string_view data) {
  const std::uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

SummaryWriter::SummaryWriter(std::string logdir) : logdir_(std::move(logdir)) {
  std::error_code ec;
  std::filesystem::create_directories(logdir_, ec);
  ELEGY_CHECK(!ec, kWho, "cannot create the log directory '", logdir_, "': ", ec.message());
  static std::atomic<int> counter{0};
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  const long long seconds = (long long)now_seconds();
  path_ = logdir_ + "/events.out.tfevents." + std::to_string(seconds) + "." + host + "." +
          std::to_string(::getpid()) + "." + std::to_string(counter++);
  file_ = std::fopen(path_.c_str(), "wb");
  ELEGY_CHECK(file_ != nullptr, kWho, "cannot create '", path_, "': ", std::strerror(errno));
  std::string e = event(now_seconds(), 0);
  bytes_field(e, 3, "brain.Event:2");  // file_version
  write_record(e);
  flush();
}

SummaryWriter::~SummaryWriter() {
  if (file_) std::fclose(file_);
}

void SummaryWriter::add_scalar(std::string_view name, double value, std::int64_t step) {
  add_scalar(name, value, step, now_seconds());
}

void SummaryWriter::add_scalar(std::string_view name, double value, std::int64_t step,
                               double wall_time) {
  std::string v;
  bytes_field(v, 1, name);  // Summary.Value.tag
  tag(v, 2, 5);             // Summary.Value.simple_value: float
  fixed32(v, float(value));
  std::string summary;
  bytes_field(summary, 1, v);  // Summary.value
  std::string e = event(wall_time, step);
  bytes_field(e, 5, summary);  // Event.summary
  write_record(e);
}

void SummaryWriter::write_record(const std::string& payload) {
  std::string header(8, '\0');
  const std::uint64_t n = payload.size();
  for (int i = 0; i < 8; ++i) header[std::size_t(i)] = char((n >> (8 * i)) & 0xFF);
  auto u32 = [](std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[std::size_t(i)] = char((v >> (8 * i)) & 0xFF);
    return s;
  };
  const std::string record =
      header + u32(masked_crc32c(header)) + payload + u32(masked_crc32c(payload));
  ELEGY_CHECK(std::fwrite(record.data(), 1, record.size(), file_) == record.size(), kWho,
              "cannot write to '", path_, "': ", std::strerror(errno));
}

void SummaryWriter::flush() {
  if (file_) std::fflush(file_);
}

}  // namespace elegy::io
