"""ferrotune: hyperparameter tuning for PyTorch models, with a Rust core.

>>> import ferrotune as ft
>>> space = {"lr": ft.Float(1e-4, 1e-1, log=True), "dropout": ft.Float(0.0, 0.5)}
>>> study = ft.Study(ft.RandomSearch(space, seed=0))
>>> study.optimize(lambda t: t.params["dropout"], n_trials=20)
>>> study.best_value < 0.1
True
"""

from __future__ import annotations

from . import augment, errors  # augment: batched image augmentation, imports without torch
from ._core import __version__
from .grid import Grid
from .search import GridSearch, RandomSearch, Searcher
from .space import Choice, Distribution, Float, Int, Normal, Space
from .study import NoCompletedTrialError, SearchExhausted, Study, load_study
from .trial import Trial, TrialPruned, TrialState

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
]
