"""porttool: find and port CUDA-specific PyTorch code to Trainium (Neuron) and portable PyTorch."""

__version__ = "0.1.0"
