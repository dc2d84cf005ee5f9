#!/usr/bin/env python3
"""Local fakes of the cloud APIs that stackhook's e2e tests drive the real
CLIs against: a Kubernetes API (HTTPS), EKS DescribeCluster, GKE
clusters.get, Connect Gateway (Resource Manager, generateCredentials), Azure (cloud metadata, AAD token endpoint, ARM subscriptions,
AKS listClusterUserCredential, managed identity), Rancher's
generateKubeconfig action and a static file server.

Every server listens on 127.0.0.1 on a free port. The process prints one
JSON line with the ports and the CA path, then serves until its stdin is
closed. Requests are appended to <dir>/requests.log as JSON lines.

Usage: fake_cloud.py CONFIG.json   (see tests/e2e.rs for the keys)
"""

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import ssl
import sys
import threading
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress

CONFIG = json.load(open(sys.argv[1]))
DIR = CONFIG["dir"]
LOCK = threading.Lock()
PORTS = {}


def log(server, handler, status):
    entry = {"server": server, "method": handler.command, "path": handler.path, "status": status}
    # The quota project Google APIs bill (gcloud's --billing-project).
    if handler.headers.get("X-Goog-User-Project"):
        entry["quota_project"] = handler.headers["X-Goog-User-Project"]
    with LOCK, open(os.path.join(DIR, "requests.log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def make_certs():
    """A CA and a server certificate for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stackhook test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    ca_path = os.path.join(DIR, "ca.pem")
    with open(ca_path, "wb") as f:
        f.write(pem(ca))
    with open(os.path.join(DIR, "server.pem"), "wb") as f:
        f.write(pem(cert))
    with open(os.path.join(DIR, "server.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    # AKS's local admin user (`az aks get-credentials --admin`): a client
    # certificate of the cluster's CA, which the fake API accepts instead
    # of a bearer token.
    admin_key = ec.generate_private_key(ec.SECP256R1())
    admin = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "masterclient")]))
        .issuer_name(ca_name)
        .public_key(admin_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ADMIN["cert"] = base64.b64encode(pem(admin)).decode()
    ADMIN["key"] = base64.b64encode(admin_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())).decode()
    return ca_path


ADMIN = {}


# ---------------------------------------------------------------- EKS tokens

def eks_token_valid(token):
    """Checks an `aws eks get-token` token: a presigned STS
    GetCallerIdentity URL, signed (SigV4) with the test's secret key, for
    the test's cluster (the signed x-k8s-aws-id header)."""
    eks = CONFIG.get("eks")
    if not eks or not token.startswith("k8s-aws-v1."):
        return False
    b64 = token[len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).decode()
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if params.get("Action") != "GetCallerIdentity":
        return False
    credential = params.get("X-Amz-Credential", "").split("/")
    if len(credential) != 5 or credential[0] != eks["access_key"]:
        return False
    akid, date, region, service, _ = credential
    signed_headers = params.get("X-Amz-SignedHeaders", "")
    headers = {"host": parts.netloc, "x-k8s-aws-id": eks["cluster"]}
    if sorted(signed_headers.split(";")) != sorted(headers):
        return False
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(params.items())
        if k != "X-Amz-Signature"
    )
    canonical_headers = "".join(f"{h}:{headers[h]}\n" for h in sorted(headers))
    scope = f"{date}/{region}/{service}/aws4_request"

    def sign(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = sign(("AWS4" + eks["secret_key"]).encode(), date)
    k = sign(k, region)
    k = sign(k, service)
    k = sign(k, "aws4_request")
    for payload in (hashlib.sha256(b"").hexdigest(), "UNSIGNED-PAYLOAD"):
        canonical = "\n".join(["GET", parts.path or "/", query, canonical_headers, signed_headers, payload])
        to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(signature, params.get("X-Amz-Signature", "")):
            return True
    return False


# ------------------------------------------------------------------ handlers

class Base(http.server.BaseHTTPRequestHandler):
    name = "?"

    def log_message(self, *args):
        pass

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        log(self.name, self, status)

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


def k8s_tokens():
    """The tokens the fake API accepts: <dir>/k8s_tokens.json when a test
    wrote one (to change them mid-test, e.g. a token that expired), else the
    config's."""
    try:
        with open(os.path.join(DIR, "k8s_tokens.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return CONFIG.get("k8s_tokens", []) + kubelogin_tokens()


def kubelogin_tokens():
    """What tests/fakes/kubelogin.py derives from the Azure credentials the
    config names: a client certificate, a federated token."""
    az = CONFIG.get("aks") or {}
    sha = lambda *p: hashlib.sha256(b":".join(x if isinstance(x, bytes) else x.encode() for x in p)).hexdigest()[:32]
    out = []
    if CLIENT_CERT.get("cert") is not None:
        der = CLIENT_CERT["cert"].public_bytes(serialization.Encoding.DER)
        out.append("cert-" + sha(az["client_id"], der))
    if az.get("federated_token"):
        out.append("wi-" + sha(az["client_id"], az["tenant"], az["federated_token"]))
    return out


class Kube(Base):
    name = "k8s"

    def client_cn(self):
        """The common name of the client certificate the TLS handshake
        verified against the fake CA, if the client sent one."""
        peer = self.connection.getpeercert() or {}
        for rdn in peer.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    def handle_any(self):
        token = self.bearer()
        admin = token is None and self.client_cn() == "masterclient"
        if not admin and (token is None or not (token in k8s_tokens() or eks_token_valid(token))):
            return self.send_json(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        path = urllib.parse.urlsplit(self.path).path
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "platform": "linux/amd64"})
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = [{"name": "authorization.k8s.io", "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
                       "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}}]
            if not CONFIG.get("old_api"):
                groups.append({"name": "authentication.k8s.io",
                               "versions": [{"groupVersion": "authentication.k8s.io/v1", "version": "v1"}],
                               "preferredVersion": {"groupVersion": "authentication.k8s.io/v1", "version": "v1"}})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path == "/api/v1/namespaces":
            return self.send_json(200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {},
                                        "items": [{"metadata": {"name": "default"}}]})
        if path == "/api/v1":
            return self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list"]},
                {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
                 "verbs": ["get", "list"]}]})
        if path == "/apis/authentication.k8s.io/v1" and not CONFIG.get("old_api"):
            return self.send_json(200, {"kind": "APIResourceList", "groupVersion": "authentication.k8s.io/v1", "resources": [
                {"name": "selfsubjectreviews", "singularName": "selfsubjectreview", "namespaced": False,
                 "kind": "SelfSubjectReview", "verbs": ["create"]}]})
        if path == "/apis/authorization.k8s.io/v1":
            return self.send_json(200, {"kind": "APIResourceList", "groupVersion": "authorization.k8s.io/v1", "resources": [
                {"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview", "namespaced": False,
                 "kind": "SelfSubjectAccessReview", "verbs": ["create"]}]})
        if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and self.command == "POST":
            raw = self.body()
            try:
                spec = json.loads(raw or b"{}").get("spec", {})
            except ValueError:
                spec = {}
            # `denied`: "VERB RESOURCE" pairs this identity may not do. kubectl
            # may send the review as protobuf: then the words are looked for
            # in the body.
            words = lambda pair: [w.encode() for w in pair.split()]
            allowed = not any(all(w in raw for w in words(pair)) for pair in CONFIG.get("denied", []))
            return self.send_json(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                                        "metadata": {}, "spec": spec, "status": {"allowed": allowed}})
        # SelfSubjectReview (Kubernetes 1.28 GA): who the caller is. An
        # older API server (`old_api`) has none.
        if (path == "/apis/authentication.k8s.io/v1/selfsubjectreviews" and self.command == "POST"
                and not CONFIG.get("old_api")):
            self.body()
            user = "masterclient" if admin else "fake-user:" + hashlib.sha256(token.encode()).hexdigest()[:8]
            groups = ["system:masters", "system:authenticated"] if admin else ["system:authenticated"]
            return self.send_json(201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                                        "metadata": {}, "status": {"userInfo": {"username": user, "groups": groups}}})
        self.send_json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    do_GET = do_POST = handle_any


def ca_b64():
    with open(os.path.join(DIR, "ca.pem"), "rb") as f:
        return base64.b64encode(f.read()).decode()


class Eks(Base):
    name = "eks"

    def do_GET(self):
        eks = CONFIG["eks"]
        path = urllib.parse.urlsplit(self.path).path
        if path != f"/clusters/{eks['cluster']}":
            return self.send_json(404, {"message": f"No cluster found for name: {path.rsplit('/', 1)[-1]}."},
                                  {"x-amzn-ErrorType": "ResourceNotFoundException"})
        self.send_json(200, {"cluster": {
            "name": eks["cluster"],
            "arn": f"arn:aws:eks:{eks['region']}:111122223333:cluster/{eks['cluster']}",
            "endpoint": f"https://127.0.0.1:{PORTS['k8s']}",
            "status": "ACTIVE",
            "version": "1.32",
            "certificateAuthority": {"data": ca_b64()},
        }})


class Sts(Base):
    """AWS STS: AssumeRoleWithWebIdentity (a web identity token for a role:
    only the configured token and role are accepted) and AssumeRole (for
    update-kubeconfig's --assume-role-arn). Both hand out the configured EKS
    keys with a session token, so the fake API's SigV4 check of `aws eks
    get-token` still holds."""
    name = "sts"

    def do_POST(self):
        sts = CONFIG.get("sts") or {}
        eks = CONFIG["eks"]
        form = dict(urllib.parse.parse_qsl(self.body().decode()))
        action = form.get("Action")
        if action == "AssumeRoleWithWebIdentity":
            ok = form.get("RoleArn") == sts.get("role_arn") and form.get("WebIdentityToken") == sts.get("token")
        elif action == "AssumeRole":
            ok = form.get("RoleArn") in sts.get("assumable", [])
        else:
            ok = False
        if not ok:
            return self.send_xml(403, f"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform {action}</Message></Error>
<RequestId>fake</RequestId></ErrorResponse>""")
        expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        role = form.get("RoleArn", "")
        self.send_xml(200, f"""<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<{action}Result>
<Credentials><AccessKeyId>{eks['access_key']}</AccessKeyId><SecretAccessKey>{eks['secret_key']}</SecretAccessKey>
<SessionToken>fake-session-token</SessionToken><Expiration>{expires}</Expiration></Credentials>
<AssumedRoleUser><Arn>{role}/session</Arn><AssumedRoleId>AROAFAKE:session</AssumedRoleId></AssumedRoleUser>
<SubjectFromWebIdentityToken>spacelift</SubjectFromWebIdentityToken>
</{action}Result>
<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>
</{action}Response>""")

    def send_xml(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        log(self.name, self, status)
        with LOCK, open(os.path.join(DIR, "sts.log"), "a") as f:
            f.write(json.dumps({"status": status, "body": self._form}) + "\n")

    def body(self):
        data = Base.body(self)
        self._form = {k: v for k, v in urllib.parse.parse_qsl(data.decode()) if k != "WebIdentityToken"}
        return data


class Google(Base):
    """Google's STS token exchange (workload identity federation: the OIDC
    token for a federated token) and IAM credentials generateAccessToken
    (the federated token for the service account's access token, which
    the fake GKE and Kubernetes APIs accept)."""
    name = "google"

    def do_POST(self):
        g = CONFIG.get("google") or {}
        path = urllib.parse.urlsplit(self.path).path
        if path.endswith(":testIamPermissions"):
            # gcloud checks the caller may use the gateway: all granted.
            asked = json.loads(self.body() or b"{}").get("permissions", [])
            return self.send_json(200, {"permissions": asked})
        if path == "/v1/token":
            form = dict(urllib.parse.parse_qsl(self.body().decode()))
            if (form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange"
                    or form.get("subject_token") != g.get("oidc_token")
                    or form.get("audience") != g.get("audience")):
                return self.send_json(400, {"error": "invalid_grant", "error_description": "The token is invalid."})
            return self.send_json(200, {"access_token": "federated-access-token", "token_type": "Bearer",
                                        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                                        "expires_in": 3600})
        if path.endswith(":generateAccessToken"):
            # The federated token, or (impersonation) the token of a caller
            # allowed to impersonate the service account.
            callers = ["federated-access-token"] + ([g["impersonator_token"]] if g.get("impersonator_token") else [])
            if self.bearer() not in callers:
                return self.send_json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return self.send_json(200, {"accessToken": CONFIG["gke"]["token"], "expireTime": expires})
        self.send_json(404, {"error": {"code": 404, "message": path}})


def google_get(self):
    """Connect Gateway, as `gcloud container fleet memberships
    get-credentials` asks it: the project's number (Resource Manager),
    then the membership's gateway kubeconfig (`gke.membership`)."""
    gke = CONFIG.get("gke") or {}
    path = urllib.parse.urlsplit(self.path).path
    if self.bearer() != gke.get("token"):
        return self.send_json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    if path == f"/v1/projects/{gke['project']}":
        return self.send_json(200, {"projectId": gke["project"], "projectNumber": "123456789012",
                                    "lifecycleState": "ACTIVE"})
    if path == f"/v1/projects/123456789012/locations/{gke['location']}/memberships/{gke.get('membership')}:generateCredentials":
        # The gateway's kubeconfig: here the fake API stands for the gateway.
        name = f"connectgateway_{gke['project']}_{gke['location']}_{gke['membership']}"
        kubeconfig = f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: https://127.0.0.1:{PORTS['k8s']}
    certificate-authority-data: {ca_b64()}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}
current-context: {name}
users:
- name: {name}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      provideClusterInfo: true
      interactiveMode: IfAvailable
"""
        return self.send_json(200, {"kubeconfig": base64.b64encode(kubeconfig.encode()).decode(),
                                    "endpoint": f"https://127.0.0.1:{PORTS['k8s']}"})
    self.send_json(404, {"error": {"code": 404, "message": path, "status": "NOT_FOUND"}})


Google.do_GET = google_get


class Gke(Base):
    name = "gke"

    def do_GET(self):
        gke = CONFIG["gke"]
        if self.bearer() != gke["token"]:
            return self.send_json(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                                  "status": "UNAUTHENTICATED"}})
        want = f"/v1/projects/{gke['project']}/locations/{gke['location']}/clusters/{gke['cluster']}"
        if urllib.parse.urlsplit(self.path).path != want:
            return self.send_json(404, {"error": {"code": 404, "message": "Not found: cluster.", "status": "NOT_FOUND"}})
        self.send_json(200, {
            "name": gke["cluster"],
            "zone": gke["location"],
            "location": gke["location"],
            "endpoint": f"127.0.0.1:{PORTS['k8s']}",
            "status": "RUNNING",
            "currentMasterVersion": "1.32.0-gke.1",
            "masterAuth": {"clusterCaCertificate": ca_b64()},
        })


class Azure(Base):
    name = "aks"

    def base(self):
        return f"https://127.0.0.1:{PORTS['aks']}"

    def do_GET(self):
        az = CONFIG["aks"]
        path = urllib.parse.urlsplit(self.path).path
        if path == "/metadata/endpoints":
            b = self.base()
            return self.send_json(200, {
                "galleryEndpoint": b + "/", "graphEndpoint": b + "/", "portalEndpoint": b + "/",
                "graphAudience": b + "/", "name": "Fake", "batch": b + "/", "resourceManager": b + "/",
                "vmImageAliasDoc": b + "/aliases.json", "media": b + "/", "sqlManagement": b + "/",
                "microsoftGraphResourceId": b + "/", "appInsightsResourceId": b + "/",
                "appInsightsTelemetryChannelResourceId": b + "/", "attestationResourceId": b + "/",
                "synapseAnalyticsResourceId": b + "/", "logAnalyticsResourceId": b + "/",
                "ossrDbmsResourceId": b + "/",
                "authentication": {"loginEndpoint": b + "/", "audiences": [b + "/"], "tenant": "common",
                                   "identityProvider": "AAD"},
                "suffixes": {"azureDataLakeStoreFileSystem": "fake.net", "acrLoginServer": "fake.net",
                             "sqlServerHostname": "fake.net", "azureDataLakeAnalyticsCatalogAndJob": "fake.net",
                             "keyVaultDns": "fake.net", "storage": "fake.net", "azureFrontDoorEndpointSuffix": "fake.net",
                             "storageSyncEndpointSuffix": "fake.net", "mhsmDns": "fake.net", "mysqlServerEndpoint": "fake.net",
                             "postgresqlServerEndpoint": "fake.net", "mariadbServerEndpoint": "fake.net",
                             "synapseAnalytics": "fake.net", "attestationEndpoint": "fake.net"},
            })
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            tenant = path.split("/")[1]
            b = f"{self.base()}/{tenant}"
            return self.send_json(200, {
                "token_endpoint": b + "/oauth2/v2.0/token",
                "authorization_endpoint": b + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": b + "/oauth2/v2.0/devicecode",
                "issuer": b + "/v2.0",
                "jwks_uri": b + "/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "scopes_supported": ["openid"],
                "tenant_region_scope": "EU",
            })
        if path.startswith("/msi/token"):
            # App Service style managed identity (IDENTITY_ENDPOINT).
            if self.headers.get("X-IDENTITY-HEADER") != az["identity_header"]:
                return self.send_json(401, {"error": "invalid identity header"})
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            return self.send_json(200, {"access_token": fake_jwt(az, query.get("client_id", "system-assigned")), "expires_on": str(int(datetime.datetime.now().timestamp()) + 3600),
                                        "resource": self.base() + "/", "token_type": "Bearer"})
        if path == "/subscriptions" or path == "/subscriptions/":
            if not self.bearer():
                return self.send_json(401, {"error": {"code": "AuthenticationFailed"}})
            return self.send_json(200, {"value": [{
                "id": f"/subscriptions/{az['subscription']}", "subscriptionId": az["subscription"],
                "tenantId": az["tenant"], "displayName": az.get("subscription_name", "Fake subscription"), "state": "Enabled",
                "subscriptionPolicies": {}, "authorizationSource": "RoleBased"}]})
        if path == "/tenants":
            return self.send_json(200, {"value": [{"id": f"/tenants/{az['tenant']}", "tenantId": az["tenant"]}]})
        self.send_json(404, {"error": {"code": "NotFound", "message": path}})

    def do_POST(self):
        az = CONFIG["aks"]
        path = urllib.parse.urlsplit(self.path).path
        if path.endswith("/oauth2/v2.0/token"):
            form = dict(urllib.parse.parse_qsl(self.body().decode()))
            if "client_assertion" in form:
                return self.client_assertion(az, form)
            if form.get("client_id") != az["client_id"] or form.get("client_secret") != az["client_secret"]:
                return self.send_json(401, {"error": "invalid_client",
                                            "error_description": "AADSTS7000215: Invalid client secret provided.",
                                            "error_codes": [7000215]})
            return self.send_json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                        "access_token": "arm-access-token"})
        want = (f"/subscriptions/{az['subscription']}/resourceGroups/{az['resource_group']}"
                f"/providers/Microsoft.ContainerService/managedClusters/{az['cluster']}/")
        if path in (want + "listClusterUserCredential", want + "listClusterAdminCredential"):
            if not self.bearer():
                return self.send_json(401, {"error": {"code": "AuthenticationFailed"}})
            admin = path.endswith("listClusterAdminCredential")
            kubeconfig = aks_admin_kubeconfig(az) if admin else aks_kubeconfig(az)
            return self.send_json(200, {"kubeconfigs": [{"name": "clusterUser",
                                                         "value": base64.b64encode(kubeconfig.encode()).decode()}]})
        if "/managedClusters/" in path:
            return self.send_json(404, {"error": {"code": "ResourceNotFound",
                                                  "message": f"The Resource 'Microsoft.ContainerService/managedClusters/{path.split('/managedClusters/')[1].split('/')[0]}' was not found."}})
        self.send_json(404, {"error": {"code": "NotFound", "message": path}})


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def assertion_valid(az, assertion):
    """A client assertion is either the federated (OIDC) token itself, or a
    JWT that MSAL signed with the client certificate's key (x5t or x5t#S256
    names the certificate)."""
    if assertion == az.get("federated_token"):
        return True
    try:
        header_b64, payload_b64, sig_b64 = assertion.split(".")
        header = b64url_json(header_b64)
    except ValueError:
        return False
    cert = CLIENT_CERT.get("cert")
    if cert is None:
        return False
    from cryptography.hazmat.primitives.asymmetric import padding
    thumb1 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).decode().rstrip("=")
    thumb256 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
    # MSAL may keep the base64 padding.
    if header.get("x5t", "").rstrip("=") != thumb1 and header.get("x5t#S256", "").rstrip("=") != thumb256:
        return False
    signed = f"{header_b64}.{payload_b64}".encode()
    sig = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
    pad = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
           if header.get("alg") == "PS256" else padding.PKCS1v15())
    try:
        cert.public_key().verify(sig, signed, pad, hashes.SHA256())
        return True
    except Exception:
        return False


CLIENT_CERT = {}


def make_client_cert():
    """A client certificate for `login: cert`: key and certificate as PEM,
    and as a PFX with the configured password."""
    az = CONFIG.get("aks") or {}
    if "cert_password" not in az:
        return {}
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    now = datetime.datetime.now(datetime.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stackhook test client")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    CLIENT_CERT["cert"] = cert
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
    pfx = pkcs12.serialize_key_and_certificates(b"client", key, cert, None, serialization.BestAvailableEncryption(
        az["cert_password"].encode()))
    files = {"client_pem": os.path.join(DIR, "client.pem"), "client_pfx": os.path.join(DIR, "client.pfx")}
    for k, data in (("client_pem", pem), ("client_pfx", pfx)):
        with open(files[k], "wb") as f:
            f.write(data)
    return files


def fake_jwt(az, client_id):
    """An unsigned JWT: az reads the tenant and object id out of a managed
    identity's token."""
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
    now = int(datetime.datetime.now().timestamp())
    claims = {"tid": az["tenant"], "oid": "11111111-0000-0000-0000-000000000000", "appid": client_id,
              "aud": f"https://127.0.0.1:{PORTS['aks']}/", "iat": now, "nbf": now, "exp": now + 3600}
    return enc({"alg": "none", "typ": "JWT"}) + "." + enc(claims) + ".sig"


def aks_kubeconfig(az):
    """What AKS returns for an AAD-enabled cluster: a kubelogin exec user in
    device-code mode, which `kubelogin convert-kubeconfig` rewrites."""
    name = az["cluster"]
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    certificate-authority-data: {ca_b64()}
    server: https://127.0.0.1:{PORTS['k8s']}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: clusterUser_{az['resource_group']}_{name}
current-context: {name}
users:
- name: clusterUser_{az['resource_group']}_{name}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args:
      - get-token
      - --login
      - devicecode
      - --server-id
      - 6dae42f8-4368-4678-94ff-3960e28e3630
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - {az['tenant']}
      - --environment
      - AzurePublicCloud
      interactiveMode: IfAvailable
      provideClusterInfo: false
"""


def aks_admin_kubeconfig(az):
    """What AKS returns for `--admin`: the local admin user, a client
    certificate and key (no exec plugin for kubelogin to convert)."""
    name = az["cluster"]
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    certificate-authority-data: {ca_b64()}
    server: https://127.0.0.1:{PORTS['k8s']}
contexts:
- name: {name}-admin
  context:
    cluster: {name}
    user: clusterAdmin_{az['resource_group']}_{name}
current-context: {name}-admin
users:
- name: clusterAdmin_{az['resource_group']}_{name}
  user:
    client-certificate-data: {ADMIN['cert']}
    client-key-data: {ADMIN['key']}
"""


def client_assertion(self, az, form):
    if (form.get("client_id") != az["client_id"]
            or form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            or not assertion_valid(az, form["client_assertion"])):
        return self.send_json(401, {"error": "invalid_client",
                                    "error_description": "AADSTS700213: No matching federated identity record found.",
                                    "error_codes": [700213]})
    return self.send_json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                "access_token": "arm-access-token"})


Azure.client_assertion = client_assertion


class Rancher(Base):
    """Rancher's v3 API, the one action the custom-provider example calls:
    POST /v3/clusters/ID?action=generateKubeconfig with the API token as a
    bearer token answers {"baseType": ..., "config": KUBECONFIG, "type": ...}
    as Rancher does (compact JSON). The config's `rancher`: token, cluster;
    the kubeconfig is <dir>/rancher.kubeconfig, which the test writes once
    it knows the ports."""
    name = "rancher"

    def do_POST(self):
        r = CONFIG.get("rancher") or {}
        self.body()
        url = urllib.parse.urlsplit(self.path)
        if self.bearer() != r.get("token"):
            return self.send_json(401, {"type": "error", "status": "401", "code": "Unauthorized",
                                        "message": "must authenticate"})
        if url.path != f"/v3/clusters/{r.get('cluster')}" or url.query != "action=generateKubeconfig":
            return self.send_json(404, {"type": "error", "status": "404", "code": "NotFound"})
        with open(os.path.join(DIR, "rancher.kubeconfig")) as f:
            kubeconfig = f.read()
        data = json.dumps({"baseType": "generateKubeConfigOutput", "config": kubeconfig,
                           "type": "generateKubeConfigOutput"}, separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        log(self.name, self, 200)


class Static(Base):
    name = "static"

    def do_GET(self):
        name = urllib.parse.urlsplit(self.path).path.lstrip("/")
        path = os.path.join(DIR, "static", name)
        if "/" in name or name.startswith(".") or not os.path.isfile(path):
            return self.send_json(404, {"error": "not found"})
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        log(self.name, self, 200)


def serve(name, handler, tls, client_certs=False):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(DIR, "server.pem"), os.path.join(DIR, "server.key"))
        if client_certs:
            # Asked for, not required: bearer tokens work as before.
            ctx.load_verify_locations(os.path.join(DIR, "ca.pem"))
            ctx.verify_mode = ssl.CERT_OPTIONAL
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    PORTS[name] = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    ca = make_certs()
    files = make_client_cert()
    serve("k8s", Kube, True, client_certs=True)
    serve("eks", Eks, False)
    serve("sts", Sts, False)
    serve("gke", Gke, False)
    serve("google", Google, False)
    serve("aks", Azure, True)
    serve("static", Static, False)
    serve("rancher", Rancher, False)
    print(json.dumps({"ports": PORTS, "ca": ca, "files": files}), flush=True)
    # Serve until the test closes stdin (or dies).
    sys.stdin.read()


if __name__ == "__main__":
    main()
