// OpenSSH's own private key format ("-----BEGIN OPENSSH PRIVATE KEY-----", the default
// of ssh-keygen since 7.8), read for RSA keys: the container is
//   "openssh-key-v1\0" string(cipher) string(kdf) string(kdf options) uint32(keys)
//   string(public key) string(private section, encrypted unless cipher is "none")
// and the private section, once decrypted, is
//   uint32(check) uint32(check) string("ssh-rsa") mpint(n e d iqmp p q) string(comment)
// (the two checks differ when the passphrase was wrong).
#include "SSHKeys.h"
#include "ssh_wire.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char magic[] = "openssh-key-v1";

// The cipher and key sizes OpenSSH writes: the default aes256-ctr, and the other CTRs.
static const EVP_CIPHER *cipher_named(const uint8_t *name, size_t len, size_t *key_len) {
    if (len == 10 && memcmp(name, "aes256-ctr", 10) == 0) { *key_len = 32; return EVP_aes_256_ctr(); }
    if (len == 10 && memcmp(name, "aes192-ctr", 10) == 0) { *key_len = 24; return EVP_aes_192_ctr(); }
    if (len == 10 && memcmp(name, "aes128-ctr", 10) == 0) { *key_len = 16; return EVP_aes_128_ctr(); }
    return NULL;
}

int rv_openssh_rsa_parse(const uint8_t *blob, size_t blob_len, const char *passphrase,
                         rv_rsa_parts *parts) {
    wire r = {blob, blob_len, 0};
    if (blob_len < sizeof magic || memcmp(blob, magic, sizeof magic) != 0) return RV_KEY_UNSUPPORTED;
    r.pos = sizeof magic;
    const uint8_t *cipher, *kdf, *kdfopts, *pub, *priv;
    size_t cipher_len, kdf_len, kdfopts_len, pub_len, priv_len;
    uint32_t nkeys;
    if (!wire_string(&r, &cipher, &cipher_len) || !wire_string(&r, &kdf, &kdf_len) ||
        !wire_string(&r, &kdfopts, &kdfopts_len) || !wire_u32(&r, &nkeys) || nkeys != 1 ||
        !wire_string(&r, &pub, &pub_len) || !wire_string(&r, &priv, &priv_len))
        return RV_KEY_UNSUPPORTED;
    wire p = {pub, pub_len, 0};
    const uint8_t *type;
    size_t type_len;
    if (!wire_string(&p, &type, &type_len)) return RV_KEY_UNSUPPORTED;
    if (type_len != 7 || memcmp(type, "ssh-rsa", 7) != 0) return RV_KEY_NOT_RSA;

    uint8_t *plain = malloc(priv_len ? priv_len : 1);
    if (!plain) return RV_KEY_UNSUPPORTED;
    int rc = RV_KEY_UNSUPPORTED;
    if (cipher_len == 4 && memcmp(cipher, "none", 4) == 0) {
        memcpy(plain, priv, priv_len);
    } else {
        size_t key_len;
        const EVP_CIPHER *evp = cipher_named(cipher, cipher_len, &key_len);
        if (!evp || kdf_len != 6 || memcmp(kdf, "bcrypt", 6) != 0) goto out;
        if (!passphrase || !*passphrase) { rc = RV_KEY_NEEDS_PASSPHRASE; goto out; }
        wire o = {kdfopts, kdfopts_len, 0};
        const uint8_t *salt;
        size_t salt_len;
        uint32_t rounds;
        if (!wire_string(&o, &salt, &salt_len) || !wire_u32(&o, &rounds) || rounds == 0 || rounds > 1 << 16) goto out;
        uint8_t keyiv[32 + 16];
        if (rv_bcrypt_pbkdf(passphrase, strlen(passphrase), salt, salt_len, keyiv, key_len + 16, rounds) != 0) goto out;
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int outl = 0, ok = ctx && EVP_DecryptInit_ex(ctx, evp, NULL, keyiv, keyiv + key_len) == 1 &&
                           EVP_DecryptUpdate(ctx, plain, &outl, priv, (int)priv_len) == 1 && (size_t)outl == priv_len;
        EVP_CIPHER_CTX_free(ctx);
        OPENSSL_cleanse(keyiv, sizeof keyiv);
        if (!ok) goto out;
    }
    wire s = {plain, priv_len, 0};
    uint32_t check1, check2;
    if (!wire_u32(&s, &check1) || !wire_u32(&s, &check2)) goto out;
    if (check1 != check2) { rc = RV_KEY_WRONG_PASSPHRASE; goto out; }
    if (!wire_string(&s, &type, &type_len) || type_len != 7 || memcmp(type, "ssh-rsa", 7) != 0) goto out;
    if (!wire_mpint(&s, &parts->n) || !wire_mpint(&s, &parts->e) || !wire_mpint(&s, &parts->d) ||
        !wire_mpint(&s, &parts->iqmp) || !wire_mpint(&s, &parts->p) || !wire_mpint(&s, &parts->q)) {
        rv_rsa_parts_clear(parts);
        goto out;
    }
    rc = RV_KEY_OK;
out:
    OPENSSL_cleanse(plain, priv_len);
    free(plain);
    return rc;
}
