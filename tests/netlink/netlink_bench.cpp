// Benchmark (not a test): program N peers (route + neighbour + FDB entry each) into a
// throwaway namespace, add and remove one peer more a hundred times, dump them, replace them,
// delete them, and print the times.
//   build/bin/netlink_bench [N]      (root; default N = 5000)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "own_cpu.hpp"
#include "percentile.hpp"
#include "twill/netlink/netlink.hpp"

using namespace twill;
using namespace twill::netlink;

namespace {

double timed_ms(const std::function<void()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    const int peers = argc > 1 ? std::atoi(argv[1]) : 5000;
    if (::geteuid() != 0 || peers <= 0 || peers > 60000) {
        std::fprintf(stderr, "usage (as root): %s [peers 1..60000]\n", argv[0]);
        return 2;
    }
    OwnedNetns netns("tw" + std::to_string(::getpid()) + "-bench");
    Handle handle(netns);
    handle.set_link_up(handle.get_link("lo").index);
    VethSpec veth;
    veth.name = "eth0";
    veth.peer_name = "eth0p";
    const auto underlay = handle.create_veth(veth);
    handle.add_address(underlay.index, net::Prefix::parse("192.0.2.1/16"));
    handle.set_link_up(underlay.index);
    handle.set_link_up(handle.get_link("eth0p").index);
    VxlanSpec spec;
    spec.name = "twill.1";
    spec.info.vni = 1;
    spec.info.port = 8472;
    spec.info.local = net::Address::parse("192.0.2.1");
    spec.info.underlay_index = underlay.index;
    const auto vxlan = handle.create_vxlan(spec);
    handle.set_link_up(vxlan.index);

    struct Peer {
        Route route;
        Neighbour neighbour;
        FdbEntry fdb;
    };
    const auto base = net::Address::parse("10.0.0.0");
    const auto make_peer = [&](int i) {
        const auto network = base.plus(static_cast<std::uint64_t>(i + 1) << 8);
        const std::uint8_t mac_bytes[6] = {0x0e,
                                           0,
                                           0,
                                           static_cast<std::uint8_t>(i >> 16),
                                           static_cast<std::uint8_t>(i >> 8),
                                           static_cast<std::uint8_t>(i)};
        const auto mac = net::MacAddress::from_bytes(mac_bytes);
        Peer peer;
        peer.route.destination = net::Prefix(network, 24);
        peer.route.gateway = network;
        peer.route.oif = vxlan.index;
        peer.route.protocol = 137;
        peer.route.onlink = true;
        peer.neighbour.link_index = vxlan.index;
        peer.neighbour.address = network;
        peer.neighbour.lladdr = mac;
        peer.fdb.link_index = vxlan.index;
        peer.fdb.mac = mac;
        peer.fdb.dst = net::Address::parse("192.0.0.0").plus(static_cast<std::uint64_t>(i + 2));
        return peer;
    };
    std::vector<Route> routes;
    std::vector<Neighbour> neighbours;
    std::vector<FdbEntry> fdb;
    for (int i = 0; i < peers; ++i) {
        auto peer = make_peer(i);
        routes.push_back(peer.route);
        neighbours.push_back(peer.neighbour);
        fdb.push_back(peer.fdb);
    }

    RouteFilter owned;
    owned.protocol = 137;
    owned.oif = vxlan.index;
    NeighbourFilter on_vxlan;
    on_vxlan.link_index = vxlan.index;
    std::size_t dumped = 0;

    const double add = timed_ms([&] {
        for (int i = 0; i < peers; ++i) {
            handle.add_route(routes[i]);
            handle.add_neighbour(neighbours[i]);
            handle.add_fdb(fdb[i]);
        }
    });
    // One peer more with all of them present, as a lease event adds it: what the kernel
    // charges for one change at this scale (the route's insertion grows with the routes of
    // its shape already there), the floor beside twilld's etcd put -> route latency.
    constexpr int kOneMore = 100;
    std::vector<double> one_more_us;
    for (int j = 0; j < kOneMore; ++j) {
        const auto peer = make_peer(peers + j);
        const auto start = std::chrono::steady_clock::now();
        handle.add_route(peer.route);
        handle.add_neighbour(peer.neighbour);
        handle.add_fdb(peer.fdb);
        one_more_us.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
        handle.delete_route(peer.route);
        handle.delete_neighbour(peer.neighbour);
        handle.delete_fdb(peer.fdb);
    }
    const double dump = timed_ms([&] {
        dumped = handle.dump_routes(owned).size() + handle.dump_neighbours(on_vxlan).size() +
                 handle.dump_fdb(vxlan.index).size();
    });
    // One dump is at the mercy of the moment; ten give the CPU an idle resync's dump needs.
    constexpr int kDumps = 10;
    const double cpu_start = test::own_cpu_ms();
    for (int i = 0; i < kDumps; ++i) {
        handle.dump_routes(owned);
        handle.dump_neighbours(on_vxlan);
        handle.dump_fdb(vxlan.index);
    }
    const double dump_cpu = (test::own_cpu_ms() - cpu_start) / kDumps;
    const double replace = timed_ms([&] {
        for (int i = 0; i < peers; ++i) {
            handle.replace_route(routes[i]);
            handle.replace_neighbour(neighbours[i]);
            handle.replace_fdb(fdb[i]);
        }
    });
    const double remove = timed_ms([&] {
        for (int i = 0; i < peers; ++i) {
            handle.delete_route(routes[i]);
            handle.delete_neighbour(neighbours[i]);
            handle.delete_fdb(fdb[i]);
        }
    });
    std::printf("peers %d (%d objects each step)\n", peers, 3 * peers);
    std::printf("add      %8.1f ms\n", add);
    std::printf(
        "one more %8.3f ms p50, %.3f ms p99 (route + neighbour + fdb entry of one peer "
        "added with %d present; %d times)\n",
        test::percentile(one_more_us, 0.5) / 1000, test::percentile(one_more_us, 0.99) / 1000,
        peers, kOneMore);
    std::printf("dump     %8.1f ms (%zu objects: routes + neighbours + fdb incl. kernel's own)\n",
                dump, dumped);
    std::printf("dump CPU %8.1f ms (mean of %d dumps)\n", dump_cpu, kDumps);
    std::printf("replace  %8.1f ms\n", replace);
    std::printf("delete   %8.1f ms\n", remove);
    return 0;
}
