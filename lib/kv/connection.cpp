#include "connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "stream_control.hpp"
#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::kv {

std::vector<std::string> ClientOptions::parse_endpoints(std::string_view comma_list) {
    std::vector<std::string> endpoints;
    while (!comma_list.empty()) {
        const auto comma = comma_list.find(',');
        std::string_view item = comma_list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) endpoints.emplace_back(item);
        if (comma == std::string_view::npos) break;
        comma_list.remove_prefix(comma + 1);
    }
    return endpoints;
}

namespace detail {

namespace {

struct ParsedEndpoint {
    std::string address;
    std::optional<bool> tls;  // from the scheme, if one was given
};

ParsedEndpoint parse_endpoint(std::string_view text) {
    const std::string field = "etcd endpoint \"" + std::string(text) + "\"";
    ParsedEndpoint parsed;
    std::string_view rest = text;
    if (rest.starts_with("https://")) {
        parsed.tls = true;
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        parsed.tls = false;
        rest.remove_prefix(7);
    } else if (rest.find("://") != std::string_view::npos) {
        throw ParseError(field, "unknown scheme (use http://, https:// or host:port)");
    }
    while (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos) throw ParseError(field, "a path is not allowed");

    std::string_view host;
    std::string_view port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            throw ParseError(field, "expected [IPv6 address]:port");
        }
        host = rest.substr(0, close + 1);
        port = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) throw ParseError(field, "missing port (host:port)");
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            throw ParseError(field, "an IPv6 address needs brackets: [address]:port");
        }
    }
    if (host.empty()) throw ParseError(field, "missing host");
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
        number > 65535) {
        throw ParseError(field, "port must be a number 1..65535");
    }
    parsed.address = std::string(rest);
    return parsed;
}

std::string read_pem(const std::filesystem::path& path, std::string_view field) {
    std::optional<std::string> content;
    try {
        content = sys::read_file(path);
    } catch (const Error& e) {
        throw ParseError(field, e.what());
    }
    if (!content) throw ParseError(field, path.string() + " does not exist");
    return std::move(*content);
}

std::shared_ptr<grpc::ChannelCredentials> credentials(const std::optional<TlsOptions>& tls,
                                                      bool use_tls) {
    if (!use_tls) return grpc::InsecureChannelCredentials();
    grpc::SslCredentialsOptions ssl;
    if (tls) {
        if (!tls->ca_file.empty()) ssl.pem_root_certs = read_pem(tls->ca_file, "etcd CA file");
        if (tls->cert_file.empty() != tls->key_file.empty()) {
            throw ParseError("etcd client certificate",
                             "certificate and key file must be given together");
        }
        if (!tls->cert_file.empty()) {
            ssl.pem_cert_chain = read_pem(tls->cert_file, "etcd certificate file");
            ssl.pem_private_key = read_pem(tls->key_file, "etcd key file");
        }
    }
    return grpc::SslCredentials(ssl);
}

grpc::ChannelArguments channel_arguments() {
    grpc::ChannelArguments args;
    // gRPC's own reconnect backoff would grow to 120 s; a returning etcd must be used within
    // seconds (DESIGN.md principle 5), so cap it like twill's Backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    // Pings find a peer that vanished without closing the connection (a partition, a silently
    // dead member) while a watch or keep-alive stream waits: such a member is left within
    // time + timeout (9 s) plus one reconnect backoff. etcd allows a ping every 5 s
    // (--grpc-keepalive-min-time) and answers more with GOAWAY, hence 6 s; none without a
    // stream.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 6000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    args.SetMaxReceiveMessageSize(-1);
    // Channels of different Clients must not share connection state (and its backoff).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return args;
}

// A plaintext client talking to etcd's TLS port sees the connection closed or reset during
// the HTTP/2 handshake; a TLS client talking to a plaintext port sees the socket closed or a
// failed TLS handshake. (A restarting etcd can look alike, hence "may" in the hint.)
bool looks_like_tls_mismatch(const grpc::Status& status) {
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
    const auto& message = status.error_message();
    for (const char* sign : {"Socket closed", "Connection reset", "andshake", "SSL", "ssl", "TSI",
                             "ecrypt", "Endpoint read failed", "http", "HTTP"}) {
        if (message.find(sign) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

Connection::Connection(ClientOptions options) : options_(std::move(options)) {
    if (options_.endpoints.empty()) throw ParseError("etcd endpoints", "no endpoint given");
    if (options_.call_timeout <= std::chrono::milliseconds(0)) {
        throw ParseError("etcd call timeout", "must be positive");
    }
    if (options_.dial_timeout <= std::chrono::milliseconds(0)) {
        throw ParseError("etcd dial timeout", "must be positive");
    }
    std::vector<ParsedEndpoint> parsed;
    for (const auto& text : options_.endpoints) parsed.push_back(parse_endpoint(text));
    tls_ = options_.tls.has_value();
    for (const auto& endpoint : parsed) {
        if (endpoint.tls == true) tls_ = true;
    }
    for (std::size_t i = 0; i < parsed.size(); ++i) {
        if (tls_ && parsed[i].tls == false) {
            throw ParseError("etcd endpoint \"" + options_.endpoints[i] + "\"",
                             "http:// together with TLS settings or https:// endpoints; use "
                             "https:// (or host:port)");
        }
    }
    credentials_ = credentials(options_.tls, tls_);
    channel_arguments_ = channel_arguments();
    for (const auto& endpoint : parsed) {
        auto e = std::make_unique<Endpoint>();
        e->address = endpoint.address;
        e->stubs = make_stubs(e->address);
        endpoints_.push_back(std::move(e));
    }
}

std::shared_ptr<Stubs> Connection::make_stubs(const std::string& address) const {
    auto stubs = std::make_shared<Stubs>();
    stubs->channel = grpc::CreateCustomChannel(address, credentials_, channel_arguments_);
    stubs->kv = etcdserverpb::KV::NewStub(stubs->channel);
    stubs->lease = etcdserverpb::Lease::NewStub(stubs->channel);
    stubs->watch = etcdserverpb::Watch::NewStub(stubs->channel);
    return stubs;
}

void Connection::succeeded(std::size_t index) noexcept {
    preferred_.store(index);
    connected_.store(true);
}

void Connection::reset() {
    for (auto& endpoint : endpoints_) {
        std::lock_guard lock(endpoint->mutex);
        endpoint->stubs = make_stubs(endpoint->address);
        endpoint->broken = false;
    }
    reconnects_.fetch_add(1);
    std::lock_guard lock(streams_mutex_);
    for (auto* control : streams_) control->interrupt();
}

void Connection::register_stream(StreamControl* control) {
    std::lock_guard lock(streams_mutex_);
    streams_.push_back(control);
}

void Connection::unregister_stream(StreamControl* control) {
    std::lock_guard lock(streams_mutex_);
    std::erase(streams_, control);
}

void Connection::failed(std::size_t index) noexcept {
    {
        std::lock_guard lock(endpoints_[index]->mutex);
        endpoints_[index]->broken = true;
    }
    std::size_t expected = index;
    preferred_.compare_exchange_strong(expected, (index + 1) % size());
    reconnects_.fetch_add(1);
    connected_.store(false);
}

std::shared_ptr<Stubs> Connection::await_ready(std::size_t index, Deadline deadline,
                                               grpc::Status& failure,
                                               const std::function<bool()>& cancelled) {
    Endpoint& endpoint = *endpoints_[index];
    std::shared_ptr<Stubs> stubs;
    {
        std::lock_guard lock(endpoint.mutex);
        if (endpoint.broken && endpoint.stubs->channel->GetState(false) != GRPC_CHANNEL_READY) {
            endpoint.stubs = make_stubs(endpoint.address);
        }
        endpoint.broken = false;
        stubs = endpoint.stubs;
    }
    const auto dial_deadline =
        std::min(deadline, std::chrono::system_clock::now() + options_.dial_timeout);
    for (;;) {
        const auto state = stubs->channel->GetState(true);
        if (state == GRPC_CHANNEL_READY || state == GRPC_CHANNEL_TRANSIENT_FAILURE) return stubs;
        const auto now = std::chrono::system_clock::now();
        if (now >= dial_deadline || (cancelled && cancelled())) break;
        // Short slices, so that `cancelled` is looked at while a connect hangs.
        stubs->channel->WaitForStateChange(
            state, std::min(dial_deadline, now + std::chrono::milliseconds(100)));
    }
    failure = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "not connected within the dial timeout of " +
                               std::to_string(options_.dial_timeout.count()) + " ms");
    return nullptr;
}

bool Connection::retryable(const grpc::Status& status, Retry retry) noexcept {
    switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE:
            return true;
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return retry == Retry::Idempotent;
        default:
            return false;
    }
}

KvError Connection::error(std::string_view operation, std::string_view key,
                          const grpc::Status& status, std::size_t index) const {
    std::string message = status.error_message();
    // A TLS client that never gets a connection within the dial timeout (a loaded machine
    // may not see the refused handshake in time) may be failing the same way.
    const bool tls_dial_timeout =
        tls_ && message.starts_with("not connected within the dial timeout");
    if (looks_like_tls_mismatch(status) || tls_dial_timeout) {
        message += tls_ ? " (TLS: the endpoint may be plaintext, or its certificate not signed by "
                          "the CA, or it refused the client certificate)"
                        : " (the endpoint may require TLS: use https:// endpoints, a CA file and "
                          "a client certificate)";
    }
    return KvError(std::string(operation), std::string(key),
                   static_cast<StatusCode>(status.error_code()), std::move(message),
                   endpoints_[index]->address);
}

void Connection::throw_error(std::string_view operation, std::string_view key,
                             const grpc::Status& status, std::size_t index) const {
    KvError e = error(operation, key, status, index);
    const auto& message = status.error_message();
    switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            throw UnavailableError(e.operation(), e.key(), e.code(), e.status_message(),
                                   e.endpoint());
        case grpc::StatusCode::OUT_OF_RANGE:
            if (message.find("compacted") != std::string::npos) {
                throw CompactedError(e.operation(), e.key(), e.code(), e.status_message(),
                                     e.endpoint());
            }
            break;
        case grpc::StatusCode::NOT_FOUND:
            if (message.find("lease not found") != std::string::npos) {
                throw LeaseNotFoundError(e.operation(), e.key(), e.code(), e.status_message(),
                                         e.endpoint());
            }
            break;
        default:
            break;
    }
    throw e;
}

}  // namespace detail
}  // namespace twill::kv
