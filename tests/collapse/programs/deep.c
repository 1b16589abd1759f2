/* Deep, varied call stacks with libc calls and always-inlined helpers (for `perf script --inline`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;

static inline __attribute__((always_inline)) unsigned long mix(unsigned long x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdUL; x ^= x >> 33;
    return x;
}

__attribute__((noinline)) static unsigned long leaf_hash(unsigned long seed) {
    unsigned long h = seed;
    for (int i = 0; i < 4000; i++) h = mix(h + (unsigned long)i);
    return h;
}

static int cmp_ul(const void *a, const void *b) {
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) static void leaf_sort(unsigned long seed) {
    unsigned long buf[512];
    for (int i = 0; i < 512; i++) buf[i] = mix(seed + i);
    qsort(buf, 512, sizeof buf[0], cmp_ul);
    sink += buf[7];
}

__attribute__((noinline)) static void leaf_copy(unsigned long seed) {
    size_t n = 1 << 16;
    char *a = malloc(n), *b = malloc(n);
    memset(a, (int)seed, n);
    memcpy(b, a, n);
    a[n - 1] = 0;
    sink += strlen(a);
    free(a); free(b);
}

__attribute__((noinline)) static void recurse_a(int depth, unsigned long seed);
__attribute__((noinline)) static void recurse_b(int depth, unsigned long seed);

__attribute__((noinline)) static void recurse_a(int depth, unsigned long seed) {
    if (depth == 0) { sink += leaf_hash(seed); return; }
    if (seed % 3 == 0) recurse_b(depth - 1, mix(seed)); else recurse_a(depth - 1, seed + 1);
}

__attribute__((noinline)) static void recurse_b(int depth, unsigned long seed) {
    if (depth == 0) {
        if (seed & 1) leaf_sort(seed); else leaf_copy(seed);
        return;
    }
    if (seed % 5 == 0) recurse_a(depth - 1, seed + 7); else recurse_b(depth - 1, seed + 3);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long seed = 1;
    do {
        recurse_a(20 + (int)(seed % 40), seed);
        seed = mix(seed) % 1000;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    printf("%lu\n", sink);
    return 0;
}
