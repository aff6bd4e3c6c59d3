#pragma once
// lib/netlink: the only place in twill that speaks netlink (libnl-route for links,
// addresses, routes and neighbours incl. FDB; libmnl for the rest and for running
// requests). Everything else in twill calls this API.
//
//   netns.hpp    Netns             open (current / name / path), create/remove named
//                                  namespaces, run(fn) on a temporary thread inside one
//                OwnedNetns        a named namespace removed in its destructor
//   objects.hpp  Link, BridgeSpec, VethSpec, VxlanSpec, VxlanInfo, InterfaceAddress,
//                AddressOptions, Route, RouteFilter, RouteType, Neighbour, NeighbourFilter,
//                FdbEntry;
//                to_string(...) prints them like `ip` does
//   handle.hpp   Handle            one rtnetlink socket bound to a namespace:
//                  links      create_bridge/create_veth/create_vxlan, find_link, get_link,
//                             list_links, set_link_up/down, set_mtu, set_mac, set_master,
//                             set_nomaster, set_hairpin, change_vxlan, delete_link
//                  addresses  add_address, replace_address (AddressOptions: no_dad),
//                             delete_address, list_addresses
//                  routes     add_route, replace_route, delete_route, dump_routes(filter)
//                  neighbours add/replace/delete_neighbour, dump_neighbours(filter)
//                  FDB        add/append/replace/delete_fdb, dump_fdb(link)
//   monitor.hpp  Monitor           fd() for an event loop + drain() -> typed Events,
//                                  resync_needed on overrun (ENOBUFS)
//
// Errors: twill::SystemError with the kernel's errno; the message names operation and object
// ("add route 10.244.3.0/24 via 10.244.3.0 dev twill.1 proto 137 onlink: File exists
// (errno 17)"). Absence is std::optional. Values are family-agnostic (v4 and v6 alike).
//
// Example (CNI ADD):
//   auto pod = netlink::Netns::open_path(cni_netns);
//   netlink::Handle host;
//   netlink::VethSpec spec;
//   spec.name = "vethabc"; spec.peer_name = "eth0"; spec.peer_netns = &pod; spec.mtu = 1450;
//   auto veth = host.create_veth(spec);
//   host.set_master(veth.index, host.get_link("twill0").index);
//   host.set_link_up(veth.index);
//   netlink::Handle in_pod(pod);
//   auto eth0 = in_pod.get_link("eth0");
//   in_pod.add_address(eth0.index, net::Prefix::parse("10.244.3.5/24"));
#include "twill/netlink/handle.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/netlink/netns.hpp"
#include "twill/netlink/objects.hpp"
