#!/usr/bin/env bash
# Installs what the pipeline proof (tests/pipeline/, `make pipeline`) needs besides Python:
# rsync (apt-get; gitlab-ci-local's shell executor copies with it) and gitlab-ci-local
# (npm ci in tools/ci-local, only when the installed tree is not the locked one).
# Needs: node >= 20 + npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CI_LOCAL_DIR="${ROOT}/tools/ci-local"
GCL_JS="${CI_LOCAL_DIR}/node_modules/gitlab-ci-local/src/index.js"

say() { printf 'pipeline-setup: %s\n' "$*"; }
die() {
	printf 'pipeline-setup: error: %s\n' "$*" >&2
	exit 2
}

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

ensure_rsync
ensure_gitlab_ci_local
command -v git >/dev/null 2>&1 || die "git is missing"
