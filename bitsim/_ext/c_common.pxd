# Declarations of csrc/common.h.
cdef extern from "common.h" nogil:
    enum:
        BITSIM_OK
        BITSIM_ERR_CONFIG
        BITSIM_ERR_X_RANGE
        BITSIM_ERR_W_RANGE
        BITSIM_ERR_SIMD
        BITSIM_ERR_WORKSPACE
        BITSIM_ERR_CIRCUIT
        BITSIM_ERR_WARMUP
        BITSIM_ERR_INTERRUPTED
        BITSIM_ERR_TIMING_PLAN
        BITSIM_NSTATUS

    enum:
        BITSIM_SIMD_AUTO
        BITSIM_SIMD_SCALAR
        BITSIM_SIMD_AVX2
        BITSIM_SIMD_AVX512

    enum:
        BITSIM_CPU_AVX2
        BITSIM_CPU_BMI
        BITSIM_CPU_POPCNT
        BITSIM_CPU_AVX512F
        BITSIM_CPU_AVX512DQ
        BITSIM_CPU_AVX512BW
        BITSIM_CPU_AVX512VL
        BITSIM_CPU_AVX512VPOPCNTDQ

    const char *bitsim_status_message(int status)
    unsigned bitsim_cpu_features()
    const char *bitsim_compiler()
    void bitsim_interrupt(int on)
