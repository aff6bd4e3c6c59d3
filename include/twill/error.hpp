#pragma once
// One error style for the whole code base:
//  - a failure throws twill::Error (or a subclass); its message names the object acted on
//    and the reason ("add route 10.244.3.0/24 dev twill.1: File exists (errno 17)");
//  - bad input throws ParseError, which also names the field ("Network: prefix length 33
//    out of range 0..32");
//  - absence that callers expect (a link that does not exist) is std::optional, not an error.
#include <stdexcept>
#include <string>
#include <string_view>

namespace twill {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A failed system or kernel call; code() is the errno (positive).
class SystemError : public Error {
  public:
    SystemError(std::string_view what_failed, int errno_value);
    int code() const noexcept { return code_; }

  private:
    int code_;
};

// Invalid input: a config field, a CLI flag, an etcd value, a CNI environment variable.
class ParseError : public Error {
  public:
    ParseError(std::string_view field, std::string_view reason);
    const std::string& field() const noexcept { return field_; }
    const std::string& reason() const noexcept { return reason_; }

  private:
    std::string field_;
    std::string reason_;
};

// Throws SystemError for the current errno.
[[noreturn]] void throw_errno(std::string_view what_failed);

}  // namespace twill
