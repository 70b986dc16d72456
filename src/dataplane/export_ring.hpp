#pragma once
// The lock-free ring between workers (multi-producer) and the control
// thread's exporter (single consumer). A full ring never blocks a worker: the
// record is dropped and counted (ioam_export_dropped).

#include <string>

#include "dataplane/trace_record.hpp"

struct rte_ring;

namespace ioamfwd::dp {

class ExportRing {
public:
    bool init(unsigned capacity, std::string& err);
    ~ExportRing();
    void shutdown();

    bool push(const TraceRecord& r);
    unsigned pop_burst(TraceRecord* out, unsigned max);

private:
    rte_ring* ring_ = nullptr;
};

}  // namespace ioamfwd::dp
