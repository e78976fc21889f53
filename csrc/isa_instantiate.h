/* One x86 instantiation of a kernel template: includes ISA_KERNEL (the template's header name,
 * a string) with every function in it compiled for the instruction set ISA_BITS (256: AVX2,
 * 512: AVX-512 with VPOPCNTDQ; run-time dispatch picks one, never -march=native). The includer
 * defines ISA_KERNEL, ISA_BITS and the template's own parameters, includes this header, and
 * undefines them after. */

#if !defined(ISA_KERNEL) || !defined(ISA_BITS)
#error "isa_instantiate.h: define ISA_KERNEL and ISA_BITS first (see gates.c)"
#elif ISA_BITS != 256 && ISA_BITS != 512
#error "isa_instantiate.h: ISA_BITS must be 256 or 512"
#else

#if defined(__clang__)
#if ISA_BITS == 256
#pragma clang attribute push(__attribute__((target("avx2,popcnt"))), apply_to = function)
#else
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt"))), apply_to = function)
#endif
#include ISA_KERNEL
#pragma clang attribute pop
#else
#pragma GCC push_options
#if ISA_BITS == 256
#pragma GCC target("avx2,popcnt")
#else
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")
#endif
#include ISA_KERNEL
#pragma GCC pop_options
#endif

#endif /* ISA_KERNEL, ISA_BITS */
