#!/usr/bin/env bash
# A single-node SLURM cluster in one directory, for the integration test (tests/test_slurm.py).
#   cluster.sh start DIR   writes DIR/slurm.conf (export SLURM_CONF=DIR/slurm.conf and put DIR/bin first on PATH
#                          to use it), starts munged,
#                          MariaDB, slurmdbd, slurmctld and slurmd (all as the current user, root), registers the
#                          account "repro" and waits until the node is idle.
#   cluster.sh stop DIR    stops them all.
# Needs Debian's slurm-wlm, slurmdbd, munge and mariadb-server; everything lives under DIR (no system config is
# touched), on ports picked free at start.
set -euo pipefail
cmd=$1
dir=$(realpath -m "$2")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop() {
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        if [ -f "$dir/$name.pid" ]; then
            kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
        fi
    done
    sleep 1
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        if [ -f "$dir/$name.pid" ]; then
            kill -9 "$(cat "$dir/$name.pid")" 2>/dev/null || true
            rm -f "$dir/$name.pid"
        fi
    done
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    for _ in $(seq "$limit"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    echo "cluster.sh: $what did not come up within ${limit}s; logs in $dir" >&2
    tail -n 20 "$dir"/*.log >&2 || true
    return 1
}

start() {
    mkdir -p "$dir"/{state,spool,db,run}
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
    db_port=$(free_port); dbd_port=$(free_port); ctld_port=$(free_port); slurmd_port=$(free_port)

    # munge: its own key and socket
    dd if=/dev/urandom bs=1 count=1024 of="$dir/munge.key" status=none
    chmod 400 "$dir/munge.key"
    munged --force --key-file="$dir/munge.key" --socket="$dir/run/munge.sock" --pid-file="$dir/munged.pid" \
        --log-file="$dir/munged.log" --seed-file="$dir/munge.seed"
    wait_for 20 munged test -S "$dir/run/munge.sock"

    # MariaDB for slurmdbd (sacct and sacctmgr need accounting)
    mariadb-install-db --datadir="$dir/db" --user="$(id -un)" --auth-root-authentication-method=socket \
        >"$dir/mariadb-install.log" 2>&1
    mariadbd --datadir="$dir/db" --socket="$dir/run/mysql.sock" --port="$db_port" --bind-address=127.0.0.1 \
        --user="$(id -un)" --pid-file="$dir/mariadbd.pid" --log-error="$dir/mariadbd.log" &
    wait_for 60 MariaDB mariadb --socket="$dir/run/mysql.sock" -e "select 1"
    mariadb --socket="$dir/run/mysql.sock" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"

    cat >"$dir/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$dir/run/munge.sock
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=$(id -un)
PidFile=$dir/slurmdbd.pid
LogFile=$dir/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF
    chmod 600 "$dir/slurmdbd.conf"

    cat >"$dir/slurm.conf" <<CONF
ClusterName=repro
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$dir/run/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
AccountingStoragePass=$dir/run/munge.sock
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
KillWait=30
SchedulerParameters=defer
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    # snakemake-executor-plugin-slurm-jobstep (0.6.1) removes every SLURM_* variable but the job's identity before
    # the srun inside each job, SLURM_CONF included, so srun there finds no configuration unless it sits at
    # /etc/slurm/slurm.conf (or a configless DNS record) as on a real cluster. This srun, first on PATH, restores it.
    mkdir -p "$dir/bin"
    printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$dir/slurm.conf" "$(command -v srun)" >"$dir/bin/srun"
    chmod +x "$dir/bin/srun"

    slurmdbd  # reads slurmdbd.conf beside $SLURM_CONF
    wait_for 60 slurmdbd sacctmgr -n show cluster
    sacctmgr -i add cluster repro >/dev/null
    sacctmgr -i add account repro Cluster=repro Description=tests Organization=tests >/dev/null
    sacctmgr -i add user "$(id -un)" Account=repro DefaultAccount=repro >/dev/null
    slurmctld -f "$dir/slurm.conf"
    wait_for 60 slurmctld scontrol ping
    slurmd -f "$dir/slurm.conf"
    wait_for 60 "the node" bash -c "sinfo -h -o %T | grep -q idle"
    echo "SLURM_CONF=$dir/slurm.conf"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
