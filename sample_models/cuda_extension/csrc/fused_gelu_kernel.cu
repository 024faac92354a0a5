#include "fused_gelu_kernel.cuh"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda.h>
#include <cuda_runtime.h>

namespace fused_ops {
namespace {

constexpr int kThreads = 256;
constexpr float kAlpha = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kBeta = 0.044715f;

template <typename scalar_t>
__global__ void bias_gelu_fwd_kernel(const scalar_t* __restrict__ x,
                                     const scalar_t* __restrict__ bias,
                                     scalar_t* __restrict__ y,
                                     int64_t n, int64_t hidden) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)blockDim.x * gridDim.x) {
    const float v = static_cast<float>(x[i]) + static_cast<float>(bias[i % hidden]);
    const float inner = kAlpha * (v + kBeta * v * v * v);
    y[i] = static_cast<scalar_t>(0.5f * v * (1.0f + tanhf(inner)));
  }
}

template <typename scalar_t>
__global__ void bias_gelu_bwd_kernel(const scalar_t* __restrict__ grad_out,
                                     const scalar_t* __restrict__ x,
                                     const scalar_t* __restrict__ bias,
                                     scalar_t* __restrict__ grad_x,
                                     int64_t n, int64_t hidden) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)blockDim.x * gridDim.x) {
    const float v = static_cast<float>(x[i]) + static_cast<float>(bias[i % hidden]);
    const float inner = kAlpha * (v + kBeta * v * v * v);
    const float t = tanhf(inner);
    const float dinner = kAlpha * (1.0f + 3.0f * kBeta * v * v);
    const float dgelu = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dinner;
    grad_x[i] = static_cast<scalar_t>(static_cast<float>(grad_out[i]) * dgelu);
  }
}

inline int num_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(std::min<int64_t>(blocks, 65535));
}

}  // namespace

torch::Tensor bias_gelu_forward_cuda(const torch::Tensor& x, const torch::Tensor& bias) {
  const at::cuda::OptionalCUDAGuard device_guard(device_of(x));
  auto y = torch::empty_like(x);
  const int64_t n = x.numel();
  const int64_t hidden = bias.numel();
  if (n == 0) return y;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(),
                                  "bias_gelu_forward_cuda", ([&] {
    bias_gelu_fwd_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        x.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), n, hidden);
  }));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return y;
}

std::vector<torch::Tensor> bias_gelu_backward_cuda(const torch::Tensor& grad_out,
                                                   const torch::Tensor& x,
                                                   const torch::Tensor& bias) {
  const at::cuda::OptionalCUDAGuard device_guard(device_of(x));
  auto grad_x = torch::empty_like(x);
  const int64_t n = x.numel();
  const int64_t hidden = bias.numel();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(),
                                  "bias_gelu_backward_cuda", ([&] {
    bias_gelu_bwd_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        grad_out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
        grad_x.data_ptr<scalar_t>(), n, hidden);
  }));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  // the bias gradient is a reduction over every dimension but the last
  auto grad_bias = grad_x.reshape({-1, hidden}).sum(0);
  return {grad_x, grad_bias};
}

}  // namespace fused_ops
