/* isa.h: the instruction sets this build's kernels use, picked once from the compiler's
 * target macros (-march): the one place in downhill that reads them. Each KERNELS_* is 0
 * or 1; each src/kernels/<family>_<isa>.c compiles to nothing when its flag is 0, and
 * kernels.c calls the kernel of each family the flags name (plain C where none is set).
 * AMX tiles are also asked for at run time (CPU, OS, DOWNHILL_AMX=0 turns them off). */
#ifndef DOWNHILL_KERNELS_ISA_H
#define DOWNHILL_KERNELS_ISA_H

/* The network's float kernels (net_*.c): AVX-512, else AVX2 with FMA, else plain C.
 * Float64 builds (DOWNHILL_DOUBLE) use plain C. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(DOWNHILL_DOUBLE) && defined(__AVX512F__)
#define KERNELS_NET_AVX512 1
#define KERNELS_NET_AVX2 0
#elif defined(__AVX2__) && defined(__FMA__) && !defined(DOWNHILL_DOUBLE)
#define KERNELS_NET_AVX512 0
#define KERNELS_NET_AVX2 1
#else
#define KERNELS_NET_AVX512 0
#define KERNELS_NET_AVX2 0
#endif

/* The float outer products rounded to fixed point (exact_*.c): AVX2 with FMA in float
 * builds; AVX-512 (with DQ) adds a kernel for groups of one example and hands the rest to
 * the AVX2 one. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(DOWNHILL_DOUBLE)
#define KERNELS_EXACT_AVX2 1
#else
#define KERNELS_EXACT_AVX2 0
#endif
#if KERNELS_EXACT_AVX2 && defined(__AVX512F__) && defined(__AVX512DQ__)
#define KERNELS_EXACT_AVX512 1
#else
#define KERNELS_EXACT_AVX512 0
#endif

/* The rounding of the exact path's deltas and wide activations (round_*.c), float builds:
 * AVX-512 (F, DQ, VL), else AVX2, else the plain C of exact_input.c and exact_wide.c. */
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && \
    !defined(DOWNHILL_DOUBLE)
#define KERNELS_ROUND_AVX512 1
#define KERNELS_ROUND_AVX2 0
#elif defined(__AVX2__) && !defined(DOWNHILL_DOUBLE)
#define KERNELS_ROUND_AVX512 0
#define KERNELS_ROUND_AVX2 1
#else
#define KERNELS_ROUND_AVX512 0
#define KERNELS_ROUND_AVX2 0
#endif

/* exact_descend on eight sums in an AVX-512 register (descend8.h). */
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define KERNELS_DESCEND8 1
#else
#define KERNELS_DESCEND8 0
#endif

/* The first layer's integer outer products (input_*.c), in any precision: int16 pairs on
 * AVX-512 VNNI (which can spend its sums on weights, with KERNELS_DESCEND8), else on AVX2,
 * else plain int64 loops; and AMX tiles where the compiler targets them and the machine
 * grants them at run time. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && KERNELS_DESCEND8
#define KERNELS_INPUT_VNNI 1
#define KERNELS_INPUT_AVX2 0
#elif defined(__AVX2__)
#define KERNELS_INPUT_VNNI 0
#define KERNELS_INPUT_AVX2 1
#else
#define KERNELS_INPUT_VNNI 0
#define KERNELS_INPUT_AVX2 0
#endif
#if defined(__AMX_TILE__) && defined(__AMX_INT8__) && KERNELS_DESCEND8
#define KERNELS_INPUT_AMX 1
#else
#define KERNELS_INPUT_AMX 0
#endif
/* AVX-512 VBMI: the AMX kernel picks sixteen deltas' digits in one byte permutation. */
#if defined(__AVX512VBMI__)
#define KERNELS_VBMI 1
#else
#define KERNELS_VBMI 0
#endif

#endif
