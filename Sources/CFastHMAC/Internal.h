// Shared between FastHMAC.c (the interposed HMAC_* functions) and SelfTest.c (which
// compares them with OpenSSL's own, reached through these pointers).
#ifndef RVIEWER_FASTHMAC_INTERNAL_H
#define RVIEWER_FASTHMAC_INTERNAL_H
#define OPENSSL_SUPPRESS_DEPRECATED 1  // HMAC_CTX and SHAxxx_CTX: deprecated in OpenSSL 3, still its fastest path
#include <openssl/evp.h>
#include <openssl/hmac.h>

typedef struct {
    HMAC_CTX *(*ctx_new)(void);
    void (*ctx_free)(HMAC_CTX *);
    int (*ctx_reset)(HMAC_CTX *);
    int (*ctx_copy)(HMAC_CTX *, HMAC_CTX *);
    void (*ctx_set_flags)(HMAC_CTX *, unsigned long);
    const EVP_MD *(*ctx_get_md)(const HMAC_CTX *);
    size_t (*size)(const HMAC_CTX *);
    int (*init)(HMAC_CTX *, const void *, int, const EVP_MD *);
    int (*init_ex)(HMAC_CTX *, const void *, int, const EVP_MD *, ENGINE *);
    int (*update)(HMAC_CTX *, const unsigned char *, size_t);
    int (*final)(HMAC_CTX *, unsigned char *, unsigned int *);
} rv_hmac_api;

/// OpenSSL's own HMAC functions (dlsym RTLD_NEXT), resolved at load time.
extern rv_hmac_api rv_real_hmac;

#endif
