#!/usr/bin/env bash
# Makes Docker usable offline for the Docker samples and their test (no registry is reachable):
#
#   bash scripts/lib/docker-image.sh            # start dockerd when it is not running, import the image
#   FLEET_DOCKER_IMAGE=name:tag bash …          # another image name (default fleet-busybox:latest)
#
# The image is a busybox rootfs built from Debian's busybox-static (/bin/busybox plus one symlink
# per applet: sh, httpd, sleep, …), imported with `docker import`. Idempotent: an existing image is
# kept. dockerd, when this script starts it, logs to ${FLEET_DOCKERD_LOG:-/tmp/fleet-dockerd.log}.
set -euo pipefail

IMAGE=${FLEET_DOCKER_IMAGE:-fleet-busybox:latest}
DOCKERD_LOG=${FLEET_DOCKERD_LOG:-/tmp/fleet-dockerd.log}

log() { printf '[docker] %s\n' "$*" >&2; }

command -v docker >/dev/null || { log "docker is not installed (as root: apt-get install docker.io)"; exit 1; }
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] && file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || { log "busybox is not installed (as root: apt-get install busybox-static)"; exit 1; }

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { log "dockerd is not installed (as root: apt-get install docker.io)"; exit 1; }
  log "starting dockerd (log: $DOCKERD_LOG)"
  # A system daemon that outlives whoever started it: not one of a test run's processes (the
  # suite's leak check looks for FLEET_TEST_RUN_ID), nor in the caller's session.
  env -u FLEET_TEST_RUN_ID setsid dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not start within 30 s; its log:"; tail -n 20 "$DOCKERD_LOG" >&2; exit 1; }
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE: present"
  exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/www" "$root/etc"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
# What `httpd -h /www` serves, so a container answers GET / with 200.
printf '<!doctype html><title>Welcome</title><h1>Welcome to fleet-busybox httpd</h1>\n' >"$root/www/index.html"
tar -C "$root" -cf - . | docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
log "image $IMAGE: imported from $BUSYBOX"
