// Small RAND_bytes calls served from a per-thread buffer of OpenSSL's own random bytes.
//
// libssh2 fills every packet's padding with RAND_bytes (transport.c: 4 to 19 bytes per
// packet sent). In OpenSSL 3.0 each RAND_bytes call pays a fixed ~1.7 µs (the DRBG's
// lookup and lock, measured on the benchmark machine: 8 bytes in 1,705 ns, 4,096 bytes in
// 2,449 ns), as much as hashing the packet's MAC. OpenSSH fills its padding from
// arc4random_buf, which hands out buffered keystream; this does the same with OpenSSL's
// DRBG as the source: a call for up to SMALL_CALL bytes is served from a 4 KiB block
// that one real RAND_bytes call filled, each byte handed out once and wiped as it goes.
// The bytes are the DRBG's own output, only drawn earlier. Larger calls, and every call
// with RVIEWER_RAND_BUFFER=0 in the environment, go straight to OpenSSL (dlsym
// RTLD_NEXT). After fork() the child's copy of the calling thread's buffer is wiped, so
// a child never repeats bytes its parent hands out.
#define _GNU_SOURCE
#include "RandomBuffer.h"
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Bytes drawn from OpenSSL per refill: one call's fixed cost spread over ~300 packets'
// padding, and at 4 KiB the draw itself costs about what a 1-byte call does.
#define BLOCK_BYTES 4096
// Calls up to this size are served from the buffer (SSH padding is at most 255 bytes).
#define SMALL_CALL 256

typedef struct {
    size_t pos;   // next unused byte
    size_t len;   // bytes available
    unsigned char bytes[BLOCK_BYTES];
} rand_block;

typedef int (*rand_fn)(unsigned char *, int);
static rand_fn real_rand_bytes;
static int enabled = 1;
static pthread_key_t block_key;
static _Atomic uint64_t stat_served, stat_refills, stat_passed;

static inline void count(_Atomic uint64_t *counter, uint64_t n) {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

static void free_block(void *p) {
    rand_block *b = p;
    OPENSSL_cleanse(b, sizeof *b);
    free(b);
}

// In a child after fork() only the forking thread exists: wipe its inherited block.
static void forked_child(void) {
    rand_block *b = pthread_getspecific(block_key);
    if (b) {
        OPENSSL_cleanse(b->bytes, sizeof b->bytes);
        b->pos = b->len = 0;
    }
}

__attribute__((constructor)) static void resolve(void) {
    const char *env = getenv("RVIEWER_RAND_BUFFER");
    if (env && strcmp(env, "0") == 0) enabled = 0;
    real_rand_bytes = (rand_fn)dlsym(RTLD_NEXT, "RAND_bytes");
    if (!real_rand_bytes) { fputs("rviewer: OpenSSL's RAND_bytes not found (libcrypto not loaded)\n", stderr); abort(); }
    if (pthread_key_create(&block_key, free_block) != 0 || pthread_atfork(NULL, NULL, forked_child) != 0) enabled = 0;
}

// This thread's block, made on first use. Kept only under the key (as FastHMAC.c keeps
// its table): once the key's destructor has freed it, a late call on the exiting thread
// finds none and makes a new one, never the freed one.
static rand_block *block(void) {
    rand_block *b = pthread_getspecific(block_key);
    if (b) return b;
    b = calloc(1, sizeof *b);
    if (b && pthread_setspecific(block_key, b) != 0) { free(b); b = NULL; }
    return b;
}

int RAND_bytes(unsigned char *buf, int num) {
    rand_block *b;
    if (!enabled || num <= 0 || num > SMALL_CALL || !buf || !(b = block())) {
        count(&stat_passed, 1);
        return real_rand_bytes(buf, num);
    }
    if (b->len - b->pos < (size_t)num) {
        OPENSSL_cleanse(b->bytes, sizeof b->bytes);
        b->pos = b->len = 0;
        if (real_rand_bytes(b->bytes, BLOCK_BYTES) != 1) {  // the DRBG failed: let the caller see it
            count(&stat_passed, 1);
            return real_rand_bytes(buf, num);
        }
        b->len = BLOCK_BYTES;
        count(&stat_refills, 1);
    }
    memcpy(buf, b->bytes + b->pos, (size_t)num);
    OPENSSL_cleanse(b->bytes + b->pos, (size_t)num);
    b->pos += (size_t)num;
    count(&stat_served, 1);
    return 1;
}

rv_randbuf_stats rv_randbuf_get_stats(void) {
    rv_randbuf_stats s = {
        .served = atomic_load_explicit(&stat_served, memory_order_relaxed),
        .refills = atomic_load_explicit(&stat_refills, memory_order_relaxed),
        .passed_through = atomic_load_explicit(&stat_passed, memory_order_relaxed),
    };
    return s;
}

int rv_randbuf_enabled(void) { return enabled; }
