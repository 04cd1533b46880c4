"""Augmentation benchmarks: ferrotune.augment against torchvision, albumentations and kornia.

A batch of 256 x 3 x 224 x 224 (16 with --quick), 2 threads for everyone, all in one run.
Anchors that are not installed are reported as skipped. Ratios are anchor time / ferrotune
time, so above 1 means ferrotune is faster.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from _harness import Row, optional, timeit

import ferrotune as ft
from ferrotune import augment as A

SUITE = "augment"
THREADS = 2


def _rows_vs(case: str, ours: float, anchors: list[tuple[str, float | None, str]], note=""):
    return [
        Row(SUITE, case, ours, name, value, target=target, note=note)
        for name, value, target in anchors
    ]


def run(quick: bool) -> list[Row]:
    n = 16 if quick else 256
    repeats = 2 if quick else 5
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (n, 3, 224, 224), dtype=np.uint8)
    f32 = u8.astype(np.float32) / 255
    ft.augment.set_num_threads(THREADS)

    torch = optional("torch")
    v2 = optional("torchvision.transforms.v2")
    F = optional("torchvision.transforms.v2.functional")
    alb = optional("albumentations")
    kornia = optional("kornia")
    if torch is not None:
        torch.set_num_threads(THREADS)
    if alb is not None:
        cv2 = optional("cv2")
        if cv2 is not None:
            cv2.setNumThreads(THREADS)
    note = f"batch {n}x3x224x224, {THREADS} threads"
    rows: list[Row] = []

    def t(fn: Any, reps: int = repeats) -> float:
        return timeit(fn, repeats=reps, warmup=1)

    # Colour jitter, per-image factors.
    jitter = A.ColorJitter(0.4, 0.4, 0.4, 0.1, seed=0)
    ours = t(lambda: jitter(u8))
    tv_img = tv_batch = alb_img = None
    if v2 is not None:
        tj = v2.ColorJitter(0.4, 0.4, 0.4, 0.1)
        tb = torch.from_numpy(u8)
        tv_img = t(lambda: [tj(tb[i]) for i in range(n)], max(2, repeats // 2))
        tv_batch = t(lambda: tj(tb), max(2, repeats // 2))
    if alb is not None:
        aj = alb.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=1.0)
        hwc = np.ascontiguousarray(u8.transpose(0, 2, 3, 1))
        alb_img = t(lambda: [aj(image=hwc[i])["image"] for i in range(n)])
    rows += _rows_vs(
        "ColorJitter(0.4,0.4,0.4,0.1) uint8, per image",
        ours,
        [
            ("torchvision v2, per image", tv_img, ">= 10x"),
            ("torchvision v2, one call per batch", tv_batch, ""),
            ("albumentations, per image (HWC)", alb_img, ">= 2x"),
        ],
        note,
    )
    ours_f = t(lambda: jitter(f32))
    tvf = kor = None
    if v2 is not None:
        tfb = torch.from_numpy(f32)
        tvf = t(lambda: [tj(tfb[i]) for i in range(n)], max(2, repeats // 2))
    if kornia is not None:
        kj = kornia.augmentation.ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
        kor = t(lambda: kj(torch.from_numpy(f32)), 2)
    rows += _rows_vs(
        "ColorJitter(0.4,0.4,0.4,0.1) float32, per image",
        ours_f,
        [("torchvision v2, per image", tvf, ""), ("kornia, batch", kor, "")],
        note,
    )

    # Resize 224 -> 160 with antialias, whole batch.
    for dtype, arr, target in (("uint8", u8, ">= 1.5x"), ("float32", f32, ">= 2x")):
        out = np.empty((n, 3, 160, 160), arr.dtype)
        ours = t(lambda arr=arr: A.resize(arr, 160))
        ours_out = t(lambda arr=arr, out=out: A.resize(arr, 160, out=out))
        anchors = []
        if F is not None:
            tb = torch.from_numpy(arr)
            anchors.append(
                (
                    "torchvision, batch",
                    t(lambda tb=tb: F.resize(tb, [160], antialias=True)),
                    target,
                )
            )
        if kornia is not None and dtype == "float32":
            kr = t(
                lambda: kornia.geometry.transform.resize(
                    torch.from_numpy(f32), (160, 160), antialias=True
                ),
                2,
            )
            anchors.append(("kornia, batch (Gaussian antialias)", kr, ""))
        rows += _rows_vs(f"resize 224->160 antialias {dtype}", ours, anchors, note)
        rows.append(
            Row(
                SUITE,
                f"resize 224->160 antialias {dtype}, out= reused",
                ours_out,
                "ferrotune, fresh output",
                ours,
                note=note,
            )
        )
    if alb is not None or F is not None:
        ours = t(lambda: A.resize(u8, 160, antialias=False))
        anchors = []
        if F is not None:
            tb = torch.from_numpy(u8)
            anchors.append(
                ("torchvision, batch", t(lambda: F.resize(tb, [160], antialias=False)), "")
            )
        if alb is not None:
            ar = alb.Resize(160, 160)
            hwc = np.ascontiguousarray(u8.transpose(0, 2, 3, 1))
            anchors.append(
                (
                    "albumentations, per image (HWC)",
                    t(lambda: [ar(image=hwc[i])["image"] for i in range(n)]),
                    "",
                )
            )
        rows += _rows_vs("resize 224->160 no antialias uint8", ours, anchors, note)

    # RandomResizedCrop(160), per image boxes, antialias, uint8.
    crop = A.RandomResizedCrop(160, seed=0)
    ours = t(lambda: crop(u8))
    anchors = []
    if v2 is not None:
        tc = v2.RandomResizedCrop(160, antialias=True)
        tb = torch.from_numpy(u8)
        anchors.append(
            ("torchvision v2, per image", t(lambda: [tc(tb[i]) for i in range(n)]), ">= 3x")
        )
    if alb is not None:
        ac = alb.RandomResizedCrop(size=(160, 160), p=1.0)
        hwc = np.ascontiguousarray(u8.transpose(0, 2, 3, 1))
        anchors.append(
            (
                "albumentations, per image (HWC, no antialias)",
                t(lambda: [ac(image=hwc[i])["image"] for i in range(n)]),
                "",
            )
        )
    rows += _rows_vs("RandomResizedCrop(160) uint8, per image", ours, anchors, note)

    # Flips against a plain copy into a preallocated array (the bandwidth floor).
    for dtype, arr in (("uint8", u8), ("float32", f32)):
        dst = np.empty_like(arr)
        copy = t(lambda arr=arr, dst=dst: np.copyto(dst, arr))
        flip_out = t(lambda arr=arr, dst=dst: A.hflip(arr, out=dst))
        vflip_out = t(lambda arr=arr, dst=dst: A.vflip(arr, out=dst))
        fresh = t(lambda arr=arr: A.hflip(arr))
        rows.append(
            Row(
                SUITE,
                f"hflip {dtype}, out= preallocated",
                flip_out,
                "numpy copy into preallocated",
                copy,
                target=">= 0.5x",
                note=note,
            )
        )
        rows.append(
            Row(
                SUITE,
                f"vflip {dtype}, out= preallocated",
                vflip_out,
                "numpy copy into preallocated",
                copy,
                target=">= 0.5x",
                note=note,
            )
        )
        if torch is not None:
            tb = torch.from_numpy(arr)
            rows.append(
                Row(
                    SUITE,
                    f"hflip {dtype}, fresh output",
                    fresh,
                    "torch.flip, batch",
                    t(lambda tb=tb: torch.flip(tb, dims=[3])),
                    note=note,
                )
            )

    rows += _pipeline_share(quick, torch, v2)
    ft.augment.set_num_threads(None)
    return rows


def _pipeline_share(quick: bool, torch: Any, v2: Any) -> list[Row]:
    """Share of a training epoch spent augmenting: flip, jitter, crop feeding a small CNN."""
    if torch is None or v2 is None:
        return [
            Row(
                SUITE,
                "pipeline share of an epoch",
                None,
                "torchvision",
                None,
                note="needs torch and torchvision",
            )
        ]
    batches = 2 if quick else 6
    bs = 32 if quick else 128
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (bs, 3, 224, 224), dtype=np.uint8)
    labels = torch.from_numpy(rng.integers(0, 10, bs))
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    ours = A.Compose(
        [
            A.RandomResizedCrop(112),
            A.RandomHorizontalFlip(),
            A.ColorJitter(0.4, 0.4, 0.4, 0.1),
            A.Normalize(mean, std),
        ],
        seed=0,
    )
    tv = v2.Compose(
        [
            v2.RandomResizedCrop(112, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(0.4, 0.4, 0.4, 0.1),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )
    tb = torch.from_numpy(data)

    def epoch(augment: Any) -> tuple[float, float]:
        aug = train = 0.0
        for _ in range(batches):
            t0 = time.perf_counter()
            x = augment()
            t1 = time.perf_counter()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            opt.step()
            t2 = time.perf_counter()
            aug, train = aug + t1 - t0, train + t2 - t1
        return aug, train

    epoch(lambda: ours(tb))  # warm up both
    a_ft, tr_ft = epoch(lambda: ours(tb))
    a_tv, tr_tv = epoch(lambda: torch.stack([tv(tb[i]) for i in range(bs)]))
    share_ft = 100 * a_ft / (a_ft + tr_ft)
    share_tv = 100 * a_tv / (a_tv + tr_tv)
    return [
        Row(
            SUITE,
            "pipeline (crop 112, flip, jitter, normalize) + small CNN: % of epoch augmenting",
            share_ft,
            "torchvision v2, per image",
            share_tv,
            unit="%",
            note=f"{batches} batches of {bs}; augment {a_ft:.2f}s vs {a_tv:.2f}s per epoch",
        ),
    ]
