#!/usr/bin/env bash
# Proves .gitlab-ci.yml (and the template it includes) by running it, on this machine, with
# gitlab-ci-local and the shell executor, in throwaway git copies of the project:
#
#   1. validate on the bundled examples/config/orgs/           -> must pass (installs with pip)
#   2. validate on a copy with a broken org file            -> must fail, leaving both reports
#   3. a scheduled pipeline (3 drift shards + reconcile) against the fake Zendesk and GitLab
#      servers on loopback -> the expected issues exist; a second run writes nothing;
#      3b. with one Zendesk instance unreachable -> that shard fails (exit 4) but uploads its
#      report, reconcile still runs and leaves the unknown org's issue alone
#   4. the merge-request preview job: without Zendesk credentials it says so and passes;
#      with them, against the fakes, it leaves exactly one note (run twice); the same
#      pipeline's validate job checks only the changed org file
#   5. adoption: `checker init` into an empty git repository, two org files, the component
#      included from this repository (its template in gitlab-ci-local's include cache, where
#      GitLab would serve it): validate passes; the first scheduled run opens only the
#      dashboard with its plan; with CHECKER_FIRST_RUN_CONFIRMED=true the drift issue opens
#
# Scenarios that need a checker command that does not exist yet print
# "SKIPPED: <command> not available yet" and only fail when PIPELINE_PROOF_STRICT=1.
#
# Run it as `make pipeline`. Needs: bash, git, node >= 20 + npm, python3 >= 3.11; installs
# rsync (apt-get) and gitlab-ci-local (npm ci in tools/ci-local) when they are missing.
# Environment knobs:
#   PIPELINE_PROOF_STRICT=1        a skipped scenario is a failure
#   PIPELINE_PROOF_KEEP=1          keep the work folder (its path is printed) for inspection
#   PIPELINE_PROOF_TIMEOUT=180     seconds one gitlab-ci-local run may take
#   PIPELINE_PROOF_PIP_CACHE=DIR   pip cache the jobs use (default: ~/.cache/pip)
#   PYTHON=python3                 the interpreter for the fake servers and the jobs' venv
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
STRICT="${PIPELINE_PROOF_STRICT:-0}"
RUN_TIMEOUT="${PIPELINE_PROOF_TIMEOUT:-180}"
PIP_CACHE="${PIPELINE_PROOF_PIP_CACHE:-${HOME:-/tmp}/.cache/pip}"
CI_LOCAL_DIR="${ROOT}/tools/ci-local"
GCL_JS="${CI_LOCAL_DIR}/node_modules/gitlab-ci-local/src/index.js"
TODAY="2026-06-01" # a fixed "today": the example files' suppressions stay active

# Fake credentials: they only open the fake servers started below.
ZD_EMAIL="checker-bot@support.example"
ZD_TOKEN="zd-fake-global-token"
ZD_GOV_TOKEN="zd-fake-us-gov-token"
GL_TOKEN="glpat-fake-pipeline-proof"
GL_PROJECT_ID=7

PASSED=0
FAILED=0
SKIPPED=0
PIDS=()
WORK=""

say() { printf 'pipeline-proof: %s\n' "$*"; }
pass() {
	PASSED=$((PASSED + 1))
	printf 'PASS: %s\n' "$*"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL: %s\n' "$*"
}
skip() {
	SKIPPED=$((SKIPPED + 1))
	printf 'SKIPPED: %s\n' "$*"
	if [ "${STRICT}" = "1" ]; then
		fail "PIPELINE_PROOF_STRICT=1: a skipped scenario counts as a failure"
	fi
}
die() {
	printf 'pipeline-proof: error: %s\n' "$*" >&2
	exit 2
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "${pid}" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "${pid}" 2>/dev/null || true
	done
	if [ -n "${WORK}" ] && [ -d "${WORK}" ]; then
		if [ "${PIPELINE_PROOF_KEEP:-0}" = "1" ]; then
			say "kept the work folder ${WORK}"
		else
			rm -rf "${WORK}"
		fi
	fi
}
trap cleanup EXIT

# ------------------------------------------------------------------ prerequisites

ensure_rsync() {
	command -v rsync >/dev/null 2>&1 && return 0
	say "installing rsync (gitlab-ci-local's shell executor needs it)"
	command -v apt-get >/dev/null 2>&1 || die "rsync is missing and there is no apt-get to install it"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "rsync is missing; install it (apt-get install rsync)"
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq rsync >/dev/null
	command -v rsync >/dev/null 2>&1 || die "could not install rsync"
}

ensure_gitlab_ci_local() {
	command -v node >/dev/null 2>&1 || die "node is missing (gitlab-ci-local 4.60.0 needs Node >= 20)"
	command -v npm >/dev/null 2>&1 || die "npm is missing"
	local major
	major="$(node -p 'process.versions.node.split(".")[0]')"
	[ "${major}" -ge 20 ] || die "node ${major} is too old: gitlab-ci-local 4.60.0 needs Node >= 20"
	# npm ci only when the installed tree is not the locked one (it compiles re2: ~1.5 min).
	local stamp="${CI_LOCAL_DIR}/node_modules/.pipeline-proof-lock"
	if [ -f "${GCL_JS}" ] && [ -f "${stamp}" ] && cmp -s "${stamp}" "${CI_LOCAL_DIR}/package-lock.json"; then
		say "gitlab-ci-local already installed in tools/ci-local"
	else
		say "npm ci in tools/ci-local (gitlab-ci-local 4.60.0)"
		(cd "${CI_LOCAL_DIR}" && npm ci --no-audit --no-fund --loglevel=error)
		cp "${CI_LOCAL_DIR}/package-lock.json" "${stamp}"
	fi
	say "gitlab-ci-local $(node "${GCL_JS}" --version)"
}

# ------------------------------------------------------------------ throwaway repositories

# copy_project DEST: the project's files as a clean clone would have them (tracked files plus
# new files not ignored, as they are in the working tree), without .git, .venv, node_modules.
copy_project() {
	local dest="$1"
	mkdir -p "${dest}"
	if git -C "${ROOT}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "${ROOT}" ls-files -z --cached --others --exclude-standard |
			rsync -a --from0 --files-from=- --ignore-missing-args "${ROOT}/" "${dest}/"
	else
		rsync -a --exclude .git --exclude .venv --exclude node_modules --exclude .gitlab-ci-local \
			--exclude reports --exclude '*_cache' --exclude __pycache__ "${ROOT}/" "${dest}/"
	fi
}

# make_repo DEST: a git repository of the project on branch main, with the
# refs/remotes/origin/main that gitlab-ci-local's rules:changes compares against.
make_repo() {
	local dest="$1"
	copy_project "${dest}"
	(
		cd "${dest}"
		git init -q -b main
		git config user.name "Pipeline Proof"
		git config user.email "pipeline-proof@example.invalid"
		git config commit.gpgsign false
		git add -A
		git commit -q -m "Snapshot of the project for the pipeline proof"
		git remote add origin "https://gitlab.example/support/zendesk-orgs.git"
		git update-ref refs/remotes/origin/main HEAD
		git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
	)
}

# gcl DIR LOG ARGS...: run gitlab-ci-local in DIR (a pipeline, or a stage), bounded in time,
# with no Zendesk/GitLab/CI variables leaking in from this shell. Returns its exit code.
gcl() {
	local dir="$1" log="$2"
	shift 2
	local rc=0
	(
		cd "${dir}"
		while IFS= read -r name; do
			case "${name}" in
			ZENDESK_* | GITLAB_* | CHECKER_* | CI_* | GCL_*) unset "${name}" ;;
			esac
		done < <(compgen -e)
		exec timeout --kill-after=10 "${RUN_TIMEOUT}" node "${GCL_JS}" \
			--home "${WORK}/gcl-home" --force-shell-executor --shell-isolation \
			--no-artifacts-to-source --no-color --max-job-name-padding 0 "$@"
	) >"${log}" 2>&1 || rc=$?
	if [ "${rc}" -eq 124 ] || [ "${rc}" -eq 137 ]; then
		say "gitlab-ci-local did not finish within ${RUN_TIMEOUT}s (log: ${log})"
	fi
	return "${rc}"
}

show_log() {
	say "---- last lines of $1"
	tail -n "${2:-40}" "$1" | sed 's/^/    /'
	say "----"
}

# ------------------------------------------------------------------ fake servers

# start_server NAME PORTFILE ARGS...: start python -m ARGS in the background from the project
# root, wait for its port file; sets SERVER_PID.
SERVER_PID=""
start_server() {
	local name="$1" port_file="$2"
	shift 2
	rm -f "${port_file}"
	(cd "${ROOT}" && exec "${PYTHON}" -m "$@" --port-file "${port_file}") >>"${WORK}/${name}.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("${SERVER_PID}")
	for _ in $(seq 1 100); do
		[ -s "${port_file}" ] && return 0
		kill -0 "${SERVER_PID}" 2>/dev/null || break
		sleep 0.1
	done
	show_log "${WORK}/${name}.log" 20
	die "the fake server ${name} did not start"
}

# stop_server PID: SIGTERM (the fake GitLab writes its state then), wait at most 10 s.
stop_server() {
	local pid="$1"
	kill "${pid}" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "${pid}" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "${pid}" 2>/dev/null || true
	wait "${pid}" 2>/dev/null || true
}

# seed_gitlab REPO OUT [CONFIG]: the fake GitLab's seed (tests/pipeline/gitlab-state.json) plus
# the repository's CONFIG files (default examples/config) on branch main, as GitLab would hold them.
seed_gitlab() {
	"${PYTHON}" - "$1" "${ROOT}/tests/pipeline/gitlab-state.json" "$2" "${3:-examples/config}" <<'PY'
import json, pathlib, sys
repo, seed, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
state = json.loads(seed.read_text(encoding="utf-8"))
state.pop("_comment", None)
files = {
    str(p.relative_to(repo)): p.read_text(encoding="utf-8")
    for p in sorted((repo / sys.argv[4]).rglob("*"))
    if p.is_file()
}
state["branches"] = {"main": files}
out.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
PY
}

# ------------------------------------------------------------------ checks (python, json only)

# check_validate_reports ARTIFACTS_DIR EXPECT_FILE: junit.xml and codequality.json exist and
# (when EXPECT_FILE is not empty) both name EXPECT_FILE.
check_validate_reports() {
	"${PYTHON}" - "$1" "$2" <<'PY'
import json, pathlib, sys
import xml.etree.ElementTree as ET
base, expect = pathlib.Path(sys.argv[1]), sys.argv[2]
junit, cq = base / "junit.xml", base / "codequality.json"
problems = [f"{p} is missing" for p in (junit, cq) if not p.is_file()]
if not problems:
    root = ET.parse(junit).getroot()
    failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))
    if root.tag == "testsuite":
        failures = int(root.get("failures", 0)) + int(root.get("errors", 0))
    issues = json.loads(cq.read_text(encoding="utf-8"))
    if not isinstance(issues, list):
        problems.append("codequality.json is not a JSON array")
    elif expect:
        if failures == 0:
            problems.append("junit.xml records no failure")
        if expect not in junit.read_text(encoding="utf-8"):
            problems.append(f"junit.xml does not name {expect}")
        if not any(i.get("location", {}).get("path") == expect for i in issues):
            problems.append(f"codequality.json has no issue located in {expect}")
    else:
        if failures:
            problems.append(f"junit.xml records {failures} failures")
        if [i for i in issues if i.get("severity") not in ("info", "minor")]:
            problems.append("codequality.json holds problems")
print("; ".join(problems) if problems else "ok")
sys.exit(1 if problems else 0)
PY
}

# check_drift_reports ARTIFACTS_ROOT SHARDS [HARBOR_STATUS]: one report per shard, every org
# once, statuses as tests/pipeline/*.json intend (Harbor Federal's: "drifted" unless given).
check_drift_reports() {
	"${PYTHON}" - "$1" "$2" "${3:-drifted}" <<'PY'
import json, pathlib, sys
root, shards, harbor = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
found = sorted(root.glob("*/reports/drift-*.json"))
names = sorted(p.name for p in found)
problems = []
want_names = [f"drift-{i}.json" for i in range(1, shards + 1)]
if names != want_names:
    problems.append(f"shard reports {names}, expected {want_names}")
statuses = {}
for path in found:
    report = json.loads(path.read_text(encoding="utf-8"))
    for org in report.get("orgs", []):
        if org["org_id"] in statuses:
            problems.append(f"org {org['org_id']} is in two shards")
        statuses[org["org_id"]] = org["status"]
expected = {360001234501: "in_sync", 360001234502: "drifted", 9100042: harbor}
if statuses != expected:
    problems.append(f"org statuses {statuses}, expected {expected}")
print("; ".join(problems) if problems else f"ok: {len(found)} shard reports, statuses {statuses}")
sys.exit(1 if problems else 0)
PY
}

# Issues and merge requests are matched to orgs by their titles (which name the org), never by
# descriptions: a dashboard issue lists every org, in sync or not.
ORG_MATCHER='
def mentions(record, org_id, name, file):
    title = record.get("title") or ""
    return str(org_id) in title or name in title or file in title
'

# check_gitlab_issues STATE_JSON: issues for the two drifted orgs, nothing for the one in sync.
# The report page the reconcile job keeps as an artifact: one self-contained HTML file.
check_report_page() { # PAGE
	local page="$1"
	[ -s "${page}" ] || {
		echo "reconcile uploaded no reports/drift.html"
		return 1
	}
	grep -q '<meta http-equiv="Content-Security-Policy"' "${page}" || {
		echo "reports/drift.html has no Content-Security-Policy"
		return 1
	}
	grep -q 'id="report-data"' "${page}" || {
		echo "reports/drift.html holds no report data"
		return 1
	}
	echo "$(wc -c <"${page}") bytes"
}

# set_pages_input REPO true|false: the include's input pages in REPO's .gitlab-ci.yml.
set_pages_input() {
	local file="$1/.gitlab-ci.yml"
	sed -i '/^      pages: /d' "${file}"
	if [ "$2" = "true" ]; then
		sed -i 's/^\(      drift_shards: .*\)$/\1\n      pages: true/' "${file}"
	fi
}

# The page the pages job publishes: the report page, with no contact email left readable.
check_pages_site() { # INDEX_HTML
	local page="$1" emails
	check_report_page "${page}" >/dev/null || {
		echo "the pages job published no report page (public/index.html)"
		return 1
	}
	emails="$(grep -oE "[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+" "${page}" | grep -vc '^redacted-' || true)"
	if [ "${emails}" != "0" ]; then
		echo "public/index.html shows ${emails} contact email(s) unredacted"
		return 1
	fi
	echo "$(wc -c <"${page}") bytes, $(grep -o 'redacted-[0-9a-f]*@' "${page}" | sort -u | wc -l) redacted email(s), none readable"
}

check_gitlab_issues() {
	"${PYTHON}" - "$1" "${ORG_MATCHER}" <<'PY'
import json, pathlib, sys
state = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
exec(sys.argv[2])
issues = [i for i in state.get("issues", []) if i.get("state") == "opened"]
mrs = [m for m in state.get("merge_requests", []) if m.get("iid") != 1]
orgs = {
    "bluepeak": (360001234502, "Bluepeak Analytics", "bluepeak-analytics.yaml"),
    "harbor": (9100042, "Harbor Federal Services", "harbor-federal.yaml"),
    "northwind": (360001234501, "Northwind Logistics", "northwind-logistics.yaml"),
}
problems = []
for key in ("bluepeak", "harbor"):
    if not any(mentions(i, *orgs[key]) for i in issues):
        problems.append(f"no open issue about {orgs[key][1]}")
if any(mentions(r, *orgs["northwind"]) for r in issues + mrs):
    problems.append("an issue or merge request about Northwind Logistics, which is in sync")
summary = f"{len(issues)} open issues, {len(mrs)} merge requests from reconcile: " + "; ".join(
    f"#{i['iid']} {i['title']}" for i in issues
)
print("; ".join(problems) if problems else f"ok: {summary}")
sys.exit(1 if problems else 0)
PY
}

# same_gitlab_state A B: nothing was written between the two dumps.
same_gitlab_state() {
	"${PYTHON}" - "$1" "$2" <<'PY'
import json, pathlib, sys
a, b = (json.loads(pathlib.Path(p).read_text(encoding="utf-8")) for p in sys.argv[1:3])
diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
print(f"changed: {', '.join(diff)}" if diff else "ok: identical")
sys.exit(1 if diff else 0)
PY
}

# same_org_records A B: the issues and merge requests about the three orgs are the same in both
# dumps (state, title, description, labels); the seed's merge request !1 is not one of them.
same_org_records() {
	"${PYTHON}" - "$1" "$2" "${ORG_MATCHER}" <<'PY'
import json, pathlib, sys
exec(sys.argv[3])
orgs = [
    (360001234502, "Bluepeak Analytics", "bluepeak-analytics.yaml"),
    (9100042, "Harbor Federal Services", "harbor-federal.yaml"),
    (360001234501, "Northwind Logistics", "northwind-logistics.yaml"),
]
def records(path):
    state = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    out = {}
    for kind in ("issues", "merge_requests"):
        for r in state.get(kind, []):
            if kind == "merge_requests" and r.get("iid") == 1:
                continue
            if any(mentions(r, *org) for org in orgs):
                out[(kind, r["iid"])] = (r.get("state"), r.get("title"), r.get("description"), r.get("labels"))
    return out
a, b = records(sys.argv[1]), records(sys.argv[2])
diff = sorted(f"{k[0]} {k[1]}" for k in set(a) | set(b) if a.get(k) != b.get(k))
print(f"changed: {', '.join(diff)}" if diff else f"ok: {len(a)} org issues and merge requests unchanged")
sys.exit(1 if diff else 0)
PY
}

# check_preview_note STATE_JSON ISSUES_BEFORE: MR !1 has exactly one note with the marker,
# about Bluepeak; the preview opened no issue.
check_preview_note() {
	"${PYTHON}" - "$1" "$2" <<'PY'
import json, pathlib, sys
state = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
issues_before = int(sys.argv[2])
marker = "<!-- zendesk-drift-checker:preview -->"
mr = next((m for m in state.get("merge_requests", []) if m.get("iid") == 1), None)
problems = []
if mr is None:
    problems.append("merge request !1 is gone")
    notes = []
else:
    notes = [n for n in mr.get("notes", []) if marker in (n.get("body") or "")]
    if len(notes) != 1:
        problems.append(f"{len(notes)} preview notes on !1, expected exactly 1")
    elif "Bluepeak" not in notes[0]["body"] and "360001234502" not in notes[0]["body"]:
        problems.append("the preview note does not mention Bluepeak Analytics")
if len(state.get("issues", [])) != issues_before:
    problems.append("the preview job changed the issues")
print("; ".join(problems) if problems else "ok: one preview note on !1")
sys.exit(1 if problems else 0)
PY
}

count_issues() {
	"${PYTHON}" -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("issues", [])))' "$1"
}

# ------------------------------------------------------------------ scenarios

scenario_validate_ok() {
	say "scenario 1: validate on the bundled examples/config/orgs (push pipeline on main; pip install .)"
	local repo="${WORK}/repo-ok" log="${WORK}/s1-validate.log" rc=0
	make_repo "${repo}"
	gcl "${repo}" "${log}" --variable "PIP_CACHE_DIR=${PIP_CACHE}" || rc=$?
	local reports="${repo}/.gitlab-ci-local/artifacts/validate/reports" check
	if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *validate" "${log}"; then
		show_log "${log}"
		fail "1: the push pipeline on main failed (exit ${rc})"
	elif grep -qE "(PASS|FAIL) +(drift|reconcile|drift-preview)" "${log}"; then
		show_log "${log}"
		fail "1: a push pipeline ran more than validate"
	elif ! check="$(check_validate_reports "${reports}" "")"; then
		fail "1: validate passed, but its reports are wrong: ${check}"
	else
		pass "1: validate passes on examples/config/orgs and publishes junit.xml and codequality.json"
	fi
}

scenario_validate_broken() {
	say "scenario 2: validate on a copy with a broken org file"
	local repo="${WORK}/repo-broken" log="${WORK}/s2-validate.log" rc=0
	local broken="examples/config/orgs/broken-example.yaml"
	make_repo "${repo}"
	cat >"${repo}/${broken}" <<'YAML'
# A CSM's broken change: an unknown key (typo), a number where text is expected.
schema_version: 1
name: Broken Example
zendesk:
  org_id: 360001234599
csm: jdoe
support_contacts:
  - name: Alex Broken
    emial: alex@broken.example
salesforce_id: 16100001
YAML
	git -C "${repo}" add "${broken}"
	git -C "${repo}" commit -q -m "A broken org file"
	gcl "${repo}" "${log}" --variable "CHECKER_PYTHON=${CHECKER_PY}" || rc=$?
	local reports="${repo}/.gitlab-ci-local/artifacts/validate/reports" check
	if [ "${rc}" -eq 0 ] || ! grep -q "FAIL  *validate" "${log}"; then
		show_log "${log}"
		fail "2: the pipeline did not fail on a broken org file (exit ${rc})"
	elif ! check="$(check_validate_reports "${reports}" "${broken}")"; then
		show_log "${log}"
		fail "2: validate failed, but the reports are not right: ${check}"
	else
		pass "2: validate fails on ${broken} and still uploads junit.xml and codequality.json naming it"
	fi
}

# Variables that point the jobs at the fake servers.
fake_variables() {
	FAKE_VARS=(
		--variable "CHECKER_PYTHON=${CHECKER_PY}"
		--variable "CHECKER_TODAY=${TODAY}"
		--variable "ZENDESK_URL=http://127.0.0.1:${ZD_PORT}"
		--variable "ZENDESK_EMAIL=${ZD_EMAIL}"
		--variable "ZENDESK_API_TOKEN=${ZD_TOKEN}"
		--variable "ZENDESK_US_GOV_URL=http://127.0.0.1:${ZD_GOV_PORT}"
		--variable "ZENDESK_US_GOV_EMAIL=${ZD_EMAIL}"
		--variable "ZENDESK_US_GOV_API_TOKEN=${ZD_GOV_TOKEN}"
	)
	GITLAB_VARS=(
		--variable "GITLAB_URL=http://127.0.0.1:${GL_PORT}"
		--variable "GITLAB_TOKEN=${GL_TOKEN}"
		--variable "GITLAB_PROJECT=${GL_PROJECT_ID}"
		--variable "CI_PROJECT_ID=${GL_PROJECT_ID}"
		--variable "CHECKER_FIRST_RUN_CONFIRMED=true" # scenario 5 proves the first run's plan
	)
}

start_gitlab() { # STATE_IN STATE_OUT
	start_server gitlab "${WORK}/gitlab.port" tests.fakes.gitlab_server --port "${GL_PORT:-0}" \
		--token "${GL_TOKEN}" --project-id "${GL_PROJECT_ID}" --state-in "$1" --state-out "$2"
	GL_PID="${SERVER_PID}"
	GL_PORT="$(cat "${WORK}/gitlab.port")"
}

scenario_schedule() {
	say "scenario 3: scheduled pipeline, 3 drift shards and reconcile, against the fakes"
	local repo="${WORK}/repo-ok" rc=0 check
	if [ "${HAVE_DRIFT}" != "1" ]; then
		skip "3: checker drift not available yet"
		return 0
	fi
	if [ "${HAVE_RECONCILE}" != "1" ]; then
		# The drift half of the schedule still runs: the test stage, with every shard.
		local log="${WORK}/s3-drift-stage.log"
		rm -rf "${repo}/.gitlab-ci-local/artifacts"
		gcl "${repo}" "${log}" --variable CI_PIPELINE_SOURCE=schedule --stage test "${FAKE_VARS[@]}" || rc=$?
		if [ "${rc}" -ne 0 ]; then
			show_log "${log}"
			fail "3: the scheduled drift shards failed (exit ${rc})"
		elif ! check="$(check_drift_reports "${repo}/.gitlab-ci-local/artifacts" 3)"; then
			show_log "${log}"
			fail "3: drift shards ran, but their reports are wrong: ${check}"
		else
			pass "3a: scheduled drift shards find the drift and pass (${check})"
		fi
		skip "3: checker reconcile not available yet (scenario 3 ran the drift stage only)"
		return 0
	fi
	local run state_in="${WORK}/gitlab-seed.json"
	for run in 1 2; do
		local log="${WORK}/s3-schedule-${run}.log" state_out="${WORK}/gitlab-after-schedule-${run}.json"
		# The second run also has the component's input pages: true (the Pages job publishes the
		# page, redacted); the first and 3b keep the default (no Pages job).
		if [ "${run}" = "2" ]; then set_pages_input "${repo}" true; fi
		start_gitlab "${state_in}" "${state_out}"
		fake_variables
		rm -rf "${repo}/.gitlab-ci-local/artifacts"
		rc=0
		gcl "${repo}" "${log}" --variable CI_PIPELINE_SOURCE=schedule "${FAKE_VARS[@]}" "${GITLAB_VARS[@]}" || rc=$?
		stop_server "${GL_PID}"
		LAST_GITLAB_STATE="${state_out}"
		if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *reconcile" "${log}"; then
			show_log "${log}" 60
			fail "3: scheduled pipeline run ${run} failed (exit ${rc})"
			return 0
		fi
		if ! check="$(check_drift_reports "${repo}/.gitlab-ci-local/artifacts" 3)"; then
			fail "3: run ${run}: the drift shard reports are wrong: ${check}"
			return 0
		fi
		if [ ! -s "${repo}/.gitlab-ci-local/artifacts/reconcile/reports/reconcile-plan.json" ]; then
			fail "3: run ${run}: reconcile uploaded no reports/reconcile-plan.json"
			return 0
		fi
		if ! check="$(check_report_page "${repo}/.gitlab-ci-local/artifacts/reconcile/reports/drift.html")"; then
			fail "3: run ${run}: ${check}"
			return 0
		fi
		pass "3: run ${run}: reconcile keeps the report page reports/drift.html (${check})"
		if [ "${run}" = "2" ]; then
			set_pages_input "${repo}" false
			if ! grep -q "PASS  *pages" "${log}"; then
				show_log "${log}" 60
				fail "3: run 2: with the input pages: true, the pages job did not run and pass"
				return 0
			fi
			if ! check="$(check_pages_site "${repo}/.gitlab-ci-local/artifacts/pages/public/index.html")"; then
				fail "3: run 2: ${check}"
				return 0
			fi
			pass "3: run 2: the pages job publishes the report page with contacts redacted (${check})"
		elif grep -q "pages" <(grep -E "^(PASS|FAIL) " "${log}"); then
			fail "3: run 1: a pages job ran although the input pages is false"
			return 0
		fi
		if [ "${run}" = "1" ]; then
			if ! check="$(check_gitlab_issues "${state_out}")"; then
				fail "3: after the first scheduled run: ${check}"
				return 0
			fi
			pass "3: scheduled pipeline opens the expected issues (${check})"
		elif ! check="$(same_gitlab_state "${state_in}" "${state_out}")"; then
			fail "3: the second scheduled run wrote to GitLab (${check})"
			return 0
		else
			pass "3: a second scheduled run writes nothing to GitLab"
		fi
		state_in="${state_out}"
	done

	# 3b: the us-gov instance does not answer. Its shard fails (exit 4) but still uploads its
	# report; reconcile runs anyway (when: always), and leaves the unknown org's issue alone.
	say "scenario 3b: scheduled pipeline while the us-gov Zendesk does not answer"
	local log="${WORK}/s3-unreachable.log" state_out="${WORK}/gitlab-after-unreachable.json"
	local dead_port vars=() item
	dead_port="$("${PYTHON}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
	start_gitlab "${state_in}" "${state_out}"
	fake_variables
	for item in "${FAKE_VARS[@]}"; do
		case "${item}" in
		ZENDESK_US_GOV_URL=*) vars+=("ZENDESK_US_GOV_URL=http://127.0.0.1:${dead_port}") ;;
		*) vars+=("${item}") ;;
		esac
	done
	rm -rf "${repo}/.gitlab-ci-local/artifacts"
	rc=0
	gcl "${repo}" "${log}" --variable CI_PIPELINE_SOURCE=schedule "${vars[@]}" "${GITLAB_VARS[@]}" || rc=$?
	stop_server "${GL_PID}"
	LAST_GITLAB_STATE="${state_out}"
	if [ "${rc}" -eq 0 ] || ! grep -qE "FAIL +drift: \[[0-9]/3\]" "${log}"; then
		show_log "${log}" 60
		fail "3b: an unreachable Zendesk did not fail its drift shard (pipeline exit ${rc})"
	elif ! grep -q "PASS  *reconcile" "${log}"; then
		show_log "${log}" 60
		fail "3b: reconcile did not run (and pass) after a shard that could not check"
	elif ! check="$(check_drift_reports "${repo}/.gitlab-ci-local/artifacts" 3 unknown)"; then
		fail "3b: the shard reports are wrong: ${check}"
	elif ! check="$(same_org_records "${state_in}" "${state_out}")"; then
		fail "3b: reconcile changed the orgs' issues although only an unknown org changed (${check})"
	else
		pass "3b: a shard that could not check fails, keeps its report, and reconcile leaves the unknown org alone"
	fi
}

scenario_preview() {
	say "scenario 4: merge request pipeline with a changed org file (drift-preview)"
	local repo="${WORK}/repo-mr" base rc=0 check
	make_repo "${repo}"
	base="$(git -C "${repo}" rev-parse HEAD)"
	git -C "${repo}" checkout -q -b csm/bluepeak-new-contact
	"${PYTHON}" - "${repo}/examples/config/orgs/bluepeak-analytics.yaml" <<'PY'
import pathlib, sys
path = pathlib.Path(sys.argv[1])
text = path.read_text(encoding="utf-8")
anchor = "    email: Sam.Ortiz@bluepeak.example\n"
assert anchor in text, "bluepeak-analytics.yaml changed: update the pipeline proof"
path.write_text(text.replace(anchor, anchor + "  - name: Noor Haddad\n    email: noor.haddad@bluepeak.example\n"), encoding="utf-8")
PY
	git -C "${repo}" commit -q -am "Bluepeak Analytics: add Noor Haddad as a support contact"
	local mr_vars=(
		--variable CI_PIPELINE_SOURCE=merge_request_event
		--variable CI_MERGE_REQUEST_IID=1
		--variable "CI_MERGE_REQUEST_DIFF_BASE_SHA=${base}"
		--variable CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=csm/bluepeak-new-contact
		--variable CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main
		--variable "CHECKER_PYTHON=${CHECKER_PY}"
	)

	# 4a: a fork's merge request: no Zendesk credentials. Needs no new command.
	local log="${WORK}/s4-no-credentials.log"
	gcl "${repo}" "${log}" "${mr_vars[@]}" || rc=$?
	if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *drift-preview" "${log}" || ! grep -q "no Zendesk credentials" "${log}"; then
		show_log "${log}"
		fail "4a: drift-preview without Zendesk credentials did not say so and pass (exit ${rc})"
	else
		pass "4a: drift-preview without Zendesk credentials says so and passes"
	fi
	# The same merge request pipeline's validate job checks only the org file the MR changed.
	if grep -q "PASS  *validate" "${log}" && grep -q "checker: 1 org file added or changed since" "${log}"; then
		pass "4c: validate on the merge request checks only the changed org file (--changed-since its base)"
	else
		show_log "${log}"
		fail "4c: validate on the merge request did not check just the changed org file"
	fi

	if [ "${HAVE_DRIFT}" != "1" ]; then
		skip "4: checker drift not available yet"
		return 0
	fi
	fake_variables
	if [ "${HAVE_PREVIEW_NOTE}" != "1" ]; then
		# The preview is computed and kept in the artifacts; only the note cannot be posted.
		log="${WORK}/s4-preview-no-note.log"
		rc=0
		gcl "${repo}" "${log}" "${mr_vars[@]}" "${FAKE_VARS[@]}" || rc=$?
		local md="${repo}/.gitlab-ci-local/artifacts/drift-preview/reports/drift-preview.md"
		if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *drift-preview" "${log}"; then
			show_log "${log}"
			fail "4b: drift-preview against the fake Zendesk failed (exit ${rc})"
		elif [ ! -s "${md}" ] || ! grep -qE "Bluepeak|360001234502" "${md}"; then
			fail "4b: drift-preview left no preview about Bluepeak Analytics in ${md}"
		else
			pass "4b: drift-preview computes the Markdown preview of the changed org (note not posted)"
		fi
		skip "4: checker preview-note not available yet (the note itself was not posted)"
		return 0
	fi
	local state_in="${LAST_GITLAB_STATE:-${WORK}/gitlab-seed.json}" state_out="${WORK}/gitlab-after-preview.json"
	local issues_before run
	issues_before="$(count_issues "${state_in}")"
	start_gitlab "${state_in}" "${state_out}"
	fake_variables
	for run in 1 2; do
		log="${WORK}/s4-preview-${run}.log"
		rc=0
		gcl "${repo}" "${log}" "${mr_vars[@]}" "${FAKE_VARS[@]}" "${GITLAB_VARS[@]}" || rc=$?
		if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *drift-preview" "${log}"; then
			show_log "${log}"
			stop_server "${GL_PID}"
			fail "4: drift-preview run ${run} failed (exit ${rc})"
			return 0
		fi
	done
	stop_server "${GL_PID}"
	if ! check="$(check_preview_note "${state_out}" "${issues_before}")"; then
		fail "4: after two merge request pipelines: ${check}"
	else
		pass "4: two merge request pipelines leave exactly one preview note and open no issue"
	fi
}

# check_first_run STATE_JSON CONFIRMED: before confirmation only the dashboard, holding the
# first run's plan; after it, an issue about Bluepeak Analytics and none about Northwind.
check_first_run() {
	"${PYTHON}" - "$1" "$2" <<'PY'
import json, pathlib, sys
state = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
confirmed = sys.argv[2] == "1"
issues = [i for i in state.get("issues", []) if i.get("state") == "opened"]
titles = sorted(i["title"] for i in issues)
pending = [i for i in issues if "first-run-pending" in (i.get("description") or "")]
problems = []
if not confirmed:
    if titles != ["Zendesk drift dashboard"] or len(pending) != 1:
        problems.append(f"open issues {titles}, expected only the dashboard with the first run's plan")
    elif "**1** drift issue(s)" not in pending[0]["description"]:
        problems.append("the first run's dashboard does not say it will open 1 drift issue")
else:
    if pending:
        problems.append("the dashboard still waits for confirmation")
    if not any("Bluepeak" in t for t in titles) or any("Northwind" in t for t in titles):
        problems.append(f"open issues {titles}, expected one about Bluepeak Analytics only")
print("; ".join(problems) if problems else f"ok: open issues {titles}")
sys.exit(1 if problems else 0)
PY
}

scenario_adopt() {
	say "scenario 5: checker init into an empty repository, the component included, first run"
	local repo="${WORK}/repo-adopter" log version rc=0 check
	version="$("${CHECKER_PY}" -c 'from importlib.metadata import version; print(version("zendesk-org-checker"))')"
	mkdir -p "${repo}"
	(
		cd "${repo}"
		git init -q -b main
		git config user.name "Pipeline Proof"
		git config user.email "pipeline-proof@example.invalid"
		git config commit.gpgsign false
		"${CHECKER_PY}" -m checker init --instance global=https://acme.zendesk.example \
			--checker-project gitlab.example/support/zendesk-orgs --version "${version}" >"${WORK}/s5-init.log" 2>&1
		cp "${ROOT}/examples/config/orgs/bluepeak-analytics.yaml" "${ROOT}/examples/config/orgs/northwind-logistics.yaml" config/orgs/
		"${CHECKER_PY}" -m checker validate >>"${WORK}/s5-init.log" 2>&1
		git add -A
		git commit -q -m "Adopt the Zendesk org checker"
		git remote add origin "https://gitlab.example/acme/zendesk-orgs.git"
		git update-ref refs/remotes/origin/main HEAD
		git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
		# The component as GitLab would serve it from this repository at that version.
		local cache=".gitlab-ci-local/includes/gitlab.example/support/zendesk-orgs/${version}/templates"
		mkdir -p "${cache}"
		cp "${ROOT}/templates/zendesk-org-checker.yml" "${cache}/"
	) || rc=$?
	if [ "${rc}" -ne 0 ]; then
		show_log "${WORK}/s5-init.log"
		fail "5: checker init or checker validate failed in the new repository (exit ${rc})"
		return 0
	fi
	if ! grep -q "component: \$CI_SERVER_FQDN/support/zendesk-orgs/zendesk-org-checker@${version}" "${repo}/.gitlab-ci.yml"; then
		fail "5: the .gitlab-ci.yml checker init wrote does not include the component"
		return 0
	fi
	log="${WORK}/s5-validate.log"
	gcl "${repo}" "${log}" --variable "CHECKER_PYTHON=${CHECKER_PY}" || rc=$?
	if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *validate" "${log}"; then
		show_log "${log}"
		fail "5: validate did not pass in the initialised repository (exit ${rc})"
		return 0
	fi
	pass "5: checker init, then validate passes with the component included from this repository"

	local state_in="${WORK}/gitlab-adopter-seed.json" state_out run confirmed vars item
	seed_gitlab "${repo}" "${state_in}" config
	for run in 1 2; do
		confirmed=$((run - 1))
		state_out="${WORK}/gitlab-adopter-${run}.json"
		log="${WORK}/s5-schedule-${run}.log"
		start_gitlab "${state_in}" "${state_out}"
		fake_variables
		vars=()
		for item in "${GITLAB_VARS[@]}"; do
			case "${item}" in
			CHECKER_FIRST_RUN_CONFIRMED=*) vars+=("CHECKER_FIRST_RUN_CONFIRMED=$([ "${confirmed}" = 1 ] && echo true || echo false)") ;;
			*) vars+=("${item}") ;;
			esac
		done
		rm -rf "${repo}/.gitlab-ci-local/artifacts"
		rc=0
		gcl "${repo}" "${log}" --variable CI_PIPELINE_SOURCE=schedule "${FAKE_VARS[@]}" "${vars[@]}" || rc=$?
		stop_server "${GL_PID}"
		if [ "${rc}" -ne 0 ] || ! grep -q "PASS  *reconcile" "${log}"; then
			show_log "${log}" 60
			fail "5: scheduled run ${run} in the initialised repository failed (exit ${rc})"
			return 0
		fi
		if ! check="$(check_first_run "${state_out}" "${confirmed}")"; then
			fail "5: run ${run}: ${check}"
			return 0
		fi
		if [ "${run}" = 1 ]; then
			if [ ! -s "${repo}/.gitlab-ci-local/artifacts/reconcile/reports/reconcile-plan.md" ]; then
				fail "5: the first run uploaded no reports/reconcile-plan.md"
				return 0
			fi
			pass "5: the first scheduled run opens only the dashboard with its plan (${check})"
		else
			pass "5: with CHECKER_FIRST_RUN_CONFIRMED=true the run goes ahead (${check})"
		fi
		state_in="${state_out}"
	done
}

# ------------------------------------------------------------------ main

main() {
	local started=${SECONDS}
	ensure_rsync
	ensure_gitlab_ci_local
	command -v git >/dev/null 2>&1 || die "git is missing"
	"${PYTHON}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
		die "${PYTHON} is older than Python 3.11"
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/pipeline-proof.XXXXXX")"
	say "work folder ${WORK}"

	scenario_validate_ok

	# Later scenarios reuse one installed checker (CHECKER_PYTHON) instead of a pip install
	# per job; scenario 1 proved the install path of the jobs themselves.
	say "installing the checker from the project copy into a venv for the jobs"
	"${PYTHON}" -m venv "${WORK}/venv"
	PIP_CACHE_DIR="${PIP_CACHE}" "${WORK}/venv/bin/python" -m pip install --quiet \
		--disable-pip-version-check "${WORK}/repo-ok" >"${WORK}/venv-install.log" 2>&1 ||
		{
			show_log "${WORK}/venv-install.log"
			die "pip install of the project failed"
		}
	CHECKER_PY="${WORK}/venv/bin/python"

	scenario_validate_broken

	HAVE_DRIFT=0 HAVE_RECONCILE=0 HAVE_PREVIEW_NOTE=0
	"${CHECKER_PY}" -m checker drift --help >/dev/null 2>&1 && HAVE_DRIFT=1
	"${CHECKER_PY}" -m checker reconcile --help >/dev/null 2>&1 && HAVE_RECONCILE=1
	"${CHECKER_PY}" -m checker preview-note --help >/dev/null 2>&1 && HAVE_PREVIEW_NOTE=1
	say "commands available: drift=${HAVE_DRIFT} reconcile=${HAVE_RECONCILE} preview-note=${HAVE_PREVIEW_NOTE}"

	LAST_GITLAB_STATE=""
	if [ "${HAVE_DRIFT}" = "1" ]; then
		start_server zendesk-global "${WORK}/zendesk-global.port" tests.fakes.zendesk_server \
			--state tests/pipeline/zendesk-state.json --email "${ZD_EMAIL}" --token "${ZD_TOKEN}"
		ZD_PORT="$(cat "${WORK}/zendesk-global.port")"
		start_server zendesk-us-gov "${WORK}/zendesk-us-gov.port" tests.fakes.zendesk_server \
			--state tests/pipeline/zendesk-us-gov-state.json --email "${ZD_EMAIL}" --token "${ZD_GOV_TOKEN}"
		ZD_GOV_PORT="$(cat "${WORK}/zendesk-us-gov.port")"
		seed_gitlab "${WORK}/repo-ok" "${WORK}/gitlab-seed.json"
		GL_PORT=0
		fake_variables
		say "fake Zendesk on ports ${ZD_PORT} (global) and ${ZD_GOV_PORT} (us-gov)"
	fi

	scenario_schedule
	scenario_preview
	scenario_adopt

	say "finished in $((SECONDS - started)) s"
	printf 'pipeline-proof: %d passed, %d failed, %d skipped\n' "${PASSED}" "${FAILED}" "${SKIPPED}"
	[ "${FAILED}" -eq 0 ]
}

main "$@"
