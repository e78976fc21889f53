/* Status messages, the interrupt flag, the cached CPU probe and the compiler name (common.h). */
#include "common.h"

const char *bitsim_status_message(int status)
{
    switch (status) {
    case BITSIM_OK:
        return "ok";
    case BITSIM_ERR_CONFIG:
        return "invalid MAC configuration: a width or the dot-product length outside its range";
    case BITSIM_ERR_X_RANGE:
        return "x holds a value outside its format";
    case BITSIM_ERR_W_RANGE:
        return "w holds a value outside its format";
    case BITSIM_ERR_SIMD:
        return "simd: this CPU or build does not support the requested instruction set";
    case BITSIM_ERR_WORKSPACE:
        return "invalid workspace: missing, or a block of 0 MACs";
    case BITSIM_ERR_CIRCUIT:
        return "invalid circuit: a gate, net index or bus width outside its range";
    case BITSIM_ERR_WARMUP:
        return "invalid warm-up: more warm-up vectors than vectors before the start";
    case BITSIM_ERR_INTERRUPTED:
        return "interrupted";
    case BITSIM_ERR_TIMING_PLAN:
        return "invalid timing plan: a slot, entry, step or delay outside its range";
    default:
        return "unknown status";
    }
}

int bitsim_interrupt_flag;

void bitsim_interrupt(int on) { __atomic_store_n(&bitsim_interrupt_flag, on != 0, __ATOMIC_RELAXED); }

/* Set in the cache once the probe has run, so that a CPU without any feature probes once too. */
#define PROBED (1u << 31)

static unsigned probe(void)
{
    unsigned f = 0;
#ifdef BITSIM_X86_DISPATCH
    __builtin_cpu_init();
    f |= __builtin_cpu_supports("avx2") ? BITSIM_CPU_AVX2 : 0;
    f |= __builtin_cpu_supports("bmi") ? BITSIM_CPU_BMI : 0;
    f |= __builtin_cpu_supports("popcnt") ? BITSIM_CPU_POPCNT : 0;
    f |= __builtin_cpu_supports("avx512f") ? BITSIM_CPU_AVX512F : 0;
    f |= __builtin_cpu_supports("avx512dq") ? BITSIM_CPU_AVX512DQ : 0;
    f |= __builtin_cpu_supports("avx512bw") ? BITSIM_CPU_AVX512BW : 0;
    f |= __builtin_cpu_supports("avx512vl") ? BITSIM_CPU_AVX512VL : 0;
    f |= __builtin_cpu_supports("avx512vpopcntdq") ? BITSIM_CPU_AVX512VPOPCNTDQ : 0;
#endif
    return f;
}

unsigned bitsim_cpu_features(void)
{
    static unsigned cache;   /* 0: not probed yet */
    unsigned f = __atomic_load_n(&cache, __ATOMIC_RELAXED);
    if (!f) {   /* racing threads all compute the same value */
        f = probe() | PROBED;
        __atomic_store_n(&cache, f, __ATOMIC_RELAXED);
    }
    return f & ~PROBED;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *bitsim_compiler(void)
{
#if defined(__clang__)   /* before __GNUC__: Clang defines that too */
    return "clang " STR(__clang_major__) "." STR(__clang_minor__) "." STR(__clang_patchlevel__);
#elif defined(__GNUC__)
    return "gcc " STR(__GNUC__) "." STR(__GNUC_MINOR__) "." STR(__GNUC_PATCHLEVEL__);
#else
    return "unknown compiler";
#endif
}
