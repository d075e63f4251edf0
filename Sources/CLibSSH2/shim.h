#ifndef RVIEWER_CLIBSSH2_SHIM_H
#define RVIEWER_CLIBSSH2_SHIM_H
// libssh2 1.10 (Debian 12) and 1.11 (Debian 13, Ubuntu 24.04). Function-like macros
// do not import into Swift; wrappers for the ones rviewer uses live here.
#include <libssh2.h>

static inline const char *cssh2_version(void) { return libssh2_version(0); }
#endif
