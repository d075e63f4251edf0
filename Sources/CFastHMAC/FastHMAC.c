// Keyed-MAC cache under libssh2's HMAC calls.
//
// For every packet it sends or receives, libssh2 computes the MAC from scratch: 1.10
// calls HMAC_CTX_new, HMAC_Init_ex(key, EVP_sha256()), HMAC_Update twice, HMAC_Final and
// HMAC_CTX_free; 1.11 with OpenSSL 3 does the same through EVP_MAC_fetch/EVP_MAC_CTX_new/
// EVP_MAC_init, whose HMAC provider calls these same HMAC_* functions underneath. Each
// HMAC_Init_ex with a key allocates three digest contexts, fetches the digest and hashes
// the two key pads (two compression-function calls) before a byte of the packet is
// hashed. OpenSSH keys its MAC once per key exchange and copies the keyed state per
// packet; this file does the same from outside libssh2, as Sources/CFastCTR does for
// the cipher: the executable defines the HMAC_* functions, the dynamic linker binds
// libssh2's (and libcrypto's own PLT) calls to them, and OpenSSL's are reached through
// dlsym(RTLD_NEXT).
//
// What is cached: for SHA-1, SHA-256 and SHA-512 (the digests of SSH's hmac-sha1,
// hmac-sha2-256 and hmac-sha2-512), the inner and outer hash states after the key pads,
// computed once per key in a per-thread table and copied into the context at each
// HMAC_Init_ex; the packet is then hashed with OpenSSL's SHAxxx_Update/Final (its
// SHA-NI/AVX2 code). Contexts are plain structs kept in a per-thread pool, so a packet
// allocates nothing. Any other digest, an ENGINE, HMAC_CTX_set_flags, or
// RVIEWER_HMAC_CACHE=0 in the environment hands the context to OpenSSL's own HMAC, so
// every other user of the API gets exactly OpenSSL's behaviour.
//
// Recognising our contexts: every interposed function gets either one of ours (first
// eight bytes CONTEXT_MAGIC, a non-canonical address on x86-64 and arm64) or one of
// OpenSSL's (whose first field is an EVP_MD pointer or NULL) and passes the latter
// straight through. All HMAC_* functions that take a context are interposed, so no
// context of ours ever reaches OpenSSL's code.
//
// Threading: a context is used by one thread at a time (the reactor, or the helper
// thread of a keyboard-interactive login). The pad table and the context pool are per
// thread and freed at thread exit; the counters are relaxed atomics (metrics).
#define _GNU_SOURCE
#include "FastHMAC.h"
#include "Internal.h"
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT_MAGIC 0x8a72764d41433131ULL  // "rvMAC11" with a high byte no pointer has
// Table of keyed states per thread: a connection has one MAC key per direction (plus
// its jump hosts' and a busy tunnel's extra sessions), 64 slots hold dozens of them.
#define PAD_SLOTS 64
// The largest block of the three digests (SHA-512): longer keys are hashed first, as
// HMAC says, and are not cached (SSH's MAC keys are 20, 32 or 64 bytes).
#define MAX_BLOCK 128
// Freed contexts kept per thread for the next packet: libssh2 holds one at a time per
// thread; a few more cover OpenSSL's provider duplicating one.
#define POOL_MAX 8

enum digest { D_NONE = 0, D_SHA1, D_SHA256, D_SHA512 };
enum mode { M_EMPTY = 0, M_FAST, M_REAL };

typedef union {
    SHA_CTX sha1;
    SHA256_CTX sha256;
    SHA512_CTX sha512;
} sha_state;

typedef struct {
    unsigned char digest;  // D_NONE: empty slot
    unsigned char keylen;
    unsigned char key[MAX_BLOCK];
    sha_state inner, outer;
} pad_slot;

typedef struct rv_hmac {
    uint64_t magic;
    enum mode mode;
    enum digest digest;
    int force_real;      // set_flags was called: OpenSSL's HMAC from now on
    const EVP_MD *md;    // as the caller passed it (HMAC_CTX_get_md returns it)
    HMAC_CTX *real;      // OpenSSL's context in M_REAL (kept for reuse once made)
    sha_state inner, outer, running;
    struct rv_hmac *next_free;
} rv_hmac;

typedef struct {
    pad_slot slots[PAD_SLOTS];
    rv_hmac *pool;
    int pooled;
} thread_data;

rv_hmac_api rv_real_hmac;
static int enabled = 1;
static _Atomic uint64_t stat_macs, stat_pads, stat_passed, stat_pooled;
static pthread_key_t thread_key;

static inline void count(_Atomic uint64_t *counter, uint64_t n) {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

static void thread_exit(void *p) {
    thread_data *td = p;
    for (rv_hmac *c = td->pool, *next; c; c = next) {
        next = c->next_free;
        if (c->real) rv_real_hmac.ctx_free(c->real);
        free(c);
    }
    OPENSSL_cleanse(td->slots, sizeof td->slots);
    free(td);
}

#define RESOLVE(field, name) rv_real_hmac.field = (__typeof__(rv_real_hmac.field))dlsym(RTLD_NEXT, name)

__attribute__((constructor)) static void resolve(void) {
    const char *env = getenv("RVIEWER_HMAC_CACHE");
    if (env && strcmp(env, "0") == 0) enabled = 0;
    RESOLVE(ctx_new, "HMAC_CTX_new");
    RESOLVE(ctx_free, "HMAC_CTX_free");
    RESOLVE(ctx_reset, "HMAC_CTX_reset");
    RESOLVE(ctx_copy, "HMAC_CTX_copy");
    RESOLVE(ctx_set_flags, "HMAC_CTX_set_flags");
    RESOLVE(ctx_get_md, "HMAC_CTX_get_md");
    RESOLVE(size, "HMAC_size");
    RESOLVE(init, "HMAC_Init");
    RESOLVE(init_ex, "HMAC_Init_ex");
    RESOLVE(update, "HMAC_Update");
    RESOLVE(final, "HMAC_Final");
    void **fns = (void **)&rv_real_hmac;
    for (size_t i = 0; i < sizeof rv_real_hmac / sizeof(void *); i++) {
        // Our invariant: libcrypto is loaded (libssh2 and this target link it).
        if (!fns[i]) { fputs("rviewer: OpenSSL's HMAC functions not found (libcrypto not loaded)\n", stderr); abort(); }
    }
    if (pthread_key_create(&thread_key, thread_exit) != 0) enabled = 0;
}

static thread_data *this_thread(void) {
    thread_data *td = pthread_getspecific(thread_key);
    if (td) return td;
    td = calloc(1, sizeof *td);
    if (td && pthread_setspecific(thread_key, td) != 0) { free(td); td = NULL; }
    return td;
}

static inline int is_ours(const HMAC_CTX *ctx) {
    return ctx && *(const uint64_t *)(const void *)ctx == CONTEXT_MAGIC;
}

// --- the three digests -------------------------------------------------------------

static enum digest digest_of(const EVP_MD *md) {
    switch (EVP_MD_get_type(md)) {
    case NID_sha1: return D_SHA1;
    case NID_sha256: return D_SHA256;
    case NID_sha512: return D_SHA512;
    default: return D_NONE;
    }
}

static inline size_t block_size(enum digest d) { return d == D_SHA512 ? 128 : 64; }
static inline size_t digest_size(enum digest d) { return d == D_SHA1 ? 20 : d == D_SHA256 ? 32 : 64; }
static inline size_t state_size(enum digest d) {
    return d == D_SHA1 ? sizeof(SHA_CTX) : d == D_SHA256 ? sizeof(SHA256_CTX) : sizeof(SHA512_CTX);
}

static inline void h_init(enum digest d, sha_state *s) {
    if (d == D_SHA1) SHA1_Init(&s->sha1);
    else if (d == D_SHA256) SHA256_Init(&s->sha256);
    else SHA512_Init(&s->sha512);
}

static inline void h_update(enum digest d, sha_state *s, const void *p, size_t n) {
    if (d == D_SHA1) SHA1_Update(&s->sha1, p, n);
    else if (d == D_SHA256) SHA256_Update(&s->sha256, p, n);
    else SHA512_Update(&s->sha512, p, n);
}

static inline void h_final(enum digest d, sha_state *s, unsigned char *out) {
    if (d == D_SHA1) SHA1_Final(out, &s->sha1);
    else if (d == D_SHA256) SHA256_Final(out, &s->sha256);
    else SHA512_Final(out, &s->sha512);
}

// The states after hashing the inner (0x36) and outer (0x5c) key pads (RFC 2104).
static void compute_pads(enum digest d, const unsigned char *key, size_t keylen, sha_state *inner, sha_state *outer) {
    unsigned char k[MAX_BLOCK] = {0}, pad[MAX_BLOCK];
    size_t block = block_size(d);
    if (keylen > block) {
        sha_state s;
        h_init(d, &s);
        h_update(d, &s, key, keylen);
        h_final(d, &s, k);
        OPENSSL_cleanse(&s, sizeof s);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (size_t i = 0; i < block; i++) pad[i] = k[i] ^ 0x36;
    h_init(d, inner);
    h_update(d, inner, pad, block);
    for (size_t i = 0; i < block; i++) pad[i] = k[i] ^ 0x5c;
    h_init(d, outer);
    h_update(d, outer, pad, block);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    count(&stat_pads, 1);
}

// Copies the keyed states for (digest, key) into the context: from this thread's
// table, computing them on a miss.
static void load_pads(rv_hmac *c, enum digest d, const unsigned char *key, size_t keylen) {
    thread_data *td = keylen <= MAX_BLOCK ? this_thread() : NULL;
    if (!td) {
        compute_pads(d, key, keylen, &c->inner, &c->outer);
        return;
    }
    uint64_t h = 0x9E3779B97F4A7C15ULL * (d + 31 * keylen);
    for (size_t i = 0; i < keylen && i < 8; i++) h = (h ^ key[i]) * 0x100000001B3ULL;
    pad_slot *slot = &td->slots[(h >> 32) % PAD_SLOTS];
    if (slot->digest != d || slot->keylen != keylen || (keylen && memcmp(slot->key, key, keylen) != 0)) {
        compute_pads(d, key, keylen, &slot->inner, &slot->outer);
        OPENSSL_cleanse(slot->key, sizeof slot->key);
        if (keylen) memcpy(slot->key, key, keylen);
        slot->keylen = (unsigned char)keylen;
        slot->digest = (unsigned char)d;
    }
    size_t n = state_size(d);
    memcpy(&c->inner, &slot->inner, n);
    memcpy(&c->outer, &slot->outer, n);
}

static void forget(rv_hmac *c) {
    if (c->mode == M_FAST) {
        size_t n = state_size(c->digest);
        OPENSSL_cleanse(&c->inner, n);
        OPENSSL_cleanse(&c->outer, n);
        OPENSSL_cleanse(&c->running, n);
    }
    c->mode = M_EMPTY;
    c->digest = D_NONE;
    c->md = NULL;
}

// The context's OpenSSL HMAC_CTX, made on first need.
static HMAC_CTX *real_of(rv_hmac *c) {
    if (!c->real) c->real = rv_real_hmac.ctx_new();
    return c->real;
}

// --- the interposed API --------------------------------------------------------------

HMAC_CTX *HMAC_CTX_new(void) {
    if (!enabled) return rv_real_hmac.ctx_new();
    thread_data *td = this_thread();
    rv_hmac *c = NULL;
    if (td && td->pool) {
        c = td->pool;
        td->pool = c->next_free;
        td->pooled--;
        count(&stat_pooled, 1);
    } else {
        c = malloc(sizeof *c);
        if (!c) return NULL;
        c->real = NULL;
    }
    c->magic = CONTEXT_MAGIC;
    c->mode = M_EMPTY;
    c->digest = D_NONE;
    c->force_real = 0;
    c->md = NULL;
    c->next_free = NULL;
    return (HMAC_CTX *)(void *)c;
}

void HMAC_CTX_free(HMAC_CTX *ctx) {
    if (!is_ours(ctx)) { rv_real_hmac.ctx_free(ctx); return; }
    rv_hmac *c = (rv_hmac *)(void *)ctx;
    forget(c);
    c->magic = 0;
    if (c->real) rv_real_hmac.ctx_reset(c->real);
    thread_data *td = this_thread();
    if (td && td->pooled < POOL_MAX) {
        c->next_free = td->pool;
        td->pool = c;
        td->pooled++;
        return;
    }
    if (c->real) rv_real_hmac.ctx_free(c->real);
    free(c);
}

int HMAC_CTX_reset(HMAC_CTX *ctx) {
    if (!is_ours(ctx)) return rv_real_hmac.ctx_reset(ctx);
    rv_hmac *c = (rv_hmac *)(void *)ctx;
    forget(c);
    c->force_real = 0;
    return c->real ? rv_real_hmac.ctx_reset(c->real) : 1;
}

int HMAC_Init_ex(HMAC_CTX *ctx, const void *key, int len, const EVP_MD *md, ENGINE *impl) {
    if (!is_ours(ctx)) return rv_real_hmac.init_ex(ctx, key, len, md, impl);
    rv_hmac *c = (rv_hmac *)(void *)ctx;
    enum digest d = md ? digest_of(md) : c->digest;
    if (c->mode == M_REAL || c->force_real || impl || d == D_NONE || (md == NULL && c->mode == M_EMPTY)) {
        if (c->mode == M_FAST) forget(c);  // changing to a digest we leave to OpenSSL
        HMAC_CTX *real = real_of(c);
        if (!real) return 0;
        if (c->mode != M_REAL) count(&stat_passed, 1);
        c->mode = M_REAL;
        return rv_real_hmac.init_ex(real, key, len, md, impl);
    }
    // OpenSSL's rules: changing the digest needs a key; the same key again needs neither.
    if (md && md != c->md && (key == NULL || len < 0)) return 0;
    if (key) {
        if (len < 0) return 0;
        load_pads(c, d, key, (size_t)len);
        c->digest = d;
        if (md) c->md = md;
    } else if (c->mode != M_FAST) {
        return 0;
    }
    c->mode = M_FAST;
    memcpy(&c->running, &c->inner, state_size(d));
    return 1;
}

int HMAC_Init(HMAC_CTX *ctx, const void *key, int len, const EVP_MD *md) {
    if (!is_ours(ctx)) return rv_real_hmac.init(ctx, key, len, md);
    if (key && md) HMAC_CTX_reset(ctx);  // what OpenSSL's HMAC_Init does
    return HMAC_Init_ex(ctx, key, len, md, NULL);
}

int HMAC_Update(HMAC_CTX *ctx, const unsigned char *data, size_t len) {
    if (!is_ours(ctx)) return rv_real_hmac.update(ctx, data, len);
    rv_hmac *c = (rv_hmac *)(void *)ctx;
    if (c->mode == M_FAST) {
        if (len) h_update(c->digest, &c->running, data, len);
        return 1;
    }
    return c->mode == M_REAL ? rv_real_hmac.update(c->real, data, len) : 0;
}

int HMAC_Final(HMAC_CTX *ctx, unsigned char *out, unsigned int *len) {
    if (!is_ours(ctx)) return rv_real_hmac.final(ctx, out, len);
    rv_hmac *c = (rv_hmac *)(void *)ctx;
    if (c->mode == M_REAL) return rv_real_hmac.final(c->real, out, len);
    if (c->mode != M_FAST) return 0;
    enum digest d = c->digest;
    unsigned char inner[SHA512_DIGEST_LENGTH];
    h_final(d, &c->running, inner);
    memcpy(&c->running, &c->outer, state_size(d));
    h_update(d, &c->running, inner, digest_size(d));
    h_final(d, &c->running, out);
    OPENSSL_cleanse(inner, sizeof inner);
    if (len) *len = (unsigned int)digest_size(d);
    count(&stat_macs, 1);
    return 1;
}

size_t HMAC_size(const HMAC_CTX *ctx) {
    if (!is_ours(ctx)) return rv_real_hmac.size(ctx);
    const rv_hmac *c = (const rv_hmac *)(const void *)ctx;
    if (c->mode == M_REAL) return rv_real_hmac.size(c->real);
    return c->mode == M_FAST ? digest_size(c->digest) : 0;
}

const EVP_MD *HMAC_CTX_get_md(const HMAC_CTX *ctx) {
    if (!is_ours(ctx)) return rv_real_hmac.ctx_get_md(ctx);
    const rv_hmac *c = (const rv_hmac *)(const void *)ctx;
    if (c->mode == M_REAL) return rv_real_hmac.ctx_get_md(c->real);
    return c->md;
}

void HMAC_CTX_set_flags(HMAC_CTX *ctx, unsigned long flags) {
    if (!is_ours(ctx)) { rv_real_hmac.ctx_set_flags(ctx, flags); return; }
    // Digest-context flags mean OpenSSL's HMAC: from now on this context uses it. A
    // keyed MAC in progress moves there only if no data was hashed yet (OpenSSL's
    // HMAC provider sets flags before it keys the context, never after).
    rv_hmac *c = (rv_hmac *)(void *)ctx;
    HMAC_CTX *real = real_of(c);
    if (!real) return;
    if (c->mode == M_FAST) forget(c);
    c->force_real = 1;
    rv_real_hmac.ctx_set_flags(real, flags);
}

int HMAC_CTX_copy(HMAC_CTX *dctx, HMAC_CTX *sctx) {
    int dours = is_ours(dctx), sours = is_ours(sctx);
    if (!dours && !sours) return rv_real_hmac.ctx_copy(dctx, sctx);
    rv_hmac *s = sours ? (rv_hmac *)(void *)sctx : NULL;
    if (!dours) {  // into one of OpenSSL's: only an OpenSSL-backed source can go there
        return (s->mode == M_REAL) ? rv_real_hmac.ctx_copy(dctx, s->real) : 0;
    }
    rv_hmac *d = (rv_hmac *)(void *)dctx;
    if (!sours || s->mode == M_REAL) {
        HMAC_CTX *real = real_of(d);
        if (!real) return 0;
        forget(d);
        d->mode = M_REAL;
        d->force_real = s ? s->force_real : 0;
        return rv_real_hmac.ctx_copy(real, sours ? s->real : sctx);
    }
    forget(d);
    d->mode = s->mode;
    d->digest = s->digest;
    d->md = s->md;
    d->force_real = s->force_real;
    if (s->mode == M_FAST) {
        size_t n = state_size(s->digest);
        memcpy(&d->inner, &s->inner, n);
        memcpy(&d->outer, &s->outer, n);
        memcpy(&d->running, &s->running, n);
    }
    return 1;
}

// --- counters --------------------------------------------------------------------------

rv_fasthmac_stats rv_fasthmac_get_stats(void) {
    rv_fasthmac_stats s = {
        .macs = atomic_load_explicit(&stat_macs, memory_order_relaxed),
        .pads_computed = atomic_load_explicit(&stat_pads, memory_order_relaxed),
        .passed_through = atomic_load_explicit(&stat_passed, memory_order_relaxed),
        .pooled = atomic_load_explicit(&stat_pooled, memory_order_relaxed),
    };
    return s;
}

int rv_fasthmac_enabled(void) { return enabled; }
