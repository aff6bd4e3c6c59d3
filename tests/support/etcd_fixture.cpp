#include "etcd_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdlib>
#include <regex>
#include <thread>

#include "twill/error.hpp"
#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {

EtcdOptions etcd_on(const NetnsTopology::Node& node) {
    EtcdOptions options;
    options.netns = node.netns.path();
    options.listen_address = node.address().to_string();
    options.client_port = 2379;
    options.peer_port = 2380;
    return options;
}

// Bind to port 0 and ask which one the kernel chose.
std::uint16_t free_tcp_port() {
    sys::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket for a free port");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
        throw_errno("bind to a free port");
    }
    socklen_t length = sizeof address;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) < 0) {
        throw_errno("getsockname of a free port");
    }
    return ntohs(address.sin_port);
}

namespace {

std::string url_host(const std::string& address) {
    return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

void run_or_throw(const std::vector<std::string>& argv, const std::string& what) {
    const auto result = run_command(argv);
    if (result.exit_code != 0) throw Error(what + " failed: " + result.output);
}

std::string tail(const std::string& text, std::size_t bytes) {
    return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

}  // namespace

EtcdServer::EtcdServer(EtcdOptions options) : options_(std::move(options)) {
    char dir_template[] = "/tmp/twill-etcd-XXXXXX";
    if (!::mkdtemp(dir_template)) throw_errno("create etcd test directory");
    work_dir_ = dir_template;
    data_dir_ = work_dir_ / "data";
    try {
        if (options_.client_port == 0) options_.client_port = free_tcp_port();
        if (options_.peer_port == 0) {
            do options_.peer_port = free_tcp_port();
            while (options_.peer_port == options_.client_port);
        }
        if (options_.tls) make_certificates();
        start();
    } catch (...) {
        process_.reset();
        std::filesystem::remove_all(work_dir_);
        throw;
    }
}

EtcdServer::~EtcdServer() {
    if (process_) process_->stop(SIGKILL);
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(work_dir_, ignored);
}

void EtcdServer::make_certificates() {
    EtcdTlsFiles files{.ca_file = work_dir_ / "ca.crt",
                       .server_cert = work_dir_ / "server.crt",
                       .server_key = work_dir_ / "server.key",
                       .client_cert = work_dir_ / "client.crt",
                       .client_key = work_dir_ / "client.key"};
    const std::string ca_key = (work_dir_ / "ca.key").string();
    const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt",
                                             "ec_paramgen_curve:prime256v1", "-nodes"};
    auto concat = [](std::vector<std::string> first, const std::vector<std::string>& second,
                     const std::vector<std::string>& third) {
        first.insert(first.end(), second.begin(), second.end());
        first.insert(first.end(), third.begin(), third.end());
        return first;
    };
    run_or_throw(concat({"openssl", "req", "-x509"}, ec_key,
                        {"-keyout", ca_key, "-out", files.ca_file.string(), "-subj",
                         "/CN=twill-test-ca", "-days", "2"}),
                 "openssl: make test CA");
    auto sign = [&](const std::string& name, const std::filesystem::path& cert,
                    const std::filesystem::path& key, const std::string& extensions) {
        const std::string csr = (work_dir_ / (name + ".csr")).string();
        const std::string ext_file = (work_dir_ / (name + ".ext")).string();
        sys::write_file_atomic(ext_file, extensions);
        run_or_throw(concat({"openssl", "req"}, ec_key,
                            {"-keyout", key.string(), "-out", csr, "-subj", "/CN=" + name}),
                     "openssl: make " + name + " key");
        run_or_throw(
            {"openssl", "x509", "-req", "-in", csr, "-CA", files.ca_file.string(), "-CAkey", ca_key,
             "-CAcreateserial", "-out", cert.string(), "-days", "2", "-extfile", ext_file},
            "openssl: sign " + name + " certificate");
    };
    std::string san = "subjectAltName=IP:" + options_.listen_address;
    if (options_.listen_address != "127.0.0.1") san += ",IP:127.0.0.1";
    sign("etcd-server", files.server_cert, files.server_key,
         san + "\nextendedKeyUsage=serverAuth,clientAuth\n");
    sign("twill-client", files.client_cert, files.client_key, "extendedKeyUsage=clientAuth\n");
    tls_ = files;
}

std::vector<std::string> EtcdServer::command() const {
    const std::string scheme = tls_ ? "https://" : "http://";
    const std::string host = url_host(options_.listen_address);
    const std::string client_url = scheme + host + ":" + std::to_string(options_.client_port);
    const std::string own_peer_url = peer_url();
    const std::string cluster = options_.initial_cluster.empty()
                                    ? options_.name + "=" + own_peer_url
                                    : options_.initial_cluster;
    std::vector<std::string> argv = {"etcd",
                                     "--name",
                                     options_.name,
                                     "--data-dir",
                                     data_dir_.string(),
                                     "--listen-client-urls",
                                     client_url,
                                     "--advertise-client-urls",
                                     client_url,
                                     "--listen-peer-urls",
                                     own_peer_url,
                                     "--initial-advertise-peer-urls",
                                     own_peer_url,
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-state",
                                     "new",
                                     "--logger",
                                     "zap",
                                     "--log-outputs",
                                     "stderr",
                                     "--log-level",
                                     "warn"};
    if (tls_) {
        argv.insert(argv.end(), {"--cert-file", tls_->server_cert.string(), "--key-file",
                                 tls_->server_key.string(), "--trusted-ca-file",
                                 tls_->ca_file.string(), "--client-cert-auth"});
    }
    return argv;
}

void EtcdServer::start() {
    if (process_ && process_->running()) return;
    SpawnOptions spawn;
    spawn.netns = options_.netns;
    spawn.log_file = log_file();
    process_.emplace(command(), spawn);
    if (options_.wait_until_ready) wait_until_ready();
}

void EtcdServer::wait_until_ready() {
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!process_->running()) {
            const auto log = sys::read_file(log_file()).value_or("");
            throw Error("etcd exited during start-up; log tail:\n" + tail(log, 3000));
        }
        try {
            etcdctl({"endpoint", "health", "--command-timeout=1s"});
            return;
        } catch (const Error& e) {
            last = e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw Error("etcd on " + endpoint() + " did not answer within the start timeout: " + last);
}

void EtcdServer::stop() {
    if (process_) process_->stop(SIGTERM);
    process_.reset();
}

void EtcdServer::kill() {
    if (process_) process_->stop(SIGKILL);
    process_.reset();
}

bool EtcdServer::running() {
    return process_ && process_->running();
}

std::string EtcdServer::endpoint() const {
    return (tls_ ? "https://" : "") + url_host(options_.listen_address) + ":" +
           std::to_string(options_.client_port);
}

std::string EtcdServer::peer_url() const {
    return "http://" + url_host(options_.listen_address) + ":" + std::to_string(options_.peer_port);
}

kv::ClientOptions EtcdServer::client_options() const {
    kv::ClientOptions options;
    options.endpoints = {endpoint()};
    if (tls_) {
        options.tls = kv::TlsOptions{
            .ca_file = tls_->ca_file, .cert_file = tls_->client_cert, .key_file = tls_->client_key};
    }
    return options;
}

std::string EtcdServer::etcdctl(const std::vector<std::string>& arguments) const {
    std::vector<std::string> argv = {"etcdctl", "--endpoints", endpoint(), "--dial-timeout=1s"};
    if (tls_) {
        argv.insert(argv.end(), {"--cacert", tls_->ca_file.string(), "--cert",
                                 tls_->client_cert.string(), "--key", tls_->client_key.string()});
    }
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    SpawnOptions spawn;
    spawn.netns = options_.netns;
    spawn.env = {"ETCDCTL_API=3"};
    const auto result = run_command(argv, spawn, std::chrono::seconds(20));
    if (result.exit_code != 0) {
        std::string joined;
        for (const auto& a : arguments) joined += " " + a;
        throw Error("etcdctl" + joined + " against " + endpoint() + ": " + result.output);
    }
    return result.output;
}

void EtcdServer::compact(std::int64_t revision) const {
    etcdctl({"compact", std::to_string(revision), "--physical"});
}

std::int64_t EtcdServer::current_revision() const {
    const std::string output = etcdctl({"endpoint", "status", "--write-out=json"});
    static const std::regex revision_field("\"revision\":([0-9]+)");
    std::smatch match;
    if (!std::regex_search(output, match, revision_field)) {
        throw Error("etcdctl endpoint status: no revision in: " + output);
    }
    return std::stoll(match[1].str());
}

}  // namespace twill::testing
