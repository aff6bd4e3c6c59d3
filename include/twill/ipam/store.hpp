#pragma once
// The plugin's crash-safe IP store, laid out like host-local's so operators know it:
//   <dir>/<address>            one file per reservation, "<container id>\n<ifname>\n"
//   <dir>/last_reserved_ip.v4  round-robin cursor per family
//   <dir>/lock                 flock()ed by every change, so concurrent plugin processes
//                              never hand out one address twice (a killed holder's lock
//                              goes away with its process)
//   <dir>/.reserving           the reservation being written: fsync()ed, then linked into
//                              place whole, then the directory fsync()ed, so neither a crash
//                              nor a power loss leaves an empty or partial reservation
//   <dir>/.last_reserved_ip.v4.tmp  the cursor being written: fsync()ed and renamed over the
//                              cursor, so a reader never sees it empty or partial
// Leftover temporary files of a killed writer are removed by the next reserve, release or GC.
// Reading (list, find) takes no lock and creates, writes or removes nothing: it works on a
// read-only mount (twilld counts pod IPs that way) and never delays a plugin.
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "twill/error.hpp"
#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::ipam {

struct Attachment {
    std::string container_id;
    std::string ifname;
    friend auto operator<=>(const Attachment&, const Attachment&) = default;
};

struct Reservation {
    net::Address address;
    // Empty when the file could not be read back (then only GC removes it).
    Attachment owner;
    friend bool operator==(const Reservation&, const Reservation&) = default;
};

// Thrown by reserve() when every host address of the subnet is taken.
class Exhausted : public Error {
  public:
    using Error::Error;
};

class Store {
  public:
    // `dir` is <dataDir>/<network name>; created (with parents) by the first change.
    explicit Store(std::filesystem::path dir);

    const std::filesystem::path& dir() const noexcept { return dir_; }

    // Reserves a free host address of `subnet` for `owner`, round-robin after the last one
    // reserved. Never the network address, `gateway`, or (IPv4) the broadcast address.
    // Drops reservations of the same family that lie outside `subnet` (the node's subnet
    // changed). Throws Exhausted when none is free.
    net::Address reserve(const net::Prefix& subnet, const net::Address& gateway,
                         const Attachment& owner);

    // Releases every reservation of `owner`; returns the addresses released (none is fine).
    std::vector<net::Address> release(const Attachment& owner);

    // Releases every reservation whose owner is not in `keep` (GC); returns them.
    std::vector<Reservation> release_all_except(const std::set<Attachment>& keep);

    // Read-only (see above); a store that does not exist yet is empty.
    std::vector<Reservation> list() const;
    std::vector<Reservation> owned_by(const Attachment& owner) const;
    std::optional<Reservation> find(const net::Address& address) const;

  private:
    std::filesystem::path dir_;
};

}  // namespace twill::ipam
