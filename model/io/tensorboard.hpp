// TensorBoard event files, written without TensorFlow: TFRecord framing (length, masked CRC32C
// of the length, payload, masked CRC32C of the payload) around hand-encoded `Event` protocol
// buffers (tensorflow/core/util/event.proto: wall_time = 1, step = 2, file_version = 3,
// summary = 5; Summary.value = 1; Summary.Value: tag = 1, simple_value = 2). The first record
// is the "brain.Event:2" version event TensorBoard expects.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace elegy::io {

class SummaryWriter {
 public:
  // Creates `logdir` (and parents) and a new event file in it named like TensorFlow's:
  // events.out.tfevents.<unix seconds>.<hostname>.<pid>.<counter>.
  explicit SummaryWriter(std::string logdir);
  ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  void add_scalar(std::string_view tag, double value, std::int64_t step);
  // wall_time in seconds since the epoch (fractions allowed).
  void add_scalar(std::string_view tag, double value, std::int64_t step, double wall_time);
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);
  std::string logdir_, path_;
  std::FILE* file_ = nullptr;
};

// CRC-32C (Castagnoli), and TFRecord's mask of it.
std::uint32_t crc32c(std::string_view data);
std::uint32_t masked_crc32c(std::string_view data);

}  // namespace elegy::io
