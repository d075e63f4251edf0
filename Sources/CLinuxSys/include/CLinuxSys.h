#ifndef RVIEWER_CLINUXSYS_H
#define RVIEWER_CLINUXSYS_H
// Linux calls Swift's Glibc module does not expose: epoll, eventfd, timerfd,
// signalfd, TCP options, plus wrappers for the macros that do not import.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <malloc.h>

static inline int csys_errno(void) { return errno; }

/// glibc keeps up to `bytes` of free heap before giving memory back to the kernel.
static inline int csys_malloc_trim_threshold(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }

/// accept4(2) needs _GNU_SOURCE, so it lives in CLinuxSys.c.
int csys_accept4(int fd, int flags);

/// A NETLINK_SOCK_DIAG socket for csys_peer_uid (-1 on failure).
int csys_sock_diag_open(void);

/// The uid owning the other end of the loopback TCP connection `fd`, looked up by the
/// exact 4-tuple through inet_diag on `nlfd`; 0 on success, else -errno.
int csys_peer_uid(int nlfd, int fd, unsigned *uid);

/// Blocks `sig` for the calling thread (and the threads it creates later).
static inline int csys_block_signals(const int *sigs, int count, sigset_t *out) {
    sigemptyset(out);
    for (int i = 0; i < count; i++) sigaddset(out, sigs[i]);
    return pthread_sigmask(SIG_BLOCK, out, NULL);
}

static inline void csys_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/// epoll_event is packed on x86_64; these avoid unaligned access from Swift.
static inline uint64_t csys_event_data(const struct epoll_event *ev) { return ev->data.u64; }
static inline uint32_t csys_event_mask(const struct epoll_event *ev) { return ev->events; }

static inline int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev);
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
static inline long csys_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

#include <pthread.h>
#endif
