#include "twill/cni/error.hpp"

#include <nlohmann/json.hpp>

namespace twill::cni {

CniError::CniError(ErrorCode code, std::string message, std::string details)
    : Error(std::move(message)), code_(code), details_(std::move(details)) {}

std::string error_json(ErrorCode code, std::string_view message, std::string_view details,
                       Version version) {
    nlohmann::json json{
        {"cniVersion", to_string(version)}, {"code", static_cast<int>(code)}, {"msg", message}};
    if (!details.empty()) json["details"] = details;
    return json.dump();
}

}  // namespace twill::cni
