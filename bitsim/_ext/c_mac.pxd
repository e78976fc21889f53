# Declarations of csrc/mac.h (status codes and SIMD levels: _c_common.pxd).
from libc.stdint cimport int64_t, uint64_t

from bitsim._ext.c_operands cimport bitsim_source

cdef extern from "mac.h" nogil:
    ctypedef struct bitsim_i128:
        uint64_t lo
        int64_t hi

    ctypedef struct bitsim_mac_config:
        int x_bits, w_bits, acc_bits
        int x_signed, w_signed
        uint64_t length

    enum:
        BITSIM_NSITES

    ctypedef struct bitsim_mac_result:
        uint64_t macs
        uint64_t flips[BITSIM_NSITES][64]
        uint64_t overflows
        bitsim_i128 min_sum, max_sum
        bitsim_i128 sum_after

    enum:
        BITSIM_WIDTH_BINS

    int bitsim_simd_supported(int level)
    size_t bitsim_mac_workspace_bytes(size_t block)
    int bitsim_mac_run(const bitsim_mac_config *cfg, const bitsim_source *x,
                       const bitsim_source *w, uint64_t start, uint64_t count,
                       bitsim_i128 sum_before, int simd, void *workspace, size_t block,
                       bitsim_mac_result *out, uint64_t *bad_index)
    int bitsim_mac_tail(const bitsim_mac_config *cfg, const bitsim_source *x,
                        const bitsim_source *w, uint64_t start, uint64_t count, int simd,
                        void *workspace, size_t block, bitsim_i128 *tail, int *restarted,
                        uint64_t *bad_index)
    int bitsim_mac_tail_vectorised(const bitsim_mac_config *cfg, const bitsim_source *x,
                                   const bitsim_source *w, int simd)
    int bitsim_dot_widths(const bitsim_mac_config *cfg, const bitsim_source *x,
                          const bitsim_source *w, uint64_t first_dot, uint64_t dots, int simd,
                          void *workspace, size_t block, uint64_t *hist, bitsim_i128 *min_sum,
                          bitsim_i128 *max_sum, uint64_t *bad_index)
