// One SSH_AGENTC_SIGN_REQUEST to the ssh-agent (draft-miller-ssh-agent, section 4.5):
//   uint32 length, byte 13, string key blob, string data, uint32 flags
// answered by byte 14 (SIGN_RESPONSE) and string(string(algorithm) string(signature)),
// or byte 5 (FAILURE). libssh2 1.10 sends flags 0, so an RSA identity signs with SHA-1;
// the flags 2 and 4 ask for rsa-sha2-256 and rsa-sha2-512.
#include "SSHKeys.h"
#include "ssh_wire.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define AGENTC_SIGN_REQUEST 13
#define AGENT_SIGN_RESPONSE 14
// An answer larger than this is not a signature (OpenSSH's agent caps messages at 256 KiB).
#define MAX_AGENT_REPLY (256 * 1024)

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

int rv_agent_sign(const char *socket_path, const unsigned char *blob, size_t blob_len,
                  const unsigned char *data, size_t data_len, uint32_t flags, const char *expect_alg,
                  int timeout_ms, unsigned char **sig, size_t *sig_len) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!socket_path || strlen(socket_path) >= sizeof addr.sun_path || blob_len > MAX_AGENT_REPLY || data_len > MAX_AGENT_REPLY)
        return -1;
    strcpy(addr.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    uint8_t *req = NULL, *reply = NULL;
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) goto out;
    size_t body = 1 + 4 + blob_len + 4 + data_len + 4;
    req = malloc(4 + body);
    if (!req) goto out;
    uint8_t *p = req;
    put_u32(p, (uint32_t)body); p += 4;
    *p++ = AGENTC_SIGN_REQUEST;
    put_u32(p, (uint32_t)blob_len); memcpy(p + 4, blob, blob_len); p += 4 + blob_len;
    put_u32(p, (uint32_t)data_len); memcpy(p + 4, data, data_len); p += 4 + data_len;
    put_u32(p, flags);
    if (write_all(fd, req, 4 + body) != 0) goto out;
    uint8_t head[4];
    if (read_all(fd, head, 4) != 0) goto out;
    uint32_t len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    if (len == 0 || len > MAX_AGENT_REPLY || !(reply = malloc(len)) || read_all(fd, reply, len) != 0) goto out;
    if (reply[0] != AGENT_SIGN_RESPONSE) goto out;
    wire w = {reply + 1, len - 1, 0};
    const uint8_t *signature, *alg, *bytes;
    size_t signature_len, alg_len, bytes_len;
    if (!wire_string(&w, &signature, &signature_len)) goto out;
    wire s = {signature, signature_len, 0};
    if (!wire_string(&s, &alg, &alg_len) || !wire_string(&s, &bytes, &bytes_len)) goto out;
    if (alg_len != strlen(expect_alg) || memcmp(alg, expect_alg, alg_len) != 0) goto out;
    if (!(*sig = malloc(bytes_len ? bytes_len : 1))) goto out;
    memcpy(*sig, bytes, bytes_len);
    *sig_len = bytes_len;
    rc = 0;
out:
    free(req);
    free(reply);
    close(fd);
    return rc;
}
