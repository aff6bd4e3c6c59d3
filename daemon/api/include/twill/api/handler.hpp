#pragma once
// What twilld implements to answer netctl. Each call may throw twill::Error; its message goes
// back to netctl (ParseError as an invalid argument, anything else as an internal error).
#include <twill/api/twilld.pb.h>

#include <functional>
#include <string>
#include <vector>

namespace twill::api {

class Handler {
  public:
    virtual ~Handler() = default;
    // Also the source of the Peers RPC (its peers field).
    virtual v1::StatusReply status() = 0;
    // A fresh comparison of the kernel with the desired state; changes nothing.
    virtual v1::CheckReply check() = 0;
    // Starts one immediate probe round over every peer and returns at once (waiting for the
    // replies must not hold up an event loop); `done` gets the outcomes when the round is
    // over. Throws only before the round has started; never calls `done` after throwing.
    using ProbeRoundDone = std::function<void(std::vector<v1::ProbeOutcome>)>;
    virtual void probe_round(ProbeRoundDone done) = 0;
    // Revokes the lease and removes twill's kernel objects. The daemon exits after replying:
    // it must not destroy the Server from inside this call (post the exit to its loop).
    virtual v1::LeaveReply leave() = 0;
    virtual v1::EvictReply evict(const std::string& node) = 0;
    // A node that left joins again (removes the leave marker, acquires a lease). Throws when
    // the node has not left.
    virtual v1::JoinReply join() = 0;
};

}  // namespace twill::api
