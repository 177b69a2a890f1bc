"""Shared fixtures: a config folder in tmp_path built from the repository's settings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import EMAIL, GOV_TOKEN, TOKEN, seed
from tests.fakes.zendesk_server import FakeZendesk

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SETTINGS = ROOT / "examples" / "config" / "checker.yaml"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """An empty config folder (settings from the repository, no org files)."""
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    shutil.copy(SETTINGS, cfg / "checker.yaml")
    return cfg


@pytest.fixture
def servers() -> Iterator[tuple[FakeZendesk, FakeZendesk]]:
    """The bundled example served by two loopback Zendesks in real Zendesk's shapes
    (canonical-host links, ``has_more: false`` with a next link, text/plain 429s), each org
    with an agent among its users as real orgs have."""
    with (
        FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=100_000, real_shapes=True) as main,
        FakeZendesk(oauth_token=GOV_TOKEN, rate_limit=100_000, real_shapes=True) as gov,
    ):
        seed(main, "global")
        seed(gov, "us-gov")
        for server in (main, gov):
            for n, org in enumerate(server.dump_state()["orgs"]):
                agent = "agent@support.example"
                server.add_user(990000 + n, "Support Agent", agent, org["id"], role="agent")
        yield main, gov


#: The settings' own knob for Zendesk retries' back-off (0.5 s doubling by default): the CLI
#: tests keep every retry but do not sleep through real back-off (a 503 for one org cost ~7 s).
FAST_RETRIES = "retry_backoff_seconds: 0.01\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The bundled example config in tmp_path/config, its retries' back-off made small."""
    shutil.copytree(ROOT / "examples" / "config", tmp_path / "config")
    with (tmp_path / "config" / "checker.yaml").open("a", encoding="utf-8") as settings:
        settings.write(FAST_RETRIES)
    return tmp_path
