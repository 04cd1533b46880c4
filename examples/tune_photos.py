"""Tune a small CNN with dropout on colour patches of scikit-learn's two bundled photographs.

Class 0 is patches of "china.jpg", class 1 patches of "flower.jpg" (no download; the images
ship with scikit-learn). Flips and colour jitter are meaningful augmentations here: a patch
mirrored or a little brighter still comes from the same photograph.

The test patches come from a strip of each photograph that no training patch overlaps (the
right 30%), so the test score is honest; ft.diagnose flags it when the validation folds (cut
from overlapping patches) disagree with that test strip.

    python examples/tune_photos.py --trials 8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_sample_images

import ferrotune as ft


def patches(image: np.ndarray, n: int, size: int, x_range: tuple[float, float], rng) -> np.ndarray:
    """`n` random `size` x `size` patches whose left edge lies in the given fraction of the
    width, as float32 (N, 3, size, size) in [0, 1]."""
    h, w, _ = image.shape
    lo, hi = int(x_range[0] * w), int(x_range[1] * w) - size
    ys = rng.integers(0, h - size, n)
    xs = rng.integers(lo, hi, n)
    out = np.stack([image[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=False)])
    return (out.transpose(0, 3, 1, 2) / 255.0).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--patches", type=int, default=300, help="training patches per class")
    parser.add_argument("--size", type=int, default=24, help="patch side in pixels")
    parser.add_argument("--storage", default="runs/photos.sqlite")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # Small models train fastest on one thread; more threads only contend on a busy machine.
    torch.set_num_threads(1)
    t_start = time.perf_counter()

    rng = np.random.default_rng(args.seed)
    images = load_sample_images().images  # china.jpg, flower.jpg
    X_dev = np.concatenate(
        [patches(im, args.patches, args.size, (0.0, 0.7), rng) for im in images]
    )
    y_dev = np.repeat(np.arange(2), args.patches)
    n_test = max(args.patches // 3, 10)
    X_test = np.concatenate([patches(im, n_test, args.size, (0.7, 1.0), rng) for im in images])
    y_test = np.repeat(np.arange(2), n_test)
    print(f"photos: {len(X_dev)} patches for cross-validation, {len(X_test)} test patches")

    Path(args.storage).parent.mkdir(parents=True, exist_ok=True)
    study = ft.Study(
        ft.RandomSearch(
            {
                "lr": ft.Float(3e-4, 1e-2, log=True),
                "dropout": ft.Float(0.0, 0.5),
                "weight_decay": ft.Float(1e-6, 1e-2, log=True),
            },
            seed=args.seed,
            sequence="sobol",
        ),
        direction="maximize",
        storage=args.storage,
        name="photos-cnn",
        pruner=ft.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    objective = ft.torch.cv_objective(
        lambda p: ft.torch.SmallCNN(3, 2, dropout=p["dropout"]),
        X_dev,
        y_dev,
        folds=ft.StratifiedKFold(3, shuffle=True, seed=args.seed),
        epochs=args.epochs,
        batch_size=32,
        early_stopping=ft.torch.EarlyStopping("val_loss", patience=4),
        # Per-image random flips and colour jitter (its own factors and order for each
        # image), batched in Rust: torchvision's ColorJitter semantics.
        augment=ft.augment.Compose(
            [ft.augment.RandomHorizontalFlip(0.5), ft.augment.ColorJitter(0.2, 0.2, 0.2)],
            seed=args.seed,
        ),
        test=(X_test, y_test),
        seed=args.seed,
    )
    study.optimize(objective, n_trials=max(0, args.trials - len(study.trials)), progress=True)

    best = study.best_trial
    print(f"\nbest: trial {best.number}, mean CV accuracy {best.value:.4f} with {best.params}")
    folds = best.attrs["folds"]
    test_acc = [f["history"]["test_metric"][f["history"]["best_epoch"]] for f in folds]
    print(f"its fold models on the held-out strip: test accuracy {np.mean(test_acc):.4f}")
    print()
    print(ft.diagnose(study))
    # Plots of the whole study (history, slices, parallel coordinates, learning curves with the
    # early-stopping point, fold-score box plots), beside the journal.
    plot_dir = Path(args.storage).parent / "photos-plots"
    paths = ft.plots.plot_study(study, plot_dir)
    print(f"\n{len(paths)} plot(s) written to {plot_dir}/")
    print(f"\nwall time {time.perf_counter() - t_start:.1f} s; study kept in {args.storage}")


if __name__ == "__main__":
    main()
