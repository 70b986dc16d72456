#pragma once

// Whole-burst tests over a route pass's arrays, several packets to a
// vector. Nearly every burst goes to one next hop within its MTU; asking
// that of the whole burst first spares the common case the per-packet
// route loop (fetch the next hop, compare its MTU, note it per packet).

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif

namespace ioamfwd::dp {

// Every one of v[0..n) equals v[0].
inline bool all_like_first(const uint64_t* v, unsigned n) {
    if (n < 4) {
        uint64_t others = 0;
        for (unsigned i = 1; i < n; ++i) others |= v[i] ^ v[0];
        return others == 0;
    }
#ifdef __SSE4_1__
    const __m128i first = _mm_set1_epi64x(int64_t(v[0]));
    __m128i others = _mm_setzero_si128();
    auto four = [&](unsigned i) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i + 2));
        others = _mm_or_si128(others, _mm_or_si128(_mm_xor_si128(a, first), _mm_xor_si128(b, first)));
    };
    unsigned i = 0;
    for (; i + 4 <= n; i += 4) four(i);
    // The last four again, overlapping: no scalar tail.
    if (i < n) four(n - 4);
    return _mm_testz_si128(others, others);
#else
    uint64_t others = 0;
    for (unsigned i = 1; i < n; ++i) others |= v[i] ^ v[0];
    return others == 0;
#endif
}

// Every one of v[0..n) is at most `limit`.
inline bool all_at_most(const uint32_t* v, unsigned n, uint32_t limit) {
#ifdef __SSE4_1__
    if (n >= 4) {
        __m128i most = _mm_setzero_si128();
        unsigned i = 0;
        for (; i + 4 <= n; i += 4)
            most = _mm_max_epu32(most, _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        if (i < n)
            most = _mm_max_epu32(most, _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + n - 4)));
        most = _mm_max_epu32(most, _mm_shuffle_epi32(most, _MM_SHUFFLE(1, 0, 3, 2)));
        most = _mm_max_epu32(most, _mm_shuffle_epi32(most, _MM_SHUFFLE(2, 3, 0, 1)));
        return uint32_t(_mm_cvtsi128_si32(most)) <= limit;
    }
#endif
    uint32_t most = 0;
    for (unsigned i = 0; i < n; ++i) most = v[i] > most ? v[i] : most;
    return most <= limit;
}

// The least headroom of the n packets' first segments.
inline uint16_t least_headroom(rte_mbuf* const* pkts, unsigned n) {
    uint16_t least = UINT16_MAX;
    for (unsigned i = 0; i < n; ++i) least = std::min(least, rte_pktmbuf_headroom(pkts[i]));
    return least;
}

}  // namespace ioamfwd::dp
