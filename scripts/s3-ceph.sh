#!/bin/bash
# Copied from the team's shared scripts (../shared/scripts/s3-ceph.sh) so a fresh clone (CI) has it; keep the two in step.
# Real S3 (Ceph RADOS Gateway 16.2, Debian bookworm packages) on 127.0.0.1 for integration tests.
# One mon + one OSD (bluestore on a sparse file, or memstore) + radosgw (beast), no cephx, no mgr, no systemd.
#   s3-ceph.sh install   # apt-get install the 4 packages (~20 s, ~270 MB)
#   s3-ceph.sh start     # fresh cluster + S3 user; prints the endpoint; ~5-6 s
#   s3-ceph.sh stop      # kills the 3 daemons by their pid files
# Env: CEPH_DIR (default /tmp/s3lab/ceph), RGW_PORT (7480), CEPH_STORE (bluestore|memstore),
#      S3_ACCESS_KEY / S3_SECRET_KEY (test credentials).
set -euo pipefail
D=${CEPH_DIR:-/tmp/s3lab/ceph}
RGW_PORT=${RGW_PORT:-7480}
STORE=${CEPH_STORE:-bluestore}
AK=${S3_ACCESS_KEY:-TESTACCESSKEY}
SK=${S3_SECRET_KEY:-TESTSECRETKEY0123456789}
C=(-c "$D/ceph.conf")
now() { date +%s%N; }
ms() { echo $(( ($(now) - $1) / 1000000 )); }

install() {
  export DEBIAN_FRONTEND=noninteractive
  [ -n "${SKIP_APT_UPDATE:-}" ] || apt-get update -qq
  apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl >/dev/null
}

term_wait() {   # TERM the daemons named by pid files, wait up to 10 s, then KILL
  local pids=() f p alive
  for f in "$@"; do
    [ -f "$f" ] || continue; p=$(cat "$f"); rm -f "$f"
    kill "$p" 2>/dev/null && pids+=("$p")
  done
  for _ in $(seq 1 100); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
stop() {   # one at a time, rgw -> osd -> mon (~5 s; in parallel each waits on the others' timeouts)
  term_wait "$D/run/ceph-client.rgw.a.pid"
  term_wait "$D/run/ceph-osd.0.pid"
  term_wait "$D/run/ceph-mon.a.pid"
}

start() {
  command -v radosgw >/dev/null || { echo "radosgw not installed: run '$0 install'" >&2; exit 1; }
  local t0; t0=$(now)
  stop
  rm -rf "$D"; mkdir -p "$D"/{run,log,mon,osd/ceph-0,rgw,crash}
  local fsid; fsid=$(uuidgen)
  cat > "$D/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
run dir = $D/run
admin socket = $D/run/\$cluster-\$name.asok
pid file = $D/run/\$cluster-\$name.pid
log file = $D/log/\$cluster-\$name.log
crash dir = $D/crash
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon data avail warn = 2
mon data avail crit = 1
# faster map updates for a throw-away cluster (rgw pool creation: ~9 s -> ~1 s)
paxos propose interval = 0.1
[mon]
mon data = $D/mon/\$cluster-\$id
[osd]
osd data = $D/osd/\$cluster-\$id
osd objectstore = $STORE
memstore device bytes = 4294967296
bluestore block path = $D/osd/\$cluster-\$id/block.file
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mkfs = false
bluestore fsck on mount = false
osd memory target = 1073741824
# keep the OSD's 8 listening ports out of the default 6800-7300 range
ms bind port min = 7400
ms bind port max = 7479
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $D/rgw
rgw dns name = localhost
rgw init timeout = 60
# radosgw defaults to ms_mon_client_mode=secure, which auth=none cannot do
ms mon client mode = crc
EOF
  # mkfs still wants a keyring even with auth=none
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$D/monmap" >/dev/null
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
  ceph-mon "${C[@]}" -i a
  local osd_uuid; osd_uuid=$(uuidgen)
  ceph "${C[@]}" --connect-timeout 30 osd new "$osd_uuid" >/dev/null       # -> osd.0
  ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$D/log/osd-mkfs.out" 2>&1 \
    || { cat "$D/log/osd-mkfs.out" >&2; exit 1; }
  ceph-osd "${C[@]}" -i 0 2>>"$D/log/osd-start.out"
  radosgw "${C[@]}" -n client.rgw.a
  local up=""
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/" && { up=1; break; }; sleep 0.25
  done
  [ -n "$up" ] || { echo "radosgw did not answer; see $D/log" >&2; tail -20 "$D"/log/*.log >&2; exit 1; }
  radosgw-admin "${C[@]}" user create --uid=test --display-name=test \
    --access-key="$AK" --secret-key="$SK" >/dev/null
  cat > "$D/s3.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_REGION=us-east-1
EOF
  echo "S3 (ceph radosgw, $STORE) ready at http://127.0.0.1:$RGW_PORT in $(ms "$t0") ms; env in $D/s3.env"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
