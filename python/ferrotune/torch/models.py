"""Reference models with dropout, and a dropout setter for any model."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from .. import _validate as v

__all__ = ["MLP", "SmallCNN", "set_dropout"]


def _rate(p: object, name: str = "dropout") -> float:
    rate = v.real(name, p)
    if not 0.0 <= rate < 1.0:
        v.bad_value(name, p, "a dropout probability in [0, 1)")
    return rate


def _size(name: str, value: object) -> int:
    return v.integer(name, value, minimum=1)


class MLP(nn.Module):
    """A multilayer perceptron: (Linear, ReLU, Dropout) per hidden layer, then a Linear.

    Inputs with more than two dimensions (images) are flattened.

    Parameters
    ----------
    in_features : int
    hidden : int or sequence of int
        The width of each hidden layer (an int means one hidden layer).
    out_features : int
        Number of classes (logits) or of regression outputs.
    dropout : float
        Dropout probability after each hidden layer, in [0, 1).

    Examples
    --------
    >>> import torch, ferrotune as ft
    >>> model = ft.torch.MLP(64, [128, 64], 10, dropout=0.2)
    >>> model(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        in_features: int,
        hidden: int | Sequence[int],
        out_features: int,
        *,
        dropout: float = 0.0,
    ):
        super().__init__()
        width = _size("in_features", in_features)
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            widths = [_size("hidden", hidden)]
        elif isinstance(hidden, Sequence) and not isinstance(hidden, str):
            widths = [_size("hidden", h) for h in hidden]
        else:
            v.bad_type("hidden", hidden, "a layer width or a sequence of widths")
        rate = _rate(dropout)
        layers: list[nn.Module] = []
        for w in widths:
            layers += [nn.Linear(width, w), nn.ReLU(), nn.Dropout(rate)]
            width = w
        layers.append(nn.Linear(width, _size("out_features", out_features)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 2:
            x = x.flatten(1)
        out: torch.Tensor = self.net(x)
        return out


class SmallCNN(nn.Module):
    """A small convolutional classifier for images of any size of at least 4 x 4.

    Two blocks of (3x3 convolution, batch norm, ReLU, 2x2 max pool) with 32 and 64 channels,
    global average pooling, dropout, and a linear layer to the class logits.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    dropout : float
        Dropout probability before the classifier (and, as channel dropout, between the two
        blocks), in [0, 1).

    Examples
    --------
    >>> import torch, ferrotune as ft
    >>> model = ft.torch.SmallCNN(3, 2, dropout=0.25)
    >>> model(torch.zeros(4, 3, 32, 32)).shape
    torch.Size([4, 2])
    """

    def __init__(self, in_channels: int, n_classes: int, *, dropout: float = 0.0):
        super().__init__()
        c = _size("in_channels", in_channels)
        k = _size("n_classes", n_classes)
        rate = _rate(dropout)
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout2d(rate),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(rate), nn.Linear(64, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            v.bad_value("x", tuple(x.shape), "a batch of images shaped (N, C, H, W)")
        out: torch.Tensor = self.head(self.features(x))
        return out


def set_dropout(model: nn.Module, p: float) -> int:
    """Sets the probability of every dropout layer of ``model`` to ``p``.

    Covers ``nn.Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``, ``FeatureAlphaDropout`` and the
    attention dropout of ``nn.MultiheadAttention`` (and so of transformer layers).

    Returns
    -------
    int
        How many layers were changed.

    Raises
    ------
    InvalidArgumentError
        When ``p > 0`` and the model has no dropout layer (the setting would do nothing).

    Examples
    --------
    >>> import ferrotune as ft
    >>> ft.torch.set_dropout(ft.torch.MLP(4, [8, 8], 2), 0.3)
    2
    """
    if not isinstance(model, nn.Module):
        v.bad_type("model", model, "a torch.nn.Module")
    rate = _rate(p, "p")
    changed = 0
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = rate
            changed += 1
        elif isinstance(module, nn.MultiheadAttention):
            module.dropout = rate
            changed += 1
    if changed == 0 and rate > 0:
        v.bad_value(
            "model",
            type(model).__name__,
            "a model with dropout layers for set_dropout (it has none; add nn.Dropout "
            "where it should apply)",
        )
    return changed
