#ifndef RVIEWER_SSHKEYS_H
#define RVIEWER_SSHKEYS_H
// RSA user keys signed with SHA-2 for a libssh2 that signs RSA with SHA-1 only (1.10):
// the key is loaded and signed here (OpenSSL), or signed by the ssh-agent with the
// SHA-2 flag, and handed to libssh2_userauth_publickey's sign callback.
#include <stddef.h>
#include <stdint.h>

typedef struct rv_rsa_key rv_rsa_key;

enum {
    RV_KEY_OK = 0,
    RV_KEY_UNREADABLE = 1,      // cannot open or read the file
    RV_KEY_NOT_RSA = 2,         // a key, but not an RSA one
    RV_KEY_NEEDS_PASSPHRASE = 3,
    RV_KEY_WRONG_PASSPHRASE = 4,
    RV_KEY_UNSUPPORTED = 5,     // a format or cipher this code does not read
};

/// Loads an RSA private key: PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8, encrypted or not)
/// or OpenSSH's own format (unencrypted, or aes128/192/256-ctr with bcrypt_pbkdf).
/// `passphrase` may be NULL. NULL on failure, with *error set.
rv_rsa_key *rv_rsa_key_load(const char *path, const char *passphrase, int *error);
void rv_rsa_key_free(rv_rsa_key *key);

/// The SSH public key blob string(type_name) mpint(e) mpint(n), malloc'ed.
int rv_rsa_key_blob(const rv_rsa_key *key, const char *type_name, unsigned char **blob, size_t *len);

/// RSASSA-PKCS1-v1_5 over `data` with SHA-512 (sha512 != 0) or SHA-256; malloc'ed.
int rv_rsa_key_sign(const rv_rsa_key *key, int sha512, const unsigned char *data, size_t len,
                    unsigned char **sig, size_t *sig_len);

/// Asks the ssh-agent at `socket_path` to sign `data` with the identity `blob`, with
/// the agent flags `flags` (2: rsa-sha2-256, 4: rsa-sha2-512). On success the raw
/// signature (malloc'ed) of the algorithm `expect_alg`; -1 otherwise (an agent that
/// answered with another algorithm fails too). Blocking, bounded by `timeout_ms`.
int rv_agent_sign(const char *socket_path, const unsigned char *blob, size_t blob_len,
                  const unsigned char *data, size_t data_len, uint32_t flags, const char *expect_alg,
                  int timeout_ms, unsigned char **sig, size_t *sig_len);

/// publickey authentication on a libssh2 session (a LIBSSH2_SESSION *) with an
/// rsa-sha2-512 signature: from `key` when given, else from the agent at `agent_socket`
/// for its identity `agent_blob` (an ssh-rsa blob). Returns libssh2's code (EAGAIN while
/// it waits on the socket); *sign_failed is set when the signing itself failed.
int rv_userauth_rsa_sha2(void *session, const char *user, const rv_rsa_key *key, const char *agent_socket,
                         const unsigned char *agent_blob, size_t agent_blob_len, int *sign_failed);

/// bcrypt_pbkdf as OpenSSH uses it for its own key format. 0 on success.
int rv_bcrypt_pbkdf(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                    uint8_t *key, size_t key_len, unsigned rounds);

/// Blowfish against its published test vector: 0 when it matches.
int rv_blowfish_selftest(void);

#endif
