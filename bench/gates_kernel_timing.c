/* CPU time of the C gate kernel alone (no Python), best of R runs, one thread; for A/B
 * comparisons of kernel changes on a shared machine (build the same file against two copies of
 * csrc/ and run them in turns; bench/test_bench_gates.py does so against the kernel before issue
 * 14's rewrite, with -DGATES_NETS_ONLY_WORKSPACE for its workspace function):
 *
 *   gcc -O3 -std=gnu99 -fno-strict-aliasing -Icsrc bench/gates_kernel_timing.c csrc/gates.c \
 *       csrc/mac.c csrc/common.c -o /tmp/gates_timing
 *   /tmp/gates_timing PROGRAM SIMD VECTORS CHUNK RUNS [sampled]
 *   # SIMD: -1 auto, 0 scalar, 1 AVX2, 2 AVX-512
 *
 * PROGRAM: a text file written by bench/test_bench_gates.py (write_program): "nets ngates x_bits
 * w_bits", then one line "op a b c out" per gate, then the x and the w nets. Operands: uniform
 * unsigned uint8 arrays (8-bit buses) or uint16 ones, from a fixed LCG, or with `sampled` the
 * kernel's own uniform samplers (keys 1 and 2; their streams are whatever the built kernel's
 * samplers draw, so toggles differ between kernels whose samplers differ); the vectors are cut into
 * kernel calls of CHUNK vectors as bitsim.simulate_gates does. Prints "G gate-evals/s, total
 * toggles" (the same toggles for the same arguments, whatever the build). */
#include "gates.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int32_t *ints(FILE *f, int n)
{
    int32_t *p = malloc(sizeof *p * (size_t)(n > 0 ? n : 1));
    int i;
    for (i = 0; i < n; i++)
        if (fscanf(f, "%d", &p[i]) != 1)
            exit(2);
    return p;
}

int main(int argc, char **argv)
{
    FILE *f;
    bitsim_circuit c = {0};
    int32_t *col[5];
    int simd, runs, r, g, k, st;
    uint64_t n, chunk, s = 1, bad, total = 0, off;
    void *data[2];
    bitsim_source xs = {0}, ws = {0};
    uint64_t *toggles;
    void *work;
    double best = 1e30;
    if (argc < 6 || argc > 7 || !(f = fopen(argv[1], "r")))
        return 2;
    simd = atoi(argv[2]);
    n = strtoull(argv[3], NULL, 10);
    chunk = strtoull(argv[4], NULL, 10);
    runs = atoi(argv[5]);
    if (fscanf(f, "%d %d %d %d", &c.nets, &c.ngates, &c.x_bits, &c.w_bits) != 4)
        return 2;
    for (k = 0; k < 5; k++)
        col[k] = malloc(sizeof(int32_t) * (size_t)(c.ngates > 0 ? c.ngates : 1));
    for (g = 0; g < c.ngates; g++)
        for (k = 0; k < 5; k++)
            if (fscanf(f, "%d", &col[k][g]) != 1)
                return 2;
    c.op = col[0], c.a = col[1], c.b = col[2], c.c = col[3], c.out = col[4];
    c.x_nets = ints(f, c.x_bits);
    c.w_nets = ints(f, c.w_bits);
    c.first_net = -1;
    fclose(f);
    xs.bits = c.x_bits, ws.bits = c.w_bits;
    for (k = 0; k < 2; k++) {
        const int bits = k ? c.w_bits : c.x_bits;
        uint64_t i;
        data[k] = malloc(n * (bits <= 8 ? 1 : 2));
        for (i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            if (bits <= 8)
                ((uint8_t *)data[k])[i] = (uint8_t)((s >> 56) & ((1u << bits) - 1));
            else
                ((uint16_t *)data[k])[i] = (uint16_t)((s >> 48) & ((1u << bits) - 1));
        }
    }
    xs.data = data[0], ws.data = data[1];
    xs.dtype = c.x_bits <= 8 ? BITSIM_UINT8 : BITSIM_UINT16;
    ws.dtype = c.w_bits <= 8 ? BITSIM_UINT8 : BITSIM_UINT16;
    if (argc == 7) {   /* sampled */
        xs.kind = ws.kind = BITSIM_SOURCE_UNIFORM;
        xs.key = 1, ws.key = 2;
    }
    toggles = calloc((size_t)c.nets, sizeof *toggles);
#ifdef GATES_NETS_ONLY_WORKSPACE
    work = malloc(bitsim_gates_workspace_bytes(c.nets));
#else
    work = malloc(bitsim_gates_workspace_bytes(c.nets, c.ngates));
#endif
    for (r = 0; r < runs; r++) {
        double t0 = cpu(), t;
        for (k = 0; k < c.nets; k++)
            toggles[k] = 0;
        for (off = 0; off < n; off += chunk) {
            const uint64_t m = n - off < chunk ? n - off : chunk;
            const uint64_t warm = off ? 1 : 0;
            st = bitsim_gates_run(&c, &xs, &ws, off, warm, m, 0, simd, work, toggles, &bad);
            if (st) {
                printf("status %d\n", st);
                return 1;
            }
        }
        t = cpu() - t0;
        best = t < best ? t : best;
    }
    for (k = 0; k < c.nets; k++)
        total += toggles[k];
    printf("%.2f %llu\n", (double)c.ngates * (double)n / best / 1e9, (unsigned long long)total);
    return 0;
}
