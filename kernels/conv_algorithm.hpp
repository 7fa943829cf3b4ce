// Switches between the CPU conv kernels' algorithms that round differently: Winograd F(2x2, 3x3)
// for float32 3x3 convs (kernels/cpu/conv_winograd.hpp) or the direct sum. Kept apart from the
// kernel headers so the op layer can expose it without Highway's headers.
#pragma once

namespace elegy::kernels::conv_winograd {

// On unless ELEGY_CONV_WINOGRAD=0 was in the environment at the first conv; the setter changes
// it for every later call (from any thread).
bool winograd_enabled();
void set_winograd_enabled(bool enabled);
// Whether this CPU's best Highway target runs Winograd at all (fixed-size vectors of more than
// one lane; not the scalar fallback, nor SVE/RVV), whatever winograd_enabled() says.
bool winograd_supported();

}  // namespace elegy::kernels::conv_winograd
