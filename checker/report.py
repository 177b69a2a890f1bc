"""DriftReport ↔ its versioned JSON form (``schemas/drift-report.schema.json``)."""

from __future__ import annotations

import json
from typing import Any

from checker.domain.models import (
    DriftItem,
    DriftKind,
    DriftReport,
    Fingerprint,
    InfoItem,
    OrgDrift,
    OrgStatus,
)
from checker.load.schema import DRIFT_REPORT_SCHEMA, validator

REPORT_SCHEMA_VERSION = 1


class ReportError(Exception):
    """A drift report file that cannot be used: its one-line reason."""


def _item(i: DriftItem) -> dict[str, Any]:
    return {
        "field": i.field,
        "kind": i.kind.value,
        "expected": i.expected,
        "actual": i.actual,
        "truth": i.truth,
        "item": i.item,
        "suppressed_by": i.suppressed_by,
        "suppressed_until": i.suppressed_until,
        **({"name": i.name} if i.name is not None else {}),
    }


def summary(report: DriftReport) -> dict[str, int]:
    return {
        "total": len(report.orgs),
        "in_sync": report.count(OrgStatus.IN_SYNC),
        "drifted": report.count(OrgStatus.DRIFTED),
        "missing": report.count(OrgStatus.MISSING),
        "unknown": report.count(OrgStatus.UNKNOWN),
        "suppressed_items": sum(len(o.suppressed) for o in report.orgs),
    }


def to_dict(report: DriftReport) -> dict[str, Any]:
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": report.generated_at,
        "checked_on": report.checked_on,
        "source": report.source,
        "scope": report.scope,
        "shard": report.shard,
        "zendesk_requests": report.zendesk_requests,
        "zendesk_rate_limited": report.zendesk_rate_limited,
        "summary": summary(report),
        "fingerprint": _fingerprint(report.fingerprint),
        "orgs": [
            {
                "org_id": o.org_id,
                "instance": o.instance,
                "file": o.file,
                "name": o.name,
                "status": o.status.value,
                "error": o.error,
                "csm": o.csm,
                "zendesk_url": o.zendesk_url,
                "collaboration_project_id": o.collaboration_project_id,
                "collaboration_project_url": o.collaboration_project_url,
                "items": [_item(i) for i in o.items],
                "suppressed": [_item(i) for i in o.suppressed],
                "info": [
                    {
                        "field": i.field,
                        "expected": i.expected,
                        "actual": i.actual,
                        "message": i.message,
                    }
                    for i in o.info
                ],
            }
            for o in report.orgs
        ],
    }


def _fingerprint(fp: Fingerprint | None) -> dict[str, Any] | None:
    if fp is None:
        return None
    return {"settings": fp.settings, "files": dict(fp.files)}


def _parse_fingerprint(doc: Any) -> Fingerprint | None:
    if not isinstance(doc, dict):
        return None
    return Fingerprint(
        settings=str(doc["settings"]),
        files=tuple(sorted((str(k), str(v)) for k, v in doc["files"].items())),
    )


def to_json(report: DriftReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _parse_item(d: dict[str, Any]) -> DriftItem:
    return DriftItem(
        field=d["field"],
        kind=DriftKind(d["kind"]),
        expected=d.get("expected"),
        actual=d.get("actual"),
        truth=d.get("truth", "repo"),
        item=d.get("item"),
        suppressed_by=d.get("suppressed_by"),
        suppressed_until=d.get("suppressed_until"),
        name=d.get("name"),
    )


def from_dict(doc: Any) -> DriftReport:
    """Parse a report; raises ReportError naming the first problem."""
    if not isinstance(doc, dict):
        raise ReportError("a drift report must be a JSON object")
    version = doc.get("schema_version")
    if version != REPORT_SCHEMA_VERSION:
        raise ReportError(
            f"drift report schema_version {version!r} is not {REPORT_SCHEMA_VERSION}; "
            "make the reports with the same checker version"
        )
    error = next(iter(validator(DRIFT_REPORT_SCHEMA).iter_errors(doc)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ReportError(f"invalid drift report at {where}: {error.message}")
    orgs = tuple(
        OrgDrift(
            org_id=o["org_id"],
            instance=o["instance"],
            file=o["file"],
            name=o["name"],
            status=OrgStatus(o["status"]),
            items=tuple(_parse_item(i) for i in o["items"]),
            suppressed=tuple(_parse_item(i) for i in o["suppressed"]),
            info=tuple(
                InfoItem(i["field"], i["expected"], i["actual"], i["message"])
                for i in o.get("info", [])
            ),
            error=o["error"],
            csm=o.get("csm"),
            zendesk_url=o.get("zendesk_url"),
            collaboration_project_url=o.get("collaboration_project_url"),
            collaboration_project_id=o.get("collaboration_project_id"),
        )
        for o in doc["orgs"]
    )
    return DriftReport(
        orgs=orgs,
        zendesk_requests=doc["zendesk_requests"],
        zendesk_rate_limited=doc.get("zendesk_rate_limited", 0),
        source=doc.get("source", "live"),
        scope=doc.get("scope", "partial"),
        shard=doc.get("shard"),
        generated_at=doc.get("generated_at", ""),
        checked_on=doc.get("checked_on", ""),
        fingerprint=_parse_fingerprint(doc.get("fingerprint")),
    )


def from_json(text: str) -> DriftReport:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportError(f"not JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise ReportError("not usable: nested too deeply") from None
    return from_dict(doc)
