/* Bit planes from bytes, a template included by gates_core.h and timing_kernel.h inside each
 * of their instruction-set instantiations, so both pack bytes the same way. The includer
 * defines BP(name) (name suffix), BP_ISA (64: portable C, 256: AVX2, 512: AVX-512BW), BP_LANES
 * (64-bit words per vector) and BP_VEC (the vector type, BP_LANES words) and undefines them
 * after the inclusion. */

#if !defined(BP) || !defined(BP_ISA) || !defined(BP_LANES) || !defined(BP_VEC)
#error "byteplanes.h is a template: define BP, BP_ISA, BP_LANES and BP_VEC first"
#else

/* Bit planes of 64 x BP_LANES bytes: V[nets[j] * stride] gets bit j (< nbits <= 8) of bytes[t]
 * as bit t. Each plane is a "most significant bit of each byte" mask (one instruction on AVX2
 * and AVX-512; a multiply gathers 8 bits at once in portable C). */
static void BP(planes)(const uint8_t *bytes, int nbits, const int32_t *nets, BP_VEC *V,
                       int stride)
{
    int j, k;
#if BP_ISA == 512
    /* each 64 bytes loaded once; bit j of them tested into a mask register and stored as word
     * k of plane j (vptestmb, kmovq: two instructions a word) */
    for (k = 0; k < BP_LANES; k++) {
        const __m512i b = _mm512_loadu_si512((const void *)(bytes + 64 * k));
        for (j = 0; j < nbits; j++) {
            const __mmask64 m = _mm512_test_epi8_mask(b, _mm512_set1_epi8((char)(1 << j)));
            memcpy((uint64_t *)&V[(size_t)nets[j] * (size_t)stride] + k, &m, 8);
        }
    }
    return;
#endif
    for (j = 0; j < nbits; j++) {
        BP_VEC plane;
        for (k = 0; k < BP_LANES; k++) {
#if BP_ISA == 512
            const __m512i b = _mm512_loadu_si512((const void *)(bytes + 64 * k));
            plane[k] = _mm512_movepi8_mask(_mm512_slli_epi64(b, 7 - j));
#elif BP_ISA == 256
            const __m256i lo = _mm256_loadu_si256((const __m256i *)(bytes + 64 * k));
            const __m256i hi = _mm256_loadu_si256((const __m256i *)(bytes + 64 * k + 32));
            plane[k] = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi64(lo, 7 - j))
                       | (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi64(hi, 7 - j))
                             << 32;
#else
            uint64_t word = 0;
            int e;
            for (e = 0; e < 8; e++) {   /* bit j of 8 bytes at once */
                uint64_t x;
                memcpy(&x, bytes + 64 * k + 8 * e, 8);
                x = (x >> j) & 0x0101010101010101ULL;
                word |= ((x * 0x0102040810204080ULL) >> 56) << (8 * e);
            }
            plane[k] = word;
#endif
        }
        V[(size_t)nets[j] * (size_t)stride] = plane;
    }
}

#endif /* BP, BP_ISA, BP_LANES, BP_VEC */
