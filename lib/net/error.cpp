#include "twill/error.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace twill {

namespace {
std::string describe_errno(std::string_view what_failed, int errno_value) {
    std::string message(what_failed);
    message += ": ";
    message += std::strerror(errno_value);
    message += " (errno " + std::to_string(errno_value) + ")";
    return message;
}

std::string describe_field(std::string_view field, std::string_view reason) {
    if (field.empty()) return std::string(reason);
    std::string message(field);
    message += ": ";
    message += reason;
    return message;
}
}  // namespace

SystemError::SystemError(std::string_view what_failed, int errno_value)
    : Error(describe_errno(what_failed, errno_value)), code_(errno_value) {}

ParseError::ParseError(std::string_view field, std::string_view reason)
    : Error(describe_field(field, reason)), field_(field), reason_(reason) {}

void throw_errno(std::string_view what_failed) {
    throw SystemError(what_failed, errno);
}

}  // namespace twill
