// The CUDA kernel families, one registration function per .cu file; register.cpp calls them all
// from register_cuda_kernels (kernels/dispatch.hpp). Plain C++: no CUDA headers needed here.
#pragma once

#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels::cuda {

void register_copy(Registry& r);     // copy.cu: Copy (host<->device, device<->device), Fill, Arange
void register_cast(Registry& r);     // cast.cu: Cast between every pair of dtypes
void register_binary(Registry& r);   // binary.cu: arithmetic, Pow, comparisons, logical ops
void register_where(Registry& r);    // where.cu: Where
void register_mul_add(Registry& r);  // mul_add.cu: MulAdd
void register_mul_add_many(Registry& r);   // mul_add_many.cu: MulAddMany
void register_running_means(Registry& r);  // running_means.cu: RunningMeans
void register_unary(Registry& r);          // unary.cu: every unary elementwise op of kernels/op.hpp
void register_reduce(Registry& r);         // reduce.cu: Sum Prod Max Min LogSumExp ArgMax ArgMin
void register_sum_squares_many(Registry& r);  // sum_squares_many.cu: SumSquaresMany
void register_argmax_matches(Registry& r);    // argmax_matches.cu: ArgMaxMatches(Count)
void register_softmax(Registry& r);           // softmax.cu: Softmax LogSoftmax
void register_softmax_xent(Registry& r);      // softmax_xent.cu: SoftmaxXent(Backward)
void register_index(Registry& r);             // index.cu: OneHot Take ScatterAdd
void register_random(Registry& r);    // random.cu: RandomUniform/Normal/TruncatedNormal/Bits
void register_gemm(Registry& r);      // gemm.cu: Matmul through cuBLAS
void register_conv(Registry& r);      // conv.cu
void register_pool(Registry& r);      // pool.cu
void register_norm(Registry& r);      // norm.cu (normalisation, dropout)
void register_optim(Registry& r);     // optim.cu (fused optimizer updates)
void register_bias_act(Registry& r);  // bias_act.cu (layer epilogues: BiasAct, ReluBackward)

}  // namespace elegy::kernels::cuda
