#ifndef RVIEWER_CLLHTTP_SHIM_H
#define RVIEWER_CLLHTTP_SHIM_H
#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

/// llhttp_execute over bytes, without CChar/UInt8 pointer casts in Swift.
static inline llhttp_errno_t cllhttp_execute(llhttp_t *parser, const void *data, size_t len) {
    return llhttp_execute(parser, (const char *)data, len);
}
/// Offset of the first unparsed byte after HPE_PAUSED / an error.
static inline size_t cllhttp_error_offset(const llhttp_t *parser, const void *base) {
    const char *pos = llhttp_get_error_pos(parser);
    return pos ? (size_t)(pos - (const char *)base) : 0;
}
#endif
