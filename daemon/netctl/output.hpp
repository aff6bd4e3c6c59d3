#pragma once
#include <google/protobuf/message.h>
#include <twill/api/twilld.pb.h>

#include <ostream>
#include <string>

namespace twill::netctl {

// Human output: readable first, stable enough to eyeball, not for parsing (use --json).
void print_status(std::ostream& out, const api::v1::StatusReply& status);
void print_peers(std::ostream& out, const api::v1::PeersReply& peers);
void print_check(std::ostream& out, const api::v1::CheckReply& check);
// Every peer of a `check --probe` round answered (true when no round ran).
bool all_reachable(const api::v1::CheckReply& check);

// --json: protobuf's JSON mapping of the reply with the .proto field names, every field
// present (zeros and empty lists too), one object per invocation (docs/operations.md).
std::string to_json(const google::protobuf::Message& message);

}  // namespace twill::netctl
