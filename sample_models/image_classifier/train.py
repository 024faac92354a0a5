"""
Train a small CNN on synthetic 16x16 images (4 texture classes).

    python train.py                       # 3 short epochs on the first GPU
    python train.py --gpus 1 --amp        # use GPU 1 only, mixed precision
    python train.py --deterministic       # bitwise-reproducible cuDNN kernels
"""

import argparse
import os
import random
import time

import torch
import torch.nn as nn
from torch.cuda.amp import GradScaler, autocast
from torch.utils.data import DataLoader

from data import CLASSES, SyntheticShapes, materialize
from model import SmallCNN


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--steps", type=int, default=12, help="max training iterations per epoch (0 = full epoch)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--train-size", type=int, default=512)
    p.add_argument("--val-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--gpus", type=str, default=None, help="comma-separated GPU ids to expose, e.g. '0,1'")
    p.add_argument("--gpu", type=int, default=None, help="GPU id to use (default: the current one)")
    p.add_argument("--amp", action="store_true", help="mixed precision with GradScaler")
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--no-cudnn", action="store_true", help="disable cuDNN (debugging)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dist-backend", default="nccl", help="process-group backend when launched by torchrun")
    return p.parse_args()


@torch.no_grad()
def evaluate(model, images, labels, criterion, device, batch_size):
    """Accuracy, mean loss, per-class accuracy and the number of misclassified images."""
    model.eval()
    n = len(CLASSES)
    correct, total_loss = 0, 0.0
    confusion = torch.zeros(n, n, dtype=torch.long, device="cuda")
    mistakes, mistake_conf = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].cuda(non_blocking=True)
        y = labels[start:start + batch_size].to(device, non_blocking=True)
        out = model(x)
        total_loss += criterion(out, y).item() * x.size(0)
        pred = out.argmax(dim=1)
        correct += (pred == y).sum().item()
        confusion += torch.bincount(y * n + pred, minlength=n * n).view(n, n)
        # keep the misclassified images around for error analysis
        wrong = torch.where(pred != y)[0]
        if len(wrong):
            mistakes.append(x[pred != y].cpu())
            # how confident was the model when it was wrong?
            mistake_conf.append(torch.masked_select(out.softmax(dim=1).amax(dim=1), pred != y))
    per_class = {}
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().squeeze(1)
        row = confusion[c]
        per_class[CLASSES[c]] = (row[c] / max(len(idx), 1)).item()
    num_mistakes = sum(m.size(0) for m in mistakes)
    avg_conf = torch.cat(mistake_conf).mean().item() if mistake_conf else 0.0
    return correct / len(images), total_loss / len(images), per_class, num_mistakes, avg_conf


def main():
    args = parse_args()
    if args.gpus is not None:
        # must happen before the first CUDA call
        os.environ["CUDA_VISIBLE_DEVICES"] = args.gpus

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)
    if args.deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True  # input sizes are fixed: let cuDNN autotune
    torch.backends.cudnn.enabled = not args.no_cudnn

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        torch.distributed.init_process_group(backend=args.dist_backend)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"=> using {device}, {torch.cuda.device_count()} GPU(s) visible")

    model = SmallCNN(num_classes=len(CLASSES))
    if args.gpu is not None:
        torch.cuda.set_device(args.gpu)
        model.cuda(args.gpu)
    else:
        model.cuda()
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    criterion = nn.CrossEntropyLoss().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    scaler = GradScaler(enabled=args.amp)

    train_set = SyntheticShapes(args.train_size, seed=args.seed)
    train_loader = DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    # the validation set is small: build it once and keep it in page-locked memory
    val_images, val_labels = materialize(SyntheticShapes(args.val_size, seed=args.seed + 1))
    val_images = val_images.pin_memory()

    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        running_loss, seen = 0.0, 0
        for i, (images, target) in enumerate(train_loader):
            if args.steps and i >= args.steps:
                break
            images = images.cuda(non_blocking=True)
            target = target.cuda(non_blocking=True)

            with autocast(enabled=args.amp):
                output = model(images)
                loss = criterion(output, target)

            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

            if not torch.isfinite(loss):
                raise RuntimeError(f"loss is {loss.item()} at epoch {epoch} iter {i}")
            running_loss += loss.item() * images.size(0)
            seen += images.size(0)
        scheduler.step()

        acc, val_loss, per_class, num_wrong, wrong_conf = evaluate(
            model, val_images, val_labels, criterion, device, args.batch_size)
        torch.cuda.empty_cache()  # give the eval activations back before the next epoch
        per_class_str = " ".join(f"{k}={v:.2f}" for k, v in per_class.items())
        print(f"epoch {epoch}: train loss {running_loss / max(seen, 1):.4f} | val loss {val_loss:.4f} "
              f"acc {acc:.4f} ({num_wrong} wrong, conf {wrong_conf:.2f}) | {per_class_str} | {time.time() - t0:.1f}s")

    print(f"final accuracy {acc:.4f} loss {val_loss:.4f}")


if __name__ == "__main__":
    main()
