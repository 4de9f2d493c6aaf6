#!/usr/bin/env bash
# A throw-away multi-node SLURM on one machine, for tests and for trying multi-node jobs
# (sbatch -N 2 ...) without a cluster: every node is a simulated host (its own network
# namespace, host name and mount namespace) running its own slurmd; one slurmctld and one
# munged serve them all. The nodes share the machine's file system, as nodes share a
# cluster's parallel file system: job scripts, configs and outputs need no copying.
#
# usage: scripts/slurm-multi.sh start DIR [--nodes N] [--rate RATE] [--cpus C]
#        scripts/slurm-multi.sh stop|status|env DIR
#   start   N nodes (default 2, 1 to 8; tested with 2 and 4) named dhmKn1 ... dhmKnN on a
#           private bridge 10.232.K.0/24 (K: the first subnet not in use on this machine;
#           node i is 10.232.K.i, slurmctld listens on the bridge's 10.232.K.254). RATE
#           (e.g. 1gbit, 100mbit) shapes every node's link both ways with tc tbf, as
#           scripts/simhosts.sh does; C (default 4) is the CPUs each node offers SLURM
#           (more than the cores, so -n 4 jobs fit on a 2-core machine). Writes
#           DIR/slurm.conf, a munge key, logs and pid files under DIR and waits until every
#           node is idle. Needs root; exits 77 where network namespaces cannot be made.
#   stop    cancels the cluster's jobs, stops exactly the daemons it started (by the PIDs
#           in DIR/*.pid: SIGTERM, SIGKILL after 15 s), ends what still runs inside its
#           namespaces, then deletes the namespaces and links it recorded in DIR/cluster;
#           also cleans up after a failed start; harmless when nothing is up. Logs stay.
#   status  the daemons, the nodes and sinfo; exit 0 if everything is running
#   env     prints the exports that point sbatch, srun, squeue, scontrol at the cluster:
#           eval "$(scripts/slurm-multi.sh env DIR)"; it also tells Open MPI not to pin
#           ranks to cores (each simulated node thinks it owns every core of the machine)
#           and to yield when idle (ranks outnumber the cores)
#
# Inside each node: slurmd, the job's batch script and every task see the node's name as
# their host name, its address on eth0, /etc/hosts naming every node (a bind mount private
# to the node), the cgroup hierarchy remounted (ip netns exec replaces /sys) and a PMIx
# folder of their own (DIR/pmix shows DIR/nodes/NODE/pmix on each node: the nodes share
# /tmp, and srun --mpi=pmix would otherwise mix their client files).
# Environment: SLURM_MULTI_PORT (slurmctld's port, slurmd uses the next one; default a
# free port in 30000-39999).
set -euo pipefail

SKIP=77
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "slurm-multi: error: $*" >&2; exit 1; }
skip() { echo "slurm-multi: skip: $*" >&2; exit $SKIP; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case $1 in -h | --help) usage; exit 0 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
cmd=$1 dir_arg=$2
shift 2
nodes=2 rate="" cpus=4
while [ $# -gt 0 ]; do
    case $1 in
        --nodes) nodes=${2:-}; shift 2 || die "--nodes N" ;;
        --rate) rate=${2:-}; shift 2 || die "--rate RATE" ;;
        --cpus) cpus=${2:-}; shift 2 || die "--cpus C" ;;
        *) usage >&2; exit 2 ;;
    esac
done
PATH=$PATH:/usr/sbin
me=slurm-multi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/slurm-common.sh
. "$here/slurm-common.sh"
# shellcheck source=scripts/netns-common.sh
. "$here/netns-common.sh"

main_dir() {
    [ "$cmd" = start ] && mkdir -p "$1"
    if [ ! -d "$1" ]; then
        [ "$cmd" = stop ] && exit 0
        die "no cluster folder $1"
    fi
    dir=$(cd "$1" && pwd)
    conf=$dir/slurm.conf
    record_file=$dir/cluster
    export SLURM_CONF=$conf
}

# burst_for RATE: tbf bucket in bytes (see tbf_burst in netns-common.sh)
burst_for() { tbf_burst "$1" || die "--rate $1: use e.g. 1gbit, 100mbit, 500kbit"; }

# claim_subnet: K of a free 10.232.K.0/24 whose bridge dhmKbr this call could create (the
# bridge's name is the lock between clusters starting at the same time)
claim_subnet() {
    local used k
    used=$(used_octets 10.232)
    for k in $(seq 0 249); do
        grep -qx "$k" <<< "$used" && continue
        if ip link add "dhm${k}br" type bridge forward_delay 0 2> /dev/null; then
            echo "$k"
            return
        fi
    done
    die "no free 10.232.K.0/24 subnet"
}

# make_network K: the bridge's address and one namespace + veth per node, recorded
make_network() {
    local k=$1 i burst=""
    [ -n "$rate" ] && burst=$(burst_for "$rate")
    ip addr add "10.232.$k.254/24" dev "dhm${k}br"
    ip link set "dhm${k}br" up
    for i in $(seq 1 "$nodes"); do
        add_host "dhm${k}n$i" "dhm${k}v$i" "dhm${k}p$i" "dhm${k}br" "10.232.$k.$i/24" "$rate" "$burst"
        record node "dhm${k}n$i 10.232.$k.$i"
    done
}

write_config() {
    local k=$1 port mem i
    port=${SLURM_MULTI_PORT:-$(free_port_pair 30000)}
    mem=$(node_memory "$nodes")
    prepare_dir DIR
    {
        echo "127.0.0.1 localhost"
        echo "10.232.$k.254 $(hostname -s)"
        for i in $(seq 1 "$nodes"); do echo "10.232.$k.$i dhm${k}n$i"; done
    } > "$dir/hosts"
    {
        echo "# written by scripts/slurm-multi.sh: a $nodes-node test cluster on simulated hosts,"
        echo "# no cgroups, no accounting"
        echo "ClusterName=downhill-multi"
        conf_lines "$(hostname -s)" "10.232.$k.254" "$port" %n
    } > "$conf"
    for i in $(seq 1 "$nodes"); do
        echo "NodeName=dhm${k}n$i NodeAddr=10.232.$k.$i CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN" >> "$conf"
        mkdir -p "$dir/nodes/dhm${k}n$i/pmix"
    done
    echo "PartitionName=multi Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >> "$conf"
    # srun --mpi=pmix: the PMIx client files under DIR/pmix, which each node sees as its own
    echo "PMIxCliTmpDirBase=$dir/pmix" > "$dir/mpi.conf"
}

# node_setup: shell commands that make a node's mount namespace (made by ip netns exec,
# which also mounted a fresh /sys) look like a host of its own
node_setup() {
    local node=$1 type mnt opts src
    echo "hostname $node"
    echo "mount --bind '$dir/hosts' /etc/hosts"
    echo "mount --bind '$dir/nodes/$node/pmix' '$dir/pmix'"
    # the machine's cgroup mounts, in their order (tmpfs first, then each hierarchy)
    while read -r src mnt type opts _; do
        case $mnt in /sys/fs/cgroup | /sys/fs/cgroup/*) ;; *) continue ;; esac
        case $type in tmpfs | cgroup | cgroup2) ;; *) continue ;; esac
        echo "mkdir -p '$mnt' && mount -t $type -o '$opts' '$src' '$mnt'"
    done < /proc/self/mounts
}

start_node() {
    local node=$1
    ip netns exec "$node" unshare --uts sh -c "$(node_setup "$node")
exec slurmd -f '$conf' -N '$node'" || return 1
}

start() {
    [ "$(id -u)" -eq 0 ] || skip "start needs root (network namespaces; slurmd runs jobs as their user)"
    [[ $nodes =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 8 ] || die "--nodes N: 1 to 8"
    [[ $cpus =~ ^[0-9]+$ ]] && [ "$cpus" -ge 1 ] || die "--cpus C: a positive number"
    for p in munged slurmctld slurmd ip tc unshare; do
        command -v "$p" > /dev/null || die "$p not installed (bash scripts/install-deps.sh --tests)"
    done
    [ -e "$record_file" ] && die "a cluster is already recorded in $record_file: $0 stop $dir first"
    local f
    for f in "$dir"/*.pid; do
        [ -e "$f" ] || continue
        [ -z "$(pid_of "$(basename "$f" .pid)")" ] || die "$(basename "$f" .pid) already running from $dir (pid $(cat "$f")); stop it first"
        rm -f "$f"
    done
    local probe=dhm$$probe
    ip netns add "$probe" 2> /dev/null || skip "cannot create network namespaces (ip netns add failed)"
    ip netns del "$probe"
    [ -n "$rate" ] && burst_for "$rate" > /dev/null
    : > "$record_file"
    # from here on a failure (die, or set -e) removes what start made
    trap 'rc=$?; [ $rc -eq 0 ] || { echo "slurm-multi: start failed; removing what it made" >&2; stop > /dev/null; }; exit $rc' EXIT
    local k
    k=$(claim_subnet)
    record link "dhm${k}br"
    record subnet "10.232.$k.0/24"
    record rate "${rate:-none}"
    make_network "$k"
    write_config "$k"
    start_controller
    local i
    for i in $(seq 1 "$nodes"); do
        start_node "dhm${k}n$i" || die "slurmd on dhm${k}n$i did not start, see $dir/slurmd-dhm${k}n$i.log"
    done
    local idle=0
    for _ in $(seq 150); do
        [ -f "$dir/slurmctld.pid" ] && [ -z "$(pid_of slurmctld)" ] && die "slurmctld ended, see $dir/slurmctld.log"
        idle=$( (sinfo -h -N -t idle -o %N 2> /dev/null || true) | wc -l)
        [ "$idle" -eq "$nodes" ] && break
        sleep 0.2
    done
    [ "$idle" -eq "$nodes" ] || die "$idle of $nodes nodes idle after 30 s, see $dir/slurmctld.log and $dir/slurmd-*.log"
    trap - EXIT
    echo "slurm-multi: $nodes nodes up in $dir: $(sinfo -h -o %N) on 10.232.$k.0/24 (links ${rate:-unshaped})"
    echo "slurm-multi: eval \"\$($0 env $dir)\""
}

stop() {
    local ns
    cancel_jobs
    # reverse order of start: the slurmds, slurmctld, munged
    local slurmds=()
    for ns in $(awk '$1 == "node" { print $2 }' "$record_file" 2> /dev/null); do slurmds+=("slurmd-$ns"); done
    stop_pids "${slurmds[@]}"
    stop_pids slurmctld
    stop_pids munged
    [ -e "$record_file" ] || return 0
    # what still runs in the nodes (jobs' leftovers)
    kill_in_namespaces
    sleep 0.2
    delete_recorded
    rm -f "$record_file"
    echo "slurm-multi: namespaces and links removed; logs kept in $dir"
}

status() {
    local rc=0 ns
    [ -e "$record_file" ] || { echo "slurm-multi: nothing recorded in $dir"; return 1; }
    for d in munged slurmctld; do daemon_status "$d" "$d" || rc=1; done
    while read -r ns addr; do
        daemon_status "slurmd $ns ($addr)" "slurmd-$ns" || rc=1
    done < <(awk '$1 == "node" { print $2, $3 }' "$record_file")
    echo "links: $(get rate)"
    [ $rc -eq 0 ] && sinfo -N
    return $rc
}

env_exports() {
    echo "export SLURM_CONF=$conf"
    echo "# every simulated node sees all of the machine's cores: do not pin ranks to them"
    echo "export OMPI_MCA_hwloc_base_binding_policy=none"
    echo "# ranks outnumber the cores: let waiting ranks give up the core"
    echo "export OMPI_MCA_mpi_yield_when_idle=1"
}

main_dir "$dir_arg"
case $cmd in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env_exports ;;
    *) usage >&2; exit 2 ;;
esac
