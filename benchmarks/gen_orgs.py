"""Synthetic org files for benchmarks: realistic shape, fictional names, .example domains."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = [
    "north",
    "wind",
    "blue",
    "peak",
    "harbor",
    "federal",
    "summit",
    "river",
    "stone",
    "cedar",
    "lumen",
    "quartz",
    "orbit",
    "maple",
    "vertex",
    "delta",
    "nova",
    "pine",
    "atlas",
    "crest",
    "ember",
    "fjord",
    "granite",
    "helix",
    "iris",
    "juniper",
    "kestrel",
]


def org_yaml(i: int, contacts: int = 10, rng: random.Random | None = None) -> str:
    rng = rng or random.Random(i)
    name = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {i}"
    slug = name.lower().replace(" ", "-")
    lines = [
        "# yaml-language-server: $schema=../../schemas/org.schema.json",
        "schema_version: 1",
        f"name: {name}",
        "zendesk:",
        f"  org_id: {360000000000 + i}",
        f"salesforce_id: 0016100{i:08d}AAA",
        f"csm: csm{i % 40}",
        "collaboration_project:",
        f"  id: {10000000 + i}",
        f"  url: https://gitlab.example/account-management/{slug}",
    ]
    if i % 3 == 0:
        lines += [
            "contact_management_project:",
            f"  id: {50000000 + i}",
            "  developers:",
            f"    - dev1@{slug}.example",
            f"    - dev2@{slug}.example",
        ]
    lines.append("support_contacts:")
    for c in range(contacts):
        lines += [f"  - name: Person {c} of {name}", f"    email: person{c}@{slug}.example"]
    lines += [
        "notes: |",
        f"  {name}: premium support, self-managed, {rng.randint(50, 5000)} seats.",
        "  Escalations go through the CSM.",
        f"details: Runbooks in the collaboration project of {name}.",
    ]
    return "\n".join(lines) + "\n"


def generate(target: Path, count: int, contacts: int = 10) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        p = target / f"org-{i:05d}.yaml"
        p.write_text(org_yaml(i, contacts), encoding="utf-8")
        paths.append(p)
    return paths
