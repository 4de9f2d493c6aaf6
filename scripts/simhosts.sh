#!/usr/bin/env bash
# simhosts.sh: several simulated hosts on one machine, joined by a real TCP network, for
# running downhill's MPI jobs across "nodes" without a cluster.
#
#   scripts/simhosts.sh up N [RATE]        N hosts (network namespaces) on a private bridge;
#                                          RATE (e.g. 1gbit, 100mbit) shapes every link
#                                          with tc tbf in both directions
#   scripts/simhosts.sh run NP -- CMD...   mpirun -np NP CMD across the hosts (ranks placed
#                                          round-robin, one per host in turn)
#   scripts/simhosts.sh down               removes exactly what `up` created (also after a
#                                          failed `up`); harmless when nothing is up
#   scripts/simhosts.sh status             what is up
#
# Each host is a network namespace with a veth pair onto a bridge on 10.231.K.0/24 (K: the
# first third octet not in use on this machine); only the namespaces get addresses
# (.1, .2, ...), the machine's own network is not touched. mpirun runs in host 0; Open MPI
# starts its daemons in the other hosts through a launcher agent (an ssh stand-in:
# `ip netns exec NS unshare --uts sh -c 'hostname H; COMMAND'`). Ranks talk over TCP (btl
# tcp,self,vader: vader only between ranks on the same host). Every created object is
# recorded in $SIMHOSTS_DIR/state as it is made; `down` deletes those, newest first, after
# ending the processes still running in the namespaces. Needs root (ip netns); exits 77
# (skip) when network namespaces are not available.
#
# Environment: SIMHOSTS_DIR (default /tmp/downhill-simhosts): state, agent and hostfile;
# MPIRUN (default mpirun). tc netem (delay) is not available on every kernel: only the
# bandwidth is shaped.
set -euo pipefail

DIR=${SIMHOSTS_DIR:-/tmp/downhill-simhosts}
record_file=$DIR/state
SKIP=77

die() { echo "simhosts.sh: error: $*" >&2; exit 1; }
skip() { echo "simhosts.sh: skip: $*" >&2; exit $SKIP; }
# shellcheck source=scripts/netns-common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns-common.sh"

# free_octet: the first K such that no address in 10.231.K.0/24 exists on this machine
free_octet() {
    local used k
    used=$(used_octets 10.231)
    for k in $(seq 0 249); do
        grep -qx "$k" <<<"$used" || { echo "$k"; return; }
    done
    die "no free 10.231.K.0/24 subnet"
}

# up_exit: the EXIT trap of a failing `up`: removes what it made, keeps the exit status
up_exit() {
    local rc=$?
    [ $rc -eq 0 ] || { echo "simhosts.sh: up failed; removing what it created" >&2; cmd_down; }
    exit $rc
}

cmd_up() {
    local n=${1:-}; local rate=${2:-}
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 32 ] || die "up N [RATE]: N from 1 to 32"
    [ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
    command -v ip >/dev/null || skip "iproute2 (ip) not installed: scripts/install-deps.sh --tests"
    [ -e "$record_file" ] && die "already up ($record_file); run: $0 down"
    local tag=$(( $$ % 100000 ))
    local probe=dh${tag}probe
    ip netns add "$probe" 2>/dev/null ||
        skip "cannot create network namespaces (ip netns add failed: no permission?)"
    ip netns del "$probe"
    local octet; octet=$(free_octet)
    local subnet=10.231.$octet.0/24 br=dh${tag}br
    mkdir -p "$DIR"
    : >"$record_file"
    record tag "$tag"; record subnet "$subnet"; record hosts "$n"; record rate "${rate:-none}"
    # from here on a failure (die, or set -e) removes what up made
    trap up_exit EXIT
    ip link add "$br" type bridge forward_delay 0 && record link "$br"
    ip link set "$br" up
    local burst=""
    if [ -n "$rate" ]; then burst=$(tbf_burst "$rate") || die "RATE $rate: use e.g. 1gbit, 100mbit, 500kbit"; fi
    local hostfile=$DIR/hostfile; : >"$hostfile"
    for i in $(seq 0 $((n - 1))); do
        add_host "dh${tag}_h$i" "dh${tag}v$i" "dh${tag}p$i" "$br" "10.231.$octet.$((i + 1))/24" "$rate" "$burst"
        record host "dh${tag}h$i dh${tag}_h$i"
        echo "dh${tag}h$i slots=$(nproc)" >>"$hostfile"
    done
    # The launcher agent: called like ssh (options..., host, command words).
    cat >"$DIR/agent" <<EOF
#!/bin/sh
# Open MPI launcher agent for simhosts.sh: runs a command in a simulated host.
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case \$host in
$(for i in $(seq 0 $((n - 1))); do echo "    dh${tag}h$i) ns=dh${tag}_h$i ;;"; done)
    *) echo "simhosts agent: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$host; \$*"
EOF
    chmod +x "$DIR/agent"
    trap - EXIT
    echo "simhosts: $n hosts up on $subnet (rate ${rate:-unshaped}); hostfile $hostfile"
}

cmd_run() {
    [ -e "$record_file" ] || die "nothing is up: $0 up N [RATE] first"
    local np=${1:-}; shift || true
    [[ $np =~ ^[0-9]+$ ]] && [ "$np" -ge 1 ] || die "run NP -- COMMAND..."
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || die "run NP -- COMMAND..."
    local tag subnet; tag=$(get tag); subnet=$(get subnet)
    local yield=()
    [ "$np" -gt "$(nproc)" ] && yield=(--mca mpi_yield_when_idle 1)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # mpirun itself runs in host 0 (so the machine's own network needs no address).
    ip netns exec "dh${tag}_h0" unshare --uts sh -c 'hostname "$0"; exec "$@"' "dh${tag}h0" \
        "${MPIRUN:-mpirun}" -np "$np" --hostfile "$DIR/hostfile" --map-by node --oversubscribe \
        --bind-to none --mca plm_rsh_agent "$DIR/agent" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self,vader --mca btl_tcp_if_include "$subnet" \
        --mca oob_tcp_if_include "$subnet" "${yield[@]}" "$@"
}

cmd_down() {
    [ -e "$record_file" ] || return 0
    kill_in_namespaces
    delete_recorded
    rm -f "$record_file" "$DIR/agent" "$DIR/hostfile"
    rmdir "$DIR" 2>/dev/null || true
}

cmd_status() {
    [ -e "$record_file" ] || { echo "simhosts: nothing up"; return 0; }
    cat "$record_file"
}

case ${1:-} in
    up) shift; cmd_up "$@" ;;
    run) shift; cmd_run "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
