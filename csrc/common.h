/* What every part of the compiled core shares: status codes and their messages, instruction-set
 * levels, the one cached CPU probe, workspace alignment, portable vector shuffles and the name
 * of the compiler that built the core. */
#ifndef BITSIM_COMMON_H
#define BITSIM_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* ---- status codes ---------------------------------------------------------------------------
 * Returned by every bitsim_* function that can fail. Each code has exactly one meaning, and
 * bitsim_status_message() its one message. */
enum {
    BITSIM_OK = 0,
    BITSIM_ERR_CONFIG = 1,      /* MAC configuration: a width or the dot-product length outside
                                 * its range */
    BITSIM_ERR_X_RANGE = 2,     /* x holds a value outside its format; *bad_index says where */
    BITSIM_ERR_W_RANGE = 3,     /* w holds a value outside its format; *bad_index says where */
    BITSIM_ERR_SIMD = 4,        /* the requested instruction set is not available */
    BITSIM_ERR_WORKSPACE = 5,   /* workspace missing, or block == 0 */
    BITSIM_ERR_CIRCUIT = 6,     /* gate circuit: a gate, net index or bus width out of range */
    BITSIM_ERR_WARMUP = 7,      /* gate run: more warm-up vectors than vectors before start */
    BITSIM_ERR_INTERRUPTED = 8, /* stopped early: bitsim_interrupt(1) was called; no result */
    BITSIM_ERR_TIMING_PLAN = 9, /* timing plan: a slot, entry, step or delay outside its range */
    BITSIM_NSTATUS              /* number of status codes */
};

/* Static, NUL-terminated message of a status code ("unknown status" outside the range). */
const char *bitsim_status_message(int status);

/* ---- interrupts ---------------------------------------------------------------------------
 * One process-wide flag (per copy of the core: each extension module links its own). Every
 * kernel checks it once per block of its main loop and returns BITSIM_ERR_INTERRUPTED when it
 * is set, so that a long call running in another thread stops within a block. */
extern int bitsim_interrupt_flag;

/* Set (non-zero) or clear (0) the flag. Thread-safe. */
void bitsim_interrupt(int on);

/* Non-zero when the flag is set: one relaxed atomic load, cheap enough for every block. */
static inline int bitsim_interrupted(void)
{
    return __atomic_load_n(&bitsim_interrupt_flag, __ATOMIC_RELAXED);
}

/* ---- instruction sets -------------------------------------------------------------------- */
enum { BITSIM_SIMD_AUTO = -1, BITSIM_SIMD_SCALAR = 0, BITSIM_SIMD_AVX2 = 1, BITSIM_SIMD_AVX512 = 2 };

/* x86-64 with GCC or Clang: the AVX2 and AVX-512 kernels are compiled (with target pragmas,
 * never -march=native) and chosen at run time. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BITSIM_X86_DISPATCH 1
#endif

/* CPU features the kernels use, as bits of bitsim_cpu_features(). */
enum {
    BITSIM_CPU_AVX2 = 1 << 0,
    BITSIM_CPU_BMI = 1 << 1,
    BITSIM_CPU_POPCNT = 1 << 2,
    BITSIM_CPU_AVX512F = 1 << 3,
    BITSIM_CPU_AVX512DQ = 1 << 4,
    BITSIM_CPU_AVX512BW = 1 << 5,
    BITSIM_CPU_AVX512VL = 1 << 6,
    BITSIM_CPU_AVX512VPOPCNTDQ = 1 << 7
};

/* What the AVX2 and AVX-512 variants of the MAC kernel need (the gate kernel's AVX-512 variant
 * needs BITSIM_CPU_AVX512VPOPCNTDQ as well). */
#define BITSIM_CPU_FOR_AVX2 (BITSIM_CPU_AVX2 | BITSIM_CPU_BMI | BITSIM_CPU_POPCNT)
#define BITSIM_CPU_FOR_AVX512                                                                   \
    (BITSIM_CPU_FOR_AVX2 | BITSIM_CPU_AVX512F | BITSIM_CPU_AVX512DQ | BITSIM_CPU_AVX512BW         \
     | BITSIM_CPU_AVX512VL)

/* The BITSIM_CPU_* features of this CPU; probed on the first call only (0 without
 * BITSIM_X86_DISPATCH). Thread-safe. */
unsigned bitsim_cpu_features(void);

/* Non-zero when the CPU has every feature of `need`. */
static inline int bitsim_cpu_has(unsigned need) { return (bitsim_cpu_features() & need) == need; }

/* ---- workspace alignment --------------------------------------------------------------------
 * Workspaces are carved into BITSIM_ALIGN-byte aligned pieces; their size includes BITSIM_ALIGN
 * bytes of slack for aligning the start. */
#define BITSIM_ALIGN 64

/* n rounded up to a multiple of BITSIM_ALIGN. */
static inline size_t bitsim_align_up(size_t n)
{
    return (n + BITSIM_ALIGN - 1) & ~(size_t)(BITSIM_ALIGN - 1);
}

/* The first BITSIM_ALIGN-aligned address at or after p. */
static inline char *bitsim_align_ptr(void *p)
{
    return (char *)p + ((BITSIM_ALIGN - ((uintptr_t)p & (BITSIM_ALIGN - 1))) & (BITSIM_ALIGN - 1));
}

/* ---- vector shuffles ------------------------------------------------------------------------
 * Lane permutations of GCC/Clang vector types with constant indices, in the notation of GCC's
 * __builtin_shuffle: BITSIM_SHUFFLE2(a, b, T, i0, i1, ...) takes lane i of a for i < n and lane
 * i - n of b otherwise; BITSIM_SHUFFLE1(a, T, ...) permutes a alone. T is the integer vector
 * type of the index list (GCC needs it; Clang's __builtin_shufflevector takes the indices
 * themselves). */
#if defined(__clang__)
#define BITSIM_SHUFFLE2(a, b, T, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define BITSIM_SHUFFLE1(a, T, ...) __builtin_shufflevector(a, a, __VA_ARGS__)
#else
#define BITSIM_SHUFFLE2(a, b, T, ...) __builtin_shuffle(a, b, (T){__VA_ARGS__})
#define BITSIM_SHUFFLE1(a, T, ...) __builtin_shuffle(a, (T){__VA_ARGS__})
#endif

/* ---- build ------------------------------------------------------------------------------- */

/* The compiler that built the core: "gcc X.Y.Z", "clang X.Y.Z" or "unknown compiler". */
const char *bitsim_compiler(void);

#endif
