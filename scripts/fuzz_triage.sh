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
