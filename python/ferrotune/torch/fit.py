"""The training loop: epochs over the training data, a validation and a test curve, early
stopping, augmentation, and the history of it all."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _validate as v
from ..errors import InvalidArgumentError, InvalidTypeError
from .early_stopping import EarlyStopping

__all__ = ["fit", "History"]

log = logging.getLogger("ferrotune.torch.fit")

_EVAL_BATCH = 1024  # evaluation has no gradients: larger batches are cheaper per sample


@dataclasses.dataclass
class History:
    """What one ``fit`` recorded, epoch by epoch (epochs numbered from 0).

    Attributes
    ----------
    train_loss, train_metric : list of float
        Mean loss and metric over each epoch's training batches (with dropout and
        augmentation active, as the model trained).
    val_loss, val_metric, test_loss, test_metric : list of float or None
        The same on the validation and test data after each epoch, in evaluation mode; None
        without such data. The test curve is recorded as a control and never decides anything.
    metric : {"accuracy", "loss"}
        What the metric curves hold: accuracy for classification, else the loss again.
    best_epoch : int
        The epoch with the best monitored value (early stopping), or the lowest validation
        loss, or the last epoch when there is no validation data.
    stopped_epoch : int
        The last epoch that ran.
    restored : bool
        Whether the model was given back the weights of ``best_epoch``.
    stop_reason : str
    epoch_time : list of float
        Seconds per epoch (training and evaluation).
    total_time : float
    """

    train_loss: list[float] = dataclasses.field(default_factory=list)
    train_metric: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] | None = None
    val_metric: list[float] | None = None
    test_loss: list[float] | None = None
    test_metric: list[float] | None = None
    metric: str = "loss"
    best_epoch: int = 0
    stopped_epoch: int = 0
    restored: bool = False
    stop_reason: str = ""
    epoch_time: list[float] = dataclasses.field(default_factory=list)
    total_time: float = 0.0

    @property
    def epochs(self) -> int:
        """Number of epochs that ran."""
        return len(self.train_loss)

    @property
    def train_accuracy(self) -> list[float] | None:
        """The training metric curve when it is accuracy, else None."""
        return self.train_metric if self.metric == "accuracy" else None

    @property
    def val_accuracy(self) -> list[float] | None:
        return self.val_metric if self.metric == "accuracy" else None

    @property
    def test_accuracy(self) -> list[float] | None:
        return self.test_metric if self.metric == "accuracy" else None

    @property
    def final_epoch(self) -> int:
        """The epoch whose weights the model holds after ``fit``."""
        return self.best_epoch if self.restored else self.stopped_epoch

    def score(self, part: str = "val") -> float:
        """The ``part`` curve's metric (accuracy, or loss for regression) at the epoch whose
        weights the model holds."""
        parts = tuple(p for p in ("train", "val", "test") if getattr(self, f"{p}_metric"))
        if part not in parts:
            v.one_of("part", part, parts)
        curve = getattr(self, f"{part}_metric")
        return float(curve[self.final_epoch])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): the curves, ``metric``, ``best_epoch``, ``stopped_epoch``,
        and timings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: val for k, val in data.items() if k in names})

    def __repr__(self) -> str:
        parts = [f"epochs={self.epochs}", f"best_epoch={self.best_epoch}"]
        if self.val_loss:
            parts.append(f"val_loss={self.val_loss[self.best_epoch]:.4g}")
        if self.val_metric and self.metric == "accuracy":
            parts.append(f"val_accuracy={self.val_metric[self.best_epoch]:.4g}")
        return f"History({', '.join(parts)})"


# -- data ----------------------------------------------------------------------------------


def _is_torch_dataset(obj: Any) -> bool:
    return isinstance(obj, torch.utils.data.Dataset)


def _as_tensor(name: str, data: Any, device: torch.device, float_dtype: torch.dtype) -> Any:
    if isinstance(data, torch.Tensor):
        t = data
    else:
        try:
            t = torch.as_tensor(np.asarray(data))
        except (TypeError, ValueError, RuntimeError) as e:
            v.bad_type(name, data, f"an array or tensor ({e})")
    if t.dtype.is_floating_point and t.dtype != float_dtype:
        t = t.to(float_dtype)  # numpy's float64 meets a float32 model
    elif t.dtype == torch.bool:
        t = t.to(float_dtype)
    return t.to(device)


def _is_int(t: torch.Tensor) -> bool:
    return not t.dtype.is_floating_point and not t.dtype.is_complex and t.dtype != torch.int64


class _Source:
    """Batches of one part of the data: tensors held on the device, or any iterable of
    (inputs, targets) batches such as a DataLoader."""

    def __init__(
        self,
        name: str,
        data: Any,
        *,
        batch_size: int,
        shuffle: bool,
        device: torch.device,
        float_dtype: torch.dtype,
    ):
        self.name = name
        self.device = device
        self.float_dtype = float_dtype
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.X: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        self.loader: Iterable[Any] | None = None

        if isinstance(data, torch.utils.data.TensorDataset) and len(data.tensors) == 2:
            data = tuple(data.tensors)
        if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_torch_dataset(data):
            X = _as_tensor(f"{name}[0] (inputs)", data[0], device, float_dtype)
            y = _as_tensor(f"{name}[1] (targets)", data[1], device, float_dtype)
            if _is_int(y):
                y = y.long()  # class labels as int64, as the classification losses want
            if X.dim() == 0 or y.dim() == 0:
                v.bad_value(name, data, "(inputs, targets) with a sample dimension")
            if len(X) != len(y):
                v.bad_value(
                    name,
                    f"{len(X)} inputs and {len(y)} targets",
                    "(inputs, targets) of the same length",
                )
            if len(X) == 0:
                v.bad_value(name, "0 samples", "a non-empty data set")
            self.X, self.y = X, y
        elif isinstance(data, torch.utils.data.DataLoader):
            self.loader = data
        elif _is_torch_dataset(data):
            if len(data) == 0:  # type: ignore[arg-type]
                v.bad_value(name, "0 samples", "a non-empty data set")
            self.loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle)
        else:
            v.bad_type(
                name,
                data,
                "an (inputs, targets) pair of arrays or tensors, a Dataset or a DataLoader",
            )

    def _float(self, t: Any) -> Any:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != self.float_dtype:
            return t.to(self.float_dtype)
        return t

    def n_samples(self) -> int | None:
        return None if self.X is None else len(self.X)

    def batches(
        self, generator: torch.Generator | None, eval_mode: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.X is not None and self.y is not None:
            X, y = self.X, self.y
            n = len(X)
            if eval_mode:
                bs = max(self.batch_size, _EVAL_BATCH)
                for i in range(0, n, bs):
                    yield X[i : i + bs], y[i : i + bs]
                return
            if self.shuffle:
                # index_select is about twice as fast as X[idx] for small batches.
                order = torch.randperm(n, generator=generator).to(self.device)
                for idx in order.split(self.batch_size):
                    yield X.index_select(0, idx), y.index_select(0, idx)
            else:
                for i in range(0, n, self.batch_size):
                    yield X[i : i + self.batch_size], y[i : i + self.batch_size]
            return

        assert self.loader is not None
        empty = True
        for batch in self.loader:
            empty = False
            if isinstance(batch, dict):
                keys = list(batch)
                v.bad_value(
                    self.name,
                    f"batches with keys {keys}",
                    "batches of (inputs, targets)",
                )
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                v.bad_value(self.name, type(batch).__name__, "batches of (inputs, targets)")
            xb, yb = batch[0], batch[1]
            if _is_int(yb):
                yb = yb.long()
            # As for arrays: float batches (numpy's float64, say) meet the model's float type.
            xb, yb = (self._float(t) for t in (xb, yb))
            yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
        if empty:
            v.bad_value(self.name, "a loader with no batches", "a non-empty data set")


# -- loss and metric -------------------------------------------------------------------------

_LOSSES: dict[str, Callable[[], nn.Module]] = {
    "cross_entropy": nn.CrossEntropyLoss,
    "nll": nn.NLLLoss,
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "huber": nn.HuberLoss,
    "smooth_l1": nn.SmoothL1Loss,
    "bce_with_logits": nn.BCEWithLogitsLoss,
    "bce": nn.BCELoss,
}


class _Task:
    """The loss, and how to count correct predictions when the task is classification."""

    def __init__(self, loss: Any, y_sample: torch.Tensor):
        integer_targets = not y_sample.dtype.is_floating_point
        self.chosen = loss is None  # picked from the targets' type, not by the user
        if loss is None:
            loss = "cross_entropy" if integer_targets else "mse"
        if isinstance(loss, str):
            if loss not in _LOSSES:
                v.one_of("loss", loss, tuple(_LOSSES))
            self.name = loss
            self.fn: Callable[..., torch.Tensor] = _LOSSES[loss]()
        elif isinstance(loss, type) and issubclass(loss, nn.Module):
            v.bad_type(
                "loss",
                loss,
                f"a loss instance such as {loss.__name__}() (the class itself was given)",
            )
        elif callable(loss):
            self.fn = loss
            self.name = getattr(loss, "__name__", type(loss).__name__)
        else:
            v.bad_type("loss", loss, f"one of {sorted(_LOSSES)} or a callable (output, target)")

        # Classification: argmax over logits (cross-entropy, NLL, or any loss on class
        # indices), or a threshold for binary losses.
        fn = self.fn
        if isinstance(fn, (nn.CrossEntropyLoss, nn.NLLLoss)) or (
            integer_targets and not isinstance(fn, nn.modules.loss._Loss)
        ):
            self.kind = "argmax"
        elif isinstance(fn, nn.BCEWithLogitsLoss):
            self.kind = "logit"
        elif isinstance(fn, nn.BCELoss):
            self.kind = "prob"
        else:
            self.kind = "none"
        self.metric = "loss" if self.kind == "none" else "accuracy"
        self._same_shape = isinstance(
            fn,
            (
                nn.MSELoss,
                nn.L1Loss,
                nn.HuberLoss,
                nn.SmoothL1Loss,
                nn.BCEWithLogitsLoss,
                nn.BCELoss,
            ),
        )

    def target(self, out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if not self._same_shape:
            # Class labels shaped (N, 1), as Keras's sparse losses take them, against scores.
            if (
                isinstance(self.fn, (nn.CrossEntropyLoss, nn.NLLLoss))
                and not yb.is_floating_point()
                and yb.dim() == 2
                and yb.shape[1] == 1
                and out.dim() == 2
            ):
                return yb.squeeze(1)
            return yb
        # Elementwise losses want float targets: 0/1 labels kept as integers (so that
        # StratifiedKFold can stratify by them) meet BCEWithLogitsLoss as floats.
        if not yb.is_floating_point() and out.is_floating_point():
            yb = yb.to(out.dtype)
        # A single-output model, (N, 1), against targets (N,): the common regression shape.
        if out.dim() == 2 and out.shape[1] == 1 and yb.dim() == 1:
            return yb.unsqueeze(1)
        return yb

    def check(self, out: Any, yb: torch.Tensor) -> None:
        """Checks a first batch's model output against its targets, with a clear message."""
        if not isinstance(out, torch.Tensor):
            v.bad_type("model", type(out).__name__, "a model returning a tensor")
        target = self.target(out, yb)
        custom = not isinstance(self.fn, nn.modules.loss._Loss)
        if custom and self.kind == "argmax" and (out.dim() != 2 or out.shape[1] < 2):
            self.kind, self.metric = "none", "loss"  # your loss, not on class scores
        problem = None
        soft = target.dtype.is_floating_point and target.shape == out.shape
        if self._same_shape and out.shape != target.shape:
            problem = "needs the output and the targets to have the same shape"
        elif self.kind == "argmax":
            if out.dim() < 2:
                problem = "needs class scores shaped (N, n_classes)"
            elif target.dtype.is_floating_point and not soft:
                problem = "needs integer class labels (or class probabilities) as targets"
            elif (
                not soft and target.numel() and (target.min() < 0 or target.max() >= out.shape[1])
            ):
                problem = (
                    f"needs labels in 0..{out.shape[1] - 1} (the model has {out.shape[1]} "
                    f"outputs; labels go from {int(target.min())} to {int(target.max())})"
                )
        if problem is not None:
            if self.chosen and self.name == "mse" and out.dim() == 2 and out.shape[1] > 1:
                problem += (
                    " (mse was chosen because the targets are floats; for classification "
                    "pass integer class labels, such as y.astype(int))"
                )
            raise InvalidArgumentError(
                f"loss: the model's output of shape {tuple(out.shape)} does not fit the "
                f"targets of shape {tuple(yb.shape)} ({yb.dtype}): {self.name} {problem}"
            )

    def correct(self, out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """The number of correct predictions in a batch, as a tensor (no device sync)."""
        if self.kind == "argmax":
            yb = self.target(out, yb)
            labels = yb.argmax(1) if yb.dtype.is_floating_point else yb  # soft targets
            return (out.argmax(1) == labels).sum()
        target = self.target(out, yb)
        if self.kind == "logit":
            return ((out > 0) == (target > 0.5)).sum() / max(out[0].numel(), 1)
        return ((out > 0.5) == (target > 0.5)).sum() / max(out[0].numel(), 1)


# -- optimizer ------------------------------------------------------------------------------


def _optimizer(spec: Any, model: nn.Module, lr: float, weight_decay: float) -> Any:
    params = [p for p in model.parameters() if p.requires_grad]
    lbfgs = torch.optim.LBFGS
    if isinstance(spec, lbfgs) or (isinstance(spec, type) and issubclass(spec, lbfgs)):
        v.bad_value(
            "optimizer",
            spec,
            "an optimizer whose step() needs no closure (fit does not re-evaluate the loss "
            "as L-BFGS requires); use 'adam', 'sgd' or another first-order optimizer",
        )
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if not params:
        v.bad_value("model", type(model).__name__, "a model with trainable parameters")
    if isinstance(spec, str):
        name = v.one_of("optimizer", spec.lower(), ("adam", "adamw", "sgd", "rmsprop"))
        if name == "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        if name == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if callable(spec):
        try:
            return spec(params, lr=lr, weight_decay=weight_decay)
        except TypeError as e:  # a class or factory that does not take these arguments
            raise InvalidTypeError(
                f"optimizer: calling {v.describe(spec)} as f(params, lr={lr}, "
                f"weight_decay={weight_decay}) failed: {e}; pass an optimizer built on the "
                "model's parameters instead, or a functools.partial that takes these arguments"
            ) from e
    v.bad_type(
        "optimizer",
        spec,
        "'adam', 'adamw', 'sgd', 'rmsprop', an optimizer class or factory taking "
        "(params, lr=, weight_decay=), or an optimizer",
    )


def _device(device: Any) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        v.bad_value("device", device, f"a torch device such as 'cpu' or 'cuda' ({e})")
    if dev.type == "cuda" and not torch.cuda.is_available():
        v.bad_value("device", device, "a device this machine has (CUDA is not available)")
    return dev


# -- the loop -------------------------------------------------------------------------------


def _evaluate(model: nn.Module, source: _Source, task: _Task) -> tuple[float, float]:
    total_loss = torch.zeros((), dtype=torch.float64, device=source.device)
    total_correct = torch.zeros((), dtype=torch.float64, device=source.device)
    n = 0
    with torch.no_grad():
        for xb, yb in source.batches(None, eval_mode=True):
            out = model(xb)
            bs = len(yb)
            total_loss += task.fn(out, task.target(out, yb)).double() * bs
            if task.metric == "accuracy":
                total_correct += task.correct(out, yb)
            n += bs
    if n == 0:
        return math.nan, math.nan
    loss = total_loss.item() / n
    metric = total_correct.item() / n if task.metric == "accuracy" else loss
    return loss, metric


def fit(
    model: nn.Module,
    train: Any,
    *,
    val: Any = None,
    test: Any = None,
    epochs: int,
    optimizer: Any = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    loss: Any = None,
    batch_size: int = 64,
    early_stopping: EarlyStopping | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: Any = "cpu",
    seed: int | None = None,
    progress: bool = False,
) -> History:
    """Trains ``model`` and records its training, validation and test curves.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``; trained in place.
    train, val, test
        Each an ``(inputs, targets)`` pair of tensors or arrays, a ``Dataset`` or a
        ``DataLoader``. Float arrays are converted to the model's float type. ``val`` drives
        early stopping; ``test`` is evaluated after each epoch as a control only.
    epochs : int
        The most epochs to run.
    optimizer : str, optimizer class, factory or instance
        ``"adam"`` (default), ``"adamw"``, ``"sgd"`` (momentum 0.9), ``"rmsprop"``; a class or
        factory called as ``f(params, lr=lr, weight_decay=weight_decay)``; or an optimizer
        already built on the model's parameters (``lr`` and ``weight_decay`` are then its own).
    lr, weight_decay : float
    loss : str or callable, optional
        None picks cross-entropy for integer targets and mean squared error for float
        targets. Names: ``"cross_entropy"``, ``"nll"``, ``"mse"``, ``"l1"``, ``"huber"``,
        ``"smooth_l1"``, ``"bce_with_logits"``, ``"bce"``. The metric is accuracy for
        classification losses, else the loss itself.
    batch_size : int
        For tensors, arrays and datasets (a DataLoader brings its own).
    early_stopping : EarlyStopping, optional
    augment : callable, optional
        Applied to each training input batch (``batch -> batch``), without gradients; never
        to validation or test data. Any ``ferrotune.augment`` transform, or your own.
    device : str or torch.device
    seed : int, optional
        Seeds the shuffling, dropout and augmentation drawn from torch's generator, inside a
        fork of torch's random state (the caller's state is left as it was). A
        ``ferrotune.augment`` transform or ``Compose`` is run from a copy that restarts its
        draws, seeded by ``seed`` when it has no seed of its own, so two runs with the same
        seed see the same augmented batches.
    progress : bool
        A tqdm bar over epochs (quiet when not attached to a terminal).

    Returns
    -------
    History

    Examples
    --------
    >>> import torch, ferrotune as ft
    >>> X, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    >>> model = ft.torch.MLP(4, 8, 2)
    >>> h = ft.torch.fit(model, (X, y), val=(X, y), epochs=3, seed=0)
    >>> h.epochs, h.metric
    (3, 'accuracy')
    """
    if not isinstance(model, nn.Module):
        v.bad_type("model", model, "a torch.nn.Module")
    epochs = v.integer("epochs", epochs, minimum=1)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    lr = v.real("lr", lr)
    if lr <= 0:
        v.bad_value("lr", lr, "a positive learning rate")
    weight_decay = v.real("weight_decay", weight_decay)
    if weight_decay < 0:
        v.bad_value("weight_decay", weight_decay, "a number >= 0")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        v.bad_type("early_stopping", early_stopping, "an EarlyStopping or None")
    if augment is not None and not callable(augment):
        v.bad_type("augment", augment, "a callable taking and returning a batch of inputs")
    if seed is not None:
        seed = v.seed(seed)
    v.flag("progress", progress)
    dev = _device(device)

    model.to(dev)
    float_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    float_dtype = float_dtype or torch.get_default_dtype()
    kw = {"batch_size": batch_size, "device": dev, "float_dtype": float_dtype}
    sources = {
        "train": _Source("train", train, shuffle=True, **kw),  # type: ignore[arg-type]
        "val": None if val is None else _Source("val", val, shuffle=False, **kw),  # type: ignore[arg-type]
        "test": None if test is None else _Source("test", test, shuffle=False, **kw),  # type: ignore[arg-type]
    }

    rng_devices = [dev.index or 0] if dev.type == "cuda" else []
    fork = (
        torch.random.fork_rng(devices=rng_devices)
        if seed is not None
        else contextlib.nullcontext()
    )
    with fork:
        if seed is not None:
            torch.manual_seed(seed)
        generator = None
        if seed is not None:
            generator = torch.Generator().manual_seed(seed)
        return _run(
            model,
            sources,  # type: ignore[arg-type]
            epochs=epochs,
            opt=_optimizer(optimizer, model, lr, weight_decay),
            loss=loss,
            early_stopping=early_stopping,
            augment=augment if seed is None else _seeded_augment(augment, seed),
            generator=generator,
            progress=progress,
        )


def _run(
    model: nn.Module,
    sources: dict[str, _Source | None],
    *,
    epochs: int,
    opt: Any,
    loss: Any,
    early_stopping: EarlyStopping | None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None,
    generator: torch.Generator | None,
    progress: bool,
) -> History:
    train = sources["train"]
    assert train is not None
    val, test = sources["val"], sources["test"]
    history = History()
    task: _Task | None = None
    bar = None
    if progress:
        tqdm = v.optional_import("tqdm", "progress").tqdm
        bar = tqdm(total=epochs, unit="epoch", desc="fit", disable=None, leave=False)

    t_start = time.perf_counter()
    stop_reason = f"ran all {epochs} epochs"
    nonfinite = False
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()

            # Train one epoch; sums stay on the device until the epoch ends.
            model.train()
            total_loss = torch.zeros((), device=train.device)
            total_correct = torch.zeros((), device=train.device)
            n = 0
            for xb, yb in train.batches(generator):
                if augment is not None:
                    with torch.no_grad():
                        xb = _augment_batch(augment, xb)
                if task is None:
                    task = _first_batch(model, loss, xb, yb, train)
                    if early_stopping is not None:
                        early_stopping.begin(has_val=val is not None, metric=task.metric)
                out = model(xb)
                batch_loss = task.fn(out, task.target(out, yb))
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
                bs = len(yb)
                n += bs
                total_loss += batch_loss.detach() * bs
                if task.metric == "accuracy":
                    total_correct += task.correct(out.detach(), yb)
            if task is None or n == 0:
                v.bad_value("train", "no batches", "a non-empty data set")
            train_loss = total_loss.item() / n
            history.train_loss.append(train_loss)
            history.train_metric.append(
                total_correct.item() / n if task.metric == "accuracy" else train_loss
            )

            # Evaluate.
            model.eval()
            for name, source in (("val", val), ("test", test)):
                if source is None:
                    continue
                lo, me = _evaluate(model, source, task)
                if getattr(history, f"{name}_loss") is None:
                    setattr(history, f"{name}_loss", [])
                    setattr(history, f"{name}_metric", [])
                getattr(history, f"{name}_loss").append(lo)
                getattr(history, f"{name}_metric").append(me)
            history.epoch_time.append(time.perf_counter() - t0)
            history.stopped_epoch = epoch
            if bar is not None:
                bar.set_postfix(_postfix(history), refresh=False)
                bar.update(1)

            # Decide whether to go on.
            if not math.isfinite(train_loss):
                stop_reason = f"the training loss was {train_loss} at epoch {epoch}"
                nonfinite = True
                if early_stopping is not None:
                    early_stopping.update(epoch, train_loss, model)
                    early_stopping.reason = stop_reason  # not the monitored curve's fault
                break
            if early_stopping is not None:
                value = _monitored(history, early_stopping)
                if early_stopping.update(epoch, value, model):
                    stop_reason = early_stopping.reason
                    nonfinite = not math.isfinite(value)
                    break
    finally:
        if bar is not None:
            bar.close()

    # Wrap up: best epoch, restored weights, reasons.
    history.metric = task.metric if task is not None else "loss"
    history.total_time = time.perf_counter() - t_start
    if early_stopping is not None:
        history.restored = early_stopping.end(model)
        if early_stopping.best_epoch is not None:
            history.best_epoch = early_stopping.best_epoch
        else:
            history.best_epoch = history.stopped_epoch
    elif history.val_loss:
        finite = [x if math.isfinite(x) else math.inf for x in history.val_loss]
        history.best_epoch = int(np.argmin(finite))
    else:
        history.best_epoch = history.stopped_epoch
    history.stop_reason = stop_reason
    if nonfinite:
        warnings.warn(
            f"fit stopped: {stop_reason}"
            + (
                f"; the weights of epoch {history.best_epoch} were restored"
                if history.restored
                else ""
            ),
            RuntimeWarning,
            stacklevel=v.user_stacklevel(),
        )
    log.debug("fit: %s; best epoch %d", stop_reason, history.best_epoch)
    return history


def _first_batch(
    model: nn.Module, loss: Any, xb: torch.Tensor, yb: torch.Tensor, train: _Source
) -> _Task:
    """Builds the task from the first batch and checks that model, targets and loss fit."""
    task = _Task(loss, yb)
    try:
        with torch.no_grad():
            out = model(xb)
    except (RuntimeError, ValueError, IndexError) as e:
        hint = ""
        if xb.dtype == torch.uint8:
            # Images straight from a loader or an augmentation pipeline, most often.
            hint = (
                "; the inputs are uint8: convert them to floats first (X.float() / 255, or "
                "ft.augment.ToFloat() as the last augmentation step)"
            )
        raise InvalidArgumentError(
            f"model: calling it on a training batch of shape {tuple(xb.shape)} "
            f"({xb.dtype}) failed: {e}{hint}"
        ) from e
    task.check(out, yb)
    y_all = train.y
    if task.kind == "argmax" and y_all is not None and not y_all.is_floating_point():
        lo, hi = int(y_all.min()), int(y_all.max())
        if lo < 0 or hi >= out.shape[1]:
            raise InvalidArgumentError(
                f"loss: the model has {out.shape[1]} outputs but the training labels go from "
                f"{lo} to {hi}; {task.name} needs labels in 0..{out.shape[1] - 1}"
            )
    try:
        with torch.no_grad():
            task.fn(out, task.target(out, yb))
    except (RuntimeError, ValueError, IndexError) as e:
        raise InvalidArgumentError(
            f"loss: the model's output of shape {tuple(out.shape)} does not fit the targets "
            f"of shape {tuple(yb.shape)} ({yb.dtype}) for {task.name}: {e}"
        ) from e
    return task


def _augment_batch(augment: Callable[[torch.Tensor], torch.Tensor], xb: torch.Tensor) -> Any:
    """`augment(xb)`; a ferrotune transform, whose kernels run on the CPU, gets an
    accelerator's batch through a round trip to the CPU."""
    from .. import augment as aug

    if xb.device.type == "cpu" or not isinstance(augment, aug._Transform):
        return augment(xb)
    # TODO: the round trip costs two copies per batch. Augmenting before the batch reaches
    # the device would avoid them: keep tensor data on the CPU in _Source when an augment is
    # given (moving each batch after augmenting), and augment loader batches in
    # _Source.batches before its .to(device).
    return augment(xb.cpu()).to(xb.device)


def _seeded_augment(augment: Any, seed: int) -> Any:
    """For a seeded fit: a ferrotune transform restarted (see ``_restarted``), so that a
    second fit with the same seed sees the same batches; other callables as they are."""
    from .. import augment as aug

    if isinstance(augment, (aug.Compose, aug._RandomTransform)):
        return augment._restarted(seed)
    return augment


def _monitored(history: History, stopper: EarlyStopping) -> float:
    name = stopper.monitor.replace("accuracy", "metric")
    curve = getattr(history, name)
    return float(curve[-1])


def _postfix(history: History) -> dict[str, str]:
    out = {"loss": f"{history.train_loss[-1]:.4g}"}
    if history.val_loss:
        out["val_loss"] = f"{history.val_loss[-1]:.4g}"
    if history.val_metric and history.metric == "accuracy":
        out["val_acc"] = f"{history.val_metric[-1]:.3f}"
    return out
