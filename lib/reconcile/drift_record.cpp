#include "twill/reconcile/drift_record.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <optional>
#include <type_traits>
#include <vector>

namespace twill::reconcile {

namespace {

// The fields' bytes, each variable-length one with its size so that adjacent fields cannot
// blur into each other, hashed 64 bytes at a time (std::hash's murmur, a word per step: a
// resync fingerprints every desired object, and a byte-at-a-time hash was a tenth of it).
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
    Fingerprint done() {
        flush();
        return hash_;
    }

  private:
    void bytes(const void* data, std::size_t size) {
        const auto* p = static_cast<const char*>(data);
        // Most fields fit in what is left of the block: one copy of a size known where the
        // field's type is (a resync fingerprints 60,000 objects, a dozen fields each).
        if (size < buffer_.size() - used_) [[likely]] {
            std::memcpy(buffer_.data() + used_, p, size);
            used_ += size;
            return;
        }
        while (size > 0) {
            const auto n = std::min(size, buffer_.size() - used_);
            std::memcpy(buffer_.data() + used_, p, n);
            used_ += n;
            p += n;
            size -= n;
            if (used_ == buffer_.size()) flush();
        }
    }
    void flush() {
        const auto block = std::hash<std::string_view>{}(std::string_view(buffer_.data(), used_));
        hash_ = combined(hash_, block);
        used_ = 0;
    }

    std::array<char, 64> buffer_;
    std::size_t used_ = 0;
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

Fingerprint combined(Fingerprint so_far, Fingerprint next) {
    return (so_far ^ next) * 0x9e3779b97f4a7c15ULL;
}

const Fingerprint* DriftRecord::find(std::string_view scope, const std::string& key) const {
    const auto values = scopes_.find(std::string(scope));
    if (values == scopes_.end()) return nullptr;
    const auto it = values->second.remembered.find(hashed(key));
    return it == values->second.remembered.end() ? nullptr : &it->second;
}

void DriftRecord::erase(std::string_view scope, const std::string& key) {
    if (auto values = scopes_.find(std::string(scope)); values != scopes_.end()) {
        values->second.replaced_with.reset();
        values->second.remembered.erase(hashed(key));
    }
}

void DriftRecord::forget(std::string_view scope) {
    scopes_.erase(std::string(scope));
}

}  // namespace twill::reconcile
