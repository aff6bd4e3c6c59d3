#!/usr/bin/env python3
"""Checks manifests/ (Kubernetes manifests, Dockerfile, systemd unit) for consistency.

Two parts, registered as two CTest tests (tests/manifests/CMakeLists.txt):

  --part structure  parses every manifest with a real YAML parser and checks it against the
                    contracts of DESIGN.md: the shipped conflist, net-conf.json, host paths,
                    probes, the init container's plugin install, the Dockerfile, the unit.
  --part programs   checks the same files against the built programs: every --flag and
                    TWILL_* variable exists in `twilld --help`, the mounted paths and the probe
                    port are twilld's defaults, the plugin supports the conflist's versions,
                    and the image installs every library the programs link. Run with
                    --require NAME for each program target the build has; when the build has
                    no twilld target the part prints "SKIPPED: ..." and exits SKIP_CODE.

Environment: TWILL_SOURCE_DIR (repository), TWILL_BUILD_DIR (build tree, programs in bin/).
"""

import argparse
import ipaddress
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit(f"FAIL: PyYAML is missing for {sys.executable} (Debian: python3-yaml, see scripts/setup)")

SKIP_CODE = 77

# DESIGN.md "CNI": the shipped conflist, verbatim.
DESIGN_CONFLIST = {
    "cniVersion": "1.0.0",
    "cniVersions": ["1.0.0", "1.1.0"],
    "name": "twill",
    "plugins": [
        {"type": "twill"},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}
# DESIGN.md "twilld flags" defaults and "CNI" plugin defaults.
RUN_DIR = "/run/twill"
STATE_DIR = "/var/lib/twill"
CNI_DATA_DIR = "/var/lib/cni/twill"
METRICS_PORT = 9474
CNI_BIN_DIR = "/opt/cni/bin"
CNI_CONF_DIR = "/etc/cni/net.d"
K3S_CNI_CONF_DIR = "/var/lib/rancher/k3s/agent/etc/cni/net.d"
K3S_CNI_BIN_DIR = "/var/lib/rancher/k3s/data/cni"
K3S_CLUSTER_CIDR = "10.42.0.0/16"
NAMESPACE = "twill-system"
PROGRAMS = ("twilld", "netctl", "twill")


class Checks:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, condition, message):
        if condition:
            self.passed += 1
        else:
            self.failures.append(message)
            print(f"FAIL: {message}")
        return condition


# --- reading the files ----------------------------------------------------------------------

def load_yaml_files(manifests):
    documents = {}
    for path in sorted(manifests.rglob("*.yaml")):
        with path.open() as f:
            documents[path.relative_to(manifests).as_posix()] = [
                d for d in yaml.safe_load_all(f) if d is not None
            ]
    return documents


def objects(documents, kind=None):
    for name, docs in documents.items():
        if Path(name).name == "kustomization.yaml" or name.startswith("k3s/"):
            continue
        for doc in docs:
            if kind is None or doc.get("kind") == kind:
                yield name, doc


def one(documents, kind):
    found = [doc for _, doc in objects(documents, kind)]
    if len(found) != 1:
        raise AssertionError(f"expected exactly one {kind} in manifests/, found {len(found)}")
    return found[0]


def container(pod_spec, name, init=False):
    key = "initContainers" if init else "containers"
    for c in pod_spec.get(key, []):
        if c["name"] == name:
            return c
    raise AssertionError(f"DaemonSet has no {key[:-1]} named {name}")


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def volumes_of(pod_spec):
    return {v["name"]: v for v in pod_spec.get("volumes", [])}


def mounts_of(c):
    return {m["mountPath"]: m for m in c.get("volumeMounts", [])}


def mount_path(c, volume_name):
    paths = [m["mountPath"] for m in c.get("volumeMounts", []) if m["name"] == volume_name]
    if len(paths) != 1:
        raise AssertionError(f"container {c['name']} mounts volume {volume_name} {len(paths)} times")
    return paths[0]


def parse_dockerfile(path):
    """Stages as lists of (instruction, argument) with continuation lines joined."""
    stages, logical = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        logical += line[:-1] + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        instruction, _, argument = logical.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, argument.strip()))
        logical = ""
    return stages


def parse_unit(path):
    sections, current = {}, None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise AssertionError(f"{path}: not a unit file line: {raw!r}")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def env_file_names(path):
    """TWILL_* names set or shown commented out (#TWILL_X=...) in an environment file."""
    return re.findall(r"^#?\s*(TWILL_[A-Z0-9_]+)=", path.read_text(), re.MULTILINE)


def flags_in(words):
    return [w.split("=", 1)[0] for w in words if w.startswith("--")]


def port_of(address):
    return int(address.rsplit(":", 1)[1])


class Manifests:
    """Everything both parts need, read once."""

    def __init__(self, source):
        self.dir = source / "manifests"
        self.documents = load_yaml_files(self.dir)
        self.daemonset = one(self.documents, "DaemonSet")
        self.configmap = one(self.documents, "ConfigMap")
        self.pod = self.daemonset["spec"]["template"]["spec"]
        self.twilld = container(self.pod, "twilld")
        self.install = container(self.pod, "install-cni", init=True)
        self.volumes = volumes_of(self.pod)
        self.dockerfile = parse_dockerfile(self.dir / "Dockerfile")
        self.unit = parse_unit(self.dir / "systemd" / "twilld.service")
        self.env_example = self.dir / "systemd" / "twilld.env.example"
        self.conflist_key = next(k for k in self.configmap["data"] if k.endswith(".conflist"))
        self.conflist = json.loads(self.configmap["data"][self.conflist_key])
        self.exec_start = shlex.split(self.unit["Service"]["ExecStart"][0])

    def probe_port(self, probe):
        return self.twilld[probe]["httpGet"]["port"]


# --- part "structure" -----------------------------------------------------------------------

def check_yaml(m, c):
    for name, docs in m.documents.items():
        c.check(docs, f"{name}: no YAML document")
        for doc in docs:
            if Path(name).name == "kustomization.yaml":
                c.check(doc.get("kind") == "Kustomization", f"{name}: kind is not Kustomization")
                continue
            c.check({"apiVersion", "kind", "metadata"} <= doc.keys(),
                    f"{name}: {doc.get('kind')} lacks apiVersion, kind or metadata")
    namespace = one(m.documents, "Namespace")
    c.check(namespace["metadata"]["name"] == NAMESPACE, f"Namespace is not {NAMESPACE}")
    for name, doc in objects(m.documents):
        if doc["kind"] != "Namespace":
            c.check(doc["metadata"].get("namespace") == NAMESPACE,
                    f"{name}: {doc['kind']} {doc['metadata']['name']} is not in {NAMESPACE}")


def check_kustomizations(m, c):
    base = m.documents["base/kustomization.yaml"][0]
    listed = set(base["resources"])
    present = {Path(n).name for n in m.documents if n.startswith("base/")} - {"kustomization.yaml"}
    c.check(listed == present,
            f"base/kustomization.yaml lists {sorted(listed)}, base/ holds {sorted(present)}")
    overlay = m.documents["k3s/kustomization.yaml"][0]
    c.check(overlay["resources"] == ["../base"], "k3s overlay does not build on ../base")
    patched = {}
    for patch in overlay.get("patches", []):
        for doc in m.documents["k3s/" + patch["path"]]:
            c.check(doc["kind"] == "DaemonSet" and
                    doc["metadata"]["name"] == m.daemonset["metadata"]["name"],
                    f"k3s patch {patch['path']} does not target the DaemonSet")
            for v in doc["spec"]["template"]["spec"].get("volumes", []):
                c.check(v["name"] in m.volumes,
                        f"k3s patch {patch['path']} names volume {v['name']}, which the base lacks")
                patched[v["name"]] = v.get("hostPath", {}).get("path")
    c.check(patched == {"cni-bin": K3S_CNI_BIN_DIR, "cni-conf": K3S_CNI_CONF_DIR},
            f"k3s overlay sets the CNI host paths to {patched}")


def check_configmap(m, c):
    c.check(m.conflist == DESIGN_CONFLIST,
            f"{m.conflist_key} in the ConfigMap differs from DESIGN.md's shipped conflist")
    try:
        net_conf = json.loads(m.configmap["data"]["net-conf.json"])
    except (KeyError, json.JSONDecodeError) as e:
        c.check(False, f"ConfigMap net-conf.json: {e}")
        return
    c.check(net_conf.get("Network") == K3S_CLUSTER_CIDR,
            f"net-conf.json Network {net_conf.get('Network')} is not K3s's cluster CIDR")
    network = ipaddress.ip_network(net_conf["Network"])
    c.check(network.prefixlen < net_conf.get("SubnetLen", 24) <= network.max_prefixlen,
            "net-conf.json SubnetLen does not fit inside Network")
    backend = net_conf.get("Backend", {})
    c.check(backend.get("Type") == "vxlan", "net-conf.json Backend.Type is not vxlan")
    c.check(isinstance(backend.get("VNI"), int) and backend.get("Port") == 8472,
            "net-conf.json vxlan Backend needs an integer VNI and Port 8472")


def check_daemonset(m, c):
    pod = m.pod
    c.check(pod.get("hostNetwork") is True, "DaemonSet is not hostNetwork")
    c.check(pod.get("dnsPolicy") == "Default",
            "DaemonSet dnsPolicy is not Default (cluster DNS needs the pod network twill provides)")
    c.check(pod.get("priorityClassName") == "system-node-critical",
            "DaemonSet priorityClassName is not system-node-critical")
    c.check({"operator": "Exists"} in pod.get("tolerations", []),
            "DaemonSet lacks the toleration {operator: Exists} (every node)")
    c.check(m.daemonset["spec"].get("updateStrategy", {}).get("type") == "RollingUpdate",
            "DaemonSet updateStrategy is not RollingUpdate")
    accounts = [doc["metadata"]["name"] for _, doc in objects(m.documents, "ServiceAccount")]
    c.check(pod.get("serviceAccountName") in accounts, "DaemonSet's service account is not shipped")
    c.check(m.twilld["image"] == m.install["image"], "init container and twilld use different images")

    security = m.twilld.get("securityContext", {})
    caps = set(security.get("capabilities", {}).get("add", []))
    c.check(security.get("privileged") is True or {"NET_ADMIN", "NET_RAW", "SYS_ADMIN"} <= caps,
            "twilld is neither privileged nor has NET_ADMIN, NET_RAW and SYS_ADMIN")

    env = env_of(m.twilld)
    c.check(env.get("TWILL_NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {})
            .get("fieldPath") == "spec.nodeName", "TWILL_NODE_NAME is not the downward API's spec.nodeName")
    secret = env.get("TWILL_ETCD_ENDPOINTS", {}).get("valueFrom", {}).get("secretKeyRef", {})
    c.check(secret.get("name") and secret.get("key"), "TWILL_ETCD_ENDPOINTS does not come from a Secret")
    tls = [v for v in m.volumes.values() if v.get("secret", {}).get("secretName") == secret.get("name")]
    c.check(len(tls) == 1, f"no volume holds the etcd Secret {secret.get('name')}")
    if tls:
        tls_dir = mount_path(m.twilld, tls[0]["name"])
        files = {f"{tls_dir}/{item['path']}" for item in tls[0]["secret"].get("items", [])}
        for name in ("TWILL_ETCD_CAFILE", "TWILL_ETCD_CERTFILE", "TWILL_ETCD_KEYFILE"):
            c.check(env.get(name, {}).get("value") in files,
                    f"{name} is not a file of the mounted etcd Secret ({sorted(files)})")

    mounts = mounts_of(m.twilld)
    for path in (RUN_DIR, STATE_DIR, CNI_DATA_DIR):
        mount = mounts.get(path)
        if c.check(mount is not None, f"twilld does not mount {path}"):
            host = m.volumes[mount["name"]].get("hostPath", {}).get("path")
            c.check(host == path, f"{path} in twilld is host path {host}, not the same path")

    port = m.probe_port("livenessProbe")
    c.check(m.twilld["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe is not /healthz")
    c.check(m.twilld["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe is not /readyz")
    c.check(port == METRICS_PORT == m.probe_port("readinessProbe"),
            f"probes use ports {port} and {m.probe_port('readinessProbe')}, not {METRICS_PORT}")
    if "TWILL_METRICS_ADDR" in env:
        c.check(port_of(env["TWILL_METRICS_ADDR"]["value"]) == port,
                "TWILL_METRICS_ADDR's port differs from the probes' port")


def check_install_container(m, c):
    hosts = {name: m.volumes[name].get("hostPath", {}).get("path") for name in ("cni-bin", "cni-conf")}
    c.check(hosts == {"cni-bin": CNI_BIN_DIR, "cni-conf": CNI_CONF_DIR},
            f"CNI host paths are {hosts}, not {CNI_BIN_DIR} and {CNI_CONF_DIR}")
    script = " ".join(m.install.get("command", []) + m.install.get("args", []))
    bin_dir = mount_path(m.install, "cni-bin")
    conf_dir = mount_path(m.install, "cni-conf")
    config_dir = mount_path(m.install, "twill-config")
    plugin = m.conflist["plugins"][0]["type"]
    staged = image_path_of(m, "twill")
    c.check(re.search(rf"install -m 0755 {re.escape(staged)} \S+", script),
            f"init container does not copy the image's {staged}")
    c.check(re.search(rf"mv -f \S+ {re.escape(bin_dir)}/{plugin}\s", script),
            f"init container does not put the plugin at {bin_dir}/{plugin} (the conflist's type)")
    items = [i for i in m.volumes["twill-config"]["configMap"].get("items", [])
             if i["key"] == m.conflist_key]
    c.check(items and re.search(rf"{re.escape(config_dir)}/{re.escape(items[0]['path'])}\s", script),
            f"init container does not read {m.conflist_key} from the ConfigMap")
    c.check(re.search(rf"mv -f \S+ {re.escape(conf_dir)}/{re.escape(m.conflist_key)}\s", script),
            f"init container does not install {m.conflist_key} into {conf_dir}")
    for chained in m.conflist["plugins"][1:]:
        c.check(f"{bin_dir}/{chained['type']}" in script,
                f"init container does not provide the chained plugin {chained['type']}")


def image_path_of(m, program):
    """Where the Dockerfile's final stage puts a program built in the build stage."""
    for instruction, argument in m.dockerfile[-1]:
        words = argument.split()
        if instruction == "COPY" and f"/build/bin/{program}" in words:
            destination = words[-1]
            return destination + program if destination.endswith("/") else destination
    return None


def check_dockerfile(m, c):
    build, runtime = m.dockerfile[0], m.dockerfile[-1]
    c.check(len(m.dockerfile) >= 2, "Dockerfile is not multi-stage")
    c.check(build[0][1].startswith("debian:12") and runtime[0][1].startswith("debian:12"),
            "Dockerfile stages are not Debian 12")
    build_runs = " ".join(a for i, a in build if i == "RUN")
    c.check("scripts/setup" in build_runs, "build stage does not install dependencies via scripts/setup")
    c.check("-DCMAKE_BUILD_TYPE=Release" in build_runs, "build stage does not build Release")
    for program in PROGRAMS:
        c.check(image_path_of(m, program) is not None, f"runtime stage does not copy {program}")
    c.check(image_path_of(m, "twilld") == m.twilld["command"][0],
            f"DaemonSet runs {m.twilld['command'][0]}, the image has twilld at {image_path_of(m, 'twilld')}")
    packages = runtime_packages(m)
    c.check("wireguard-go" in packages, "runtime stage lacks wireguard-go")
    c.check("/usr/lib/cni/portmap" in " ".join(m.install.get("args", [])) and
            "containernetworking-plugins" in packages,
            "the portmap the init container installs is not in the image")


def runtime_packages(m):
    runs = " ".join(a for i, a in m.dockerfile[-1] if i == "RUN")
    match = re.search(r"apt-get install ((?:\S+\s+)+?)&&", runs)
    return [w for w in match.group(1).split() if not w.startswith("-")] if match else []


def check_unit(m, c):
    c.check({"Unit", "Service", "Install"} <= m.unit.keys(), "twilld.service lacks a section")
    c.check(m.exec_start[0] == "/usr/local/sbin/twilld",
            "twilld.service does not run /usr/local/sbin/twilld (where cmake --install puts it)")
    words = m.exec_start[1:]
    given = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}
    for flag, path in (("--run-dir", RUN_DIR), ("--state-dir", STATE_DIR), ("--cni-data-dir", CNI_DATA_DIR)):
        c.check(given.get(flag, path) == path, f"twilld.service {flag} is {given.get(flag)}, not {path}")
    c.check(m.unit["Service"].get("EnvironmentFile"), "twilld.service reads no environment file")
    names = env_file_names(m.env_example)
    c.check("TWILL_ETCD_ENDPOINTS" in names, "twilld.env.example does not set TWILL_ETCD_ENDPOINTS")


def part_structure(m, c, args):
    for check in (check_yaml, check_kustomizations, check_configmap, check_daemonset,
                  check_install_container, check_dockerfile, check_unit):
        try:
            check(m, c)
        except (AssertionError, KeyError, TypeError, IndexError, ValueError) as e:
            c.check(False, f"{check.__name__}: {type(e).__name__}: {e}")
    return None


# --- part "programs" ------------------------------------------------------------------------

def help_of(program):
    result = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"{program} --help exited {result.returncode}: {result.stderr}")
    text = result.stdout
    flags = set(re.findall(r"^\s+(?:-\w,)?(--[a-z0-9-]+)", text, re.MULTILINE))
    envs = set(re.findall(r"\(Env:(TWILL_[A-Z0-9_]+)\)", text))
    defaults = dict(re.findall(r"^\s+(--[a-z0-9-]+) \S*?=(\S+)", text, re.MULTILINE))
    return flags, envs, defaults


def check_twilld(m, c, twilld):
    flags, envs, defaults = help_of(twilld)
    c.check(len(flags) > 5 and len(envs) > 5, f"could not read flags and Env: names from {twilld} --help")
    used_flags = flags_in(m.exec_start[1:]) + flags_in(m.twilld.get("command", [])[1:] + m.twilld.get("args", []))
    for flag in used_flags:
        c.check(flag in flags, f"{flag} (manifests) is not a twilld flag")
    # Every TWILL_* name anywhere under manifests/, comments and examples included.
    used_envs = {name for path in m.dir.rglob("*") if path.is_file()
                 for name in re.findall(r"\bTWILL_[A-Z0-9_]+", path.read_text())}
    c.check({n for n in env_of(m.twilld) if n.startswith("TWILL_")} <= used_envs, "missed the DaemonSet's variables")
    for name in sorted(used_envs):
        c.check(name in envs, f"{name} (manifests) is not a twilld environment variable")
    for flag, path in (("--run-dir", RUN_DIR), ("--state-dir", STATE_DIR), ("--cni-data-dir", CNI_DATA_DIR)):
        c.check(defaults.get(flag) == path,
                f"twilld's default {flag} is {defaults.get(flag)}; the manifests mount {path}")
    c.check(port_of(defaults.get("--metrics-addr", ":0")) == m.probe_port("livenessProbe"),
            f"twilld's default --metrics-addr {defaults.get('--metrics-addr')} is not the probes' port")
    prefix = env_of(m.twilld).get("TWILL_ETCD_PREFIX", {}).get("value")
    c.check(prefix in (None, defaults.get("--etcd-prefix")),
            f"TWILL_ETCD_PREFIX {prefix} differs from twilld's default {defaults.get('--etcd-prefix')}")


def check_netctl(m, c, netctl):
    _, _, defaults = help_of(netctl)
    c.check(defaults.get("--run-dir") == RUN_DIR,
            f"netctl's default --run-dir is {defaults.get('--run-dir')}, twilld's is {RUN_DIR}")


def check_plugin(m, c, plugin):
    result = subprocess.run([plugin], input='{"cniVersion":"1.0.0"}', capture_output=True, text=True,
                            env={"CNI_COMMAND": "VERSION", "PATH": os.environ.get("PATH", "")}, timeout=60)
    c.check(result.returncode == 0, f"{plugin} VERSION exited {result.returncode}: {result.stdout}")
    supported = set(json.loads(result.stdout).get("supportedVersions", [])) if result.returncode == 0 else set()
    wanted = {m.conflist["cniVersion"], *m.conflist["cniVersions"]}
    c.check(wanted <= supported, f"the plugin supports {sorted(supported)}, the conflist needs {sorted(wanted)}")


def packages_of(libraries):
    """Debian package of each library file (None when dpkg knows none), one dpkg call."""
    real = {lib: os.path.realpath(lib) for lib in libraries}
    # usrmerge: dpkg may know a file under /lib rather than under /usr/lib.
    candidates = {path for r in real.values() for path in (r, re.sub(r"^/usr/lib/", "/lib/", r))}
    result = subprocess.run(["dpkg", "-S", *sorted(candidates)], capture_output=True, text=True)
    owner = {}
    for line in result.stdout.splitlines():
        package, _, path = line.partition(": ")
        owner[path] = package.split(":")[0]
    return {lib: owner.get(r) or owner.get(re.sub(r"^/usr/lib/", "/lib/", r)) for lib, r in real.items()}


def installed_closure(packages):
    """The packages and everything they depend on, from dpkg's database (works offline)."""
    closure, missing, frontier = set(), set(), set(packages)
    while frontier:
        closure |= frontier
        result = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n", *sorted(frontier)],
                                capture_output=True, text=True)
        found, depends = set(), set()
        for line in result.stdout.splitlines():
            package, _, relations = line.partition("\t")
            found.add(package)
            for alternative in re.split(r"[,|]", relations):
                name = alternative.strip().split(" ")[0].split(":")[0]
                if name:
                    depends.add(name)
        missing |= {p for p in frontier if p in packages} - found
        frontier = depends - closure
    return closure, missing


def check_image_libraries(m, c, binaries):
    """Every library a program links comes from a package the runtime stage installs."""
    listed = runtime_packages(m)
    closure, missing = installed_closure(listed)
    c.check(not missing, f"runtime packages {sorted(missing)} are not installed here, cannot follow their dependencies")
    linked = {}
    for binary in binaries:
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
        for library in re.findall(r"=> (/\S+)", ldd.stdout):
            # sanitizer builds only; a Release image never links these
            if not re.search(r"/lib(asan|ubsan|tsan|lsan)\.so", library):
                linked.setdefault(library, []).append(Path(binary).name)
    by_package = {}
    for library, package in packages_of(linked).items():
        by_package.setdefault(package, set()).update(linked[library])
    for package, users in sorted(by_package.items(), key=lambda item: str(item[0])):
        c.check(package is None or package in closure,
                f"{', '.join(sorted(users))} link libraries of {package}, which the image does not install")


def part_programs(m, c, args):
    bin_dir = Path(os.environ.get("TWILL_BUILD_DIR", "build")) / "bin"
    if "twilld" not in args.require:
        return "SKIPPED: twilld not built (this build has no twilld target); flag and env checks not run"
    found = {}
    for program in args.require:
        path = bin_dir / program
        if c.check(path.is_file() and os.access(path, os.X_OK), f"{path} is missing (the build has a {program} target)"):
            found[program] = str(path)
    try:
        if "twilld" in found:
            check_twilld(m, c, found["twilld"])
        if "netctl" in found:
            check_netctl(m, c, found["netctl"])
        if "twill" in found:
            check_plugin(m, c, found["twill"])
        check_image_libraries(m, c, list(found.values()))
    except (AssertionError, KeyError, ValueError, subprocess.SubprocessError, json.JSONDecodeError) as e:
        c.check(False, f"{type(e).__name__}: {e}")
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("structure", "programs"), required=True)
    parser.add_argument("--require", action="append", default=[], choices=PROGRAMS,
                        help="a program target the build has (its binary must exist)")
    args = parser.parse_args()
    source = Path(os.environ.get("TWILL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
    c = Checks()
    try:
        m = Manifests(source)
    except (AssertionError, KeyError, OSError, yaml.YAMLError, json.JSONDecodeError, StopIteration) as e:
        print(f"FAIL: reading manifests/: {type(e).__name__}: {e}")
        return 1
    skipped = (part_structure if args.part == "structure" else part_programs)(m, c, args)
    if skipped and not c.failures:
        print(skipped)
        return SKIP_CODE
    print(f"{args.part}: {c.passed} checks passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
