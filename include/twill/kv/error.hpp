#pragma once
// Failures of etcd calls. Every message names the operation, the key (or lease) and the
// endpoint, and carries the gRPC status: "etcd put /twill/network/config at
// 127.0.0.1:2379: UNAVAILABLE: failed to connect to all addresses".
#include <cstdint>
#include <string>
#include <string_view>

#include "twill/error.hpp"

namespace twill::kv {

// gRPC status codes (same numbers as grpc::StatusCode), so that this header needs no gRPC.
enum class StatusCode : int {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
};

std::string_view status_code_name(StatusCode code) noexcept;

// Any failed etcd call.
class KvError : public Error {
  public:
    KvError(std::string operation, std::string key, StatusCode code, std::string status_message,
            std::string endpoint = {});
    const std::string& operation() const noexcept { return operation_; }
    const std::string& key() const noexcept { return key_; }
    StatusCode code() const noexcept { return code_; }
    const std::string& status_message() const noexcept { return status_message_; }
    const std::string& endpoint() const noexcept { return endpoint_; }

  private:
    std::string operation_;
    std::string key_;
    StatusCode code_;
    std::string status_message_;
    std::string endpoint_;
};

// No endpoint answered within the call deadline (every endpoint UNAVAILABLE or timed out).
// The message says "TLS" when the failure looks like a plaintext/TLS mismatch.
class UnavailableError : public KvError {
  public:
    using KvError::KvError;
};

// The requested revision has been compacted away (range or watch at an old revision).
class CompactedError : public KvError {
  public:
    using KvError::KvError;
};

// The lease does not exist (expired, revoked or never granted).
class LeaseNotFoundError : public KvError {
  public:
    using KvError::KvError;
};

}  // namespace twill::kv
