// Self-test of the random-byte buffer (see RandomBuffer.h).
#include "RandomBuffer.h"
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int compare16(const void *a, const void *b) { return memcmp(a, b, 16); }

int rv_randbuf_selftest(int calls, int spread) {
    if (calls < 100 || spread < 1 || spread > 200) return -1;
    // 1-2: small calls of varying sizes all succeed, bits balanced.
    unsigned char buf[256];
    long ones = 0, bits = 0;
    for (int i = 0; i < calls; i++) {
        int n = 4 + i % spread;
        if (RAND_bytes(buf, n) != 1) return 1;
        for (int k = 0; k < n; k++) ones += __builtin_popcount(buf[k]);
        bits += 8L * n;
    }
    if (ones * 100 < bits * 45 || ones * 100 > bits * 55) return 2;
    // 3: no 16-byte draw repeats (a buffer serving a byte twice would show here).
    int draws = calls < 20000 ? calls : 20000;
    unsigned char *all = malloc((size_t)draws * 16);
    if (!all) return -1;
    for (int i = 0; i < draws; i++)
        if (RAND_bytes(all + 16 * i, 16) != 1) { free(all); return 3; }
    qsort(all, (size_t)draws, 16, compare16);
    for (int i = 1; i < draws; i++)
        if (memcmp(all + 16 * (i - 1), all + 16 * i, 16) == 0) { free(all); return 3; }
    free(all);
    // 4: after fork the child's first bytes differ from the parent's next ones.
    int pipefd[2];
    unsigned char mine[32], childs[32];
    if (RAND_bytes(mine, 1) != 1 || pipe(pipefd) != 0) return -1;  // the buffer now holds bytes
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        unsigned char c[32];
        int ok = RAND_bytes(c, 32) == 1 && write(pipefd[1], c, 32) == 32;
        _exit(ok ? 0 : 1);
    }
    close(pipefd[1]);
    ssize_t got = read(pipefd[0], childs, 32);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != 32 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
    if (RAND_bytes(mine, 32) != 1 || memcmp(mine, childs, 32) == 0) return 4;
    return 0;
}
