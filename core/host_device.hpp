// ELEGY_HOST_DEVICE marks helpers that both the CPU and the CUDA backends compile, so the CPU
// tests cover the index and RNG arithmetic the GPU runs too.
#pragma once

#ifdef __CUDACC__
#define ELEGY_HOST_DEVICE __host__ __device__
#else
#define ELEGY_HOST_DEVICE
#endif
