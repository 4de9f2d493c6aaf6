/* rng.c: splitmix64 streams (Steele, Lea, Flood 2014) and the deviates built on them. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix_finalise(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = splitmix_finalise(a + 0x9e3779b97f4a7c15ULL);
    h = splitmix_finalise(h ^ (b + 0x632be59bd9b4e019ULL));
    return splitmix_finalise(h ^ (c + 0x85157af5ULL));
}

void rng_init(Rng *r, uint64_t key)
{
    r->state = key;
}

uint64_t rng_next(Rng *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return splitmix_finalise(r->state);
}

double rng_uniform(Rng *r)
{
    /* 53 random bits, shifted by half a step so 0 and 1 never occur */
    return ((double)(rng_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

double rng_normal(Rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rng_below(Rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased top */
    uint64_t x;
    do {
        x = rng_next(r);
    } while (x >= limit);
    return x % n;
}
