#pragma once
// The one libnftables context of a process part (RAII): runs JSON or text commands in the
// network namespace of the thread that created it, output and errors buffered.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

struct nft_ctx;

namespace twill::firewall {

class Nftables {
  public:
    Nftables();
    ~Nftables();
    Nftables(const Nftables&) = delete;
    Nftables& operator=(const Nftables&) = delete;

    // Runs one command buffer (JSON, or nft syntax) as one transaction; returns its JSON
    // output (null when it printed nothing). Throws Error naming `what` with nft's message.
    nlohmann::json run(std::string_view commands, std::string_view what);
    // `nft -j list table <family> <name>`; nullopt when the table does not exist.
    std::optional<nlohmann::json> list_table(std::string_view family, std::string_view name);
    // `nft -j list chains` (every table's chains, without rules).
    nlohmann::json list_chains();

  private:
    nft_ctx* ctx_;
};

}  // namespace twill::firewall
