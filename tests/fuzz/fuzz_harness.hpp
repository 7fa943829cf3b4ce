// What every reader harness shares: the input as a std::string, bad input accepted only as an
// elegy::Error, and output-size oracles that turn silent over-allocation into a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <elegy/core/error.hpp>

namespace elegy::fuzz {

// Runs `parse` on the input. An elegy::Error is the expected end of bad input; any other
// exception escapes to libFuzzer, which reports it as a crash (as it does sanitizer reports).
template <class Parse>
int run_parser(const std::uint8_t* data, std::size_t size, Parse parse) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    parse(bytes);
  } catch (const elegy::Error&) {
  }
  return 0;
}

// A property every successful parse must have; a violation stops the run as a crash, with the
// input saved as an artifact.
inline void require(bool property) {
  if (!property) __builtin_trap();
}

}  // namespace elegy::fuzz
