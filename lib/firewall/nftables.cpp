#include "twill/firewall/nftables.hpp"

#include <nftables/libnftables.h>

#include <string>

#include "twill/error.hpp"

namespace twill::firewall {

Nftables::Nftables() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (ctx_ == nullptr) throw Error("libnftables: cannot create a context");
    // JSON output; libnftables then parses input as JSON first and falls back to nft syntax.
    nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
    if (nft_ctx_buffer_output(ctx_) != 0 || nft_ctx_buffer_error(ctx_) != 0) {
        nft_ctx_free(ctx_);
        throw Error("libnftables: cannot buffer output");
    }
}

Nftables::~Nftables() {
    nft_ctx_free(ctx_);
}

nlohmann::json Nftables::run(std::string_view commands, std::string_view what) {
    const std::string buffer(commands);
    const int rc = nft_run_cmd_from_buffer(ctx_, buffer.c_str());
    // Reading a buffer resets it, so read both on every path.
    std::string output = nft_ctx_get_output_buffer(ctx_);
    std::string error = nft_ctx_get_error_buffer(ctx_);
    if (rc != 0) {
        while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
        throw Error(std::string(what) + ": " + (error.empty() ? "nft failed" : error));
    }
    if (output.empty()) return nullptr;
    auto parsed = nlohmann::json::parse(output, nullptr, false);
    if (parsed.is_discarded()) throw Error(std::string(what) + ": unreadable nft output");
    return parsed;
}

std::optional<nlohmann::json> Nftables::list_table(std::string_view family, std::string_view name) {
    const std::string what = "list table " + std::string(family) + " " + std::string(name);
    try {
        return run(what, what);
    } catch (const Error& e) {
        if (std::string_view(e.what()).find("No such file or directory") !=
            std::string_view::npos) {
            return std::nullopt;
        }
        throw;
    }
}

nlohmann::json Nftables::list_chains() {
    return run("list chains", "list chains");
}

}  // namespace twill::firewall
