"""Make data/chars/{train,val}.bin and vocab_size from a small generated text (no download)."""
import os
import random

import numpy as np

random.seed(7)
words = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex jugs".split()
text = " ".join(random.choice(words) for _ in range(3000))
chars = sorted(set(text))
ids = np.array([chars.index(c) for c in text], dtype=np.uint16)
os.makedirs("data/chars", exist_ok=True)
split = int(len(ids) * 0.9)
ids[:split].tofile("data/chars/train.bin")
ids[split:].tofile("data/chars/val.bin")
with open("data/chars/vocab_size", "w") as fh:
    fh.write(str(len(chars)))
print(f"{len(ids)} tokens, vocab {len(chars)}")
