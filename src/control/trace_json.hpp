#pragma once
// One exported trace as a JSON Lines record, every hop decoded per the trace
// type (RFC 9197 §4.4.2) and listed in path order (the encapsulating node
// first). The format is documented in the README ("Trace export").

#include <string>

#include "dataplane/trace_record.hpp"

namespace ioamfwd::cp {

std::string trace_record_json(const dp::TraceRecord& r, const std::string& port_name);

}  // namespace ioamfwd::cp
