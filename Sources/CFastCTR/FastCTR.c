// AES-CTR keystream cache for libssh2 1.10.
//
// libssh2 up to 1.10 encrypts and decrypts every packet one cipher block at a time:
// 16-byte EVP_Cipher calls (transport.c `decrypt` and `_libssh2_transport_send`).
// Each call pays OpenSSL's dispatch and a lone, unpipelined AES-NI block; measured on
// the benchmark machine that is about 37% of the daemon's CPU while it forwards bulk
// data, and it is what kept a tunnel at ~0.55x `ssh -L` (Benchmarks/results).
//
// CTR mode's output is the input XOR a keystream that depends only on key and
// counter, so the keystream can be produced ahead in one large, pipelined call and
// served block by block. This file defines EVP_Cipher and the context init/free
// functions in the executable; the dynamic linker binds libssh2's calls to them
// (the executable comes first in symbol lookup) and they reach OpenSSL's own through
// dlsym(RTLD_NEXT). Only contexts set up by EVP_CipherInit with a provider-backed CTR
// cipher are cached; every other call passes straight through. libssh2 1.11.1 still
// calls block by block for CTR (measured with Debian 13's build: 273 MB/s with the
// cache, 186 without); a larger call is served from the cache while it lasts.
//
// Threading: a context is used by one thread at a time (the reactor, or the helper
// thread of a keyboard-interactive login while it runs), so its state needs no lock.
// But contexts are created, used and freed on different threads over a session's life
// (ThreadSanitizer showed the login thread freeing one while the reactor's lookup cache
// held it). The lookup cache is therefore per thread, and every drop, on any thread,
// moves a global epoch that empties every thread's cache before its next lookup: an
// address freed and reused for a new context never finds the old state. The counters
// are relaxed atomics: exact on one thread, approximate if two race (they are metrics).
#define _GNU_SOURCE
#include "FastCTR.h"
#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

// Keystream computed per refill: 256 blocks. Large enough that the refill call's
// fixed cost vanishes (OpenSSL's pipelined CTR runs at ~6 GB/s here in 4 KiB calls),
// small enough to stay in L1 and to cost little per SSH session (2 contexts each).
#define KEYSTREAM_BYTES 4096
#define STATE_MAGIC 0x72764354524b5331ULL  // "rvCTRKS1"

typedef struct {
    uint64_t magic;
    size_t pos;   // next unused keystream byte
    size_t len;   // keystream bytes available
    unsigned char keystream[KEYSTREAM_BYTES];
} ctr_state;

static const unsigned char zeros[KEYSTREAM_BYTES];
static _Atomic uint64_t stat_contexts, stat_bytes_served, stat_refills, stat_bytes_passed_through;

// A relaxed add without a locked instruction (a plain load, add and store on x86):
// the hot path pays nothing for the counters being shared.
static inline void count(_Atomic uint64_t *counter, uint64_t n) {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

typedef int (*cipher_fn)(EVP_CIPHER_CTX *, unsigned char *, const unsigned char *, unsigned int);
typedef int (*init_fn)(EVP_CIPHER_CTX *, const EVP_CIPHER *, const unsigned char *, const unsigned char *, int);
typedef void (*free_fn)(EVP_CIPHER_CTX *);
typedef int (*reset_fn)(EVP_CIPHER_CTX *);
typedef int (*init_ex_fn)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *, int);

static cipher_fn real_cipher;
static init_fn real_cipher_init;
static free_fn real_ctx_free;
static reset_fn real_ctx_reset;
static init_ex_fn real_cipher_init_ex;

// RVIEWER_CTR_CACHE=0 in the environment turns the cache off (A/B benchmarks, or a
// safety valve): every call then goes straight to OpenSSL.
static int enabled = 1;

__attribute__((constructor)) static void resolve(void) {
    const char *env = getenv("RVIEWER_CTR_CACHE");
    if (env && strcmp(env, "0") == 0) enabled = 0;
    real_cipher = (cipher_fn)dlsym(RTLD_NEXT, "EVP_Cipher");
    real_cipher_init = (init_fn)dlsym(RTLD_NEXT, "EVP_CipherInit");
    real_ctx_free = (free_fn)dlsym(RTLD_NEXT, "EVP_CIPHER_CTX_free");
    real_ctx_reset = (reset_fn)dlsym(RTLD_NEXT, "EVP_CIPHER_CTX_reset");
    real_cipher_init_ex = (init_ex_fn)dlsym(RTLD_NEXT, "EVP_CipherInit_ex");
    // Our invariant: libcrypto is loaded (libssh2 and this target link it), so every
    // function interposed here has OpenSSL's own to call.
    if (!real_cipher || !real_cipher_init || !real_ctx_free || !real_ctx_reset || !real_cipher_init_ex) {
        fputs("rviewer: OpenSSL's EVP functions not found (libcrypto not loaded)\n", stderr);
        abort();
    }
}

// The two contexts this thread used last (a session's encrypt and decrypt): skips
// OpenSSL's app_data getter on the hot path. Emptied when any context is dropped.
static _Atomic unsigned long drop_epoch;
// initial-exec: the executable's own TLS, one %fs-relative load (no __tls_get_addr).
#define RV_TLS __thread __attribute__((tls_model("initial-exec")))
static RV_TLS const EVP_CIPHER_CTX *recent_ctx[2];
static RV_TLS ctr_state *recent_state[2];
static RV_TLS unsigned long recent_epoch;

static ctr_state *state_of(const EVP_CIPHER_CTX *ctx) {
    ctr_state *st = ctx ? EVP_CIPHER_CTX_get_app_data(ctx) : NULL;
    return (st && st->magic == STATE_MAGIC) ? st : NULL;
}

static inline ctr_state *lookup(const EVP_CIPHER_CTX *ctx) {
    unsigned long epoch = atomic_load_explicit(&drop_epoch, memory_order_acquire);
    if (epoch != recent_epoch) {   // a context was dropped somewhere since: forget them all
        recent_ctx[0] = recent_ctx[1] = NULL;
        recent_state[0] = recent_state[1] = NULL;
        recent_epoch = epoch;
    }
    if (ctx == recent_ctx[0]) return recent_state[0];
    if (ctx == recent_ctx[1]) return recent_state[1];
    ctr_state *st = state_of(ctx);
    recent_ctx[1] = recent_ctx[0];
    recent_state[1] = recent_state[0];
    recent_ctx[0] = ctx;
    recent_state[0] = st;
    return st;
}

static void drop(EVP_CIPHER_CTX *ctx) {
    atomic_fetch_add_explicit(&drop_epoch, 1, memory_order_acq_rel);
    for (int i = 0; i < 2; i++)
        if (recent_ctx[i] == ctx) { recent_ctx[i] = NULL; recent_state[i] = NULL; }
    ctr_state *st = state_of(ctx);
    if (!st) return;
    st->magic = 0;
    OPENSSL_cleanse(st->keystream, sizeof st->keystream);
    free(st);
    EVP_CIPHER_CTX_set_app_data(ctx, NULL);
}

int EVP_CipherInit(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const unsigned char *key,
                   const unsigned char *iv, int enc) {
    drop(ctx);
    int rc = real_cipher_init(ctx, cipher, key, iv, enc);
    if (!enabled || rc != 1 || !cipher || !key || !iv) return rc;
    // Provider-backed CTR only (the context holds the fetched implementation): a
    // custom EVP_CIPHER (libssh2's own CTR for old OpenSSL) keeps its app_data to itself.
    const EVP_CIPHER *impl = EVP_CIPHER_CTX_get0_cipher(ctx);
    if (!impl || EVP_CIPHER_get_mode(impl) != EVP_CIPH_CTR_MODE || EVP_CIPHER_get0_provider(impl) == NULL) return rc;
    if (EVP_CIPHER_CTX_get_app_data(ctx) != NULL) return rc;
    ctr_state *st = malloc(sizeof *st);
    if (!st) return rc;
    st->magic = STATE_MAGIC;
    st->pos = st->len = 0;
    EVP_CIPHER_CTX_set_app_data(ctx, st);
    count(&stat_contexts, 1);
    return rc;
}

int EVP_CipherInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *impl, const unsigned char *key,
                      const unsigned char *iv, int enc) {
    drop(ctx);  // re-initialised by another path: the keystream no longer applies
    return real_cipher_init_ex(ctx, cipher, impl, key, iv, enc);
}

int EVP_CIPHER_CTX_reset(EVP_CIPHER_CTX *ctx) {
    drop(ctx);
    return real_ctx_reset(ctx);
}

void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *ctx) {
    drop(ctx);
    real_ctx_free(ctx);
}

static inline void xor_bytes(unsigned char *out, const unsigned char *in, const unsigned char *ks, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;
        memcpy(&a, in + i, 8);
        memcpy(&b, ks + i, 8);
        a ^= b;
        memcpy(out + i, &a, 8);
    }
    for (; i < n; i++) out[i] = in[i] ^ ks[i];
}

// Everything but the one-block hit below: the lookup that refreshes this thread's
// recent contexts, refills, calls of other sizes, and contexts that are not ours.
__attribute__((noinline)) static int cipher_general(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *in,
                                                    unsigned int inl) {
    ctr_state *st = lookup(ctx);
    if (!st || !in || !out || inl == 0) return real_cipher(ctx, out, in, inl);
    size_t done = 0;
    while (done < inl) {
        if (st->pos == st->len) {
            size_t left = inl - done;
            if (left >= KEYSTREAM_BYTES) {
                // A whole keystream's worth or more in one call (a libssh2 that hands
                // over whole packets): nothing to gain, pass through.
                int rc = real_cipher(ctx, out + done, in + done, (unsigned)left);
                if (rc >= 0) count(&stat_bytes_passed_through, left);
                return rc < 0 ? rc : (int)inl;
            }
            int rc = real_cipher(ctx, st->keystream, zeros, KEYSTREAM_BYTES);
            if (rc < 0) return rc;
            st->pos = 0;
            st->len = KEYSTREAM_BYTES;
            count(&stat_refills, 1);
            count(&stat_bytes_served, KEYSTREAM_BYTES);
        }
        size_t n = st->len - st->pos;
        if (n > inl - done) n = inl - done;
        xor_bytes(out + done, in + done, st->keystream + st->pos, n);
        st->pos += n;
        done += n;
    }
    return (int)inl;  // OpenSSL 3 returns the byte count on success
}

// libssh2 1.10 calls this once per 16-byte block (tens of millions of times per GB), so
// the hit is kept a leaf: one of this thread's two recent contexts, keystream left, no
// call, no stack frame, no local array (which would bring a stack-protector check).
// Everything else is a tail call to `cipher_general`. Measured (perf annotate, bulk
// server->client): the previous single function saved six registers and checked a
// stack canary on every block.
int EVP_Cipher(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *in, unsigned int inl) {
    if (__builtin_expect(inl == 16 && in && out &&
                         atomic_load_explicit(&drop_epoch, memory_order_acquire) == recent_epoch, 1)) {
        ctr_state *st = ctx == recent_ctx[0] ? recent_state[0] : ctx == recent_ctx[1] ? recent_state[1] : NULL;
        if (__builtin_expect(st && st->len - st->pos >= 16, 1)) {
            uint64_t a0, a1, k0, k1;
            memcpy(&a0, in, 8);
            memcpy(&a1, in + 8, 8);
            memcpy(&k0, st->keystream + st->pos, 8);
            memcpy(&k1, st->keystream + st->pos + 8, 8);
            a0 ^= k0;
            a1 ^= k1;
            memcpy(out, &a0, 8);
            memcpy(out + 8, &a1, 8);
            st->pos += 16;
            return 16;
        }
    }
    return cipher_general(ctx, out, in, inl);
}

rv_fastctr_stats rv_fastctr_get_stats(void) {
    rv_fastctr_stats s = {
        .contexts = atomic_load_explicit(&stat_contexts, memory_order_relaxed),
        .bytes_served = atomic_load_explicit(&stat_bytes_served, memory_order_relaxed),
        .refills = atomic_load_explicit(&stat_refills, memory_order_relaxed),
        .bytes_passed_through = atomic_load_explicit(&stat_bytes_passed_through, memory_order_relaxed),
    };
    return s;
}

int rv_cpu_has_aes(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") ? 1 : 0;
#elif defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_AES) ? 1 : 0;
#else
    return 0;
#endif
}

static int one_pass(const unsigned char *key, const unsigned char *iv, const unsigned char *plain,
                    unsigned char *a, unsigned char *b, size_t len, const unsigned *pattern, size_t count,
                    EVP_CIPHER_CTX **cached) {
    if (*cached) EVP_CIPHER_CTX_free(*cached);
    *cached = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX *plainctx = EVP_CIPHER_CTX_new();
    if (!*cached || !plainctx) return -1;
    if (EVP_CipherInit(*cached, EVP_aes_128_ctr(), key, iv, 1) != 1) return -1;
    if (real_cipher_init(plainctx, EVP_aes_128_ctr(), key, iv, 1) != 1) return -1;
    if (!state_of(*cached) || state_of(plainctx)) return -2;  // cached vs untouched, as intended
    size_t off = 0, k = 0;
    while (off < len) {
        size_t n = pattern[k++ % count];
        if (n > len - off) n = len - off;
        if (EVP_Cipher(*cached, a + off, plain + off, (unsigned)n) < 0) return -1;
        off += n;
    }
    if (real_cipher(plainctx, b, plain, (unsigned)len) < 0) return -1;
    real_ctx_free(plainctx);
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i]) return (long)i + 1;
    return 0;
}

long rv_fastctr_selftest(size_t len, const unsigned *pattern, size_t count, unsigned seed) {
    unsigned char key[16], iv[16];
    unsigned char *plain = malloc(len), *a = malloc(len), *b = malloc(len);
    long rc = -1;
    if (!plain || !a || !b || count == 0) goto out;
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < len; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; plain[i] = (unsigned char)x; }
    EVP_CIPHER_CTX *cached = NULL;
    for (int round = 0; round < 3; round++) {  // each round a "rekey": new key and IV, context re-created
        for (int i = 0; i < 16; i++) { key[i] = (unsigned char)(seed + round * 31 + i); iv[i] = (unsigned char)(0xF0 + i - round); }
        iv[15] = 0xFE;  // the counter carries into the next byte within the first blocks
        rc = one_pass(key, iv, plain, a, b, len, pattern, count, &cached);
        if (rc != 0) break;
    }
    if (cached) EVP_CIPHER_CTX_free(cached);
out:
    free(plain); free(a); free(b);
    return rc;
}
