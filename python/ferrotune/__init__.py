"""ferrotune: hyperparameter tuning for PyTorch models, with a Rust core.

>>> import ferrotune as ft
>>> space = {"lr": ft.Float(1e-4, 1e-1, log=True), "dropout": ft.Float(0.0, 0.5)}
>>> study = ft.Study(ft.RandomSearch(space, seed=0))
>>> study.optimize(lambda t: t.params["dropout"], n_trials=20)
>>> study.best_value < 0.1
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import augment, errors  # augment: batched image augmentation, imports without torch
from ._core import __version__

# gradient search (conjugate gradients): minimize() and the GradientSearch searcher
from .gradient import Evaluation, GradientSearch, OptimizeResult, minimize
from .grid import Grid

# parallel and distributed trials (issue 6)
from .parallel import MaxTrialsCallback
from .search import GridSearch, RandomSearch, Searcher
from .space import Choice, Distribution, Float, Int, Normal, Space
from .study import NoCompletedTrialError, SearchExhausted, Study, load_study
from .trial import Trial, TrialPruned, TrialState

# isort: split
# -- PyTorch layer: folds, pruners, diagnostics; ferrotune.torch loads on first use ----------
from .diagnose import Diagnosis, Finding, diagnose
from .folds import KFold, StratifiedKFold, train_val_test_split
from .pruners import MedianPruner, NopPruner, Pruner, SuccessiveHalvingPruner

if TYPE_CHECKING:
    from . import torch as torch


def __getattr__(name: str) -> object:
    # `import ferrotune` must not import torch: ft.torch is imported on first access.
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "errors",
    "augment",
    "Float",
    "Int",
    "Choice",
    "Normal",
    "Distribution",
    "Space",
    "Grid",
    "Searcher",
    "RandomSearch",
    "GridSearch",
    "Study",
    "load_study",
    "Trial",
    "TrialState",
    "TrialPruned",
    "SearchExhausted",
    "NoCompletedTrialError",
    "minimize",
    "OptimizeResult",
    "Evaluation",
    "GradientSearch",
    # parallel and distributed trials (issue 6)
    "MaxTrialsCallback",
    # PyTorch layer
    "KFold",
    "StratifiedKFold",
    "train_val_test_split",
    "Pruner",
    "NopPruner",
    "MedianPruner",
    "SuccessiveHalvingPruner",
    "diagnose",
    "Diagnosis",
    "Finding",
]

# Command line, plots and the HTML report (issue 7). matplotlib loads only when a plot is drawn.
from . import plots, report  # noqa: E402

__all__ += ["plots", "report"]
