#pragma once
// CNI errors as the spec defines them: a code, a message and optional details, printed as
// JSON on stdout by the plugin before it exits non-zero.
#include <string>
#include <string_view>

#include "twill/cni/version.hpp"
#include "twill/error.hpp"

namespace twill::cni {

// Codes from the CNI spec ("Error" section); 100+ would be plugin-specific.
enum class ErrorCode : int {
    IncompatibleVersion = 1,
    UnsupportedField = 2,
    UnknownContainer = 3,
    InvalidEnvironment = 4,
    IoFailure = 5,
    DecodeFailure = 6,
    InvalidConfig = 7,
    TryAgainLater = 11,
    NotAvailable = 50,
    LimitedConnectivity = 51,
    Internal = 999,
};

class CniError : public Error {
  public:
    CniError(ErrorCode code, std::string message, std::string details = {});
    ErrorCode code() const noexcept { return code_; }
    const std::string& details() const noexcept { return details_; }

  private:
    ErrorCode code_;
    std::string details_;
};

// {"cniVersion":"…","code":N,"msg":"…","details":"…"} (details only when present).
std::string error_json(ErrorCode code, std::string_view message, std::string_view details,
                       Version version);
inline std::string error_json(const CniError& error, Version version) {
    return error_json(error.code(), error.what(), error.details(), version);
}

}  // namespace twill::cni
