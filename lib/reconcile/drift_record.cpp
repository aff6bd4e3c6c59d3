#include "twill/reconcile/drift_record.hpp"

#include <optional>
#include <type_traits>
#include <vector>

namespace twill::reconcile {

namespace {

// FNV-1a over the fields, each with its size, so adjacent fields cannot blur into each other.
class Hasher {
  public:
    template <class T>
    requires std::is_trivially_copyable_v<T>
    void add(const T& v) { bytes(&v, sizeof v); }
    void add(std::string_view t) {
        add(t.size());
        bytes(t.data(), t.size());
    }
    void add(const net::Address& a) {
        add(a.family());
        bytes(a.bytes().data(), a.bytes().size());
    }
    void add(const net::MacAddress& m) { bytes(m.bytes().data(), m.bytes().size()); }
    void add(const net::Prefix& p) { all(p.address(), p.length()); }
    void add(const netlink::WireguardEndpoint& e) { all(e.address, e.port); }
    void add(const netlink::VxlanInfo& v) {
        all(v.vni, v.port, v.local, v.underlay_index, v.learning);
    }
    template <class T>
    void add(const std::optional<T>& o) {
        add(o.has_value());
        if (o) add(*o);
    }
    template <class T>
    void add(const std::vector<T>& items) {
        add(items.size());
        for (const auto& item : items) add(item);
    }
    template <class... T>
    Hasher& all(const T&... fields) {
        (add(fields), ...);
        return *this;
    }
    Fingerprint done() const { return hash_; }

  private:
    void bytes(const void* data, std::size_t size) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            hash_ ^= p[i];
            hash_ *= 0x100000001b3ULL;
        }
    }

    Fingerprint hash_ = 0xcbf29ce484222325ULL;
};

template <class... T>
Fingerprint of(const T&... fields) {
    return Hasher().all(fields...).done();
}

}  // namespace

Fingerprint fingerprint(const netlink::Route& r) {
    return of(r.destination, r.gateway, r.oif, r.protocol, r.scope, r.type, r.onlink, r.priority,
              r.table, r.source);
}

Fingerprint fingerprint(const netlink::Neighbour& n) {
    return of(n.link_index, n.address, n.lladdr, n.state, n.flags);
}

Fingerprint fingerprint(const netlink::FdbEntry& e) {
    return of(e.link_index, e.mac, e.dst, e.state, e.flags, e.master, e.vlan);
}

Fingerprint fingerprint(const netlink::WireguardPeer& p) {
    return of(p.public_key, p.endpoint, p.allowed_ips, p.persistent_keepalive);
}

Fingerprint fingerprint(const DeviceSpec& s) {
    return of(s.kind, std::string_view(s.name), s.vxlan, s.mtu, s.mac, s.addresses);
}

Fingerprint fingerprint(std::string_view text) {
    return of(text);
}

const Fingerprint* DriftRecord::find(std::string_view scope, const std::string& key) const {
    const auto values = scopes_.find(std::string(scope));
    if (values == scopes_.end()) return nullptr;
    const auto it = values->second.find(hashed(key));
    return it == values->second.end() ? nullptr : &it->second;
}

void DriftRecord::erase(std::string_view scope, const std::string& key) {
    if (auto values = scopes_.find(std::string(scope)); values != scopes_.end()) {
        values->second.erase(hashed(key));
    }
}

void DriftRecord::forget(std::string_view scope) {
    scopes_.erase(std::string(scope));
}

}  // namespace twill::reconcile
