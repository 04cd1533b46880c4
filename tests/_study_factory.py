"""Stored studies for the plot, report and command-line tests.

`cv_study` writes what ferrotune.torch's cross-validation objective stores with each trial
(attrs["folds"] with per-epoch histories, attrs["cv"], one report per fold), from synthetic
but plausible curves: training loss falls, validation loss turns up after a minimum that
depends on the dropout, and the test loss's minimum sits a few epochs away.
"""

from __future__ import annotations

import math

import ferrotune as ft

SPACE = {
    "lr": ft.Float(1e-4, 1e-1, log=True),
    "dropout": ft.Float(0.0, 0.5),
    "hidden": ft.Int(16, 256, log=True),
    "optimizer": ft.Choice(["adam", "sgd"]),
}


def _history(params: dict, fold: int, epochs: int, with_test: bool) -> dict:
    lr, dropout = params["lr"], params["dropout"]
    speed = 0.15 + 2.0 * math.log10(lr * 1e4) / 3.0 * 0.1
    turn = 4 + int(10 * dropout) + fold  # the validation minimum
    train_loss, val_loss, test_loss = [], [], []
    for e in range(epochs):
        base = 1.2 * math.exp(-speed * (e + 1)) + 0.05
        train_loss.append(base)
        val_loss.append(base + 0.08 + 0.012 * max(0, e - turn) ** 1.4 * (1 - dropout))
        test_loss.append(base + 0.1 + 0.012 * max(0, e - turn - 3) ** 1.4 * (1 - dropout))
    best = min(range(epochs), key=val_loss.__getitem__)
    stopped = min(best + 3, epochs - 1)
    n = stopped + 1  # early stopping: the curves end where training stopped
    h = {
        "train_loss": train_loss[:n],
        "val_loss": val_loss[:n],
        "test_loss": test_loss[:n] if with_test else None,
        "train_metric": [1 - x / 2 for x in train_loss[:n]],
        "val_metric": [1 - x / 2 for x in val_loss[:n]],
        "test_metric": [1 - x / 2 for x in test_loss[:n]] if with_test else None,
        "metric": "accuracy",
        "best_epoch": best,
        "stopped_epoch": stopped,
    }
    return h


def cv_study(
    path,
    *,
    n_trials: int = 12,
    folds: int = 3,
    name: str | None = None,
    with_test: bool = True,
    failures: bool = True,
) -> ft.Study:
    """A maximized cross-validated study in the journal at `path` (closed on return)."""
    study = ft.Study(ft.RandomSearch(SPACE, seed=3), direction="maximize", storage=path, name=name)

    def objective(trial: ft.Trial) -> float:
        if failures and trial.number == 4:
            raise RuntimeError("out of memory (synthetic)")
        records = []
        for k in range(folds):
            h = _history(trial.params, k, epochs=25, with_test=with_test)
            score = h["val_metric"][h["best_epoch"]]
            records.append({"score": score, "history": h})
            trial.report(k, score)
            if failures and trial.number == 6 and k == 1:
                trial.set_attr("folds", records)
                raise ft.TrialPruned()
        scores = [r["score"] for r in records]
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        trial.set_attr("folds", records)
        trial.set_attr("cv", {"mean": mean, "std": std, "metric": "accuracy"})
        return mean

    study.optimize(objective, n_trials=n_trials, catch=RuntimeError)
    study.close()
    return study


def plain_study(path, *, n_trials: int = 15, name: str | None = None) -> ft.Study:
    """A minimized study with no curves (what a plain objective stores)."""
    study = ft.Study(
        ft.RandomSearch({"x": ft.Float(-2, 2), "k": ft.Choice([1, 2, 3])}, seed=0),
        storage=path,
        name=name,
    )
    study.optimize(lambda t: (t.params["x"] - 0.5) ** 2 + t.params["k"], n_trials=n_trials)
    study.close()
    return study
