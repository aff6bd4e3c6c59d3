"""Writes OCI image archives (an OCI image layout packed in a tar) without a container engine.

Used by scripts/image (the DaemonSet's image) and tests/containerd/make_busybox_image.py (a
busybox image for test pods). The output is deterministic: the same files give the same bytes
(entries sorted, owner root, one fixed modification time, gzip without a timestamp), so
`ctr images import` of two builds of one tree names the same digests.
"""
import gzip
import hashlib
import io
import json
import tarfile

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


class Layer:
    """A root filesystem: directories, files (bytes) and symlinks, keyed by path without '/'."""

    def __init__(self):
        self.entries = {}

    def directory(self, path, mode=0o755):
        path = path.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts)):
            self.entries.setdefault("/".join(parts[:i]), ("dir", 0o755, None))
        self.entries[path] = ("dir", mode, None)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        if "/" in path:
            parent = path.rsplit("/", 1)[0]
            if parent not in self.entries:
                self.directory(parent)
        self.entries[path] = ("file", mode, data)

    def symlink(self, path, target):
        path = path.strip("/")
        if "/" in path:
            parent = path.rsplit("/", 1)[0]
            if parent not in self.entries:
                self.directory(parent)
        self.entries[path] = ("symlink", 0o777, target)

    def size(self):
        """Bytes of file content (what the root filesystem holds unpacked)."""
        return sum(len(data) for kind, _, data in self.entries.values() if kind == "file")

    def tar(self, mtime):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in sorted(self.entries):
                kind, mode, data = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mode, info.mtime, info.uid, info.gid = mode, mtime, 0, 0
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    archive.addfile(info)
                elif kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, data
                    archive.addfile(info)
                else:
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def _blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def write_archive(output, name, layer, config, mtime=0, created=None, compress_level=9):
    """Writes `layer` as a one-layer image named `name` (e.g. localhost/twill:0.1.0) with the
    given image config ({"Entrypoint": [...], "Env": [...], ...}) to the tar file `output`.
    Returns the manifest digest."""
    layer_tar = layer.tar(mtime)
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=compress_level, mtime=0) as gz:
        gz.write(layer_tar)
    layer_digest, layer_data = _blob(compressed.getvalue())

    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if created:
        image_config["created"] = created
    config_digest, config_data = _blob(json.dumps(image_config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config_data)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": len(layer_data)}],
    }
    manifest_digest, manifest_data = _blob(json.dumps(manifest, sort_keys=True).encode())
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": MANIFEST_TYPE,
            "digest": manifest_digest,
            "size": len(manifest_data),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": tag},
        }],
    }

    with tarfile.open(output, mode="w", format=tarfile.PAX_FORMAT) as archive:
        def add(path, data, mode=0o644):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            archive.addfile(info, io.BytesIO(data))

        def add_dir(path):
            info = tarfile.TarInfo(path)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            archive.addfile(info)

        add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add("index.json", json.dumps(index, sort_keys=True).encode())
        add_dir("blobs")
        add_dir("blobs/sha256")
        for digest, data in sorted(((layer_digest, layer_data), (config_digest, config_data),
                                    (manifest_digest, manifest_data))):
            add("blobs/sha256/" + digest.split(":")[1], data)
    return manifest_digest
