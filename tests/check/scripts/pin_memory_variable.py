import sys

from torch.utils.data import DataLoader

pin = "--no-pin" not in sys.argv
loader = DataLoader(
    list(range(8)),
    batch_size=4,
    num_workers=2,  # a pin-memory thread pins the batches
    pin_memory=pin,  # not a literal: PT401 does not rewrite it
)
for batch in loader:
    print(batch.to("neuron").sum())
