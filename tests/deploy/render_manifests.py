#!/usr/bin/python3
"""Renders a kustomization under manifests/ the way an operator applies it and writes the
objects as a JSON list (for tests/deploy, which is C++ and reads JSON).

usage: render_manifests.py KUSTOMIZATION-DIR OUTPUT.json
Exit 77 (skipped) when kubectl is not installed.
"""
import json
import shutil
import subprocess
import sys

import yaml


def main():
    directory, output = sys.argv[1], sys.argv[2]
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("SKIPPED: kubectl is not installed (it renders the manifests: kubectl kustomize)")
        return 77
    result = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"kubectl kustomize {directory} failed: {result.stderr}")
        return 1
    documents = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    with open(output, "w") as f:
        json.dump(documents, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
