// Fused bias + GELU (tanh approximation), forward and backward.
#pragma once

#include <torch/extension.h>

namespace fused_ops {

// y = gelu(x + bias), bias broadcast over the last dimension of x
torch::Tensor bias_gelu_forward_cuda(const torch::Tensor& x, const torch::Tensor& bias);

// returns {grad_x, grad_bias}
std::vector<torch::Tensor> bias_gelu_backward_cuda(const torch::Tensor& grad_out,
                                                   const torch::Tensor& x,
                                                   const torch::Tensor& bias);

}  // namespace fused_ops
