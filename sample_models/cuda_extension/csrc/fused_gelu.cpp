// Python bindings for the fused bias+GELU CUDA kernels.
#include <torch/extension.h>

#include "fused_gelu_kernel.cuh"

#define CHECK_CUDA(x) TORCH_CHECK((x).is_cuda(), #x " must be a CUDA tensor")
#define CHECK_CONTIGUOUS(x) TORCH_CHECK((x).is_contiguous(), #x " must be contiguous")
#define CHECK_INPUT(x) \
  CHECK_CUDA(x);       \
  CHECK_CONTIGUOUS(x)

torch::Tensor bias_gelu_forward(torch::Tensor x, torch::Tensor bias) {
  CHECK_INPUT(x);
  CHECK_INPUT(bias);
  TORCH_CHECK(x.size(-1) == bias.numel(), "bias must match the last dimension of x");
  return fused_ops::bias_gelu_forward_cuda(x, bias);
}

std::vector<torch::Tensor> bias_gelu_backward(torch::Tensor grad_out, torch::Tensor x, torch::Tensor bias) {
  CHECK_INPUT(grad_out);
  CHECK_INPUT(x);
  CHECK_INPUT(bias);
  return fused_ops::bias_gelu_backward_cuda(grad_out, x, bias);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("bias_gelu_forward", &bias_gelu_forward, "fused bias + GELU forward (CUDA)");
  m.def("bias_gelu_backward", &bias_gelu_backward, "fused bias + GELU backward (CUDA)");
}
