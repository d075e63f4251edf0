// publickey authentication with an RSA key signed with SHA-2, through libssh2's
// caller-signed entry point: libssh2_userauth_publickey() sends as the algorithm name
// the first string of the key blob it is given and wraps whatever the sign callback
// returns as the signature. A blob whose type reads "rsa-sha2-512" (OpenSSH parses it
// as an RSA key) therefore makes libssh2 1.10 send an rsa-sha2-512 request, signed here
// or by the agent.
#include "SSHKeys.h"
#include "ssh_wire.h"
#include <libssh2.h>
#include <stdlib.h>
#include <string.h>

static const char sha2_512[] = "rsa-sha2-512";
// The agent's answer: a local agent signs in milliseconds; a stuck one is given up.
#define AGENT_TIMEOUT_MS 5000
// SSH_AGENT_RSA_SHA2_512 (draft-miller-ssh-agent, section 4.5.1).
#define AGENT_FLAG_SHA2_512 4

typedef struct {
    const rv_rsa_key *key;
    const char *agent_socket;
    const unsigned char *agent_blob;
    size_t agent_blob_len;
    int failed;
} signer;

static int sign_callback(LIBSSH2_SESSION *session, unsigned char **sig, size_t *sig_len,
                         const unsigned char *data, size_t data_len, void **abstract) {
    (void)session;
    signer *s = *abstract;
    int rc = s->key ? rv_rsa_key_sign(s->key, 1, data, data_len, sig, sig_len)
                    : rv_agent_sign(s->agent_socket, s->agent_blob, s->agent_blob_len, data, data_len,
                                    AGENT_FLAG_SHA2_512, sha2_512, AGENT_TIMEOUT_MS, sig, sig_len);
    if (rc != 0) s->failed = 1;
    return rc;
}

// The agent's ssh-rsa blob with its type string replaced by "rsa-sha2-512".
static unsigned char *renamed_blob(const unsigned char *blob, size_t len, size_t *out_len) {
    wire w = {blob, len, 0};
    const uint8_t *type;
    size_t type_len;
    if (!wire_string(&w, &type, &type_len) || type_len != 7 || memcmp(type, "ssh-rsa", 7) != 0) return NULL;
    size_t rest = len - w.pos, name = sizeof sha2_512 - 1;
    unsigned char *out = malloc(4 + name + rest);
    if (!out) return NULL;
    out[0] = 0; out[1] = 0; out[2] = 0; out[3] = (unsigned char)name;
    memcpy(out + 4, sha2_512, name);
    memcpy(out + 4 + name, blob + w.pos, rest);
    *out_len = 4 + name + rest;
    return out;
}

int rv_userauth_rsa_sha2(void *session, const char *user, const rv_rsa_key *key, const char *agent_socket,
                         const unsigned char *agent_blob, size_t agent_blob_len, int *sign_failed) {
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    if (key) {
        if (rv_rsa_key_blob(key, sha2_512, &blob, &blob_len) != 0) return LIBSSH2_ERROR_ALLOC;
    } else if (!(blob = renamed_blob(agent_blob, agent_blob_len, &blob_len))) {
        return LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED;
    }
    signer s = {key, agent_socket, agent_blob, agent_blob_len, 0};
    void *abstract = &s;
    int rc = libssh2_userauth_publickey((LIBSSH2_SESSION *)session, user, blob, blob_len, sign_callback, &abstract);
    free(blob);
    *sign_failed = s.failed;
    return rc;
}
