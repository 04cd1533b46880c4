"""Training benchmarks: ferrotune's fit loop against a plain hand-written PyTorch loop, and the
digits search against Optuna with a hand-written K-fold loop, in one run.

    ferrotune bench training [--quick]
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

from _harness import Row, optional

SUITE = "training"


def _digits() -> tuple[Any, Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits

    import ferrotune as ft

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    X_dev, _, X_test, y_dev, _, y_test = ft.train_val_test_split(
        X, y, val=0, test=0.2, stratify=True, seed=0
    )
    return X_dev, y_dev, X_test, y_test


# -- 1. the fit loop ------------------------------------------------------------------------


def _plain_loop(model: Any, X: Any, y: Any, Xv: Any, yv: Any, epochs: int, bs: int) -> None:
    """What a careful user writes by hand: shuffled mini-batches, Adam, the epoch's training
    loss and accuracy, and a validation pass per epoch."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        total, correct, n = torch.zeros(()), torch.zeros(()), 0
        for idx in torch.randperm(len(X)).split(bs):
            xb, yb = X[idx], y[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(yb)
            correct += (out.detach().argmax(1) == yb).sum()
            n += len(yb)
        _ = (total.item() / n, correct.item() / n)
        model.eval()
        with torch.no_grad():
            out = model(Xv)
            _ = (loss_fn(out, yv).item(), (out.argmax(1) == yv).float().mean().item())


def _cpu_time(fn: Any) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _bench_fit(quick: bool) -> list[Row]:
    import torch

    import ferrotune as ft

    X_dev, y_dev, _, _ = _digits()
    X, y = torch.as_tensor(X_dev[:1150]), torch.as_tensor(y_dev[:1150])
    Xv, yv = torch.as_tensor(X_dev[1150:]), torch.as_tensor(y_dev[1150:])
    epochs = 5 if quick else 20
    rows = []
    for hidden in (64, 512):
        torch.manual_seed(0)
        base = ft.torch.MLP(64, hidden, 10)

        def ours(base: Any = base) -> None:
            ft.torch.fit(copy.deepcopy(base), (X, y), val=(Xv, yv), epochs=epochs)

        def plain(base: Any = base) -> None:
            _plain_loop(copy.deepcopy(base), X, y, Xv, yv, epochs, 64)

        # Interleave the two to share the machine's noise fairly, after one warm-up each, and
        # count CPU time (one torch thread): on a shared machine it is far steadier than wall
        # time, and the work per call is what the overhead is about.
        ours()
        plain()
        repeats = 5 if quick else 11
        t_ours, t_plain = [], []
        for _ in range(repeats):
            t_ours.append(_cpu_time(ours))
            t_plain.append(_cpu_time(plain))
        t_ours.sort()
        t_plain.sort()
        a, b = t_ours[len(t_ours) // 2], t_plain[len(t_plain) // 2]
        rows.append(
            Row(
                SUITE,
                f"fit, MLP 64-{hidden}-10 on digits, {epochs} epochs, batch 64",
                a,
                "plain PyTorch loop",
                b,
                target=">= 0.97x (<= 3% overhead)",
                note=f"CPU time, median of {repeats}; overhead {100 * (a / b - 1):+.1f}%",
            )
        )
    return rows


# -- 2. the digits search --------------------------------------------------------------------


_AUGMENT: list[Any] = []


def _augment(batch: Any) -> Any:
    """The digits example's mild zoom augmentation (ferrotune.augment, built once)."""
    if not _AUGMENT:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
        from tune_digits import RandomZoom

        _AUGMENT.append(RandomZoom(seed=0))
    return _AUGMENT[0](batch)


def _ferrotune_search(n_trials: int, epochs: int) -> tuple[float, float]:
    import ferrotune as ft

    X_dev, y_dev, _, _ = _digits()
    study = ft.Study(
        ft.RandomSearch(
            {
                "lr": ft.Float(3e-4, 3e-2, log=True),
                "dropout": ft.Float(0.0, 0.5),
                "weight_decay": ft.Float(1e-6, 1e-2, log=True),
                "hidden": ft.Choice([64, 128, 256, 512]),
            },
            seed=0,
            sequence="sobol",
        ),
        direction="maximize",
        pruner=ft.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    objective = ft.torch.cv_objective(
        lambda p: ft.torch.MLP(64, p["hidden"], 10, dropout=p["dropout"]),
        X_dev,
        y_dev,
        folds=ft.StratifiedKFold(5, shuffle=True, seed=0),
        epochs=epochs,
        early_stopping=ft.torch.EarlyStopping(patience=10),
        augment=_augment,
        seed=0,
    )
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    return time.perf_counter() - t0, study.best_value


def _optuna_search(n_trials: int, epochs: int) -> tuple[float, float] | None:
    optuna = optional("optuna")
    ms = optional("sklearn.model_selection")
    if optuna is None or ms is None:
        return None
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X_dev, y_dev, _, _ = _digits()
    X, y = torch.as_tensor(X_dev), torch.as_tensor(y_dev)
    folds = list(ms.StratifiedKFold(5, shuffle=True, random_state=0).split(X_dev, y_dev))

    def train_fold(params: dict[str, Any], tr: Any, va: Any, seed: int) -> float:
        # A hand-written loop with early stopping that restores the best weights.
        torch.manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(64, params["hidden"]),
            torch.nn.ReLU(),
            torch.nn.Dropout(params["dropout"]),
            torch.nn.Linear(params["hidden"], 10),
        )
        opt = torch.optim.Adam(
            model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"]
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        Xt, yt = X[tr], y[tr]
        Xv, yv = X[va], y[va]
        best, best_state, wait, best_acc = math.inf, None, 0, 0.0
        for _ in range(epochs):
            model.train()
            for idx in torch.randperm(len(Xt)).split(64):
                out = model(_augment(Xt[idx]))
                loss = loss_fn(out, yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                out = model(Xv)
                vl = loss_fn(out, yv).item()
                acc = (out.argmax(1) == yv).float().mean().item()
            if vl < best:
                best, wait, best_acc = vl, 0, acc
                best_state = {k: t.clone() for k, t in model.state_dict().items()}
            else:
                wait += 1
                if wait >= 10:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        return best_acc

    def objective(trial: Any) -> float:
        params = {
            "lr": trial.suggest_float("lr", 3e-4, 3e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "hidden": trial.suggest_categorical("hidden", [64, 128, 256, 512]),
        }
        scores = []
        for k, (tr, va) in enumerate(folds):
            scores.append(train_fold(params, tr, va, k))
            trial.report(scores[-1], k)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return sum(scores) / len(scores)

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    return time.perf_counter() - t0, study.best_value


def _bench_search(quick: bool) -> list[Row]:
    n_trials, epochs = (4, 10) if quick else (30, 100)
    ours_time, ours_acc = _ferrotune_search(n_trials, epochs)
    theirs = _optuna_search(n_trials, epochs)
    t_time, t_acc = theirs if theirs is not None else (None, None)
    acc_note = f"best mean CV accuracy {ours_acc:.4f} vs {t_acc:.4f}" if t_acc else ""
    return [
        Row(
            SUITE,
            f"digits search, {n_trials} trials x 5-fold CV (wall time)",
            ours_time,
            "Optuna TPE + hand K-fold loop",
            t_time,
            note=acc_note,
        ),
        Row(
            SUITE,
            f"digits search, best mean CV accuracy in {n_trials} trials",
            ours_acc,
            "Optuna TPE + hand K-fold loop",
            t_acc,
            unit="acc",
            target=">= 0.97 (30 trials)",
            note="ratio = theirs / ours",
        ),
    ]


def run(quick: bool) -> list[Row]:
    torch = optional("torch")
    if torch is None:
        return [Row(SUITE, "fit loop", None, "plain PyTorch loop", None, note="torch missing")]
    torch.set_num_threads(1)  # small models: one thread is fastest and least noisy
    return _bench_fit(quick) + _bench_search(quick)
