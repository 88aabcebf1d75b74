#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the sweep tests (test/sweep) and for trying
# `insalun sweep submit --slurm` without a cluster: munged, slurmctld and slurmd as root,
# proctrack/linuxproc (no cgroups), no accounting database, one partition (insalun-test) with this
# machine's cores. Idempotent: a running cluster is left as it is.
#
#   sudo bash scripts/slurm-single-node.sh start    install (Debian/Ubuntu: slurm-wlm, munge) and start
#   sudo bash scripts/slurm-single-node.sh stop     stop the daemons
#   bash scripts/slurm-single-node.sh status        sinfo
set -euo pipefail

PARTITION="${INSALUN_SLURM_PARTITION:-insalun-test}"
CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurm-insalun
LOG_DIR=/var/log/slurm-insalun

install() {
  command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 && return
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y slurm-wlm munge || { apt-get update && apt-get install -y slurm-wlm munge; }
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))
  mkdir -p "$CONF_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR"
  cat > "$CONF_DIR/slurm.conf.new" <<CONF
# Written by insalun's scripts/slurm-single-node.sh: a one-node test cluster.
ClusterName=insalun
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ReturnToService=2
KillWait=5
MinJobAge=60
SchedulerParameters=defer_batch=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

start() {
  [ "$(id -u)" = 0 ] || { echo "slurm-single-node.sh start: run as root (it installs packages and starts daemons)" >&2; exit 1; }
  install
  if ! running munged; then
    [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then runuser -u munge -- munged; else munged --force; fi
  fi
  if ! running slurmctld || ! running slurmd; then
    write_conf
    running slurmctld || slurmctld
    running slurmd || slurmd
  fi
  # Ready when the node takes jobs (idle or mixed), a few seconds.
  for _ in $(seq 1 60); do
    if sinfo -h -p "$PARTITION" -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
      echo "slurm: partition $PARTITION up on $(hostname -s) ($(nproc) CPUs)"
      return
    fi
    # A node that was down when slurmctld came up: bring it back.
    scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "slurm: the node did not come up; see $LOG_DIR" >&2
  sinfo >&2 || true
  exit 1
}

stop() {
  for daemon in slurmd slurmctld; do
    pid_file="$STATE_DIR/$daemon.pid"
    if [ -s "$pid_file" ]; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  echo "slurm: stopped (munged left running)"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
