#pragma once
// nftables change notifications (netlink group NFNLGRP_NFTABLES) of the calling thread's
// network namespace. rtnetlink does not report nftables, so this is how a deleted or edited
// table of twill's is noticed at once instead of at the next resync.
#include "twill/sys/fd.hpp"

namespace twill::firewall {

class ChangeMonitor {
  public:
    ChangeMonitor();  // throws SystemError

    int fd() const noexcept { return fd_.get(); }  // non-blocking; poll it for readability
    // Reads every pending notification; true when one concerned table inet twill (or some
    // were lost to an overflow): compare the table. Other tables' churn (kube-proxy) is ignored.
    bool drain();

  private:
    sys::UniqueFd fd_;
};

}  // namespace twill::firewall
