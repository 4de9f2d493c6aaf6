/* rng.h: counter-based random numbers (splitmix64): reproducible from a seed and
 * stream ids alone, so every rank draws the same numbers without communicating. */
#ifndef DOWNHILL_RNG_H
#define DOWNHILL_RNG_H

#include <stdint.h>

/* A sequential generator; state is one 64-bit counter. */
typedef struct {
    uint64_t state;
} Rng;

/* rng_mix: hashes (a, b, c) into one well-mixed 64-bit value (a stream key). */
uint64_t rng_mix(uint64_t a, uint64_t b, uint64_t c);

/* rng_init: generator for stream `key` (use rng_mix to build keys). */
void rng_init(Rng *r, uint64_t key);

/* rng_next: next 64 random bits. */
uint64_t rng_next(Rng *r);

/* rng_uniform: uniform double in (0, 1), never 0 or 1. */
double rng_uniform(Rng *r);

/* rng_normal: standard normal deviate (Box-Muller, one draw of two uniforms each). */
double rng_normal(Rng *r);

/* rng_below: uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(Rng *r, uint64_t n);

#endif
