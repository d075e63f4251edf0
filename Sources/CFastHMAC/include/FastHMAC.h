#ifndef RVIEWER_FASTHMAC_H
#define RVIEWER_FASTHMAC_H
#include <stddef.h>
#include <stdint.h>

/// Counters of the keyed-MAC cache (see FastHMAC.c): MACs it computed, key pads it
/// computed (one per key and thread, more if slots collide),
/// contexts handed to OpenSSL untouched (other digests, engines, the switch off), and
/// context objects reused from the per-thread pool instead of allocated.
typedef struct {
    uint64_t macs;
    uint64_t pads_computed;
    uint64_t passed_through;
    uint64_t pooled;
} rv_fasthmac_stats;

rv_fasthmac_stats rv_fasthmac_get_stats(void);

/// 1 when the cache is on (RVIEWER_HMAC_CACHE is not "0"), else 0.
int rv_fasthmac_enabled(void);

/// The MAC of `len` pseudo-random bytes, cut into SSH-like packets (4-byte sequence
/// number, then a packet of the sizes in `pattern`, cycled), computed through the
/// interposed API in one of libssh2's call patterns and compared byte for byte with
/// OpenSSL's own HMAC functions (reached past the cache). `digest`: 1 SHA-1, 256
/// SHA-256, 512 SHA-512. `style`: 0 libssh2 1.10 (HMAC_CTX_new, HMAC_Init_ex,
/// HMAC_Update, HMAC_Final, HMAC_CTX_free per packet), 1 libssh2 1.11 with OpenSSL 3
/// (EVP_MAC_fetch, EVP_MAC_CTX_new, EVP_MAC_init with key and digest parameters,
/// EVP_MAC_update, EVP_MAC_final, EVP_MAC_CTX_free per packet; OpenSSL's HMAC provider
/// calls the HMAC_* functions underneath). `sessions` keys are live at once, packets
/// interleaved between them, and every `rekey_every` packets each session takes a new
/// key (0: never). Returns 0 when every MAC matches, else the 1-based index of the
/// first packet whose MAC differs, or -1 on an API failure.
long rv_fasthmac_selftest(int digest, int style, size_t len, const unsigned *pattern, size_t pattern_count,
                          int sessions, int rekey_every, unsigned seed);

/// Other uses of the HMAC API, compared with OpenSSL's: a key longer than the block,
/// an empty key, HMAC_Init_ex with a NULL key (same key again), HMAC_CTX_copy mid-MAC,
/// HMAC_CTX_reset, MD5 (passed through), HMAC() one-shot and EVP_Q_mac. 0 when all match,
/// else the number of the first case that differs.
int rv_fasthmac_selftest_api(unsigned seed);

#endif
