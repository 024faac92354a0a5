import torch

model = torch.nn.Linear(2, 2)
try:
    model.cuda()
except RuntimeError as exc:
    print("caught", exc)
try:
    torch.zeros(2, device="cuda")
except (RuntimeError, AssertionError) as exc:
    print("caught", exc)
try:
    torch.load("missing.pt", map_location="cuda")
except (RuntimeError, FileNotFoundError) as exc:
    print("caught", exc)
loader = torch.utils.data.DataLoader(list(range(4)), pin_memory=True)
print(list(loader)[:1])
