// An RSA user key for SHA-2 signatures: loaded from PEM through OpenSSL or from
// OpenSSH's own format (openssh_key.c), held as an EVP_PKEY, written as an SSH public
// key blob under the algorithm name the signature will carry, and used to sign.
#include "SSHKeys.h"
#include "ssh_wire.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rv_rsa_key {
    EVP_PKEY *pkey;
};

// Key files are small; anything larger is not a key.
#define MAX_KEY_FILE (64 * 1024)

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(MAX_KEY_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_KEY_FILE + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > MAX_KEY_FILE) { free(buf); return NULL; }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int pem_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    const char *pass = u;
    if (!pass) return -1;   // never prompt on a terminal
    size_t n = strlen(pass);
    if (n > (size_t)size) return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

static EVP_PKEY *pkey_from_parts(rv_rsa_parts *k) {
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p1 = BN_new(), *q1 = BN_new(), *dmp1 = BN_new(), *dmq1 = BN_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (!ctx || !p1 || !q1 || !dmp1 || !dmq1 || !bld) goto out;
    if (!BN_sub(p1, k->p, BN_value_one()) || !BN_sub(q1, k->q, BN_value_one()) ||
        !BN_mod(dmp1, k->d, p1, ctx) || !BN_mod(dmq1, k->d, q1, ctx)) goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, k->n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, k->e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, k->d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, k->p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, k->q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, k->iqmp)) goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) pkey = NULL;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(dmp1); BN_clear_free(dmq1); BN_free(p1); BN_free(q1);
    BN_CTX_free(ctx);
    return pkey;
}

static const char openssh_begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
static const char openssh_end[] = "-----END OPENSSH PRIVATE KEY-----";

static int load_openssh(const char *text, const char *passphrase, EVP_PKEY **out) {
    const char *b = strstr(text, openssh_begin), *e = b ? strstr(b, openssh_end) : NULL;
    if (!e) return RV_KEY_UNSUPPORTED;
    b += sizeof openssh_begin - 1;
    size_t cap = (size_t)(e - b);
    char *b64 = malloc(cap + 1);
    uint8_t *blob = malloc(cap + 1);
    int rc = RV_KEY_UNSUPPORTED;
    if (!b64 || !blob) goto out;
    size_t n = 0, pad = 0;
    for (const char *c = b; c < e; c++) {
        if (*c == '\n' || *c == '\r' || *c == ' ' || *c == '\t') continue;
        if (*c == '=') pad++;
        b64[n++] = *c;
    }
    b64[n] = 0;
    int len = n % 4 == 0 ? EVP_DecodeBlock(blob, (unsigned char *)b64, (int)n) : -1;
    if (len < 0 || (size_t)len < pad) goto out;
    rv_rsa_parts parts = {0};
    rc = rv_openssh_rsa_parse(blob, (size_t)len - pad, passphrase, &parts);
    if (rc == RV_KEY_OK) {
        *out = pkey_from_parts(&parts);
        rv_rsa_parts_clear(&parts);
        if (!*out) rc = RV_KEY_UNSUPPORTED;
    }
    OPENSSL_cleanse(blob, cap + 1);
out:
    free(b64);
    free(blob);
    return rc;
}

static int load_pem(const char *text, size_t len, const char *passphrase, EVP_PKEY **out) {
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (!bio) return RV_KEY_UNSUPPORTED;
    *out = PEM_read_bio_PrivateKey(bio, NULL, pem_passphrase, (void *)passphrase);
    BIO_free(bio);
    if (*out) return EVP_PKEY_is_a(*out, "RSA") ? RV_KEY_OK : RV_KEY_NOT_RSA;
    if (strstr(text, "ENCRYPTED")) return passphrase && *passphrase ? RV_KEY_WRONG_PASSPHRASE : RV_KEY_NEEDS_PASSPHRASE;
    return RV_KEY_UNSUPPORTED;
}

rv_rsa_key *rv_rsa_key_load(const char *path, const char *passphrase, int *error) {
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) { *error = RV_KEY_UNREADABLE; return NULL; }
    EVP_PKEY *pkey = NULL;
    *error = strstr(text, openssh_begin) ? load_openssh(text, passphrase, &pkey) : load_pem(text, len, passphrase, &pkey);
    OPENSSL_cleanse(text, len);
    free(text);
    if (*error != RV_KEY_OK) { EVP_PKEY_free(pkey); return NULL; }
    rv_rsa_key *key = malloc(sizeof *key);
    if (!key) { EVP_PKEY_free(pkey); *error = RV_KEY_UNSUPPORTED; return NULL; }
    key->pkey = pkey;
    return key;
}

void rv_rsa_key_free(rv_rsa_key *key) {
    if (!key) return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

// mpint: big-endian, with a leading zero byte when the top bit is set.
static size_t put_mpint(uint8_t *p, const BIGNUM *bn) {
    int n = BN_num_bytes(bn);
    int lead = n > 0 && BN_num_bits(bn) % 8 == 0;
    put_u32(p, (uint32_t)(n + lead));
    if (lead) p[4] = 0;
    BN_bn2bin(bn, p + 4 + lead);
    return 4 + (size_t)lead + (size_t)n;
}

int rv_rsa_key_blob(const rv_rsa_key *key, const char *type_name, unsigned char **blob, size_t *len) {
    BIGNUM *n = NULL, *e = NULL;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        BN_free(n); BN_free(e);
        return -1;
    }
    size_t tlen = strlen(type_name);
    size_t cap = 4 + tlen + 4 + 1 + (size_t)BN_num_bytes(e) + 4 + 1 + (size_t)BN_num_bytes(n);
    uint8_t *out = malloc(cap), *p = out;
    if (out) {
        put_u32(p, (uint32_t)tlen); memcpy(p + 4, type_name, tlen); p += 4 + tlen;
        p += put_mpint(p, e);
        p += put_mpint(p, n);
        *blob = out;
        *len = (size_t)(p - out);
    }
    BN_free(n); BN_free(e);
    return out ? 0 : -1;
}

int rv_rsa_key_sign(const rv_rsa_key *key, int sha512, const unsigned char *data, size_t len,
                    unsigned char **sig, size_t *sig_len) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = 0;
    unsigned char *out = NULL;
    int rc = -1;
    if (md && EVP_DigestSignInit(md, NULL, sha512 ? EVP_sha512() : EVP_sha256(), NULL, key->pkey) == 1 &&
        EVP_DigestSign(md, NULL, &n, data, len) == 1 && (out = malloc(n)) &&
        EVP_DigestSign(md, out, &n, data, len) == 1) {
        *sig = out;
        *sig_len = n;
        out = NULL;
        rc = 0;
    }
    free(out);
    EVP_MD_CTX_free(md);
    return rc;
}
