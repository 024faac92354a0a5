from torch.utils.data import DataLoader

loader = DataLoader(list(range(8)), batch_size=4, pin_memory=True)
for batch in loader:  # line 4: the loader pins each batch for the current accelerator
    print(batch.to("neuron").sum())
