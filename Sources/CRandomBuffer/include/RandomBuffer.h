#ifndef RVIEWER_RANDOMBUFFER_H
#define RVIEWER_RANDOMBUFFER_H
#include <stdint.h>

/// Counters of the random-byte buffer (see RandomBuffer.c): small RAND_bytes calls served
/// from it, refills (one call to OpenSSL's RAND_bytes each), and calls passed straight to
/// OpenSSL (large ones, or the buffer off).
typedef struct {
    uint64_t served;
    uint64_t refills;
    uint64_t passed_through;
} rv_randbuf_stats;

rv_randbuf_stats rv_randbuf_get_stats(void);

/// 1 when the buffer is on (RVIEWER_RAND_BUFFER is not "0"), else 0.
int rv_randbuf_enabled(void);

/// Draws `calls` small requests of sizes cycling through 4..(4+spread-1) bytes through
/// RAND_bytes and checks what a buffer must guarantee: every call succeeds, no byte
/// string is ever handed out twice (no two 16-byte draws equal), the bytes look random
/// (each bit set 45-55% of the time over all draws), and a forked child draws bytes its
/// parent never sees. 0 when all hold, else the number of the first check that failed.
int rv_randbuf_selftest(int calls, int spread);

#endif
