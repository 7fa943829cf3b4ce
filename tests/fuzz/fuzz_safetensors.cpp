// libFuzzer harness for io::decode_safetensors: every input is a SafetensorsFile or an
// elegy::Error.
#include <elegy/model/io/safetensors.hpp>

#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return elegy::fuzz::run_parser(data, size, [](const std::string& bytes) {
    const elegy::io::SafetensorsFile file = elegy::io::decode_safetensors(bytes, "fuzz");
    // The tensors' bytes are stored verbatim after the header.
    std::size_t total = 0;
    for (const auto& [name, t] : file.tensors) total += t.nbytes();
    elegy::fuzz::require(total <= bytes.size());
  });
}
