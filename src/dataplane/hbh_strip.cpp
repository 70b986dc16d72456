#include "dataplane/hbh_strip.hpp"

#include <cstring>

#include "common/ioam_wire.hpp"

namespace ioamfwd::dp {

namespace {
size_t write_padding(uint8_t* p, size_t n) {
    if (n == 1) {
        p[0] = wire::kOptPad1;
    } else if (n >= 2) {
        p[0] = wire::kOptPadN;
        p[1] = uint8_t(n - 2);
        std::memset(p + 2, 0, n - 2);
    }
    return n;
}
}  // namespace

int strip_ioam_hbh(const uint8_t* h, size_t len, uint8_t* out) {
    bool had_ioam = false;
    size_t pos = 2;
    bool kept_any = false;
    for (size_t off = 2; off < len;) {
        const uint8_t type = h[off];
        if (type == wire::kOptPad1) {
            ++off;
            continue;
        }
        const size_t optlen = size_t(h[off + 1]) + 2;
        if (type == wire::kOptIoam) {
            had_ioam = true;
        } else if (type != wire::kOptPadN) {
            pos += write_padding(out + pos, (off - pos) & 7);
            std::memcpy(out + pos, h + off, optlen);
            pos += optlen;
            kept_any = true;
        }
        off += optlen;
    }
    if (!had_ioam) return -1;
    if (!kept_any) return 0;
    pos += write_padding(out + pos, (8 - pos % 8) & 7);
    out[0] = h[0];
    out[1] = uint8_t(pos / 8 - 1);
    return int(pos);
}

}  // namespace ioamfwd::dp
