#include "dataplane/counters.hpp"

namespace ioamfwd::dp {

namespace {
#define IOAMFWD_NAME_ENTRY(e, name, desc) name,
#define IOAMFWD_DESC_ENTRY(e, name, desc) desc,
constexpr const char* kDropNames[] = {IOAMFWD_DROP_REASONS(IOAMFWD_NAME_ENTRY)};
constexpr const char* kDropDescs[] = {IOAMFWD_DROP_REASONS(IOAMFWD_DESC_ENTRY)};
constexpr const char* kEventNames[] = {IOAMFWD_IOAM_EVENTS(IOAMFWD_NAME_ENTRY)};
constexpr const char* kEventDescs[] = {IOAMFWD_IOAM_EVENTS(IOAMFWD_DESC_ENTRY)};
constexpr const char* kIcmpNames[] = {IOAMFWD_ICMP_EVENTS(IOAMFWD_NAME_ENTRY)};
constexpr const char* kIcmpDescs[] = {IOAMFWD_ICMP_EVENTS(IOAMFWD_DESC_ENTRY)};
#undef IOAMFWD_NAME_ENTRY
#undef IOAMFWD_DESC_ENTRY
static_assert(sizeof kDropNames / sizeof kDropNames[0] == kDropCount);
static_assert(sizeof kEventNames / sizeof kEventNames[0] == kIoamEventCount);
static_assert(sizeof kIcmpNames / sizeof kIcmpNames[0] == kIcmpEventCount);
}  // namespace

const char* drop_name(Drop d) { return kDropNames[unsigned(d)]; }
const char* drop_description(Drop d) { return kDropDescs[unsigned(d)]; }
const char* ioam_event_name(IoamEvent e) { return kEventNames[unsigned(e)]; }
const char* ioam_event_description(IoamEvent e) { return kEventDescs[unsigned(e)]; }
const char* icmp_event_name(IcmpEvent e) { return kIcmpNames[unsigned(e)]; }
const char* icmp_event_description(IcmpEvent e) { return kIcmpDescs[unsigned(e)]; }

}  // namespace ioamfwd::dp
