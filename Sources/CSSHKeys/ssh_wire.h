// SSH wire format (RFC 4251 section 5) read from a buffer, and the RSA key parts.
#ifndef RVIEWER_SSH_WIRE_H
#define RVIEWER_SSH_WIRE_H
#include <openssl/bn.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
} wire;

static inline int wire_u32(wire *w, uint32_t *v) {
    if (w->len - w->pos < 4 || w->pos > w->len) return 0;
    const uint8_t *p = w->data + w->pos;
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    w->pos += 4;
    return 1;
}

static inline int wire_string(wire *w, const uint8_t **s, size_t *n) {
    uint32_t len;
    if (!wire_u32(w, &len) || len > w->len - w->pos) return 0;
    *s = w->data + w->pos;
    *n = len;
    w->pos += len;
    return 1;
}

/// A non-negative mpint; NULL-free on failure.
static inline int wire_mpint(wire *w, BIGNUM **bn) {
    const uint8_t *s;
    size_t n;
    if (!wire_string(w, &s, &n) || (n > 0 && (s[0] & 0x80))) return 0;
    *bn = BN_bin2bn(s, (int)n, NULL);
    return *bn != NULL;
}

/// The numbers of an RSA private key as OpenSSH stores them.
typedef struct {
    BIGNUM *n, *e, *d, *iqmp, *p, *q;
} rv_rsa_parts;

static inline void rv_rsa_parts_clear(rv_rsa_parts *k) {
    BN_clear_free(k->n); BN_clear_free(k->e); BN_clear_free(k->d);
    BN_clear_free(k->iqmp); BN_clear_free(k->p); BN_clear_free(k->q);
    k->n = k->e = k->d = k->iqmp = k->p = k->q = NULL;
}

int rv_openssh_rsa_parse(const uint8_t *blob, size_t blob_len, const char *passphrase, rv_rsa_parts *parts);

#endif
