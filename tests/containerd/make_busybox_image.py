#!/usr/bin/python3
"""Builds an OCI image archive holding Debian's static busybox, for `ctr images import`.

usage: make_busybox_image.py OUTPUT.tar [IMAGE-NAME]
Nothing is downloaded: the one file in the image is /bin/busybox from busybox-static. The
archive is written by scripts/oci_archive.py, as the DaemonSet's image is (scripts/image).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import oci_archive  # noqa: E402


def main():
    output = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else "docker.io/library/twill-busybox:latest"
    layer = oci_archive.Layer()
    for directory in ("bin", "tmp", "etc"):
        layer.directory(directory)
    layer.file("bin/busybox", Path("/bin/busybox").read_bytes(), 0o755)
    layer.symlink("bin/sh", "busybox")
    oci_archive.write_archive(output, name, layer,
                              {"Cmd": ["/bin/busybox", "sleep", "3600"], "Env": ["PATH=/bin"]})
    print(name)


if __name__ == "__main__":
    main()
