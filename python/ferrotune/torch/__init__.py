"""The PyTorch layer: training with early stopping, reference models with dropout, K-fold
cross-validation and cross-validated objectives for a :class:`ferrotune.Study`.

This is the only part of ferrotune that imports torch; ``ferrotune.torch`` loads it on first
use.

>>> import torch, ferrotune as ft
>>> X, y = torch.randn(80, 4), torch.arange(80) % 2
>>> model = ft.torch.MLP(4, 16, 2, dropout=0.1)
>>> history = ft.torch.fit(model, (X, y), val=(X, y), epochs=5, seed=0,
...                        early_stopping=ft.torch.EarlyStopping(patience=2))
>>> history.metric
'accuracy'
"""

from __future__ import annotations

from .._validate import optional_import

optional_import("torch", "torch")  # a clear install hint instead of a bare ImportError

from .cv import CVObjective, CVResult, cross_validate, cv_objective  # noqa: E402
from .early_stopping import EarlyStopping  # noqa: E402
from .fit import History, fit  # noqa: E402
from .models import MLP, SmallCNN, set_dropout  # noqa: E402

__all__ = [
    "EarlyStopping",
    "History",
    "fit",
    "MLP",
    "SmallCNN",
    "set_dropout",
    "cross_validate",
    "cv_objective",
    "CVResult",
    "CVObjective",
]
