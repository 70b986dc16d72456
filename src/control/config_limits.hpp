#pragma once
// Value ranges of the configuration, shared by the YAML loader and the
// console's command parser so a value one accepts the other accepts too.
// They mirror the Linux sysctls and netlink attributes (config/README.md).

#include <cstddef>
#include <cstdint>

namespace ioamfwd::cp {

inline constexpr uint64_t kMaxNodeId = 0xffffff;
inline constexpr uint64_t kMaxNodeIdWide = 0x00ffffffffffffffull;
inline constexpr uint64_t kMaxPortIoamId = 0xffff;
inline constexpr uint64_t kMaxPortIoamIdWide = 0xffffffff;
inline constexpr uint64_t kMaxNamespaceId = 0xffff;
inline constexpr uint64_t kMaxNamespaceData = 0xffffffff;
inline constexpr uint64_t kMaxNamespaceWide = UINT64_MAX;
// Linux takes a 32-bit schema id but the Opaque State Snapshot header has
// only 24 bits for it; a larger id would spill into the length octet.
inline constexpr uint64_t kMaxSchemaId = 0xffffff;
// The OSS length octet counts 4-octet words: 255 * 4 = 1020.
inline constexpr size_t kMaxSchemaBytes = 1020;

}  // namespace ioamfwd::cp
