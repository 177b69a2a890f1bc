"""Shared fixtures: a config folder in tmp_path built from the repository's settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SETTINGS = ROOT / "config" / "checker.yaml"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """An empty config folder (settings from the repository, no org files)."""
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    shutil.copy(SETTINGS, cfg / "checker.yaml")
    return cfg
