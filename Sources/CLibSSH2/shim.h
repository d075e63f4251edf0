#ifndef RVIEWER_CLIBSSH2_SHIM_H
#define RVIEWER_CLIBSSH2_SHIM_H
// libssh2 1.10 (Debian 12) and 1.11 (Debian 13, Ubuntu 24.04). Function-like macros
// do not import into Swift; the wrappers rviewer uses live here.
#include <libssh2.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static inline const char *cssh2_version(void) { return libssh2_version(0); }

/// Per-session context reachable from libssh2 callbacks (the session `abstract`).
/// Holds the password only for the duration of one keyboard-interactive call.
typedef struct cssh2_ctx {
    const char *password;
    size_t password_len;
    int prompts_answered;
    /// Bytes libssh2 has read from the socket (see cssh2_recv): when it grows during a
    /// pump pass, libssh2 may have parked packets for channels already serviced.
    unsigned long long received;
} cssh2_ctx;

/// libssh2's socket read, counting bytes: any libssh2 call may read packets meant for
/// other channels and park them where epoll cannot see them (libssh2 1.10 rule), so
/// the pump compares this counter before and after a pass. Same contract as
/// libssh2's own `_libssh2_recv`: bytes, or a negated errno.
static ssize_t cssh2_recv(libssh2_socket_t fd, void *buffer, size_t length, int flags, void **abstract) {
    ssize_t rc = recv(fd, buffer, length, flags);
    if (rc < 0) return -errno;
    cssh2_ctx *ctx = (cssh2_ctx *)*abstract;
    if (ctx) ctx->received += (unsigned long long)rc;
    return rc;
}

static inline LIBSSH2_SESSION *cssh2_session_init(cssh2_ctx *ctx) {
    LIBSSH2_SESSION *s = libssh2_session_init_ex(NULL, NULL, NULL, ctx);
    if (s) libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, (void *)cssh2_recv);
    return s;
}

/// Answers every keyboard-interactive prompt with the password (servers that allow
/// only keyboard-interactive ask "Password:"). Responses are freed by libssh2.
static void cssh2_kbdint_answer(const char *name, int name_len, const char *instruction,
                                int instruction_len, int num_prompts,
                                const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                                LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract) {
    (void)name; (void)name_len; (void)instruction; (void)instruction_len; (void)prompts;
    cssh2_ctx *ctx = (cssh2_ctx *)*abstract;
    for (int i = 0; i < num_prompts; i++) {
        if (ctx && ctx->password) {
            char *copy = (char *)malloc(ctx->password_len + 1);
            if (copy) {
                memcpy(copy, ctx->password, ctx->password_len);
                copy[ctx->password_len] = 0;
            }
            responses[i].text = copy;
            responses[i].length = copy ? (unsigned int)ctx->password_len : 0;
        } else {
            responses[i].text = NULL;
            responses[i].length = 0;
        }
        if (ctx) ctx->prompts_answered++;
    }
}

static inline int cssh2_userauth_kbdint(LIBSSH2_SESSION *s, const char *user, unsigned int user_len) {
    return libssh2_userauth_keyboard_interactive_ex(s, user, user_len, cssh2_kbdint_answer);
}

static inline int cssh2_userauth_password(LIBSSH2_SESSION *s, const char *user, unsigned int user_len,
                                          const char *pw, unsigned int pw_len) {
    return libssh2_userauth_password_ex(s, user, user_len, pw, pw_len, NULL);
}

static inline int cssh2_userauth_keyfile(LIBSSH2_SESSION *s, const char *user, unsigned int user_len,
                                         const char *privkey, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, user_len, NULL, privkey, passphrase);
}

static inline LIBSSH2_CHANNEL *cssh2_channel_open_session(LIBSSH2_SESSION *s) {
    return libssh2_channel_open_ex(s, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int cssh2_channel_exec(LIBSSH2_CHANNEL *ch, const char *cmd, unsigned int len) {
    return libssh2_channel_process_startup(ch, "exec", sizeof("exec") - 1, cmd, len);
}

static inline int cssh2_disconnect(LIBSSH2_SESSION *s) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "rviewer closing", "");
}

static inline int cssh2_last_errno(LIBSSH2_SESSION *s) { return libssh2_session_last_errno(s); }

static inline int cssh2_knownhost_readfile(LIBSSH2_KNOWNHOSTS *kh, const char *path) {
    return libssh2_knownhost_readfile(kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

static inline int cssh2_knownhost_writefile(LIBSSH2_KNOWNHOSTS *kh, const char *path) {
    return libssh2_knownhost_writefile(kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

/// knownhost key-type bits for a hostkey type from libssh2_session_hostkey.
static inline int cssh2_knownhost_keybit(int hostkey_type) {
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

static inline int cssh2_knownhost_checkp(LIBSSH2_KNOWNHOSTS *kh, const char *host, int port,
                                         const char *key, size_t len, int keybit) {
    struct libssh2_knownhost *found = NULL;
    return libssh2_knownhost_checkp(kh, host, port, key, len,
                                    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &found);
}

static inline int cssh2_knownhost_add(LIBSSH2_KNOWNHOSTS *kh, const char *hostspec,
                                      const char *key, size_t len, int keybit) {
    return libssh2_knownhost_addc(kh, hostspec, NULL, key, len, "added by rviewer", 16,
                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, NULL);
}

/// The key-type bits of entry `store` (for pinning the host-key method).
static inline int cssh2_knownhost_entry_keybit(const struct libssh2_knownhost *store) {
    return store->typemask & LIBSSH2_KNOWNHOST_KEY_MASK;
}

static inline const char *cssh2_agent_identity_blob(const struct libssh2_agent_publickey *id, size_t *len) {
    *len = id->blob_len;
    return (const char *)id->blob;
}

static inline int cssh2_block_inbound(void) { return LIBSSH2_SESSION_BLOCK_INBOUND; }
static inline int cssh2_block_outbound(void) { return LIBSSH2_SESSION_BLOCK_OUTBOUND; }
#endif
