#define _GNU_SOURCE
#include <sys/socket.h>
#include "CLinuxSys.h"

int csys_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }

// ---- Peer socket owner through NETLINK_SOCK_DIAG (inet_diag) ----------------------
// For a loopback TCP connection both ends are sockets of this host: the peer's socket is
// the one whose source is our peer address and whose destination is our local address.
// One exact lookup (no dump) answers within the sendmsg/recvmsg pair.
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <string.h>

int csys_sock_diag_open(void) {
    return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

int csys_peer_uid(int nlfd, int fd, unsigned *uid) {
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) return -errno;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) return -errno;
    if (local.ss_family != peer.ss_family) return -EAFNOSUPPORT;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = (unsigned char)local.ss_family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0U;
    req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (local.ss_family == AF_INET) {
        struct sockaddr_in *l = (struct sockaddr_in *)&local, *p = (struct sockaddr_in *)&peer;
        req.r.id.idiag_sport = p->sin_port;   // the peer's socket: its own port first
        req.r.id.idiag_dport = l->sin_port;
        memcpy(req.r.id.idiag_src, &p->sin_addr, 4);
        memcpy(req.r.id.idiag_dst, &l->sin_addr, 4);
    } else if (local.ss_family == AF_INET6) {
        struct sockaddr_in6 *l = (struct sockaddr_in6 *)&local, *p = (struct sockaddr_in6 *)&peer;
        req.r.id.idiag_sport = p->sin6_port;
        req.r.id.idiag_dport = l->sin6_port;
        memcpy(req.r.id.idiag_src, &p->sin6_addr, 16);
        memcpy(req.r.id.idiag_dst, &l->sin6_addr, 16);
    } else {
        return -EAFNOSUPPORT;
    }
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nlfd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    union {
        struct nlmsghdr nlh;
        char buf[8192];
    } reply;
    ssize_t n = recv(nlfd, &reply, sizeof reply, MSG_DONTWAIT);
    if (n < 0) return -errno;
    for (struct nlmsghdr *h = &reply.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error ? e->error : -ENOENT;
        }
        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            struct inet_diag_msg *m = NLMSG_DATA(h);
            *uid = m->idiag_uid;
            return 0;
        }
    }
    return -ENOENT;
}
