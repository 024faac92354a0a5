"""Device-agnostic code: runs on CPU and on any accelerator through torch.accelerator."""
import torch

acc = torch.accelerator.current_accelerator()
device = acc if acc is not None else torch.device("cpu")
model = torch.nn.Linear(8, 2).to(device)
opt = torch.optim.AdamW(model.parameters())
for _ in range(3):
    loss = model(torch.randn(4, 8, device=device)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"ran on {device.type}")
