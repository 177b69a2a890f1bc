"""The pipeline file and the CI/CD component template against GitLab's own CI JSON schema.

The schema is the copy that gitlab-ci-local 4.60.0 ships (tests/data/README.md says where it
comes from), so this test needs no node and no network. The pipeline proof (tests/pipeline/)
runs the same files with gitlab-ci-local itself, which validates them against the same schema
first.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "tests" / "data" / "gitlab-ci.schema.json"
PIPELINE = ROOT / ".gitlab-ci.yml"
TEMPLATE = ROOT / "templates" / "zendesk-org-checker.yml"
JOBS = ("validate", "drift-preview", "drift", "reconcile")

_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def _yaml_documents(path: Path) -> list[Any]:
    # The safe loader refuses tags it does not know (such as !reference): the files use none.
    return list(YAML(typ="safe", pure=True).load_all(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    docs = _yaml_documents(PIPELINE)
    assert len(docs) == 1
    assert isinstance(docs[0], dict)
    return docs[0]


@pytest.fixture(scope="module")
def template() -> tuple[dict[str, Any], dict[str, Any]]:
    docs = _yaml_documents(TEMPLATE)
    assert len(docs) == 2, "a component file is a spec header, '---', then the jobs"
    header, body = docs
    assert set(header) == {"spec"}
    return header, body


def _include_inputs(pipeline: dict[str, Any]) -> dict[str, Any]:
    includes = pipeline["include"]
    assert isinstance(includes, list)
    local = [i for i in includes if i.get("local") == "templates/zendesk-org-checker.yml"]
    assert len(local) == 1, ".gitlab-ci.yml must include the template itself"
    return dict(local[0].get("inputs") or {})


def _interpolate(node: Any, values: dict[str, Any], used: set[str]) -> Any:
    """GitLab's interpolation: a value that is only ``$[[ inputs.x ]]`` takes the input's type;
    inside a longer string the input is spliced in as text."""
    if isinstance(node, dict):
        return {
            _interpolate(k, values, used): _interpolate(v, values, used) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_interpolate(v, values, used) for v in node]
    if isinstance(node, str):
        whole = _INPUT.fullmatch(node.strip())
        if whole:
            used.add(whole.group(1))
            return values[whole.group(1)]

        def text(match: re.Match[str]) -> str:
            used.add(match.group(1))
            value = values[match.group(1)]
            return str(value).lower() if isinstance(value, bool) else str(value)

        return _INPUT.sub(text, node)
    return node


def _resolved_body(
    header: dict[str, Any], body: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    spec = header["spec"]["inputs"]
    unknown = set(given) - set(spec)
    assert not unknown, f"inputs the template does not declare: {sorted(unknown)}"
    values = {name: given.get(name, decl.get("default")) for name, decl in spec.items()}
    for name, decl in spec.items():
        assert values[name] is not None, f"input {name} has no default and was not given"
        kind = decl.get("type", "string")
        expected = {"string": str, "number": int, "boolean": bool}[kind]
        assert isinstance(values[name], expected), f"input {name} is not a {kind}"
    used: set[str] = set()
    resolved = _interpolate(copy.deepcopy(body), values, used)
    assert used == set(spec), f"declared but unused inputs: {sorted(set(spec) - used)}"
    assert not _INPUT.search(json.dumps(resolved))
    return resolved


def _errors(validator: Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:200]}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def test_pipeline_file_matches_gitlab_schema(
    validator: Draft7Validator, pipeline: dict[str, Any]
) -> None:
    assert _errors(validator, pipeline) == []


def test_schema_rejects_what_gitlab_rejects(
    validator: Draft7Validator, pipeline: dict[str, Any]
) -> None:
    """Guard against a schema copy that accepts anything."""
    broken = copy.deepcopy(pipeline)
    broken["validate"] = {"script": ["true"], "when": "sometimes", "parallel": 0}
    broken["stages"] = "test"
    assert len(_errors(validator, broken)) >= 3


def test_template_with_defaults_matches_gitlab_schema(
    validator: Draft7Validator, template: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    header, body = template
    assert _errors(validator, _resolved_body(header, body, {})) == []


def test_expanded_pipeline_matches_gitlab_schema(
    validator: Draft7Validator,
    pipeline: dict[str, Any],
    template: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """What GitLab (and gitlab-ci-local) validate: the file with its include expanded."""
    header, body = template
    expanded = {k: v for k, v in pipeline.items() if k != "include"}
    expanded.update(_resolved_body(header, body, _include_inputs(pipeline)))
    assert _errors(validator, expanded) == []
    assert set(JOBS) <= set(expanded)


def test_template_inputs_are_documented(
    template: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    header, _ = template
    for name, decl in header["spec"]["inputs"].items():
        assert decl.get("description"), f"input {name} has no description"
        assert "default" in decl, f"input {name} has no default: adopters must be able to omit it"


@pytest.fixture(scope="module")
def jobs(
    pipeline: dict[str, Any], template: tuple[dict[str, Any], dict[str, Any]]
) -> dict[str, Any]:
    header, body = template
    return _resolved_body(header, body, _include_inputs(pipeline))


def _script(job: dict[str, Any]) -> str:
    return "\n".join(job["script"])


def test_image_is_pinned_to_a_patch_release(jobs: dict[str, Any]) -> None:
    image = jobs[".zendesk-org-checker-base"]["image"]
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image), image
    for name in JOBS:
        assert jobs[name]["extends"] == ".zendesk-org-checker-base"


def test_validate_publishes_both_reports_always(jobs: dict[str, Any]) -> None:
    job = jobs["validate"]
    reports = job["artifacts"]["reports"]
    assert job["artifacts"]["when"] == "always"
    assert f"--junit {reports['junit']}" in _script(job)
    assert f"--codequality {reports['codequality']}" in _script(job)
    sources = {r["if"] for r in job["rules"]}
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in sources
    assert '$CI_PIPELINE_SOURCE == "schedule"' in sources
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in sources


def test_drift_preview_runs_only_for_changed_org_files(
    jobs: dict[str, Any], pipeline: dict[str, Any]
) -> None:
    job = jobs["drift-preview"]
    (rule,) = job["rules"]
    assert rule["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    config_dir = _include_inputs(pipeline)["config_dir"]
    assert rule["changes"] == [f"{config_dir}/orgs/**/*"]
    script = _script(job)
    assert '--changed-since "${CI_MERGE_REQUEST_DIFF_BASE_SHA}"' in script
    assert "--format markdown" in script
    assert "checker preview-note" in script
    assert "--file reports/drift-preview.md" in script
    assert "reconcile" not in script, "the preview opens no issues"


def test_drift_is_sharded_and_keeps_its_report(jobs: dict[str, Any]) -> None:
    job = jobs["drift"]
    assert isinstance(job["parallel"], int)
    assert 1 <= job["parallel"] <= 200
    assert job["artifacts"]["when"] == "always"
    script = _script(job)
    assert '--shard "${shard}"' in script
    assert '--output "reports/drift-${CI_NODE_INDEX:-1}.json"' in script
    assert "allow_failure" not in job, "exit 3 is mapped to success in the script instead"


def test_reconcile_waits_for_every_shard_and_runs_alone(jobs: dict[str, Any]) -> None:
    job = jobs["reconcile"]
    assert job["needs"] == [{"job": "drift", "artifacts": True}]
    assert job["resource_group"] == "zendesk-reconcile"
    assert job["interruptible"] is False
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "always"}]
    assert "--report" in _script(job)
    assert "no drift shard left a report" in _script(job), "never a drift run of its own"
    assert "--plan-output reports/reconcile-plan.json" in _script(job)
    assert job["artifacts"]["paths"] == [
        "reports/reconcile-plan.json",
        "reports/reconcile-plan.md",
        "reports/drift.html",
        "reports/pages/",
    ]


def test_reconcile_writes_the_report_page_and_keeps_a_history(jobs: dict[str, Any]) -> None:
    job = jobs["reconcile"]
    script = _script(job)
    assert "checker report" in script and "--output reports/drift.html" in script
    assert (
        "--plan reports/reconcile-plan.json" in script
        and '--history "${REPORT_HISTORY_DIR}"' in script
    )
    assert 'exit "${code}"' in script, "the page never hides reconcile's own outcome"
    assert job["artifacts"]["expose_as"] == "Zendesk drift report"
    assert job["artifacts"]["when"] == "always"
    history = [c for c in job["cache"] if c["key"] == "zendesk-org-checker-report-history"]
    assert history == [
        {"key": "zendesk-org-checker-report-history", "paths": [".checker-history/"],
         "policy": "pull-push", "when": "always"}
    ]  # fmt: skip
    assert job["variables"]["REPORT_PAGES"] is False  # the default: no Pages job


def test_the_pages_job_publishes_only_when_asked(
    template: tuple[dict[str, Any], dict[str, Any]], pipeline: dict[str, Any]
) -> None:
    header, body = template
    inputs = header["spec"]["inputs"]
    assert inputs["pages"] == {**inputs["pages"], "type": "boolean", "default": False}
    assert inputs["pages_redact_contacts"]["default"] is True
    enabled = _resolved_body(header, body, {**_include_inputs(pipeline), "pages": True})
    job = enabled["pages"]
    assert job["rules"] == [
        {"if": '"true" == "true" && $CI_PIPELINE_SOURCE == "schedule"', "when": "always"}
    ]
    assert job["needs"] == [{"job": "reconcile", "artifacts": True}]
    assert job["artifacts"]["paths"] == ["public"]
    assert "cp reports/pages/index.html public/index.html" in _script(job)
    assert "--redact-contacts" in _script(enabled["reconcile"])
    disabled = _resolved_body(header, body, _include_inputs(pipeline))
    assert disabled["pages"]["rules"][0]["if"].startswith('"false" == "true"')
