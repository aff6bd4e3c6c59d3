#pragma once
// Fault injection for the tests of failure paths (like etcd's gofail): the kernel calls named
// here fail with EIO as if the kernel had refused them, so a test can see that a failing dump
// never ends the daemon. Off unless set; twilld sets them from TWILL_FAILPOINTS, e.g.
// "dump_routes=3,dump_fdb" (the next 3 route dumps fail; every FDB dump fails).
// Names: dump_links, dump_addresses, dump_routes, dump_neighbours, dump_fdb.
#include <string_view>

namespace twill::netlink {

// Replaces the failpoints; ParseError naming TWILL_FAILPOINTS for a malformed spec.
void set_failpoints(std::string_view spec);
// Throws SystemError(EIO) when `name` is armed (and counts one use down).
void check_failpoint(std::string_view name);

}  // namespace twill::netlink
