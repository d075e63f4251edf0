#ifndef RVIEWER_CLIBSSH2_SHIM_H
#define RVIEWER_CLIBSSH2_SHIM_H
// libssh2 1.10 (Debian 12) and 1.11 (Debian 13, Ubuntu 24.04). Function-like macros
// do not import into Swift; the wrappers rviewer uses live here.
#include <libssh2.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <pthread.h>
#include <strings.h>
#include <time.h>

static inline const char *cssh2_version(void) { return libssh2_version(0); }

/// Output batching: while the pump runs, libssh2's packets are queued here and written
/// with one send() at the end of the pump instead of one per packet (OpenSSH's ssh
/// writes its output buffer once per loop the same way). On loopback every send() also
/// runs the receiver's TCP path; per-packet sends were most of the daemon's kernel time
/// with many small requests. 256 KiB: eight full-size SSH packets (32 KiB payload each).
#define CSSH2_OUT_CAP (256 * 1024)
/// A packet this large goes straight to the socket when nothing is queued ahead of it,
/// corked or not: it fills TCP segments by itself, so queueing it buys no batching and
/// costs a copy (perf, bulk upload through a forward: that copy was 3.9% of the
/// daemon's CPU). 8 KiB: well above the small requests and window adjusts the queue is
/// for, well below a full 32 KiB data packet.
#define CSSH2_DIRECT_SEND_MIN (8 * 1024)

/// Per-session context reachable from libssh2 callbacks (the session `abstract`).
/// Holds the password only for the duration of one keyboard-interactive call.
struct cssh2_kbd;

typedef struct cssh2_ctx {
    /// Set while a keyboard-interactive login that may ask the user runs on a helper
    /// thread (blocking libssh2): the dry-socket shortcut is off, its callback is used.
    struct cssh2_kbd *kbd;
    const char *password;
    size_t password_len;
    int prompts_answered;
    /// Bytes libssh2 has read from the socket (see cssh2_recv): when it grows during a
    /// pump pass, libssh2 may have parked packets for channels already serviced.
    unsigned long long received;
    /// The last recv() said EAGAIN and epoll has not reported the socket readable since:
    /// libssh2's further reads are answered EAGAIN without a syscall (every channel read
    /// tries the socket first; with hundreds of idle channels those were most recvs).
    int dry;
    /// Between cssh2_cork and cssh2_uncork, sends are queued in `out`.
    int corked;
    /// A send failed for good (errno); later sends report it.
    int send_error;
    unsigned char *out;
    size_t out_len;
} cssh2_ctx;

static inline void cssh2_ctx_init(cssh2_ctx *ctx) {
    memset(ctx, 0, sizeof(*ctx));
}

static inline void cssh2_ctx_release(cssh2_ctx *ctx) {
    free(ctx->out);
    ctx->out = NULL;
    ctx->out_len = 0;
}

/// The socket changed (a new one, or none): nothing queued, nothing known about it.
static inline void cssh2_ctx_reset_socket(cssh2_ctx *ctx) {
    ctx->out_len = 0;
    ctx->dry = 0;
    ctx->corked = 0;
    ctx->send_error = 0;
}

/// The socket reported readable (or hung up): the next recv() must really read.
static inline void cssh2_mark_readable(cssh2_ctx *ctx) { ctx->dry = 0; }

/// libssh2's socket read, counting bytes: any libssh2 call may read packets meant for
/// other channels and park them where epoll cannot see them (libssh2 1.10 rule), so
/// the pump compares this counter before and after a pass. Same contract as
/// libssh2's own `_libssh2_recv`: bytes, or a negated errno.
static ssize_t cssh2_recv(libssh2_socket_t fd, void *buffer, size_t length, int flags, void **abstract) {
    cssh2_ctx *ctx = (cssh2_ctx *)*abstract;
    if (ctx && ctx->dry && !ctx->kbd) return -EAGAIN;
    ssize_t rc = recv(fd, buffer, length, flags);
    if (rc < 0) {
        int e = errno;
        if (ctx && (e == EAGAIN || e == EWOULDBLOCK)) ctx->dry = 1;
        return -e;
    }
    if (ctx) ctx->received += (unsigned long long)rc;
    return rc;
}

/// Writes queued output. 0: all written; -EAGAIN: some left (wait for EPOLLOUT);
/// another negated errno: the socket failed.
static inline int cssh2_flush(int fd, cssh2_ctx *ctx) {
    size_t off = 0;
    int rc = 0;
    while (off < ctx->out_len) {
        ssize_t n = send(fd, ctx->out + off, ctx->out_len - off, MSG_NOSIGNAL);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        rc = (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? -EAGAIN : -(n < 0 ? errno : EPIPE);
        if (rc != -EAGAIN) { ctx->send_error = -rc; off = ctx->out_len; }
        break;
    }
    if (off > 0) {
        memmove(ctx->out, ctx->out + off, ctx->out_len - off);
        ctx->out_len -= off;
    }
    return rc;
}

/// libssh2's socket write: straight through when nothing is queued and the pump is not
/// running, or the packet is large (CSSH2_DIRECT_SEND_MIN); otherwise appended to `out`
/// (flushed first when full). EAGAIN only when both the queue and the socket are full:
/// libssh2 then holds a half-sent packet, as it would with a full socket.
static ssize_t cssh2_send(libssh2_socket_t fd, const void *buffer, size_t length, int flags, void **abstract) {
    cssh2_ctx *ctx = (cssh2_ctx *)*abstract;
    if (ctx && ctx->send_error) return -ctx->send_error;
    if (!ctx || (ctx->out_len == 0 && (!ctx->corked || length >= CSSH2_DIRECT_SEND_MIN))) {
        ssize_t rc = send(fd, buffer, length, flags | MSG_NOSIGNAL);
        return rc < 0 ? -errno : rc;
    }
    if (!ctx->out) {
        ctx->out = (unsigned char *)malloc(CSSH2_OUT_CAP);
        if (!ctx->out) return -ENOMEM;
    }
    if (CSSH2_OUT_CAP - ctx->out_len < length) {
        int rc = cssh2_flush(fd, ctx);
        if (rc < 0 && rc != -EAGAIN) return rc;
    }
    size_t room = CSSH2_OUT_CAP - ctx->out_len;
    if (room == 0) return -EAGAIN;
    size_t n = length < room ? length : room;
    memcpy(ctx->out + ctx->out_len, buffer, n);
    ctx->out_len += n;
    if (!ctx->corked) {
        int rc = cssh2_flush(fd, ctx);
        if (rc < 0 && rc != -EAGAIN) return rc;
    }
    return (ssize_t)n;
}

static inline LIBSSH2_SESSION *cssh2_session_init(cssh2_ctx *ctx) {
    LIBSSH2_SESSION *s = libssh2_session_init_ex(NULL, NULL, NULL, ctx);
    if (s) {
        libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, (void *)cssh2_recv);
        libssh2_session_callback_set(s, LIBSSH2_CALLBACK_SEND, (void *)cssh2_send);
    }
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

/// A keyboard-interactive login that may need the user (second factors): libssh2 runs
/// it on a helper thread in blocking mode. Its callback answers the one password prompt
/// itself and hands every other prompt to the loop thread (`notify`), then waits, bounded
/// by `wait_ms`, for `answer` or `cancel`. All fields are guarded by `mu`.
typedef struct cssh2_kbd {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*notify)(struct cssh2_kbd *);   /// called (helper thread) when prompts wait
    void *owner;
    int waiting;                          /// prompts are out, answers not yet in
    int answered;
    int cancelled;
    int wait_ms;
    const char *password;                 /// the request's, while the login runs
    size_t password_len;
    int password_used;
    /// This round's name, instruction and the prompts given to the user.
    char *name, *instruction;
    int asked;
    char *prompt[16];
    int echo[16];
    char *answer[16];
    size_t answer_len[16];
} cssh2_kbd;

/// Prompts per round handed to the user at most (PAM asks one or two).
#define CSSH2_KBD_MAX_PROMPTS 16

static inline void cssh2_kbd_clear_round(cssh2_kbd *k) {
    free(k->name); free(k->instruction);
    k->name = k->instruction = NULL;
    for (int i = 0; i < k->asked; i++) {
        free(k->prompt[i]);
        if (k->answer[i]) { memset(k->answer[i], 0, k->answer_len[i]); free(k->answer[i]); }
        k->prompt[i] = k->answer[i] = NULL;
        k->answer_len[i] = 0;
    }
    k->asked = 0;
}

static inline char *cssh2_strndup0(const char *s, size_t n) {
    char *c = (char *)malloc(n + 1);
    if (c) { if (n) memcpy(c, s, n); c[n] = 0; }
    return c;
}

static inline int cssh2_is_password_prompt(const char *text, unsigned len) {
    static const char word[] = "assword";
    for (unsigned i = 0; i + sizeof word - 1 <= len; i++)
        if (strncasecmp(text + i, word, sizeof word - 1) == 0) return 1;
    return 0;
}

static void cssh2_kbdint_ask(const char *name, int name_len, const char *instruction, int instruction_len,
                             int num_prompts, const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                             LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract) {
    cssh2_ctx *ctx = (cssh2_ctx *)*abstract;
    cssh2_kbd *k = ctx ? ctx->kbd : NULL;
    for (int i = 0; i < num_prompts; i++) { responses[i].text = NULL; responses[i].length = 0; }
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    cssh2_kbd_clear_round(k);
    int map[CSSH2_KBD_MAX_PROMPTS];
    for (int i = 0; i < num_prompts; i++) {
        if (!k->password_used && k->password &&
            cssh2_is_password_prompt((const char *)prompts[i].text, prompts[i].length)) {
            responses[i].text = cssh2_strndup0(k->password, k->password_len);
            responses[i].length = responses[i].text ? (unsigned)k->password_len : 0;
            k->password_used = 1;
        } else if (k->asked < CSSH2_KBD_MAX_PROMPTS) {
            map[k->asked] = i;
            k->prompt[k->asked] = cssh2_strndup0((const char *)prompts[i].text, prompts[i].length);
            k->echo[k->asked] = prompts[i].echo;
            k->asked++;
        }
    }
    if (k->asked > 0 && !k->cancelled) {
        k->name = cssh2_strndup0(name, name_len > 0 ? (size_t)name_len : 0);
        k->instruction = cssh2_strndup0(instruction, instruction_len > 0 ? (size_t)instruction_len : 0);
        k->waiting = 1;
        k->answered = 0;
        if (k->notify) k->notify(k);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += k->wait_ms / 1000;
        while (!k->answered && !k->cancelled) {
            if (pthread_cond_timedwait(&k->cv, &k->mu, &until) == ETIMEDOUT) { k->cancelled = 1; break; }
        }
        k->waiting = 0;
        if (k->answered) {
            for (int j = 0; j < k->asked; j++) {
                responses[map[j]].text = k->answer[j];   // libssh2 frees it
                responses[map[j]].length = (unsigned)k->answer_len[j];
                k->answer[j] = NULL;
                k->answer_len[j] = 0;
            }
        }
    }
    pthread_mutex_unlock(&k->mu);
}

/// Blocking keyboard-interactive through `cssh2_kbdint_ask` (the helper thread's call).
static inline int cssh2_userauth_kbdint_ask(LIBSSH2_SESSION *s, const char *user, unsigned int user_len) {
    return libssh2_userauth_keyboard_interactive_ex(s, user, user_len, cssh2_kbdint_ask);
}

/// Hands the user's answers to the waiting callback; 0, or -1 when nothing waits or the
/// count is not the number of prompts asked.
static inline int cssh2_kbd_answer(cssh2_kbd *k, const char **answers, const size_t *lens, int count) {
    pthread_mutex_lock(&k->mu);
    int rc = -1;
    if (k->waiting && !k->answered && count == k->asked) {
        for (int i = 0; i < count; i++) {
            k->answer[i] = cssh2_strndup0(answers[i], lens[i]);
            k->answer_len[i] = lens[i];
        }
        k->answered = 1;
        pthread_cond_broadcast(&k->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static inline void cssh2_kbd_cancel(cssh2_kbd *k) {
    pthread_mutex_lock(&k->mu);
    k->cancelled = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
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

/// `*recorded` is the entry that matched or mismatched (its key in base64, owned by
/// `kh`), NULL when none did.
static inline int cssh2_knownhost_checkp(LIBSSH2_KNOWNHOSTS *kh, const char *host, int port,
                                         const char *key, size_t len, int keybit, const char **recorded) {
    struct libssh2_knownhost *found = NULL;
    int rc = libssh2_knownhost_checkp(kh, host, port, key, len,
                                      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &found);
    *recorded = found ? found->key : NULL;
    return rc;
}

/// SHA-256 of `len` bytes into `out` (32 bytes), with the libcrypto libssh2 uses; 1 on success.
static inline int cssh2_sha256(const void *data, size_t len, unsigned char *out) {
    return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

/// The known_hosts line (OpenSSH format, with its newline) for `key` under `hostspec`,
/// written into `buf`; 0 on success.
static inline int cssh2_knownhost_line(LIBSSH2_KNOWNHOSTS *kh, const char *hostspec, const char *key, size_t len,
                                       int keybit, const char *comment, char *buf, size_t buflen, size_t *outlen) {
    struct libssh2_knownhost *entry = NULL;
    int rc = libssh2_knownhost_addc(kh, hostspec, NULL, key, len, comment, strlen(comment),
                                    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &entry);
    if (rc != 0 || !entry) return rc ? rc : -1;
    return libssh2_knownhost_writeline(kh, entry, buf, buflen, outlen, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
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
