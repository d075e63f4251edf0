// Self-tests of the keyed-MAC cache (see FastHMAC.h): the interposed HMAC API, driven
// in libssh2's call patterns, against OpenSSL's own HMAC functions.
#include "FastHMAC.h"
#include "Internal.h"
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

static const EVP_MD *md_for(int digest) {
    return digest == 1 ? EVP_sha1() : digest == 256 ? EVP_sha256() : digest == 512 ? EVP_sha512() : NULL;
}

static const char *name_for(int digest) {
    return digest == 1 ? OSSL_DIGEST_NAME_SHA1 : digest == 256 ? OSSL_DIGEST_NAME_SHA2_256 : OSSL_DIGEST_NAME_SHA2_512;
}

static void fill(unsigned char *p, size_t n, uint64_t *x) {
    for (size_t i = 0; i < n; i++) { *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17; p[i] = (unsigned char)*x; }
}

// OpenSSL's HMAC, past the cache: the reference.
static int reference(const EVP_MD *md, const unsigned char *key, int keylen, const unsigned char seq[4],
                     const unsigned char *data, size_t n, unsigned char *out) {
    HMAC_CTX *ctx = rv_real_hmac.ctx_new();
    unsigned int len = 0;
    int ok = ctx && rv_real_hmac.init_ex(ctx, key, keylen, md, NULL) && rv_real_hmac.update(ctx, seq, 4)
        && rv_real_hmac.update(ctx, data, n) && rv_real_hmac.final(ctx, out, &len);
    rv_real_hmac.ctx_free(ctx);
    return ok ? (int)len : -1;
}

// libssh2 1.10 (openssl.h macros): a context per packet.
static int style_110(const EVP_MD *md, const unsigned char *key, int keylen, const unsigned char seq[4],
                     const unsigned char *data, size_t n, unsigned char *out) {
    HMAC_CTX *ctx = HMAC_CTX_new();
    int ok = ctx && HMAC_Init_ex(ctx, key, keylen, md, NULL) && HMAC_Update(ctx, seq, 4) && HMAC_Update(ctx, data, n)
        && HMAC_Final(ctx, out, NULL);
    HMAC_CTX_free(ctx);
    return ok ? (int)EVP_MD_get_size(md) : -1;
}

// libssh2 1.11 with OpenSSL 3 (openssl.c _libssh2_hmac_init and friends).
static int style_111(int digest, const unsigned char *key, int keylen, const unsigned char seq[4],
                     const unsigned char *data, size_t n, unsigned char *out) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (!mac) return -1;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (!ctx) return -1;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, (size_t)keylen);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name_for(digest), 0);
    params[2] = OSSL_PARAM_construct_end();
    size_t len = 0;
    int ok = EVP_MAC_init(ctx, NULL, 0, params) && EVP_MAC_update(ctx, seq, 4) && EVP_MAC_update(ctx, data, n)
        && EVP_MAC_final(ctx, out, &len, EVP_MAX_MD_SIZE);
    EVP_MAC_CTX_free(ctx);
    return ok ? (int)len : -1;
}

long rv_fasthmac_selftest(int digest, int style, size_t len, const unsigned *pattern, size_t count, int sessions,
                          int rekey_every, unsigned seed) {
    const EVP_MD *md = md_for(digest);
    if (!md || count == 0 || sessions < 1 || sessions > 16) return -1;
    int keylen = EVP_MD_get_size(md);  // SSH's MAC keys are the digest's size
    unsigned char keys[16][64], *data = malloc(len), a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    uint32_t seqno[16] = {0};
    if (!data) return -1;
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    fill(data, len, &x);
    fill(&keys[0][0], sizeof keys, &x);
    long packet = 0, rc = 0;
    size_t off = 0, k = 0;
    while (off < len && rc == 0) {
        int s = (int)(packet % sessions);
        if (rekey_every > 0 && packet > 0 && packet % rekey_every == 0) fill(keys[s], sizeof keys[s], &x);
        size_t n = pattern[k++ % count];
        if (n > len - off) n = len - off;
        unsigned char seq[4] = {(unsigned char)(seqno[s] >> 24), (unsigned char)(seqno[s] >> 16),
                                (unsigned char)(seqno[s] >> 8), (unsigned char)seqno[s]};
        seqno[s]++;
        int la = style == 0 ? style_110(md, keys[s], keylen, seq, data + off, n, a)
                            : style_111(digest, keys[s], keylen, seq, data + off, n, a);
        int lb = reference(md, keys[s], keylen, seq, data + off, n, b);
        packet++;
        if (la < 0 || lb < 0) rc = -1;
        else if (la != lb || memcmp(a, b, (size_t)la) != 0) rc = packet;
        off += n;
    }
    free(data);
    return rc;
}

static int same(const unsigned char *a, const unsigned char *b, size_t n) { return memcmp(a, b, n) == 0; }

int rv_fasthmac_selftest_api(unsigned seed) {
    unsigned char key[300], msg[1000], a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned char zero[4] = {0};
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 3;
    fill(key, sizeof key, &x);
    fill(msg, sizeof msg, &x);
    unsigned int la = 0, lb = 0;

    // 1. Keys longer than SHA-256's and SHA-512's blocks (hashed first), and an empty key.
    int lens[] = {65, 129, 300, 0};
    for (int i = 0; i < 4; i++) {
        const EVP_MD *md = i % 2 ? EVP_sha512() : EVP_sha256();
        if (style_110(md, key, lens[i], zero, msg, sizeof msg, a) < 0) return 1;
        if (reference(md, key, lens[i], zero, msg, sizeof msg, b) < 0 || !same(a, b, EVP_MD_get_size(md))) return 1;
    }
    // 2. The same key again with HMAC_Init_ex(ctx, NULL, 0, NULL, NULL), three times.
    HMAC_CTX *c = HMAC_CTX_new();
    if (!c || !HMAC_Init_ex(c, key, 32, EVP_sha256(), NULL)) return 2;
    for (int round = 0; round < 3; round++) {
        if (round && !HMAC_Init_ex(c, NULL, 0, NULL, NULL)) return 2;
        if (!HMAC_Update(c, msg + round, 100) || !HMAC_Final(c, a, &la) || la != 32) return 2;
        if (reference(EVP_sha256(), key, 32, msg + round, msg + round + 4, 96, b) != 32 || !same(a, b, 32)) return 2;
    }
    if (HMAC_size(c) != 32 || HMAC_CTX_get_md(c) != EVP_sha256()) return 2;
    // 3. HMAC_CTX_copy in the middle of a MAC: both continue independently.
    HMAC_CTX *d = HMAC_CTX_new();
    if (!d || !HMAC_Init_ex(c, key, 64, EVP_sha512(), NULL) || !HMAC_Update(c, zero, 4)) return 3;
    if (!HMAC_CTX_copy(d, c) || !HMAC_Update(c, msg, 10) || !HMAC_Update(d, msg, 500)) return 3;
    if (!HMAC_Final(c, a, &la) || reference(EVP_sha512(), key, 64, zero, msg, 10, b) != 64 || !same(a, b, 64)) return 3;
    if (!HMAC_Final(d, a, &la) || reference(EVP_sha512(), key, 64, zero, msg, 500, b) != 64 || !same(a, b, 64)) return 3;
    // 4. HMAC_CTX_reset, then a different digest on the same context.
    if (!HMAC_CTX_reset(c) || HMAC_Update(c, msg, 1) != 0) return 4;  // unkeyed after reset: refused, as OpenSSL does
    if (!HMAC_Init_ex(c, key, 20, EVP_sha1(), NULL) || !HMAC_Update(c, zero, 4) || !HMAC_Update(c, msg, 77)) return 4;
    if (!HMAC_Final(c, a, &la) || la != 20 || reference(EVP_sha1(), key, 20, zero, msg, 77, b) != 20 || !same(a, b, 20)) return 4;
    // 5. MD5 (not cached): OpenSSL's own HMAC behind our context, then SHA-256 again.
    if (!HMAC_Init_ex(c, key, 16, EVP_md5(), NULL) || !HMAC_Update(c, zero, 4) || !HMAC_Update(c, msg, 33)) return 5;
    if (!HMAC_Final(c, a, &la) || la != 16 || reference(EVP_md5(), key, 16, zero, msg, 33, b) != 16 || !same(a, b, 16)) return 5;
    if (HMAC_size(c) != 16 || HMAC_CTX_get_md(c) != EVP_md5()) return 5;
    HMAC_CTX_free(c);
    HMAC_CTX_free(d);
    // 6. The one-shot HMAC() and EVP_Q_mac (OpenSSL 3 routes both through EVP_MAC).
    unsigned char ref[EVP_MAX_MD_SIZE];
    if (reference(EVP_sha256(), key, 32, msg, msg + 4, 200, ref) != 32) return 6;
    if (!HMAC(EVP_sha256(), key, 32, msg, 204, a, &la) || la != 32 || !same(a, ref, 32)) return 6;
    size_t qlen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, msg, 204, a, sizeof a, &qlen) || qlen != 32
        || !same(a, ref, 32)) return 6;
    // 7. A context made by OpenSSL itself goes through the interposed functions untouched.
    HMAC_CTX *theirs = rv_real_hmac.ctx_new();
    if (!theirs || !HMAC_Init_ex(theirs, key, 32, EVP_sha256(), NULL) || !HMAC_Update(theirs, msg, 204)) return 7;
    if (!HMAC_Final(theirs, a, &la) || !same(a, ref, 32)) return 7;
    HMAC_CTX_free(theirs);
    (void)lb;
    return 0;
}
