// bcrypt_pbkdf: the key derivation OpenSSH uses for passphrase-protected keys in its
// own format ("openssh-key-v1", kdf "bcrypt"). OpenSSL has no Blowfish key schedule
// with a salt (eksblowfish), so this file holds Blowfish itself, written from its
// published description: the cipher (Schneier 1993), the salted expansion of bcrypt
// (Provos and Mazieres 1999) and the PBKDF2-like outer loop OpenBSD defined for it
// (hash of the passphrase and salt with SHA-512, 32-byte blocks, output interleaved).
#include "SSHKeys.h"
#include "blowfish_pi.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

typedef struct {
    uint32_t P[18];
    uint32_t S[4][256];
} blowfish;

static inline uint32_t bf_f(const blowfish *c, uint32_t x) {
    return ((c->S[0][x >> 24] + c->S[1][(x >> 16) & 0xff]) ^ c->S[2][(x >> 8) & 0xff]) + c->S[3][x & 0xff];
}

static void bf_encipher(const blowfish *c, uint32_t *xl, uint32_t *xr) {
    uint32_t l = *xl, r = *xr;
    l ^= c->P[0];
    for (int i = 1; i <= 16; i += 2) {
        r ^= bf_f(c, l) ^ c->P[i];
        l ^= bf_f(c, r) ^ c->P[i + 1];
    }
    *xl = r ^ c->P[17];
    *xr = l;
}

static void bf_init(blowfish *c) {
    memcpy(c->P, blowfish_pi, sizeof c->P);
    memcpy(c->S, blowfish_pi + 18, sizeof c->S);
}

// The next 32-bit big-endian word of `data`, cycling through it.
static uint32_t stream_word(const uint8_t *data, size_t len, size_t *pos) {
    uint32_t w = 0;
    for (int i = 0; i < 4; i++) {
        if (*pos >= len) *pos = 0;
        w = (w << 8) | data[(*pos)++];
    }
    return w;
}

// Key expansion; with `salt` (eksblowfish) each block encrypted is first XORed with it.
static void bf_expand(blowfish *c, const uint8_t *salt, size_t salt_len, const uint8_t *key, size_t key_len) {
    size_t j = 0;
    for (int i = 0; i < 18; i++) c->P[i] ^= stream_word(key, key_len, &j);
    uint32_t l = 0, r = 0;
    j = 0;
    for (int i = 0; i < 18; i += 2) {
        if (salt) { l ^= stream_word(salt, salt_len, &j); r ^= stream_word(salt, salt_len, &j); }
        bf_encipher(c, &l, &r);
        c->P[i] = l;
        c->P[i + 1] = r;
    }
    for (int s = 0; s < 4; s++) {
        for (int k = 0; k < 256; k += 2) {
            if (salt) { l ^= stream_word(salt, salt_len, &j); r ^= stream_word(salt, salt_len, &j); }
            bf_encipher(c, &l, &r);
            c->S[s][k] = l;
            c->S[s][k + 1] = r;
        }
    }
}

#define BCRYPT_WORDS 8
#define BCRYPT_HASH_BYTES (BCRYPT_WORDS * 4)
#define SHA512_BYTES 64

// One bcrypt hash of the (hashed) passphrase and salt: 32 bytes.
static void bcrypt_hash(const uint8_t pass[SHA512_BYTES], const uint8_t salt[SHA512_BYTES], uint8_t out[BCRYPT_HASH_BYTES]) {
    static const char magic[] = "OxychromaticBlowfishSwatDynamite";
    blowfish c;
    bf_init(&c);
    bf_expand(&c, salt, SHA512_BYTES, pass, SHA512_BYTES);
    for (int i = 0; i < 64; i++) {
        bf_expand(&c, NULL, 0, salt, SHA512_BYTES);
        bf_expand(&c, NULL, 0, pass, SHA512_BYTES);
    }
    uint32_t cdata[BCRYPT_WORDS];
    size_t j = 0;
    for (int i = 0; i < BCRYPT_WORDS; i++) cdata[i] = stream_word((const uint8_t *)magic, BCRYPT_HASH_BYTES, &j);
    for (int round = 0; round < 64; round++)
        for (int i = 0; i < BCRYPT_WORDS; i += 2) bf_encipher(&c, &cdata[i], &cdata[i + 1]);
    for (int i = 0; i < BCRYPT_WORDS; i++) {   // little-endian out, as OpenBSD's does
        out[4 * i + 0] = (uint8_t)cdata[i];
        out[4 * i + 1] = (uint8_t)(cdata[i] >> 8);
        out[4 * i + 2] = (uint8_t)(cdata[i] >> 16);
        out[4 * i + 3] = (uint8_t)(cdata[i] >> 24);
    }
    OPENSSL_cleanse(&c, sizeof c);
    OPENSSL_cleanse(cdata, sizeof cdata);
}

static int sha512(const uint8_t *data, size_t len, uint8_t out[SHA512_BYTES]) {
    return EVP_Digest(data, len, out, NULL, EVP_sha512(), NULL) == 1;
}

int rv_bcrypt_pbkdf(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                    uint8_t *key, size_t key_len, unsigned rounds) {
    if (rounds < 1 || pass_len == 0 || salt_len == 0 || salt_len > 1 << 20 || key_len == 0 ||
        key_len > BCRYPT_HASH_BYTES * BCRYPT_HASH_BYTES)
        return -1;
    uint8_t sha2pass[SHA512_BYTES], sha2salt[SHA512_BYTES], tmp[BCRYPT_HASH_BYTES], out[BCRYPT_HASH_BYTES];
    uint8_t *countsalt = malloc(salt_len + 4);
    if (!countsalt) return -1;
    const size_t stride = (key_len + BCRYPT_HASH_BYTES - 1) / BCRYPT_HASH_BYTES;
    size_t amount = (key_len + stride - 1) / stride;
    const size_t total = key_len;
    int rc = -1;
    memcpy(countsalt, salt, salt_len);
    if (!sha512((const uint8_t *)pass, pass_len, sha2pass)) goto done;
    for (uint32_t count = 1; key_len > 0; count++) {
        countsalt[salt_len + 0] = (uint8_t)(count >> 24);
        countsalt[salt_len + 1] = (uint8_t)(count >> 16);
        countsalt[salt_len + 2] = (uint8_t)(count >> 8);
        countsalt[salt_len + 3] = (uint8_t)count;
        if (!sha512(countsalt, salt_len + 4, sha2salt)) goto done;
        bcrypt_hash(sha2pass, sha2salt, tmp);
        memcpy(out, tmp, sizeof out);
        for (unsigned r = 1; r < rounds; r++) {
            if (!sha512(tmp, sizeof tmp, sha2salt)) goto done;
            bcrypt_hash(sha2pass, sha2salt, tmp);
            for (size_t i = 0; i < sizeof out; i++) out[i] ^= tmp[i];
        }
        // Output bytes are spread across the key: byte i of this block lands at
        // i * stride + (count - 1).
        if (amount > key_len) amount = key_len;
        size_t i;
        for (i = 0; i < amount; i++) {
            size_t dest = i * stride + (count - 1);
            if (dest >= total) break;
            key[dest] = out[i];
        }
        key_len -= i;
    }
    rc = 0;
done:
    OPENSSL_cleanse(sha2pass, sizeof sha2pass);
    OPENSSL_cleanse(sha2salt, sizeof sha2salt);
    OPENSSL_cleanse(tmp, sizeof tmp);
    OPENSSL_cleanse(out, sizeof out);
    OPENSSL_cleanse(countsalt, salt_len + 4);
    free(countsalt);
    return rc;
}

int rv_blowfish_selftest(void) {
    // Schneier's published vector: key 00..00, plaintext 00..00 -> 4EF997456198DD78.
    blowfish c;
    bf_init(&c);
    uint8_t zero[8] = {0};
    bf_expand(&c, NULL, 0, zero, sizeof zero);
    uint32_t l = 0, r = 0;
    bf_encipher(&c, &l, &r);
    return (l == 0x4EF99745u && r == 0x6198DD78u) ? 0 : -1;
}
