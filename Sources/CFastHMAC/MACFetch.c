// EVP_MAC_fetch(NULL, "HMAC", NULL), remembered.
//
// libssh2 1.11 with OpenSSL 3 fetches the HMAC method for every packet it sends or
// receives (openssl.c `_libssh2_hmac_init`), then frees it. A fetch looks the name up
// in OpenSSL's method store under a lock: about 0.5 µs per packet measured on the
// benchmark machine, a quarter of the whole MAC of a 100-byte packet once the key
// pads are cached (FastHMAC.c). OpenSSL hands out the same method object to every such
// fetch anyway, with a reference added; this does the same from a pointer kept after
// the first one. Only that exact fetch (default library context, no properties) is
// remembered; every other goes to OpenSSL. RVIEWER_HMAC_CACHE=0 turns it off with the
// MAC cache.
#define _GNU_SOURCE
#include "FastHMAC.h"
#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef EVP_MAC *(*fetch_fn)(OSSL_LIB_CTX *, const char *, const char *);
static fetch_fn real_fetch;
static _Atomic(EVP_MAC *) hmac_method;

__attribute__((constructor)) static void resolve_fetch(void) {
    real_fetch = (fetch_fn)dlsym(RTLD_NEXT, "EVP_MAC_fetch");
    if (!real_fetch) { fputs("rviewer: OpenSSL's EVP_MAC_fetch not found (libcrypto not loaded)\n", stderr); abort(); }
}

EVP_MAC *EVP_MAC_fetch(OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties) {
    if (libctx != NULL || properties != NULL || algorithm == NULL || strcasecmp(algorithm, "HMAC") != 0
        || !rv_fasthmac_enabled())
        return real_fetch(libctx, algorithm, properties);
    EVP_MAC *mac = atomic_load_explicit(&hmac_method, memory_order_acquire);
    if (mac && EVP_MAC_up_ref(mac)) return mac;
    mac = real_fetch(NULL, algorithm, NULL);
    if (!mac || !EVP_MAC_up_ref(mac)) return mac;  // one reference kept here for good
    EVP_MAC *none = NULL;
    if (!atomic_compare_exchange_strong(&hmac_method, &none, mac)) EVP_MAC_free(mac);  // another thread kept one first
    return mac;
}
