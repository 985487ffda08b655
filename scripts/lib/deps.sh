# shellcheck shell=bash
# Installs what the project needs on a Debian machine, for .ci/run (everything, from scratch) and
# scripts/start.sh (only what is missing). Source it, then call the functions:
#
#   source scripts/lib/deps.sh
#   deps_apt            # Debian packages: etcd, sshd, chromium, ripgrep, build tools for code-server
#   deps_root_npm ci    # the project's node_modules: `ci` always runs `npm ci`, `missing` only when absent or older than the lockfile
#   deps_tools          # .ci/tools: code-server 4.100.3 + playwright-core (seeds @vscode/ripgrep's cache)
#   deps_docker         # docker.io + busybox-static, dockerd running, the local busybox image (scripts/lib/docker-image.sh)
#
# Every function is idempotent and prints one line per step. Measured recipes: test-infra.md §1b.

DEPS_ROOT="${DEPS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# Debian packages and the binary that proves each one is installed.
#   etcd-server, etcd-client    integration tests and the local fleet cluster (etcd, etcdctl)
#   openssh-server/-client      SSH tunnel tests (sshd, ssh, ssh-keygen, ssh-agent, ssh-add)
#   chromium                    the browser playwright drives for the code-server e2e suites
#   ripgrep                     seeds @vscode/ripgrep's download cache (code-server's postinstall)
#   libkrb5-dev, pkg-config     code-server's kerberos module builds from source
#   g++, make, python3          node-gyp (code-server's native modules, ssh2's optional crypto)
#   curl, git, ca-certificates  health probes, npm git deps, TLS to the npm registry
#   openssl                     certificates for the API's TLS client-certificate test
# systemd-analyze (the systemd oracle tests) comes with systemd, which is never installed here:
# installing it upgrades the running system's libs for nothing (test-infra.md §4).
DEPS_APT_PACKAGES=(
  "etcd-server:etcd"
  "etcd-client:etcdctl"
  "openssh-server:/usr/sbin/sshd"
  "openssh-client:ssh-agent"
  "chromium:chromium"
  "ripgrep:rg"
  "libkrb5-dev:/usr/include/gssapi/gssapi.h"
  "pkg-config:pkg-config"
  "g++:g++"
  "make:make"
  "python3:python3"
  "curl:curl"
  "git:git"
  "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
  "openssl:openssl"
)

# Installed by deps_docker only (CI, and whoever runs the Docker samples), not by npm start:
#   docker.io, busybox-static   the Docker samples' test (dockerd, docker; a static busybox for the offline image)
DEPS_DOCKER_PACKAGES=(
  "docker.io:dockerd"
  "busybox-static:busybox"
)

# code-server 4.100.3 (VS Code 1.100.3) is the last release whose engines field is Node 20.
# Its @vscode/ripgrep postinstall downloads rg from GitHub, which these machines cannot reach;
# it accepts a pre-seeded cache instead (versions from code-server's lib/vscode shrinkwrap).
DEPS_CODE_SERVER_VERSION=4.100.3
DEPS_RIPGREP_CACHE_DIR=vscode-ripgrep-cache-1.15.11
DEPS_RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

deps_log() { printf '[deps] %s\n' "$*" >&2; }

deps_have() {
  local probe=$1
  if [[ $probe == /* ]]; then [[ -e $probe ]]; else command -v "$probe" >/dev/null 2>&1 || [[ -x /usr/sbin/$probe ]]; fi
}

# The packages from DEPS_APT_PACKAGES (or the array named by $1) whose binary is missing.
deps_apt_missing() {
  local -n list=${1:-DEPS_APT_PACKAGES}
  local entry pkg probe
  for entry in "${list[@]}"; do
    pkg=${entry%%:*}
    probe=${entry#*:}
    deps_have "$probe" || printf '%s\n' "$pkg"
  done
}

# Installs the missing Debian packages (as root). `apt-get update` only runs when an install fails,
# which keeps a warm machine's run offline and fast.
deps_apt() {
  local which=${1:-DEPS_APT_PACKAGES}
  local missing
  mapfile -t missing < <(deps_apt_missing "$which")
  if ((${#missing[@]} == 0)); then
    deps_log "Debian packages: all present"
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    deps_log "missing Debian packages: ${missing[*]}"
    deps_log "install them as root: apt-get install -y --no-install-recommends ${missing[*]}"
    return 1
  fi
  deps_log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
  if ! "${apt[@]}" >/tmp/deps-apt.log 2>&1; then
    deps_log "install failed; running apt-get update and retrying"
    apt-get update -qq >>/tmp/deps-apt.log 2>&1 || true
    if ! "${apt[@]}" >>/tmp/deps-apt.log 2>&1; then
      tail -n 30 /tmp/deps-apt.log >&2
      deps_log "apt-get install failed (log: /tmp/deps-apt.log)"
      return 1
    fi
  fi
  mapfile -t missing < <(deps_apt_missing "$which")
  if ((${#missing[@]})); then
    deps_log "still missing after apt-get install: ${missing[*]}"
    return 1
  fi
  deps_log "Debian packages: installed"
}

# The project's node_modules. Mode `ci`: always `npm ci` (a clean CI run). Mode `missing`: only
# when node_modules is absent (npm start on a developer's checkout).
deps_root_npm() {
  local mode=${1:-missing}
  if [[ $mode == missing && -d $DEPS_ROOT/node_modules/typescript && -d $DEPS_ROOT/node_modules/esbuild ]]; then
    if [[ $DEPS_ROOT/package-lock.json -nt $DEPS_ROOT/node_modules/.package-lock.json ]]; then
      deps_log "node_modules: older than package-lock.json; reinstalling"
    else
      deps_log "node_modules: present"
      return 0
    fi
  fi
  deps_log "npm ci (project)"
  (cd "$DEPS_ROOT" && npm_config_yes=true npm ci --no-audit --no-fund --loglevel=error)
}

# code-server and playwright-core in .ci/tools, kept out of the project's install because
# code-server's postinstall compiles native modules for about a minute.
deps_tools() {
  local tools=$DEPS_ROOT/.ci/tools
  if [[ -x $tools/node_modules/.bin/code-server && -f $tools/node_modules/playwright-core/package.json ]] &&
    grep -q "\"version\": \"$DEPS_CODE_SERVER_VERSION\"" "$tools/node_modules/code-server/package.json" 2>/dev/null; then
    deps_log "code-server $DEPS_CODE_SERVER_VERSION + playwright-core: present in .ci/tools"
    return 0
  fi
  if ! command -v rg >/dev/null 2>&1; then
    deps_log "ripgrep (rg) is needed to install code-server: apt-get install ripgrep"
    return 1
  fi
  local tmp=${TMPDIR:-/tmp}
  mkdir -p "$tmp/$DEPS_RIPGREP_CACHE_DIR"
  tar czf "$tmp/$DEPS_RIPGREP_CACHE_DIR/$DEPS_RIPGREP_ASSET" -C "$(dirname "$(command -v rg)")" rg
  deps_log "npm ci in .ci/tools (code-server $DEPS_CODE_SERVER_VERSION, playwright-core; about a minute)"
  # yes: node-pty's postinstall runs `npx node-gyp` (~/.npmrc may say yes=false).
  # unsafe_perm: code-server's postinstall refuses to run as root without it.
  local log=$tmp/fleet-ci-tools-install.log
  if ! (cd "$tools" && npm_config_yes=true npm_config_unsafe_perm=true \
    npm ci --no-audit --no-fund --loglevel=error --foreground-scripts >"$log" 2>&1); then
    tail -n 40 "$log" >&2
    deps_log "installing .ci/tools failed (log: $log)"
    return 1
  fi
  deps_log "code-server + playwright-core: installed in .ci/tools"
}

# dockerd running and the local image imported (no registry is reachable). A daemon that cannot
# start here is not fatal: the Docker test then says so, and fails under CI=true.
deps_docker() {
  deps_apt DEPS_DOCKER_PACKAGES || return 1
  if bash "$DEPS_ROOT/scripts/lib/docker-image.sh"; then
    deps_log "Docker: dockerd up, image fleet-busybox:latest present"
  else
    deps_log "Docker: NOT usable on this machine (see above); the Docker samples' test will fail under CI=true"
  fi
}

deps_all() {
  deps_apt && deps_root_npm "${1:-missing}" && deps_tools && deps_docker
}

# Run directly (`bash scripts/lib/deps.sh [ci|missing]`): install everything.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  deps_all "${1:-missing}"
fi
