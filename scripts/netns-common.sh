# netns-common.sh: simulated hosts on one machine, as simhosts.sh and slurm-multi.sh make
# them: a network namespace per host, joined to a bridge by a veth pair, its link
# optionally shaped with tc tbf; every object recorded in a file as it is made, so that
# exactly those are removed. Sourced, not run.
# The caller sets `record_file` (the record: one "KIND NAME ..." line per object).
# shellcheck shell=bash disable=SC2154  # record_file: set by the caller

record() { echo "$*" >> "$record_file"; }
# get KEY: the first word after KEY in the record
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$record_file" 2> /dev/null; }

# tbf_burst RATE: tbf bucket size in bytes: 0.5 ms of traffic, at least 64 KiB (a whole
# GSO packet; smaller buckets made veth+tbf stall for timer ticks of 4 ms). So up to
# 64 KiB can pass at memory speed when the bucket is full: shaping acts on larger messages.
# Returns 1 when RATE is not a whole number with gbit, mbit, kbit, bit or no unit.
tbf_burst() {
    local r=$1 n unit
    n=${r%%[a-zA-Z]*}
    unit=${r#"$n"}
    [[ $n =~ ^[0-9]+$ ]] || return 1
    case $unit in
        gbit) n=$((n * 1000000000)) ;; mbit) n=$((n * 1000000)) ;;
        kbit) n=$((n * 1000)) ;; bit | "") ;; *) return 1 ;;
    esac
    local b=$((n / 8 / 2000))
    echo $((b > 65536 ? b : 65536))
}

# used_octets A.B: third octets K of every A.B.K.* address on this machine, in the root
# namespace and in every network namespace (other instances, other users)
used_octets() {
    local ns
    { ip -4 -o addr show 2> /dev/null
      for ns in $(ip netns list 2> /dev/null | awk '{ print $1 }'); do
          ip netns exec "$ns" ip -4 -o addr show 2> /dev/null
      done; } | grep -o "inet ${1//./\\.}\\.[0-9]*\\." | cut -d. -f3 | sort -u
}

# add_host NS VETH PEER BRIDGE ADDRESS/PREFIX [RATE BURST]: namespace NS whose eth0 (the
# veth PEER, renamed) has ADDRESS and whose other end VETH is a port of BRIDGE; with RATE,
# both directions are shaped (NS's egress and the bridge port's egress). Records NS, VETH.
add_host() {
    local ns=$1 veth=$2 peer=$3 br=$4 addr=$5 rate=${6:-} burst=${7:-}
    ip netns add "$ns" && record netns "$ns"
    ip link add "$veth" type veth peer name "$peer" && record link "$veth"
    ip link set "$peer" netns "$ns"
    ip link set "$veth" master "$br"
    ip link set "$veth" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "$peer" name eth0
    ip netns exec "$ns" ip addr add "$addr" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    if [ -n "$rate" ]; then
        ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms
        tc qdisc add dev "$veth" root tbf rate "$rate" burst "$burst" latency 100ms
    fi
}

# kill_in_namespaces: SIGKILL to what still runs in the recorded namespaces (only
# processes inside namespaces we made)
kill_in_namespaces() {
    local ns
    for ns in $(awk '$1 == "netns" { print $2 }' "$record_file" 2> /dev/null); do
        ip netns pids "$ns" 2> /dev/null | xargs -r kill -KILL 2> /dev/null || true
    done
}

# delete_recorded: deletes the recorded namespaces and links, newest first
delete_recorded() {
    tac "$record_file" | while read -r kind name _; do
        case $kind in
            netns) ip netns del "$name" 2> /dev/null || true ;;
            link) ip link del "$name" 2> /dev/null || true ;;
        esac
    done
}
