// Op: every kernel-level operation, the first key of the dispatch table.
#pragma once

#include <cstdint>
#include <string_view>

namespace elegy::kernels {

// clang-format off
// One X(Name) per line, grouped by family; a family's helpers add their ops inside its group.
#define ELEGY_KERNEL_OPS(X)                                                                       \
  /* data movement */                                                                             \
  X(Copy)          /* strided copy, same dtype; also host<->device when the devices differ */    \
  X(Cast)          /* strided copy converting in.dtype -> out.dtype (keyed by in.dtype) */       \
  X(Fill)          /* out[...] = scalar[0] */                                                    \
  X(Arange)        /* out[i] = scalar[0] + i * scalar[1], 1-D */                                 \
  X(CopyMany)      /* dense byte copies on one device: ints[0] = &CopyList (copy_list.hpp) */    \
  /* unary elementwise (out and in share shape; in may be strided) */                            \
  X(Neg) X(Abs) X(Exp) X(Log) X(Log1p) X(Sqrt) X(Rsqrt) X(Square) X(Tanh) X(Sigmoid)              \
  X(Relu) X(Gelu) X(Softplus) X(Sign) X(LogicalNot)                                              \
  /* binary elementwise with broadcasting (inputs carry stride-0 dims) */                        \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Maximum) X(Minimum)                                       \
  X(DivNoNan)      /* float: in[0] / in[1], 0 where in[1] == 0 (tf.math.divide_no_nan) */       \
  X(Equal) X(NotEqual) X(Less) X(LessEqual) X(Greater) X(GreaterEqual) /* -> bool */             \
  X(LogicalAnd) X(LogicalOr) X(LogicalXor)                                                       \
  X(Where)         /* out = in[0] ? in[1] : in[2]; keyed by in[1].dtype */                       \
  X(MulAdd)        /* float: out = in[0] * in[1] + in[2], the product rounded first (= Mul, Add) */\
  X(MulAddMany)    /* float: MulAdd per tensor of the list at ints[0] (&ViewList, view_list.hpp: \
                      out, a, b (one element), c per tensor, dense): out = a * b + c */          \
  X(RunningMeans)  /* float32: totals += values * scalar[0], count += scalar[1], and the means, \
                      in one call: ints[0] = &ViewList (running_means_list.hpp) */               \
  /* reductions: out has in's rank with size 1 on the reduced dims */                            \
  X(Sum) X(Prod) X(Max) X(Min) X(ArgMax) X(ArgMin) X(LogSumExp)                                  \
  X(ArgMaxMatches) /* float32 out [R] = argmax(in[0][r]) == in[1][r] ? 1 : 0: in[0] dense [R,K] \
                      float, in[1] int32|int64|uint8 labels [R] (any stride); keyed by in[0] */   \
  X(ArgMaxMatchCount) /* float32 out (1 element) = how many rows ArgMaxMatches would give 1,       \
                      counted exactly as an integer, then rounded once: ArgMaxMatches' operands */ \
  X(SumSquares)    /* float: sum of in[0]^2 (CPU: in dense, every dim reduced) */                \
  X(ScaledSum)     /* float: Sum, then * scalar[0] in the dtype (= Sum, Mul): mean in one kernel */\
  X(SumSquaresMany) /* float: out (1 element) = scalar[0] * sum over the dense tensors of the list \
                      at ints[0] (&ViewList, view_list.hpp) of their sums of squares */          \
  X(Softmax) X(LogSoftmax) /* along ints[0] (axis) */                                            \
  X(SoftmaxXent)   /* out[r] = -log_softmax(in[0][r])[in[1][r]]; in[0] dense [R,K], in[1] i32|i64 [R] */\
  X(SoftmaxXentBackward) /* out [R,K] = in[2][r] * (softmax(in[0][r]) - onehot(in[1][r])) */      \
  /* indexing */                                                                                 \
  X(OneHot)        /* out[..., depth] = (in == j); ints[0] = depth; keyed by out.dtype */        \
  X(Take)          /* out = in[0] gathered by in[1] (int indices) along ints[0]; keyed by data */\
  X(ScatterAdd)    /* out (zeroed by caller) += in[0] at in[1] along ints[0] */                  \
  /* linear algebra (kernels/blas) */                                                            \
  X(Matmul)        /* out[b] = in[0][b] @ in[1][b], rank-3 views, any strides */                 \
  /* random numbers (Philox, counter = flat element index; key in `key`) */                      \
  X(RandomUniform) /* [scalar[0], scalar[1]) */                                                  \
  X(RandomNormal)                                                                                \
  X(RandomTruncatedNormal) /* standard normal truncated to [scalar[0], scalar[1]] */             \
  X(RandomBits)    /* int in [ints[0], ints[1]) (randint) */                                     \
  /* convolution (kernels/cpu/conv*.cpp, kernels/cuda/conv.cu) */                                \
  X(Im2Col)        /* conv columns of in[0]; geometry in ints[0] (kernels/conv_geometry.hpp) */  \
  X(Col2Im)        /* out = per-element sum of in[0]'s columns (im2col's adjoint) */             \
  X(ConvDirect)    /* CPU: stride-1 conv of in[0] by in[1] (+ in[2] bias); conv_geometry.hpp */  \
  X(ConvDirectFilter) /* CPU: stride-1 conv's filter grad from x = in[0], gy = in[1] */        \
  X(ConvDirectBackward) /* CPU: act(conv + b)'s backward, operands in ints[1] */              \
  /* pooling (kernels/cpu/pool*.cpp, kernels/cuda/pool.cu) */                                    \
  X(MaxPool)       /* channels-last; in[1] = int32 argmax or none; kernels/pool_geometry.hpp */  \
  X(AvgPool)       /* channels-last mean over the window's unpadded cells */                     \
  X(MaxPoolBackward) /* out = x-shaped gradient from in[0] = g, in[1] = argmax */                \
  X(AvgPoolBackward) /* out = x-shaped gradient from in[0] = g */                                \
  /* normalisation and dropout (kernels/cpu/norm*.cpp, kernels/cuda/norm.cu) */                  \
  X(Moments)       /* out = mean, in[1] = var of dense [A,B] in[0] over axis ints[0] */          \
  X(LayerNorm)     /* rows of dense [M,K]; in[1] scale, in[2] offset, [K] or none; eps */        \
  X(LayerNormBackward) /* out = dx; in[0] g, in[1] x, in[2] [3,K]: scale, dscale, doffset */     \
  X(ChannelAffine) /* out[r,c] = in[0][r,c] * in[1][c] + in[2][c] over dense [R,C] */            \
  X(BatchNormBackwardReduce) /* out [2,C] = column sums of g and g*(x - mean[c]) */              \
  X(BatchNormBackward) /* out = g * k[0][c] + x * k[1][c] + k[2][c]; k = in[2] [3,C] */          \
  X(Dropout)       /* out = keep ? in[0] * scalar[1] : 0, keep = Philox(key, i) < scalar[0] */   \
  /* fused optimizer updates (kernels/cpu/optim*.cpp, kernels/cuda/optim.cu) */                  \
  X(OptimUpdate)   /* adam/momentum/lamb step over a tensor list: ints[0] = &OptimUpdateArgs */  \
  /* fused layer epilogues (kernels/cpu/bias_act.cpp, kernels/cuda/bias_act.cu) */              \
  X(BiasAct)       /* out[r,c] = act(in[0][r,c] + in[1][c]) over dense [R,C] (no in[1]: no bias);\
                      ints[0] = kernels::Activation; out may be in[0] (in place) */               \
  X(ReluBackward)  /* out = in[1] > 0 ? in[0] : 0, dense, one shape (in[1] = relu's output) */   \
  /* end of list */
// clang-format on

enum class Op : std::uint16_t {
#define ELEGY_X(name) name,
  ELEGY_KERNEL_OPS(ELEGY_X)
#undef ELEGY_X
      Count
};
inline constexpr int kNumOps = int(Op::Count);

// The activations a BiasAct epilogue applies (KernelArgs::ints[0]).
enum class Activation : std::int64_t { none = 0, relu = 1 };

constexpr std::string_view op_name(Op op) {
  switch (op) {
#define ELEGY_X(name) \
  case Op::name:      \
    return #name;
    ELEGY_KERNEL_OPS(ELEGY_X)
#undef ELEGY_X
    case Op::Count:
      break;
  }
  return "?";
}

}  // namespace elegy::kernels
