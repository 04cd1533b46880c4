"""Shared fixtures. Warnings fail tests (see pyproject's filterwarnings)."""

from __future__ import annotations

import importlib.util

import pytest


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture
def journal_path(tmp_path):
    """A fresh path for an SQLite study journal."""
    return tmp_path / "study.db"
