# Sourced by scripts/fuzz.sh and tests/fuzz/triage.sh: classify a sanitizer crash log.

# hdf5_only_log LOG: 0 if every sanitizer stack in LOG starts (past the sanitizer runtime,
# its interceptors and libc) in libhdf5. An interceptor (strdup, memcpy, ...) is linked into
# the fuzz binary, so its frame names the binary with an offset and no source file.
hdf5_only_log() {
    awk '
        /^ *#[0-9]+ 0x/ {
            if (done) next
            if ($0 ~ / in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|malloc|calloc|realloc|free|memcpy|memmove|memset|strlen|strnlen|__restore_rt|__mem|__str)/) next
            if ($0 ~ /\/fuzz_[a-z0-9]+\+0x[0-9a-f]+\)/) next
            if ($0 ~ /sysdeps\//) next
            if ($0 ~ /libc\.so/ && $0 !~ /abort|raise/) next
            if ($0 ~ /libhdf5/ && !leak) hdf5++; else other++
            done = 1; next
        }
        /^(allocated|freed|previously allocated) by thread/ || /ERROR: (AddressSanitizer|libFuzzer)/ { done = 0 }
        /ERROR: LeakSanitizer/ { leak = 1 }
        END { exit !(hdf5 > 0 && other == 0) }' "$1"
}

# sealed_input FILE: 0 if FILE carries downhill's integrity block (the magic DOWNHILL_SEAL
# at offset 0 or 256, see docs/FORMATS.md): a file downhill wrote, which its readers
# verify before libhdf5 parses a byte. A crash inside libhdf5 on such an input is a
# downhill bug (the check let damage through); on any other input (an older downhill's
# file, a foreign file) it is one of HDF5 1.10's own bugs.
sealed_input() {
    local head
    head=$(head -c 16 "$1" 2> /dev/null | tr -d '\0')
    [ "$head" = DOWNHILL_SEAL ] && return 0
    head=$(tail -c +257 "$1" 2> /dev/null | head -c 16 | tr -d '\0')
    [ "$head" = DOWNHILL_SEAL ]
}
