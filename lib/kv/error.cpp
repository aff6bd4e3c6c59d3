#include "twill/kv/error.hpp"

namespace twill::kv {

namespace {
std::string describe(const std::string& operation, const std::string& key, StatusCode code,
                     const std::string& status_message, const std::string& endpoint) {
    std::string message = "etcd " + operation;
    if (!key.empty()) message += " " + key;
    if (!endpoint.empty()) message += " at " + endpoint;
    message += ": ";
    message += status_code_name(code);
    if (!status_message.empty()) message += ": " + status_message;
    return message;
}
}  // namespace

std::string_view status_code_name(StatusCode code) noexcept {
    switch (code) {
        case StatusCode::Ok:
            return "OK";
        case StatusCode::Cancelled:
            return "CANCELLED";
        case StatusCode::Unknown:
            return "UNKNOWN";
        case StatusCode::InvalidArgument:
            return "INVALID_ARGUMENT";
        case StatusCode::DeadlineExceeded:
            return "DEADLINE_EXCEEDED";
        case StatusCode::NotFound:
            return "NOT_FOUND";
        case StatusCode::AlreadyExists:
            return "ALREADY_EXISTS";
        case StatusCode::PermissionDenied:
            return "PERMISSION_DENIED";
        case StatusCode::ResourceExhausted:
            return "RESOURCE_EXHAUSTED";
        case StatusCode::FailedPrecondition:
            return "FAILED_PRECONDITION";
        case StatusCode::Aborted:
            return "ABORTED";
        case StatusCode::OutOfRange:
            return "OUT_OF_RANGE";
        case StatusCode::Unimplemented:
            return "UNIMPLEMENTED";
        case StatusCode::Internal:
            return "INTERNAL";
        case StatusCode::Unavailable:
            return "UNAVAILABLE";
        case StatusCode::DataLoss:
            return "DATA_LOSS";
        case StatusCode::Unauthenticated:
            return "UNAUTHENTICATED";
    }
    return "UNKNOWN_STATUS";
}

KvError::KvError(std::string operation, std::string key, StatusCode code,
                 std::string status_message, std::string endpoint)
    : Error(describe(operation, key, code, status_message, endpoint)),
      operation_(std::move(operation)),
      key_(std::move(key)),
      code_(code),
      status_message_(std::move(status_message)),
      endpoint_(std::move(endpoint)) {}

}  // namespace twill::kv
