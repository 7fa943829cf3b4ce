// safetensors files (Hugging Face's format): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}} padded with
// spaces to a multiple of 8 bytes, then the tensors' bytes in C order. Reading validates every
// field (offsets in range, matching shape x dtype, covering the data without holes or overlap),
// so a truncated or corrupted file is an Error, never a crash.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy::io {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file (data offset) order
  std::map<std::string, std::string> metadata;
};

// Writes atomically: a temporary file next to `path`, fsync'd, then renamed over it, so a
// crash mid-save leaves the previous file intact. Tensors on other devices are copied to the
// host; names must be unique.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

SafetensorsFile load_safetensors(const std::string& path);

// The same encoding in memory (what save_safetensors writes / load_safetensors reads).
std::string encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata = {});
SafetensorsFile decode_safetensors(const std::string& bytes, const std::string& source);

// Writes `bytes` to `path` atomically (temporary file + fsync + rename).
void write_file_atomically(const std::string& path, const std::string& bytes, const char* who);
std::string read_file(const std::string& path, const char* who);

}  // namespace elegy::io
