#pragma once
// Keeps twill's table equal to the desired ruleset (or absent when masquerade is off):
// level-triggered like the route reconciler, one atomic nft transaction per correction, no
// write at all when the kernel already matches.
#include <optional>
#include <string>
#include <vector>

#include "twill/firewall/nftables.hpp"
#include "twill/firewall/ruleset.hpp"

namespace twill::firewall {

struct Outcome {
    enum class Action { none, created, replaced, removed };
    Action action = Action::none;
    std::string detail;  // what differed (empty when none)
};

class Masquerade {
  public:
    // `spec` nullopt: masquerade is off, the table must not exist. With `dry_run` the
    // outcome says what would change and the kernel is untouched. Throws Error when nft fails.
    Outcome reconcile(const std::optional<MasqueradeSpec>& spec, bool dry_run);

    // Base forward chains of other tables whose policy drops ("ip filter FORWARD"): twill's
    // accept does not help there (Docker's is one).
    std::vector<std::string> dropping_forward_chains();

  private:
    Nftables nft_;
};

}  // namespace twill::firewall
