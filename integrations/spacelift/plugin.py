"""
# stackhook

Logs kubectl (and Terraform's kubernetes and helm providers) in to a
Kubernetes cluster before init, from one committed YAML spec per stack,
with secrets masked and everything rolled back on failure.

## Usage

1. Install the plugin.
2. Add the plugin's autoattach label to each stack that talks to Kubernetes.
3. Commit the stack's spec as `specs/<stack id>.yaml` at the root of its
   repository (or set the "Spec path" parameter).

Before init, the plugin installs the stackhook release binary for the
worker's architecture into the workspace, after checking it against the
checksums this plugin carries, then runs `stackhook run`. The binary lives
in the workspace, so kubeconfigs that name it keep working in a resumed run.
"""

import os
import re
from pathlib import Path

from spaceforge import Context, MountedFile, Parameter, SpaceforgePlugin, Variable

# Where spaceforge's own plugins put binaries: inside the workspace, which a
# run resumed in a new container keeps.
BINARY_DIR = "/mnt/workspace/plugins/plugin_binaries"
STACKHOOK = f"{BINARY_DIR}/stackhook"
PLUGIN_DIR = "/mnt/workspace/plugins/stackhook"
SOURCE_DIR = "/mnt/workspace/source"

REPOSITORY = Path(__file__).resolve().parents[2]
ARCHIVE = re.compile(
    r"^[0-9a-f]{64} [ *]stackhook-(?P<version>[0-9][0-9A-Za-z.+-]*)-"
    r"(?:x86_64|aarch64)-unknown-linux-musl\.tar\.gz$"
)


def release() -> tuple[str, str]:
    """The version and the archives' SHA256SUMS lines of the release this
    plugin installs, read from the file scripts/release writes."""
    path = os.environ.get("STACKHOOK_SHA256SUMS")
    if not path:
        raise RuntimeError(
            "set STACKHOOK_SHA256SUMS to the release's SHA256SUMS "
            "(scripts/release generates the plugin)"
        )
    lines = [
        line for line in Path(path).read_text().splitlines() if ARCHIVE.match(line)
    ]
    versions = {ARCHIVE.match(line)["version"] for line in lines}
    if len(versions) != 1:
        raise RuntimeError(f"{path} must list archives of one version, not {versions}")
    return versions.pop(), "\n".join(lines) + "\n"


VERSION, SHA256SUMS = release()


class StackhookPlugin(SpaceforgePlugin):
    __doc__ = __doc__
    __plugin_name__ = "stackhook"
    __version__ = VERSION
    __author__ = "The stackhook authors"
    __labels__ = ["kubernetes"]

    __parameters__ = [
        Parameter(
            name="Spec path",
            id="spec_path",
            type="string",
            description=(
                "The stackhook spec, relative to the repository root. Empty: "
                "specs/<stack id>.yaml, else .stackhook.yaml."
            ),
            default="",
        ),
        Parameter(
            name="Kubeconfig path",
            id="kubeconfig_path",
            type="string",
            description=(
                "Where stackhook writes the kubeconfig; exported as KUBECONFIG "
                "to every phase. Keep it in /mnt/workspace so a resumed run "
                "finds it."
            ),
            default="/mnt/workspace/.kube/config",
        ),
        Parameter(
            name="Env file",
            id="env_file",
            type="string",
            description=(
                "Optional absolute path: `stackhook run --env-file` writes the "
                "steps' exports there and the hook loads them. Empty: no env file."
            ),
            default="",
        ),
        Parameter(
            name="Download URL",
            id="download_url",
            type="string",
            description=(
                "Optional mirror of the release files (https). Empty: the GitHub "
                "release. Archives are checked against this plugin's checksums "
                "wherever they come from."
            ),
            default="",
        ),
    ]

    __contexts__ = [
        Context(
            name_prefix="stackhook",
            description="Installs stackhook and runs `stackhook run` before init",
            env=[
                Variable(key="STACKHOOK_SPEC", value_from_parameter="spec_path"),
                Variable(key="KUBECONFIG", value_from_parameter="kubeconfig_path"),
                Variable(key="STACKHOOK_ENV_FILE", value_from_parameter="env_file"),
                Variable(
                    key="STACKHOOK_DOWNLOAD_URL", value_from_parameter="download_url"
                ),
            ],
            mounted_files=[
                MountedFile(
                    path=f"{PLUGIN_DIR}/install.sh",
                    content=(REPOSITORY / "install.sh").read_text(),
                ),
                MountedFile(path=f"{PLUGIN_DIR}/SHA256SUMS", content=SHA256SUMS),
            ],
            hooks={
                "before_init": [
                    f"sh {PLUGIN_DIR}/install.sh --version {VERSION} "
                    f"--sha256sums {PLUGIN_DIR}/SHA256SUMS --to {BINARY_DIR}",
                    f"(cd {SOURCE_DIR} && {STACKHOOK} run "
                    '${STACKHOOK_ENV_FILE:+--env-file "$STACKHOOK_ENV_FILE"})',
                    'if [ -n "${STACKHOOK_ENV_FILE:-}" ]; then . "$STACKHOOK_ENV_FILE"; fi',
                ]
            },
        )
    ]
