#include "twill/reconcile/drift_record.hpp"

#include <cstring>
#include <span>

namespace twill::reconcile {

namespace {

// FNV-1a over the fields, each with its size, so adjacent fields cannot blur into each other.
class Hasher {
  public:
    void bytes(const void* data, std::size_t size) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            hash_ ^= p[i];
            hash_ *= 0x100000001b3ULL;
        }
    }
    template <class T>
    void value(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        bytes(&v, sizeof v);
    }
    void text(std::string_view t) {
        value(t.size());
        bytes(t.data(), t.size());
    }
    void address(const net::Address& a) {
        value(static_cast<int>(a.family()));
        const auto b = a.bytes();
        bytes(b.data(), b.size());
    }
    void address(const std::optional<net::Address>& a) {
        value(a.has_value());
        if (a) address(*a);
    }
    void prefix(const net::Prefix& p) {
        address(p.address());
        value(p.length());
    }
    void mac(const std::optional<net::MacAddress>& m) {
        value(m.has_value());
        if (m) bytes(m->bytes().data(), m->bytes().size());
    }
    Fingerprint done() const { return hash_; }

  private:
    Fingerprint hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace

Fingerprint fingerprint(const netlink::Route& r) {
    Hasher h;
    h.prefix(r.destination);
    h.address(r.gateway);
    h.value(r.oif);
    h.value(r.protocol);
    h.value(r.scope.has_value());
    h.value(r.scope.value_or(0));
    h.value(r.type);
    h.value(r.onlink);
    h.value(r.priority);
    h.value(r.table);
    h.address(r.source);
    return h.done();
}

Fingerprint fingerprint(const netlink::Neighbour& n) {
    Hasher h;
    h.value(n.link_index);
    h.address(n.address);
    h.mac(n.lladdr);
    h.value(n.state);
    h.value(n.flags);
    return h.done();
}

Fingerprint fingerprint(const netlink::FdbEntry& e) {
    Hasher h;
    h.value(e.link_index);
    h.mac(e.mac);
    h.address(e.dst);
    h.value(e.state);
    h.value(e.flags);
    h.value(e.master);
    h.value(e.vlan);
    return h.done();
}

Fingerprint fingerprint(const netlink::WireguardPeer& p) {
    Hasher h;
    h.bytes(p.public_key.data(), p.public_key.size());
    h.value(p.endpoint.has_value());
    if (p.endpoint) {
        h.address(p.endpoint->address);
        h.value(p.endpoint->port);
    }
    h.value(p.allowed_ips.size());
    for (const auto& ip : p.allowed_ips) h.prefix(ip);
    h.value(p.persistent_keepalive);
    return h.done();
}

Fingerprint fingerprint(const DeviceSpec& s) {
    Hasher h;
    h.value(s.kind);
    h.text(s.name);
    h.value(s.vxlan.has_value());
    if (s.vxlan) {
        h.value(s.vxlan->vni);
        h.value(s.vxlan->port);
        h.address(s.vxlan->local);
        h.value(s.vxlan->underlay_index);
        h.value(s.vxlan->learning);
    }
    h.value(s.mtu);
    h.mac(s.mac);
    h.value(s.addresses.size());
    for (const auto& a : s.addresses) h.prefix(a);
    return h.done();
}

Fingerprint fingerprint(std::string_view text) {
    Hasher h;
    h.text(text);
    return h.done();
}

const Fingerprint* DriftRecord::find(std::string_view scope, const std::string& key) const {
    const auto values = scopes_.find(std::string(scope));
    if (values == scopes_.end()) return nullptr;
    const auto it = values->second.find(key);
    return it == values->second.end() ? nullptr : &it->second;
}

void DriftRecord::erase(std::string_view scope, const std::string& key) {
    if (auto values = scopes_.find(std::string(scope)); values != scopes_.end()) {
        values->second.erase(key);
    }
}

void DriftRecord::forget(std::string_view scope) {
    scopes_.erase(std::string(scope));
}

}  // namespace twill::reconcile
