"""Stand-in for Azure's kubelogin (see tests/fakes/kubelogin), following its
contract as its source states it (github.com/Azure/kubelogin, v0.2.x):

convert-kubeconfig (pkg/internal/converter/convert.go): rewrites every user
whose exec command is kubelogin to `get-token --login MODE --server-id ID`
plus, per mode: spn: --client-id (the flag, else the old arg), --tenant-id
(likewise), --environment; msi: --client-id if given; workloadidentity:
--client-id, --tenant-id, --authority-host, --federated-token-file if given;
azurecli: --tenant-id if given. --use-azurerm-env-vars is accepted (it is a
token option) but NOT written into the arguments.

get-token (pkg/internal/token/options.go, UpdateFromEnv): the environment
overrides the flags. With --use-azurerm-env-vars: ARM_CLIENT_ID,
ARM_CLIENT_SECRET, ARM_CLIENT_CERTIFICATE_PATH,
ARM_CLIENT_CERTIFICATE_PASSWORD, ARM_TENANT_ID; without:
AAD_SERVICE_PRINCIPAL_CLIENT_ID then AZURE_CLIENT_ID, ..._CLIENT_SECRET then
AZURE_CLIENT_SECRET, ..._CLIENT_CERTIFICATE then
AZURE_CLIENT_CERTIFICATE_PATH, AZURE_TENANT_ID. workloadidentity also reads
AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST. azurecli
runs `az account get-access-token --resource SERVER_ID` (azidentity's
AzureCLICredential).

Where the real kubelogin would call Entra ID, the stub derives the token
from what it was given, so the fake API server can check that the right
credential reached it: spn-SHA(client:secret), cert-SHA(client:certificate),
wi-SHA(client:tenant:federated token), msi-token. Every call is recorded in
$KUBELOGIN_LOG.
"""

import hashlib
import json
import os
import subprocess
import sys

import yaml

FLAGS_WITH_VALUE = {"-l": "login", "--login": "login", "--client-id": "client-id", "--tenant-id": "tenant-id",
                    "-t": "tenant-id", "--server-id": "server-id", "--environment": "environment",
                    "--federated-token-file": "federated-token-file", "--authority-host": "authority-host",
                    "--client-secret": "client-secret", "--client-certificate": "client-certificate",
                    "--kubeconfig": "kubeconfig", "--context": "context"}
BOOL_FLAGS = {"--use-azurerm-env-vars": "use-azurerm-env-vars", "--legacy": "legacy"}


def parse(args):
    opts = {}
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition("=")
        if name in FLAGS_WITH_VALUE:
            if not eq:
                i += 1
                value = args[i]
            opts[FLAGS_WITH_VALUE[name]] = value
        elif a in BOOL_FLAGS:
            opts[BOOL_FLAGS[a]] = True
        else:
            sys.exit(f"kubelogin: unknown flag {a}")
        i += 1
    return opts


def exec_arg(args, flag):
    return args[args.index(flag) + 1] if flag in args[:-1] else ""


def convert(opts):
    mode = opts.get("login", "devicecode")
    path = opts.get("kubeconfig") or os.environ["KUBECONFIG"].split(":")[0]
    with open(path) as f:
        config = yaml.safe_load(f)
    for user in config.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if not exec_ or "kubelogin" not in exec_.get("command", "").lower():
            continue
        old = exec_.get("args") or []
        args = ["get-token", "--login", mode, "--server-id", exec_arg(old, "--server-id")]
        if mode == "spn":
            args += ["--client-id", opts.get("client-id") or exec_arg(old, "--client-id")]
            args += ["--tenant-id", opts.get("tenant-id") or exec_arg(old, "--tenant-id")]
            if exec_arg(old, "--environment"):
                args += ["--environment", exec_arg(old, "--environment")]
        elif mode == "msi":
            if "client-id" in opts:
                args += ["--client-id", opts["client-id"]]
        elif mode == "workloadidentity":
            for k in ("client-id", "tenant-id", "authority-host", "federated-token-file"):
                if k in opts:
                    args += ["--" + k, opts[k]]
        elif mode == "azurecli":
            if "tenant-id" in opts:
                args += ["--tenant-id", opts["tenant-id"]]
        else:
            sys.exit(f"kubelogin stub: login mode {mode} is not supported here")
        user["user"]["exec"] = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
                                "args": args, "installHint": exec_.get("installHint", "kubelogin is not installed")}
    with open(path + ".kubelogin", "w") as f:
        yaml.safe_dump(config, f)
    os.replace(path + ".kubelogin", path)


def sha(*parts):
    return hashlib.sha256(b":".join(p if isinstance(p, bytes) else p.encode() for p in parts)).hexdigest()[:32]


def env(name):
    return os.environ.get(name)


def get_token(opts):
    mode = env("AAD_LOGIN_METHOD") or opts.get("login", "devicecode")
    client, secret, cert, password, tenant = (opts.get("client-id"), opts.get("client-secret"),
                                              opts.get("client-certificate"), None, opts.get("tenant-id"))
    if opts.get("use-azurerm-env-vars"):
        client = env("ARM_CLIENT_ID") if "ARM_CLIENT_ID" in os.environ else client
        secret = env("ARM_CLIENT_SECRET") if "ARM_CLIENT_SECRET" in os.environ else secret
        cert = env("ARM_CLIENT_CERTIFICATE_PATH") if "ARM_CLIENT_CERTIFICATE_PATH" in os.environ else cert
        password = env("ARM_CLIENT_CERTIFICATE_PASSWORD")
        tenant = env("ARM_TENANT_ID") if "ARM_TENANT_ID" in os.environ else tenant
    else:
        for k in ("AAD_SERVICE_PRINCIPAL_CLIENT_ID", "AZURE_CLIENT_ID"):
            client = env(k) if k in os.environ else client
        for k in ("AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "AZURE_CLIENT_SECRET"):
            secret = env(k) if k in os.environ else secret
        for k in ("AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE", "AZURE_CLIENT_CERTIFICATE_PATH"):
            cert = env(k) if k in os.environ else cert
        for k in ("AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PASSWORD"):
            password = env(k) if k in os.environ else password
        tenant = env("AZURE_TENANT_ID") if "AZURE_TENANT_ID" in os.environ else tenant
    token_file = opts.get("federated-token-file")
    if mode == "workloadidentity":
        client = env("AZURE_CLIENT_ID") or client
        token_file = env("AZURE_FEDERATED_TOKEN_FILE") or token_file
    if mode == "spn":
        if cert:
            token = "cert-" + sha(client or "", certificate_der(cert, password))
        elif client and secret:
            token = "spn-" + sha(client, secret)
        else:
            sys.exit("kubelogin: client ID and a client secret or certificate are required for spn login")
    elif mode == "msi":
        token = "msi-token"
    elif mode == "workloadidentity":
        if not (client and tenant and token_file):
            sys.exit("kubelogin: client ID, tenant ID and a federated token file are required for workloadidentity")
        with open(token_file) as f:
            token = "wi-" + sha(client, tenant, f.read().strip())
    elif mode == "azurecli":
        out = subprocess.run(["az", "account", "get-access-token", "--output", "json", "--resource",
                              opts.get("server-id", "")], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("kubelogin: AzureCLICredential: " + out.stderr.strip())
        token = json.loads(out.stdout)["accessToken"]
    else:
        sys.exit(f"kubelogin: login mode '{mode}' needs a browser")
    print(json.dumps({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1",
                      "spec": {}, "status": {"token": token}}))


def certificate_der(path, password):
    """The DER certificate of a PEM (key and certificate) or PFX file, as
    kubelogin's spn mode loads it; a PFX needs its password."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN" in data:
        cert = x509.load_pem_x509_certificate(data)
    else:
        try:
            _, cert, _ = pkcs12.load_key_and_certificates(data, (password or "").encode() or None)
        except ValueError:
            sys.exit("kubelogin: failed to decode pkcs12 certificate: wrong password or not a PFX")
    return cert.public_bytes(serialization.Encoding.DER)


def main():
    with open(os.environ["KUBELOGIN_LOG"], "a") as f:
        f.write(" ".join(sys.argv[1:]) + "\n")
    if len(sys.argv) < 2:
        sys.exit("kubelogin: a command is required")
    cmd, opts = sys.argv[1], parse(sys.argv[2:])
    if cmd == "convert-kubeconfig":
        convert(opts)
    elif cmd == "get-token":
        get_token(opts)
    else:
        sys.exit(f"kubelogin stub: unsupported command {cmd}")


main()
