"""Tune an MLP with dropout on scikit-learn's bundled digits (8x8 images of 0-9, no download).

What it does, in the order a careful practitioner would:

1. holds out a stratified test set that the search never sees (it is only recorded, per
   epoch, as a control curve);
2. searches the learning rate (log scale), dropout, weight decay and hidden width with
   quasi-random (Sobol) sampling;
3. scores each candidate by 5-fold stratified cross-validation, each fold trained with early
   stopping that restores the best epoch's weights, with mild size augmentation (a small random
   rescale and shift of the digit);
4. prunes candidates whose first folds are clearly worse than other trials' same folds;
5. keeps the study in SQLite under runs/ (run it again to resume it), prints a results table,
   what the curves say (ft.diagnose), and the test accuracy of the best configuration
   retrained on all the non-test data.

    python examples/tune_digits.py               # 30 trials, a few minutes on 2 cores
    python examples/tune_digits.py --trials 60   # a longer search (resumes the stored one)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

import ferrotune as ft


class RandomZoom:
    """Mild size augmentation for flattened 8x8 digits: ferrotune.augment's batched
    RandomResizedCrop takes a random square-ish crop of 85% to 100% of each image's area and
    resizes it back to 8x8 (antialiased bilinear), a different crop for every image."""

    def __init__(self, seed: int):
        self.crop = ft.augment.RandomResizedCrop(8, scale=(0.85, 1.0), ratio=(0.9, 1.1), seed=seed)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        n = batch.shape[0]
        return self.crop(batch.reshape(n, 1, 8, 8)).reshape(n, 64)


def build_model(params: dict) -> torch.nn.Module:
    return ft.torch.MLP(64, params["hidden"], 10, dropout=params["dropout"])


def results_table(study: ft.Study, top: int = 10) -> str:
    rows = sorted(
        (t for t in study.trials if t.value is not None),
        key=lambda t: (t.state.value != "COMPLETE", -t.value),  # type: ignore[operator]
    )[:top]
    head = (
        f"{'trial':>5}  {'state':<8}  {'cv acc':>7}  {'± std':>6}  {'lr':>8}  "
        f"{'dropout':>7}  {'wd':>8}  {'hidden':>6}  {'folds':>5}  {'time':>6}"
    )
    lines = [head, "-" * len(head)]
    for t in rows:
        p, cv = t.params, t.attrs.get("cv", {})
        lines.append(
            f"{t.number:>5}  {t.state.value:<8}  {t.value:>7.4f}  "
            f"{cv.get('std', float('nan')):>6.4f}  "
            f"{p['lr']:>8.2e}  {p['dropout']:>7.3f}  {p['weight_decay']:>8.1e}  "
            f"{p['hidden']:>6}  {len(t.attrs.get('folds', [])):>5}  {t.duration or 0:>5.1f}s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=30, help="trials in the study (default 30)")
    parser.add_argument("--epochs", type=int, default=100, help="most epochs per fold")
    parser.add_argument("--storage", default="runs/digits.sqlite", help="SQLite study file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # Small models train fastest on one thread; more threads only contend on a busy machine.
    torch.set_num_threads(1)
    t_start = time.perf_counter()

    # Data: a stratified test set held out from everything the search sees.
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    X_dev, _, X_test, y_dev, _, y_test = ft.train_val_test_split(
        X, y, val=0, test=0.2, stratify=True, seed=args.seed
    )
    print(f"digits: {len(X_dev)} samples for cross-validation, {len(X_test)} held out for test")

    # The search.
    space = {
        "lr": ft.Float(3e-4, 3e-2, log=True),
        "dropout": ft.Float(0.0, 0.5),
        "weight_decay": ft.Float(1e-6, 1e-2, log=True),
        "hidden": ft.Choice([64, 128, 256, 512]),
    }
    Path(args.storage).parent.mkdir(parents=True, exist_ok=True)
    study = ft.Study(
        ft.RandomSearch(space, seed=args.seed, sequence="sobol"),
        direction="maximize",
        storage=args.storage,
        name="digits-mlp",
        pruner=ft.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    objective = ft.torch.cv_objective(
        build_model,
        X_dev,
        y_dev,
        # Shuffled folds: the digits file is ordered by writer, and the test set is a random
        # (stratified) sample, so folds should be random samples too.
        folds=ft.StratifiedKFold(5, shuffle=True, seed=args.seed),
        epochs=args.epochs,
        batch_size=64,
        early_stopping=ft.torch.EarlyStopping("val_loss", patience=10),
        augment=RandomZoom(args.seed),
        test=(X_test, y_test),  # recorded per epoch as a control; never used to decide
        seed=args.seed,
    )
    todo = max(0, args.trials - len(study.trials))
    if todo < args.trials:
        print(f"resuming {args.storage}: {len(study.trials)} trial(s) already there")
    study.optimize(objective, n_trials=todo, progress=True)

    # Results.
    best = study.best_trial
    print()
    print(results_table(study))
    n_pruned = len(study.trials_in("PRUNED"))
    print(
        f"\nbest: trial {best.number}, mean CV accuracy {best.value:.4f} "
        f"(± {best.attrs['cv']['std']:.4f}) with {best.params}; {n_pruned} trial(s) pruned"
    )
    print()
    print(ft.diagnose(study))

    # Plots of the whole study (history, slices, parallel coordinates, learning curves with the
    # early-stopping point, fold-score box plots), beside the journal.
    plot_dir = Path(args.storage).parent / "digits-plots"
    paths = ft.plots.plot_study(study, plot_dir)
    print(f"\n{len(paths)} plot(s) written to {plot_dir}/")

    # The best configuration, retrained on all the non-test data for the mean best epoch
    # count of its folds, then scored once on the held-out test set.
    epochs = int(round(np.mean([f["history"]["best_epoch"] + 1 for f in best.attrs["folds"]])))
    model = build_model(best.params)
    history = ft.torch.fit(
        model,
        (X_dev, y_dev),
        test=(X_test, y_test),
        epochs=max(epochs, 1),
        lr=best.params["lr"],
        weight_decay=best.params["weight_decay"],
        augment=RandomZoom(args.seed),
        seed=args.seed,
    )
    print(
        f"\ntest accuracy of the best configuration (retrained for {history.epochs} epochs): "
        f"{history.test_metric[-1]:.4f}"  # type: ignore[index]
    )
    print(f"wall time {time.perf_counter() - t_start:.1f} s; study kept in {args.storage}")


if __name__ == "__main__":
    main()
