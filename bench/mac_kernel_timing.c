/* CPU time of the C MAC kernel alone (no Python), best of 7 runs of 10^7 MACs, AVX-512, one
 * thread, K = 4608, every site counted; for A/B comparisons of kernel changes on a shared
 * machine (build the same file against two copies of csrc/ and run them in turns):
 *
 *   gcc -O3 -std=gnu99 -fno-strict-aliasing -Icsrc bench/mac_kernel_timing.c csrc/mac.c \
 *       csrc/common.c -o /tmp/mac_timing
 *   /tmp/mac_timing a 32 8     # int8 arrays, acc 32; "s" for operands sampled in C; 16: int16
 *   /tmp/mac_timing a 32 8 tail   # the starting-sum pass of an endless dot product (threads)
 *   /tmp/mac_timing a 32 8 endless   # the main pass of an endless dot product
 *
 * Prints G MAC/s and one flip count (the same for the same arguments, whatever the build). */
#include "mac.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv)
{
    const size_t N = 10000000, block = 512;
    int sampled = argc > 1 && argv[1][0] == 's', acc = argc > 2 ? atoi(argv[2]) : 32, bits = argc > 3 ? atoi(argv[3]) : 8;
    int tail = argc > 4 && argv[4][0] == 't', endless = argc > 4;
    int8_t *x8 = malloc(N), *w8 = malloc(N); int16_t *x16 = malloc(2 * N), *w16 = malloc(2 * N);
    uint64_t s = 1, bad; size_t i; int r;
    for (i = 0; i < N; i++) { s = s * 6364136223846793005ULL + 1442695040888963407ULL; x8[i] = (int8_t)(s >> 56); w8[i] = (int8_t)(s >> 48); x16[i] = (int16_t)(s >> 48); w16[i] = (int16_t)(s >> 32); }
    bitsim_mac_config cfg = {bits, bits, acc, 1, 1, endless ? 0 : 4608};
    bitsim_source xs = {0}, ws = {0};
    xs.bits = ws.bits = bits; xs.is_signed = ws.is_signed = 1;
    if (sampled) { xs.kind = ws.kind = BITSIM_SOURCE_UNIFORM; xs.key = 1; ws.key = 2; }
    else { xs.data = bits == 8 ? (void *)x8 : (void *)x16; ws.data = bits == 8 ? (void *)w8 : (void *)w16; xs.dtype = ws.dtype = bits == 8 ? BITSIM_INT8 : BITSIM_INT16; }
    void *wsp = malloc(bitsim_mac_workspace_bytes(block));
    bitsim_mac_result res = {0}; bitsim_i128 z = {0, 0}, sum = {0, 0}; int restarted;
    double best = 1e9;
    for (r = 0; r < 7; r++) {
        double t0 = cpu();
        int st = tail ? bitsim_mac_tail(&cfg, &xs, &ws, 1, N - 1, BITSIM_SIMD_AVX512, wsp, block, &sum, &restarted, &bad)
                      : bitsim_mac_run(&cfg, &xs, &ws, 0, N, z, BITSIM_SIMD_AVX512, wsp, block, &res, &bad);
        double t = cpu() - t0; if (st) { printf("status %d\n", st); return 1; }
        best = t < best ? t : best;
    }
    printf("%.3f G MAC/s (flips acc0 %llu, tail %lld)\n", N / best / 1e9, (unsigned long long)res.flips[3][0], (long long)sum.lo);
    return 0;
}
