"""A drift report as GitLab Markdown (the merge-request preview note, --format markdown)."""

from __future__ import annotations

from checker.models import DriftReport


def render(report: DriftReport) -> str:  # replaced below once inert rendering is in place
    return ""
