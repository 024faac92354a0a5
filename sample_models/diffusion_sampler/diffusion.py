"""
DDPM forward process, training loss and ancestral sampler (epsilon prediction).

The noise schedule is computed in float64 on the host, as in the reference
implementations, because 1 - cumprod(alphas) loses precision in float32 near t=0.
"""

import math

import numpy as np
import torch as th
import torch.nn.functional as F


def get_named_beta_schedule(schedule_name, num_diffusion_timesteps):
    if schedule_name == "linear":
        # Ho et al. linear schedule, scaled so any number of steps works
        scale = 1000 / num_diffusion_timesteps
        return th.linspace(scale * 0.0001, scale * 0.02, num_diffusion_timesteps, dtype=th.float64)
    if schedule_name == "cosine":
        return betas_for_alpha_bar(
            num_diffusion_timesteps,
            lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2,
        )
    raise NotImplementedError(f"unknown beta schedule: {schedule_name}")


def betas_for_alpha_bar(num_diffusion_timesteps, alpha_bar, max_beta=0.999):
    betas = []
    for i in range(num_diffusion_timesteps):
        t1 = i / num_diffusion_timesteps
        t2 = (i + 1) / num_diffusion_timesteps
        betas.append(min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta))
    return th.tensor(betas, dtype=th.float64)


def _extract_into_tensor(arr, timesteps, broadcast_shape):
    """Index a 1-D numpy array by a batch of timesteps and broadcast to broadcast_shape."""
    res = th.from_numpy(arr).to(device=timesteps.device)[timesteps].float()
    while len(res.shape) < len(broadcast_shape):
        res = res[..., None]
    return res.expand(broadcast_shape)


class GaussianDiffusion:
    def __init__(self, betas, device, use_fp16=False):
        betas = betas.double()
        assert (betas > 0).all() and (betas <= 1).all()
        self.num_timesteps = int(betas.shape[0])
        self.use_fp16 = use_fp16

        alphas = 1.0 - betas
        alphas_cumprod = th.cumprod(alphas, dim=0)
        alphas_cumprod_prev = th.cat([th.ones(1, dtype=th.float64), alphas_cumprod[:-1]])

        # float64 on the host, float32 on the device
        self.sqrt_alphas_cumprod = th.sqrt(alphas_cumprod).to(device=device, dtype=th.float32)
        self.sqrt_one_minus_alphas_cumprod = th.sqrt(1.0 - alphas_cumprod).to(device=device, dtype=th.float32)
        self.sqrt_recip_alphas_cumprod = th.sqrt(1.0 / alphas_cumprod).float().to(device)
        self.sqrt_recipm1_alphas_cumprod = th.sqrt(1.0 / alphas_cumprod - 1).float().to(device)

        # posterior q(x_{t-1} | x_t, x_0), kept as numpy float64 like guided-diffusion
        posterior_variance = (betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)).numpy()
        self.posterior_log_variance_clipped = np.log(np.append(posterior_variance[1], posterior_variance[1:]))
        self.posterior_mean_coef1 = (betas * th.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod)).numpy()
        self.posterior_mean_coef2 = ((1.0 - alphas_cumprod_prev) * th.sqrt(alphas) / (1.0 - alphas_cumprod)).numpy()

    def q_sample(self, x_start, t, noise):
        shape = x_start.shape
        return (self.sqrt_alphas_cumprod[t].view(-1, 1, 1, 1).expand(shape) * x_start
                + self.sqrt_one_minus_alphas_cumprod[t].view(-1, 1, 1, 1).expand(shape) * noise)

    def training_losses(self, model, x_start, t):
        noise = th.randn_like(x_start)
        x_t = self.q_sample(x_start, t, noise)
        with th.autocast(device_type="cuda", dtype=th.float16, enabled=self.use_fp16):
            eps = model(x_t, t)
        return F.mse_loss(eps.float(), noise)

    def p_mean_variance(self, model, x, t, clip_denoised=True):
        with th.autocast(device_type="cuda", dtype=th.float16, enabled=self.use_fp16):
            eps = model(x, t)
        eps = eps.float()
        pred_xstart = (self.sqrt_recip_alphas_cumprod[t].view(-1, 1, 1, 1) * x
                       - self.sqrt_recipm1_alphas_cumprod[t].view(-1, 1, 1, 1) * eps)
        if clip_denoised:
            pred_xstart = pred_xstart.clamp(-1, 1)
        mean = (_extract_into_tensor(self.posterior_mean_coef1, t, x.shape) * pred_xstart
                + _extract_into_tensor(self.posterior_mean_coef2, t, x.shape) * x)
        log_variance = _extract_into_tensor(self.posterior_log_variance_clipped, t, x.shape)
        return mean, log_variance

    @th.no_grad()
    def p_sample_loop(self, model, shape, noise=None, clip_denoised=True):
        """Ancestral sampling from x_T ~ N(0, I) down to x_0."""
        device = next(model.parameters()).device
        if noise is not None:
            img = noise
        else:
            img = th.cuda.FloatTensor(*shape).normal_()
        for i in reversed(range(self.num_timesteps)):
            t = th.tensor([i] * shape[0], device=device)
            mean, log_variance = self.p_mean_variance(model, img, t, clip_denoised=clip_denoised)
            noise = th.randn_like(img)
            nonzero_mask = (t != 0).float().view(-1, *([1] * (len(img.shape) - 1)))  # no noise at t == 0
            img = mean + nonzero_mask * th.exp(0.5 * log_variance) * noise
        return img
