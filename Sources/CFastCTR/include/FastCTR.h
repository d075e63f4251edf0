#ifndef RVIEWER_FASTCTR_H
#define RVIEWER_FASTCTR_H
#include <stddef.h>
#include <stdint.h>

/// Counters of the AES-CTR keystream cache (see FastCTR.c): contexts that use it,
/// keystream bytes precomputed (served block by block), refills, and bytes of cached
/// contexts that went straight to OpenSSL (calls of a whole keystream's size or more).
typedef struct {
    uint64_t contexts;
    uint64_t bytes_served;
    uint64_t refills;
    uint64_t bytes_passed_through;
} rv_fastctr_stats;

rv_fastctr_stats rv_fastctr_get_stats(void);

/// 1 when this CPU has AES instructions (x86 AES-NI, arm64 AES), which make AES-CTR
/// the fastest cipher libssh2 offers (see Sources/SSH/CipherPreference.swift); else 0.
int rv_cpu_has_aes(void);

/// Encrypts `len` pseudo-random bytes with AES-128-CTR twice: once through libssh2's
/// path (EVP_CipherInit, then EVP_Cipher calls of the sizes in `pattern`, cycled),
/// once with one plain call on a context the cache never touches; then frees and
/// re-creates the cached context (a rekey at the same address) and repeats.
/// Returns 0 when every byte matches, else the 1-based offset of the first mismatch.
long rv_fastctr_selftest(size_t len, const unsigned *pattern, size_t pattern_count, unsigned seed);

#endif
