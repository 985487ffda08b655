#!/usr/bin/env bash
# npm start: Fleet for VS Code in a real VS Code (code-server) in your browser, on the sample units.
#
#   1. installs what is missing (Debian packages as root, node_modules, code-server in .ci/tools)
#   2. builds and packages the extension (out/vscode-fleet.vsix)
#   3. starts a local three-machine fleet cluster (fleetd local, on Debian's etcd when installed)
#      and points the extension at it
#   4. starts code-server on 127.0.0.1 with a fresh profile that has only this extension installed,
#      opens samples/, prints the URL, and stays in the foreground until Ctrl-C, then stops
#      everything it started.
#
# Environment:
#   PORT                     port for code-server (default: a free one)
#   FLEET_START_DIR          where the profile, extensions and logs go (default: out/start; wiped each run)
#   FLEET_START_WORKSPACE    folder to open (default: samples/)
#   FLEET_START_CLUSTER=0    do not start the local fleet cluster
#   FLEET_START_SKIP_BUILD=1 no installs and no build: reuse .ci/tools and out/vscode-fleet.vsix
#                            (the tests of this script use it after npm test has built everything)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/deps.sh
source "$ROOT/scripts/lib/deps.sh"

CODE_SERVER=$ROOT/.ci/tools/node_modules/.bin/code-server
VSIX=$ROOT/out/vscode-fleet.vsix
STATE=${FLEET_START_DIR:-$ROOT/out/start}
WORKSPACE=$(cd "${FLEET_START_WORKSPACE:-$ROOT/samples}" && pwd)

say() { printf '[start] %s\n' "$*" >&2; }
die() {
  printf '[start] error: %s\n' "$*" >&2
  exit 1
}

# --- the local fleet cluster -------------------------------------------------------------------
# Three fleetd machines (one `fleetd local` process: engine, API, agents) on a private etcd when
# Debian's etcd is installed, else fleetd's embedded registry. It starts before code-server, and
# the fresh profile points the extension at it (fleet.clusters / fleet.activeCluster). Its
# process group is recorded in CLUSTER_PGIDS, which stop_local_cluster stops.
CLUSTER_PGIDS=()
CLUSTER_URL=
start_local_cluster() {
  if [[ ${FLEET_START_CLUSTER:-1} == 0 ]]; then
    say "local fleet cluster: not started (FLEET_START_CLUSTER=0)"
    return 0
  fi
  local fleetd=$ROOT/dist/fleetd.js dir=$STATE/cluster
  if [[ ! -f $fleetd ]]; then
    say "warning: no dist/fleetd.js (npm run build makes it); starting without a local cluster"
    return 0
  fi
  local registry=(--embedded) etcd
  if etcd=$(command -v etcd); then registry=(--etcd-binary "$etcd"); fi
  mkdir -p "$dir"
  say "starting a local fleet cluster: 3 machines, ${registry[*]}"
  (
    exec setsid node "$fleetd" local --machines 3 \
      --metadata region=us-east,disk=ssd --metadata region=us-west --metadata region=eu-central \
      "${registry[@]}" --state-dir "$dir/state"
  ) >"$dir/fleetd.log" 2>&1 </dev/null &
  local pgid=$!
  CLUSTER_PGIDS+=("$pgid")
  echo "$pgid" >"$dir/fleetd.pgid"
  local i
  for ((i = 0; i < 600; i++)); do
    # The API is a unix socket in the state dir that only this user can use (fleetd's default).
    CLUSTER_URL=$(sed -n 's/^fleetd: API ready at \(\(http\|unix\):[^ ]*\)$/\1/p' "$dir/fleetd.log" | head -n 1)
    [[ -n $CLUSTER_URL ]] && break
    if ! kill -0 "$pgid" 2>/dev/null; then
      tail -n 20 "$dir/fleetd.log" >&2
      say "warning: the local cluster exited during start (log: $dir/fleetd.log); continuing without it"
      return 0
    fi
    sleep 0.1
  done
  if [[ -z $CLUSTER_URL ]]; then
    say "warning: the local cluster did not report ready within 60 s (log: $dir/fleetd.log); continuing without it"
    return 0
  fi
  say "local fleet cluster: $CLUSTER_URL"
}
stop_local_cluster() {
  local pgid i
  for pgid in "${CLUSTER_PGIDS[@]}"; do
    # fleetd (the group leader) alone first: it stops in order (machines release their units and
    # presence, then its etcd), so the next start finds no machine "already registered".
    if kill -TERM "$pgid" 2>/dev/null; then
      say "stopping the local fleet cluster"
      for ((i = 0; i < 300; i++)); do
        kill -0 "$pgid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    stop_group "$pgid" "the rest of the local fleet cluster"
  done
  CLUSTER_PGIDS=()
}

# --- process groups ----------------------------------------------------------------------------
# SIGTERM to the whole group, poll until it is gone (10 s), then SIGKILL.
stop_group() { # pgid label
  local pgid=$1 label=$2 i
  kill -0 -- "-$pgid" 2>/dev/null || return 0
  say "stopping $label"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "$label did not stop within 10 s; killing it"
  kill -KILL -- "-$pgid" 2>/dev/null || true
}

CODE_SERVER_PGID=
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  [[ -n $CODE_SERVER_PGID ]] && stop_group "$CODE_SERVER_PGID" "code-server"
  stop_local_cluster
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A free port below the kernel's ephemeral range, where no outgoing connection or listen(0) can
# take it before code-server binds it (random tries, then one the kernel picks).
free_port() {
  node -e '
    const net = require("net");
    let high = 32768;
    try { high = Number(require("fs").readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || high; } catch {}
    const attempt = (n) => {
      const port = n > 0 && high > 20000 ? 20000 + Math.floor(Math.random() * (high - 20000)) : 0;
      const s = net.createServer();
      s.once("error", () => attempt(n - 1));
      s.listen({ host: "127.0.0.1", port, exclusive: true }, () => { console.log(s.address().port); s.close(); });
    };
    attempt(100);
  '
}

port_in_use() {
  node -e 'const s=require("net").createServer();s.once("error",()=>process.exit(0));s.listen(+process.argv[1],"127.0.0.1",()=>{s.close();process.exit(1)})' "$1"
}

# --- 1. dependencies ---------------------------------------------------------------------------
if [[ ${FLEET_START_SKIP_BUILD:-} == 1 ]]; then
  [[ -x $CODE_SERVER ]] || die "code-server is not installed in .ci/tools (run npm start without FLEET_START_SKIP_BUILD, or bash scripts/lib/deps.sh)"
else
  if ! deps_apt; then
    say "warning: some Debian packages are missing (see above); the extension may lack parts of the cluster"
  fi
  deps_root_npm missing || die "npm ci failed"
  deps_tools || die "could not install code-server into .ci/tools"
fi

# --- 2. build and package ----------------------------------------------------------------------
if [[ ${FLEET_START_SKIP_BUILD:-} == 1 ]]; then
  [[ -f $VSIX ]] || die "FLEET_START_SKIP_BUILD=1 but there is no $VSIX (run: npm run package)"
  say "reusing $(realpath --relative-to="$ROOT" "$VSIX")"
else
  say "building (npm run build)"
  npm run -s build || die "the build failed (above); fix it and run npm start again"
  rm -f "$VSIX"
  say "packaging (npm run package)"
  npm run -s package || die "packaging the extension failed (above)"
fi

# --- 3. profile --------------------------------------------------------------------------------
PORT_GIVEN=
if [[ -n ${PORT:-} ]]; then
  [[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "PORT must be a TCP port number (got '$PORT')"
  if port_in_use "$PORT"; then die "port $PORT on 127.0.0.1 is in use; pick another PORT or leave it unset for a free one"; fi
  PORT_GIVEN=1
else
  PORT=$(free_port)
fi
rm -rf "$STATE"
mkdir -p "$STATE/user-data/User" "$STATE/extensions" "$STATE/tmp"
# Always --config: without it code-server writes ~/.config/code-server/config.yaml.
write_config() {
  printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" >"$STATE/config.yaml"
}
write_config
CS_ARGS=(--config "$STATE/config.yaml" --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions")
LOG=$STATE/code-server.log

# code-server, its extension host and the language server inherit this environment: drop variables
# that would tie them to a VS Code this script may be running in, and keep their sockets in $STATE.
code_server_env() {
  local v
  for v in $(compgen -e); do
    case $v in VSCODE_* | ELECTRON_RUN_AS_NODE | NODE_OPTIONS) unset "$v" ;; esac
  done
  export TMPDIR=$STATE/tmp
}

say "installing the extension into a fresh profile ($(realpath --relative-to="$ROOT" "$STATE"))"
(code_server_env && "$CODE_SERVER" "${CS_ARGS[@]}" --install-extension "$VSIX") >>"$LOG" 2>&1 ||
  die "code-server --install-extension failed; log: $LOG"

# --- 4. cluster, then code-server --------------------------------------------------------------
start_local_cluster
# A quiet fresh profile; the extension adopts the local cluster that runs.
CLUSTER_URL=$CLUSTER_URL node -e '
  const settings = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "extensions.ignoreRecommendations": true,
    "security.workspace.trust.enabled": false,
    "chat.disableAIFeatures": true,
    // The units of the local cluster listen on ports; code-server would offer to forward each one.
    "remote.autoForwardPorts": false,
    // samples/ sits inside this repository: no "open the repository in the parent folder?" prompt.
    "git.openRepositoryInParentFolders": "never",
  };
  // No cluster profile: the extension finds the running local cluster (the record fleetd keeps
  // in ~/.cache/fleetd/run) and adopts it, so Stop/Restart Local Cluster and its logs work on it.
  require("fs").writeFileSync(process.argv[1], JSON.stringify(settings, null, 2) + "\n");
' "$STATE/user-data/User/settings.json"

# Starts code-server on $PORT and waits until it answers. Returns 0 when it does, 2 when it could
# not bind $PORT (something took the port since it was found free), and dies otherwise.
start_code_server() {
  local log_from i
  log_from=$(($(wc -l <"$LOG") + 1))
  # setsid: code-server gets its own session and process group (wrapper, server, file watcher,
  # extension host, language server), so the whole group can be stopped at once.
  (
    code_server_env
    exec setsid "$CODE_SERVER" "${CS_ARGS[@]}" --bind-addr "127.0.0.1:$PORT" --auth none \
      --disable-telemetry --disable-update-check --disable-workspace-trust "$WORKSPACE"
  ) >>"$LOG" 2>&1 </dev/null &
  CODE_SERVER_PGID=$!
  echo "$CODE_SERVER_PGID" >"$STATE/code-server.pgid"
  for ((i = 0; ; i++)); do
    if curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/healthz"; then return 0; fi
    if ! kill -0 "$CODE_SERVER_PGID" 2>/dev/null; then
      CODE_SERVER_PGID=
      if tail -n "+$log_from" "$LOG" | grep -q "EADDRINUSE.*127.0.0.1:$PORT"; then return 2; fi
      tail -n 30 "$LOG" >&2
      die "code-server exited during start; log: $LOG"
    fi
    ((i < 600)) || die "code-server did not answer on 127.0.0.1:$PORT within 60 s; log: $LOG"
    sleep 0.1
  done
}

# A port found free now, not before the cluster started; if something takes it all the same
# before code-server binds it, another one is tried.
if [[ -z $PORT_GIVEN ]]; then
  PORT=$(free_port)
  write_config
fi
for ((attempt = 1; ; attempt++)); do
  status=0
  start_code_server || status=$?
  ((status == 0)) && break
  if [[ -n $PORT_GIVEN ]]; then
    die "port $PORT on 127.0.0.1 was taken while the cluster started; pick another PORT or leave it unset for a free one"
  fi
  ((attempt < 3)) || die "code-server could not bind a free port in 3 attempts; log: $LOG"
  PORT=$(free_port)
  write_config
  say "the port was taken meanwhile; trying 127.0.0.1:$PORT"
done

URL="http://127.0.0.1:$PORT/?folder=$(node -p 'encodeURIComponent(process.argv[1])' "$WORKSPACE")"
cat <<EOF

  Fleet for VS Code is running in code-server (VS Code $("$CODE_SERVER" "${CS_ARGS[@]}" --version 2>/dev/null | awk '/with Code/ {print $NF}')).

    Open:       $URL
    Workspace:  $WORKSPACE
    Cluster:    ${CLUSTER_URL:-none (see above)}
    Log:        $LOG

  From another machine, forward the port first: ssh -L $PORT:127.0.0.1:$PORT <this host>
  Press Ctrl-C to stop.

EOF
echo "FLEET_START_URL=$URL"

# Foreground until Ctrl-C (the traps stop everything) or until code-server exits by itself.
set +e
wait "$CODE_SERVER_PGID"
status=$?
set -e
say "code-server exited (status $status); log: $LOG"
exit "$status"
