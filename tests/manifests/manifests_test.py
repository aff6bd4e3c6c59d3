#!/usr/bin/env python3
"""Checks manifests/ (Kubernetes manifests, systemd unit) against the code and scripts/image.

Two parts, registered as two CTest tests (tests/manifests/CMakeLists.txt):

  --part structure  parses every manifest with a real YAML parser and checks it against the
                    contracts of DESIGN.md and the code: the shipped conflist, no net-conf.json
                    (twilld reads its config from etcd only), host paths, probe paths (those
                    the metrics server answers), the init container's plugin install, the
                    image (what scripts/image puts where), the userspace WireGuard overlay
                    (rendered with `kubectl kustomize`), the unit.
  --part programs   checks the same files against the built programs: every --flag and
                    TWILL_* variable exists in `twilld --help`, each value given for an option
                    with a fixed set of values is one of them, the mounted paths and the probe
                    port are twilld's defaults, the plugin supports the conflist's versions,
                    and every library the programs link resolves (scripts/image copies them).
                    Run with
                    --require NAME for each program target the build has; when the build has
                    no twilld target the part prints "SKIPPED: ..." and exits SKIP_CODE.

Environment: TWILL_SOURCE_DIR (repository), TWILL_BUILD_DIR (build tree, programs in bin/).
"""

import argparse
import importlib.machinery
import importlib.util
import json
import os
import re
import shlex
import shutil
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
NAMESPACE = "twill-system"
PROGRAMS = ("twilld", "netctl", "twill")
# Kustomizations operators apply (manifests/<dir>), and the Component the last one uses.
KUSTOMIZATIONS = ("base", "k3s", "k3s-wireguard-userspace")
WIREGUARD_COMPONENT = "wireguard-userspace"
# Commands busybox lacks that a Debian shell script might use; the image's /bin/sh is busybox.
NOT_IN_BUSYBOX = ("install", "flock", "stat -c")


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
    """The objects of the base manifests (overlays only patch them)."""
    for name, docs in documents.items():
        if Path(name).name == "kustomization.yaml" or not name.startswith("base/"):
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


def load_image_script(source):
    """scripts/image as a module: where it puts each program and file in the image."""
    path = source / "scripts" / "image"
    loader = importlib.machinery.SourceFileLoader("twill_image_script", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def render(directory):
    """`kubectl kustomize` output as objects; None when kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory}: {result.stderr.strip()}")
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def project_version(source):
    match = re.search(r"project\(twill VERSION (\S+)", (source / "CMakeLists.txt").read_text())
    return match.group(1) if match else None


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
        self.source = source
        self.image = load_image_script(source)
        self.skipped = []
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
                wanted = "Component" if name.startswith(WIREGUARD_COMPONENT + "/") else "Kustomization"
                c.check(doc.get("kind") == wanted, f"{name}: kind is not {wanted}")
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
    # twilld reads its network config from etcd only and the image has no etcdctl to copy a
    # ConfigMap's into etcd: a net-conf.json here would be applied by nothing.
    c.check("net-conf.json" not in m.configmap["data"],
            "the ConfigMap has net-conf.json, which nothing applies (docs: etcdctl put <prefix>/config)")
    c.check(set(m.configmap["data"]) == {m.conflist_key},
            f"the ConfigMap holds {sorted(m.configmap['data'])}, only {m.conflist_key} is used")


def metrics_paths(source):
    """The paths the metrics server answers (daemon/metrics/http_server.cpp)."""
    text = (source / "daemon" / "metrics" / "http_server.cpp").read_text()
    return set(re.findall(r'path == "(/[a-z]*)"', text))


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
    served = metrics_paths(m.source)
    c.check({"/healthz", "/readyz"} <= served, f"the metrics server answers {sorted(served)}")
    for probe in ("livenessProbe", "readinessProbe"):
        path = m.twilld[probe]["httpGet"]["path"]
        c.check(path in served, f"{probe} path {path} is not one the metrics server answers ({sorted(served)})")
    c.check(m.twilld["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe is not /healthz")
    c.check(m.twilld["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe is not /readyz")
    c.check([p.get("containerPort") for p in m.twilld.get("ports", [])] == [port],
            "twilld's containerPort is not the probes' port")
    c.check(port == METRICS_PORT == m.probe_port("readinessProbe"),
            f"probes use ports {port} and {m.probe_port('readinessProbe')}, not {METRICS_PORT}")
    if "TWILL_METRICS_ADDR" in env:
        c.check(port_of(env["TWILL_METRICS_ADDR"]["value"]) == port,
                "TWILL_METRICS_ADDR's port differs from the probes' port")


def image_path(m, source):
    """Where scripts/image puts a program of the build or a file of the host."""
    if source in m.image.PROGRAMS:
        return "/" + m.image.PROGRAMS[source]
    return "/" + m.image.HOST_FILES[source] if source in m.image.HOST_FILES else None


def check_install_container(m, c):
    hosts = {name: m.volumes[name].get("hostPath", {}).get("path") for name in ("cni-bin", "cni-conf")}
    c.check(hosts == {"cni-bin": CNI_BIN_DIR, "cni-conf": CNI_CONF_DIR},
            f"CNI host paths are {hosts}, not {CNI_BIN_DIR} and {CNI_CONF_DIR}")
    c.check(m.install.get("command") == ["/bin/sh", "-c"] and len(m.install.get("args", [])) == 1,
            "init container is not one script for /bin/sh -c")
    script = m.install["args"][0]
    bin_dir = mount_path(m.install, "cni-bin")
    conf_dir = mount_path(m.install, "cni-conf")
    config_dir = mount_path(m.install, "twill-config")
    c.check(mount_path(m.install, "state") == STATE_DIR,
            f"init container does not mount the state volume at {STATE_DIR} (for cni-installed)")
    c.check(f"record={STATE_DIR}/cni-installed" in script,
            "init container does not record what it wrote in <state-dir>/cni-installed")
    c.check(f"bin={bin_dir} " in script and f"conf={conf_dir} " in script,
            f"init container's $bin and $conf are not its mounts {bin_dir} and {conf_dir}")
    plugin = m.conflist["plugins"][0]["type"]
    staged = image_path(m, "twill")
    c.check(re.search(rf'put {re.escape(staged)} "\$bin" {plugin} 0755', script),
            f"init container does not install the image's {staged} as $bin/{plugin} (the conflist's type)")
    c.check(f'echo "bin {plugin}"' in script, f"init container does not record bin {plugin}")
    items = [i for i in m.volumes["twill-config"]["configMap"].get("items", []) if i["key"] == m.conflist_key]
    c.check(items and re.search(rf'put {re.escape(config_dir)}/{re.escape(items[0]["path"])} "\$conf" '
                                rf'{re.escape(m.conflist_key)} 0644', script),
            f"init container does not install {m.conflist_key} from the ConfigMap into $conf")
    c.check(f'echo "conf {m.conflist_key}"' in script, f"init container does not record conf {m.conflist_key}")
    for chained in m.conflist["plugins"][1:]:
        name = chained["type"]
        source = image_path(m, f"/usr/lib/cni/{name}")
        c.check(source and re.search(rf'put {re.escape(source)} "\$bin" {name} 0755', script),
                f"init container does not provide the chained plugin {name} from the image")
        c.check(f'present "$bin/{name}"' in script, f"init container replaces a {name} the host has")
        c.check(f'echo "bin {name}"' in script, f"init container does not record bin {name}")
    # A dangling symlink (K3s's portmap, absolute into K3s's data dir) is present too.
    c.check(re.search(r'present\(\) \{ \[ -e "\$1" \] \|\| \[ -L "\$1" \]; \}', script),
            "presence is not `[ -e ] || [ -L ]`: a dangling symlink would be replaced")
    c.check(re.search(r'mv -f "\$2/\.\$3\.tmp" "\$2/\$3"', script),
            "init container does not rename files into place")
    for command in NOT_IN_BUSYBOX:
        c.check(not re.search(rf"(^|[;&|(]\s*|\n\s*){re.escape(command)}\s", script),
                f"init container runs {command}, which the image's busybox lacks")


def check_image(m, c):
    c.check(not (m.dir / "Dockerfile").exists(),
            "manifests/Dockerfile is back: the image is built by scripts/image only")
    name = f"localhost/twill:{project_version(m.source)}"
    for container_spec in (m.twilld, m.install):
        c.check(container_spec["image"] == name,
                f"{container_spec['name']} runs {container_spec['image']}, scripts/image builds {name}")
    c.check(image_path(m, "twilld") == m.twilld["command"][0],
            f"DaemonSet runs {m.twilld['command'][0]}, the image has twilld at {image_path(m, 'twilld')}")
    c.check("sh" in m.image.APPLETS, "the image has no /bin/sh for the init container")


def check_wireguard_overlay(m, c):
    """manifests/k3s-wireguard-userspace, rendered: wireguard-go in a container of its own,
    where twilld looks for it."""
    rendered = render(m.dir / "k3s-wireguard-userspace")
    if rendered is None:
        m.skipped.append("kubectl is not installed: the rendered overlays were not checked")
        return
    for name in KUSTOMIZATIONS[:-1]:
        render(m.dir / name)
    daemonset = next(d for d in rendered if d["kind"] == "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    names = [x["name"] for x in pod["containers"]]
    c.check(names == ["wireguard-go", "twilld"], f"wireguard overlay's containers are {names}")
    wg = container(pod, "wireguard-go")
    twilld = container(pod, "twilld")
    volumes = volumes_of(pod)
    device = re.search(r'kWireguardDevice = "([^"]+)"',
                       (m.source / "include/twill/backend/wireguard_backend.hpp").read_text()).group(1)
    c.check(wg["command"] == [image_path(m, "/usr/bin/wireguard-go"), "-f", device],
            f"wireguard-go container does not run the image's wireguard-go for {device}: {wg['command']}")
    c.check(wg["image"] == twilld["image"], "wireguard-go container runs another image")
    socket_dir = mount_path(wg, "wireguard")
    c.check(socket_dir == "/var/run/wireguard", "wireguard-go's socket dir /var/run/wireguard is not the volume")
    c.check(volumes["wireguard"].get("hostPath", {}).get("path") == f"{RUN_DIR}/wireguard",
            f"the wireguard volume is not twilld's <run-dir>/wireguard ({RUN_DIR}/wireguard)")
    hook = " ".join(wg.get("lifecycle", {}).get("postStart", {}).get("exec", {}).get("command", []))
    c.check(f"-S {socket_dir}/{device}.sock" in hook,
            "wireguard-go's postStart does not wait for its UAPI socket (twilld would start its own)")
    c.check(wg.get("securityContext", {}).get("privileged") is True, "wireguard-go is not privileged (/dev/net/tun)")
    c.check(env_of(twilld).get("TWILL_WIREGUARD_IMPL", {}).get("value") == "userspace",
            "twilld is not pinned to the userspace WireGuard implementation")


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
                  check_install_container, check_image, check_wireguard_overlay, check_unit):
        try:
            check(m, c)
        except (AssertionError, KeyError, TypeError, IndexError, ValueError) as e:
            c.check(False, f"{check.__name__}: {type(e).__name__}: {e}")
    return "SKIPPED: " + "; ".join(m.skipped) if m.skipped else None


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


def check_libraries(m, c, binaries):
    """Every library a program links resolves here: scripts/image copies what ldd lists."""
    for binary in binaries:
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
        c.check(ldd.returncode == 0, f"ldd {binary}: {ldd.stderr.strip()}")
        missing = [line.strip() for line in ldd.stdout.splitlines() if "not found" in line]
        c.check(not missing, f"{binary} links libraries that are not installed: {missing}")


def check_option_values(m, c, twilld):
    """A value the manifests give an option with a fixed set of values (`TEXT:{a,b,c}` in
    --help) is one of them."""
    text = subprocess.run([twilld, "--help"], capture_output=True, text=True, timeout=60).stdout
    choices = {}
    for line in text.splitlines():
        env = re.search(r"\(Env:(TWILL_[A-Z0-9_]+)\)", line)
        values = re.search(r":\{([a-z0-9,-]+)\}", line)
        if env and values:
            choices[env.group(1)] = values.group(1).split(",")
    c.check({"TWILL_WIREGUARD_IMPL", "TWILL_LOG_FORMAT"} <= choices.keys(),
            f"could not read the choices of TWILL_WIREGUARD_IMPL and TWILL_LOG_FORMAT from --help ({sorted(choices)})")
    for name in KUSTOMIZATIONS:
        rendered = render(m.dir / name)
        if rendered is None:
            m.skipped.append("kubectl is not installed: option values of the rendered manifests not checked")
            return
        for doc in rendered:
            if doc["kind"] != "DaemonSet":
                continue
            for e in env_of(container(doc["spec"]["template"]["spec"], "twilld")).values():
                if e["name"] in choices and "value" in e:
                    c.check(e["value"] in choices[e["name"]],
                            f"{name}: {e['name']}={e['value']} is not one of {choices[e['name']]}")


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
        if "twilld" in found:
            check_option_values(m, c, found["twilld"])
        check_libraries(m, c, list(found.values()))
    except (AssertionError, KeyError, ValueError, subprocess.SubprocessError, json.JSONDecodeError) as e:
        c.check(False, f"{type(e).__name__}: {e}")
    return "SKIPPED: " + "; ".join(m.skipped) if m.skipped else None


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
