"""fit, History, EarlyStopping, the reference models and set_dropout."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ferrotune as ft  # noqa: E402
from ferrotune.errors import InvalidArgumentError, InvalidTypeError  # noqa: E402

pytestmark = pytest.mark.torch


def _blobs(n=120, d=4, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    centers = torch.randn(classes, d, generator=g) * 3
    X = centers[y] + torch.randn(n, d, generator=g)
    return X, y


def test_import_ferrotune_does_not_import_torch():
    code = "import sys, ferrotune; assert 'torch' not in sys.modules; ferrotune.torch.fit"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fit_records_every_curve():
    X, y = _blobs()
    model = ft.torch.MLP(4, 16, 3)
    h = ft.torch.fit(model, (X, y), val=(X[:30], y[:30]), test=(X[30:60], y[30:60]), epochs=4)
    assert h.epochs == 4 and h.metric == "accuracy"
    for curve in (h.train_loss, h.val_loss, h.test_loss, h.train_metric, h.val_metric):
        assert len(curve) == 4 and all(np.isfinite(curve))
    assert all(0 <= a <= 1 for a in h.val_metric)
    assert h.stopped_epoch == 3 and len(h.epoch_time) == 4 and h.total_time > 0
    assert h.best_epoch == int(np.argmin(h.val_loss))
    d = h.to_dict()
    assert d["test_loss"] == h.test_loss and d["best_epoch"] == h.best_epoch
    assert ft.torch.History.from_dict(d) == h


def test_fit_learns_a_separable_problem():
    X, y = _blobs(seed=1)
    h = ft.torch.fit(ft.torch.MLP(4, 32, 3), (X, y), val=(X, y), epochs=30, lr=1e-2, seed=0)
    assert h.val_metric[-1] > 0.9


def test_fit_is_reproducible_with_a_seed_and_leaves_global_rng_alone():
    X, y = _blobs()
    torch.manual_seed(123)
    state = torch.get_rng_state()

    def run():
        torch.manual_seed(7)
        model = ft.torch.MLP(4, 8, 3, dropout=0.3)
        return ft.torch.fit(model, (X, y), val=(X, y), epochs=3, seed=11).train_loss

    a = run()
    assert a == run()
    model = ft.torch.MLP(4, 8, 3, dropout=0.5)
    torch.set_rng_state(state)
    before = torch.rand(1)
    torch.set_rng_state(state)
    ft.torch.fit(model, (X, y), epochs=1, seed=3)
    assert torch.equal(torch.rand(1), before)


def test_numpy_arrays_datasets_and_loaders():
    X, y = _blobs()
    X64, y32 = X.numpy().astype(np.float64), y.numpy().astype(np.int32)
    h = ft.torch.fit(ft.torch.MLP(4, 8, 3), (X64, y32), epochs=2)
    assert h.metric == "accuracy"
    ds = torch.utils.data.TensorDataset(X, y)
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    h = ft.torch.fit(ft.torch.MLP(4, 8, 3), loader, val=ds, epochs=2)
    assert len(h.val_loss) == 2


def test_loader_float64_batches_meet_a_float32_model():
    # Arrays are converted to the model's float type; a loader's batches must be too.
    X, y = _blobs(n=48)
    runs = []
    for X_part in (X.double(), X):
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_part, y), 16)
        torch.manual_seed(0)
        model = ft.torch.MLP(4, 8, 3)
        runs.append(ft.torch.fit(model, loader, val=loader, epochs=2, seed=0))
    assert runs[0].metric == "accuracy"
    assert runs[0].train_loss == pytest.approx(runs[1].train_loss, rel=1e-6)


def test_integer_labels_meet_binary_cross_entropy():
    # 0/1 labels stay integers so StratifiedKFold can stratify them; BCE wants floats.
    X, y = _blobs(n=64, classes=2)
    curves = []
    for targets in (y, y.float()):
        for loss in ("bce_with_logits", torch.nn.BCEWithLogitsLoss()):
            torch.manual_seed(0)
            model = ft.torch.MLP(4, 8, 1)
            h = ft.torch.fit(model, (X, targets), val=(X, targets), epochs=2, loss=loss, seed=0)
            assert h.metric == "accuracy"
            curves.append((h.train_loss, h.val_metric))
    assert all(c == curves[0] for c in curves)


def test_class_labels_shaped_n_by_1_train_like_flat_labels():
    X, y = _blobs(n=48)
    runs = []
    for labels in (y, y[:, None], y[:, None].numpy().astype(np.int32)):
        torch.manual_seed(0)
        model = ft.torch.MLP(4, 8, 3)
        h = ft.torch.fit(model, (X, labels), val=(X, labels), epochs=2, seed=0)
        runs.append((h.train_loss, h.train_metric, h.val_metric))
    assert runs[1] == runs[0] and runs[2] == runs[0]
    assert all(0.0 <= a <= 1.0 for a in runs[0][1] + runs[0][2])


def test_score_names_an_unknown_part():
    X, y = _blobs(n=32)
    h = ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y), val=(X, y), epochs=1)
    assert h.score("train") == h.train_metric[0]
    with pytest.raises(InvalidArgumentError, match="part must be one of 'train', 'val'.*'tset'"):
        h.score("tset")
    with pytest.raises(InvalidArgumentError, match="'test'"):
        h.score("test")  # no test data was given


def test_regression_uses_mse_and_loss_as_metric():
    X = torch.randn(64, 3)
    y = X.sum(1)  # shape (N,), against a (N, 1) output
    h = ft.torch.fit(ft.torch.MLP(3, 8, 1), (X, y), val=(X, y), epochs=3)
    assert h.metric == "loss" and h.val_metric == h.val_loss


def test_augment_is_applied_to_training_batches_only():
    X, y = _blobs(n=64)
    seen = []

    def augment(batch):
        seen.append(batch.shape[0])
        return batch + 0.01

    ft.torch.fit(
        ft.torch.MLP(4, 8, 3), (X, y), val=(X, y), epochs=2, batch_size=16, augment=augment
    )
    assert seen == [16] * 8


def test_optimizer_choices():
    X, y = _blobs(n=32)
    for opt in ("sgd", "adamw", "rmsprop", torch.optim.Adam):
        ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y), epochs=1, optimizer=opt, weight_decay=1e-4)
    model = ft.torch.MLP(4, 8, 3)
    ft.torch.fit(model, (X, y), epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(InvalidArgumentError, match="optimizer"):
        ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y), epochs=1, optimizer="lbfgs2")


def test_progress_bar_runs_quietly():
    X, y = _blobs(n=32)
    h = ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y), val=(X, y), epochs=2, progress=True)
    assert h.epochs == 2


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_restores_exactly_the_best_epochs_weights():
    X, y = _blobs(n=96, classes=2)
    X_val, y_val = _blobs(n=40, classes=2, seed=9)
    model = ft.torch.MLP(4, 32, 2)
    snapshots = []

    # Record each epoch's weights by wrapping the monitored update.
    stopper = ft.torch.EarlyStopping("val_loss", patience=3)
    original = stopper.update

    def spy(epoch, value, m):
        snapshots.append({k: t.detach().clone() for k, t in m.state_dict().items()})
        return original(epoch, value, m)

    stopper.update = spy  # type: ignore[method-assign]
    h = ft.torch.fit(
        model, (X, y), val=(X_val, y_val), epochs=60, lr=0.05, early_stopping=stopper, seed=0
    )
    assert h.best_epoch == int(np.argmin(h.val_loss))
    assert h.restored and stopper.best_epoch == h.best_epoch
    best = snapshots[h.best_epoch]
    for k, t in model.state_dict().items():
        assert torch.equal(t, best[k]), k
    if stopper.stopped:
        assert h.stopped_epoch == h.best_epoch + 3
        # And the restored model really scores the best epoch's validation loss.
        with torch.no_grad():
            model.eval()
            loss = torch.nn.functional.cross_entropy(model(X_val), y_val).item()
        assert loss == pytest.approx(h.val_loss[h.best_epoch], rel=1e-5)


def _drive(values, **kw):
    stopper = ft.torch.EarlyStopping(restore_best=False, **kw)
    stopper.begin(has_val=True, metric="accuracy")
    for epoch, val in enumerate(values):
        if stopper.update(epoch, val, None):
            break
    return stopper


def test_keras_patience_and_min_delta_semantics():
    s = _drive([1.0, 0.9, 0.95, 0.91, 0.92, 0.5], patience=3)
    assert (s.best_epoch, s.stopped_epoch, s.stopped) == (1, 4, True)
    s = _drive([1.0, 0.9, 0.95, 0.5], patience=0)
    assert (s.best_epoch, s.stopped_epoch) == (1, 2)
    s = _drive([1.0, 0.97, 0.95, 0.5], patience=2, min_delta=0.06)
    assert (s.best_epoch, s.stopped_epoch) == (0, 2)
    s = _drive([0.5, 0.6, 0.7, 0.6, 0.6], monitor="val_accuracy", mode="max", patience=2)
    assert (s.best_epoch, s.stopped_epoch) == (2, 4)
    s = _drive([1.0, 0.9, 0.8], patience=1)
    assert not s.stopped and s.best_epoch == 2


def test_early_stopping_stops_and_says_so_on_nan():
    X, y = _blobs(n=64)
    stopper = ft.torch.EarlyStopping(patience=5)
    with pytest.warns(RuntimeWarning, match="nan"):
        h = ft.torch.fit(
            ft.torch.MLP(4, 8, 3),
            (X, y),
            val=(X, y),
            epochs=20,
            lr=1e30,
            optimizer="sgd",
            early_stopping=stopper,
        )
    assert h.stopped_epoch < 19 and "nan" in h.stop_reason


def test_a_nan_training_loss_is_reported_as_such_at_the_users_line():
    X, y = _blobs(n=64)
    X_bad = X.clone()
    X_bad[3, 0] = float("nan")
    stopper = ft.torch.EarlyStopping("val_loss", patience=5)
    with pytest.warns(RuntimeWarning, match="training loss was nan") as caught:
        ft.torch.fit(
            ft.torch.MLP(4, 8, 3), (X_bad, y), val=(X, y), epochs=3, early_stopping=stopper
        )
    assert caught[0].filename == __file__
    assert stopper.reason.startswith("the training loss was nan")  # not "val_loss was nan"


def test_early_stopping_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="patience"):
        ft.torch.EarlyStopping(patience=-1)
    with pytest.raises(InvalidArgumentError, match="monitor"):
        ft.torch.EarlyStopping("val_los")
    with pytest.raises(InvalidArgumentError, match="control"):
        ft.torch.EarlyStopping("test_loss")
    with pytest.raises(InvalidArgumentError, match="mode"):
        ft.torch.EarlyStopping("val_accuracy")
    with pytest.raises(InvalidArgumentError, match="min_delta"):
        ft.torch.EarlyStopping(min_delta=-0.1)
    with pytest.raises(InvalidTypeError, match="monitor"):
        ft.torch.EarlyStopping(3)
    X, y = _blobs(n=32)
    with pytest.raises(InvalidArgumentError, match="val="):
        ft.torch.fit(
            ft.torch.MLP(4, 8, 3), (X, y), epochs=2, early_stopping=ft.torch.EarlyStopping()
        )
    with pytest.raises(InvalidArgumentError, match="accuracy"):
        ft.torch.fit(
            ft.torch.MLP(4, 8, 1),
            (X, y.float()),
            val=(X, y.float()),
            epochs=2,
            early_stopping=ft.torch.EarlyStopping("val_accuracy", mode="max"),
        )


def test_metric_monitor_direction_follows_the_task():
    # val_metric is accuracy for classification (to maximise) and the loss for regression.
    X, y = _blobs(n=48)
    stopper = ft.torch.EarlyStopping("val_metric", mode="auto", patience=1)
    h = ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y), val=(X, y), epochs=4, early_stopping=stopper)
    assert stopper.mode == "max"
    assert stopper.best_value == max(h.val_metric)
    stopper = ft.torch.EarlyStopping("val_metric", mode="auto", patience=1)
    h = ft.torch.fit(
        ft.torch.MLP(4, 8, 1), (X, y.float()), val=(X, y.float()), epochs=4, early_stopping=stopper
    )
    assert stopper.mode == "min"
    assert stopper.best_value == min(h.val_metric)
    with pytest.raises(InvalidArgumentError, match="mode='max'.*val_metric.*accuracy"):
        ft.torch.fit(
            ft.torch.MLP(4, 8, 3),
            (X, y),
            val=(X, y),
            epochs=2,
            early_stopping=ft.torch.EarlyStopping("val_metric", mode="min"),
        )


# -- bad input -------------------------------------------------------------------------------


def test_fit_bad_inputs():
    X, y = _blobs(n=32)
    m = ft.torch.MLP(4, 8, 3)
    with pytest.raises(InvalidArgumentError, match="same length"):
        ft.torch.fit(m, (X, y[:-1]), epochs=1)
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        ft.torch.fit(m, (X[:0], y[:0]), epochs=1)
    with pytest.raises(InvalidArgumentError, match="epochs"):
        ft.torch.fit(m, (X, y), epochs=0)
    with pytest.raises(InvalidTypeError, match="train"):
        ft.torch.fit(m, X, epochs=1)
    with pytest.raises(InvalidTypeError, match="model"):
        ft.torch.fit("model", (X, y), epochs=1)
    with pytest.raises(InvalidArgumentError, match="lr"):
        ft.torch.fit(m, (X, y), epochs=1, lr=-1.0)
    with pytest.raises(InvalidArgumentError, match="loss"):
        ft.torch.fit(m, (X, y), epochs=1, loss="hinge")
    with pytest.raises(InvalidArgumentError, match="device"):
        ft.torch.fit(m, (X, y), epochs=1, device="tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgumentError, match="CUDA"):
            ft.torch.fit(m, (X, y), epochs=1, device="cuda")


def test_integer_images_get_a_hint_to_convert_them():
    X = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    y = torch.arange(8) % 2
    with pytest.raises(InvalidArgumentError, match=r"torch.uint8.*ToFloat\(\)"):
        ft.torch.fit(ft.torch.SmallCNN(3, 2), (X, y), epochs=1)
    h = ft.torch.fit(ft.torch.SmallCNN(3, 2), (X, y), epochs=1, augment=ft.augment.ToFloat())
    assert h.epochs == 1


def test_float_class_labels_say_why_mse_was_chosen():
    X, y = _blobs(n=32)
    with pytest.raises(
        InvalidArgumentError, match=r"mse was chosen because the targets are float"
    ):
        ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y.float()), epochs=1)
    with pytest.raises(InvalidArgumentError, match="same shape") as caught:
        ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y.float()), epochs=1, loss="mse")
    assert "chosen" not in str(caught.value)  # the user picked it


def test_a_seeded_fit_repeats_its_ferrotune_augmentation():
    X, y = torch.rand(16, 3, 8, 8), torch.arange(16) % 2
    A = ft.augment
    jitter = A.ColorJitter(0.4, 0.4)
    seeded = A.Compose([A.RandomHorizontalFlip(), A.ColorJitter(0.4)], seed=3)
    for augment in (jitter, A.Compose([A.ColorJitter(0.4)]), seeded):
        runs = []
        for _ in range(2):
            torch.manual_seed(0)
            model = ft.torch.SmallCNN(3, 2)
            runs.append(ft.torch.fit(model, (X, y), epochs=2, seed=0, augment=augment).train_loss)
        assert runs[0] == runs[1], augment
    assert jitter.seed is None and jitter._calls == 0  # the caller's transform is untouched
    assert seeded.seed == 3 and seeded._calls == 0


def test_a_seeded_fit_restarts_the_steps_that_carry_their_own_seed():
    # A Compose without a seed lets a seeded step draw from the step's own call counter.
    X, y = torch.rand(16, 3, 8, 8), torch.arange(16) % 2
    A = ft.augment
    step = A.ColorJitter(0.4, 0.4, seed=5)
    pipeline = A.Compose([A.RandomHorizontalFlip(seed=6), step])
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = ft.torch.SmallCNN(3, 2)
        runs.append(ft.torch.fit(model, (X, y), epochs=2, seed=0, augment=pipeline).train_loss)
    assert runs[0] == runs[1]
    assert step._calls == 0 and pipeline._calls == 0 and pipeline.seed is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ferrotune_augmentation_works_when_training_on_cuda():
    # The kernels refuse CUDA tensors; fit hands them a CPU copy and moves the result back.
    X, y = torch.rand(16, 3, 8, 8), torch.arange(16) % 2
    model = ft.torch.SmallCNN(3, 2)
    augment = ft.augment.Compose([ft.augment.RandomHorizontalFlip(), ft.augment.ColorJitter(0.3)])
    h = ft.torch.fit(model, (X, y), epochs=2, device="cuda", augment=augment, seed=0)
    assert h.epochs == 2 and all(np.isfinite(h.train_loss))


def test_optimizer_and_loss_mistakes_name_the_argument():
    X, y = _blobs(n=32)
    model = ft.torch.MLP(4, 8, 3)
    with pytest.raises(InvalidArgumentError, match="optimizer.*closure.*LBFGS"):
        ft.torch.fit(model, (X, y), epochs=1, optimizer=torch.optim.LBFGS)
    with pytest.raises(InvalidArgumentError, match="optimizer.*closure"):
        ft.torch.fit(model, (X, y), epochs=1, optimizer=torch.optim.LBFGS(model.parameters()))
    with pytest.raises(InvalidTypeError, match="optimizer: calling .*weight_decay"):
        ft.torch.fit(
            model, (X, y), epochs=1, optimizer=lambda params, lr: torch.optim.SGD(params, lr)
        )
    with pytest.raises(InvalidTypeError, match=r"loss must be a loss instance such as Cross"):
        ft.torch.fit(model, (X, y), epochs=1, loss=torch.nn.CrossEntropyLoss)
    with pytest.raises(InvalidArgumentError, match="model must be a model with trainable"):
        ft.torch.fit(torch.nn.Identity(), (X, y), epochs=1)


def test_model_output_that_does_not_fit_the_loss():
    X, y = _blobs(n=32, classes=3)
    # Two outputs for three classes.
    with pytest.raises(InvalidArgumentError, match="labels"):
        ft.torch.fit(ft.torch.MLP(4, 8, 2), (X, y), epochs=1)
    # Three outputs against a single regression target.
    with pytest.raises(InvalidArgumentError, match="same shape"):
        ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, y.float()), epochs=1)
    # Wrong number of input features.
    with pytest.raises(InvalidArgumentError, match="model"):
        ft.torch.fit(ft.torch.MLP(5, 8, 3), (X, y), epochs=1)


# -- models ----------------------------------------------------------------------------------


def test_reference_models_and_set_dropout():
    cnn = ft.torch.SmallCNN(3, 2, dropout=0.2)
    assert cnn(torch.zeros(2, 3, 12, 12)).shape == (2, 2)
    assert ft.torch.set_dropout(cnn, 0.4) == 2
    assert all(
        m.p == 0.4 for m in cnn.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)
    )
    mlp = ft.torch.MLP(4, [8, 8, 8], 2)
    assert ft.torch.set_dropout(mlp, 0.1) == 3
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert ft.torch.set_dropout(layer, 0.0) >= 4
    with pytest.raises(InvalidArgumentError, match="no"):
        ft.torch.set_dropout(torch.nn.Linear(2, 2), 0.5)
    assert ft.torch.set_dropout(torch.nn.Linear(2, 2), 0.0) == 0
    with pytest.raises(InvalidArgumentError, match="dropout"):
        ft.torch.MLP(4, 8, 2, dropout=1.0)
    with pytest.raises(InvalidArgumentError, match="p"):
        ft.torch.set_dropout(mlp, -0.1)
    with pytest.raises(InvalidTypeError, match="hidden"):
        ft.torch.MLP(4, "wide", 2)


def test_small_cnn_trains_on_images():
    X = torch.rand(32, 3, 8, 8)
    y = (X[:, 0].mean((1, 2)) > 0.5).long()
    h = ft.torch.fit(ft.torch.SmallCNN(3, 2), (X, y), val=(X, y), epochs=2, batch_size=8)
    assert h.epochs == 2


def test_soft_targets_and_custom_losses():
    X, y = _blobs(n=48)
    soft = torch.nn.functional.one_hot(y, 3).float() * 0.9 + 0.1 / 3
    h = ft.torch.fit(ft.torch.MLP(4, 8, 3), (X, soft), epochs=2, loss="cross_entropy")
    assert h.metric == "accuracy"

    def margin(out, target):
        return torch.relu(1 - out.squeeze(1) * (2 * target.float() - 1)).mean()

    h = ft.torch.fit(ft.torch.MLP(4, 8, 1), (X, (y > 0).long()), epochs=2, loss=margin)
    assert h.metric == "loss"
