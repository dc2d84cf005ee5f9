//! What the environment points stackhook at, read on a flow's behalf: a
//! token file, a credentials file, a kubeconfig, a token's claims. Each is
//! read in bounded time and memory (a FIFO or /dev/zero is said, not read)
//! and no claim makes stackhook panic. Every run here is under
//! `timeout 60`, so a hang fails the test (exit 124) instead of hanging it.

mod common;

use common::*;

/// Runs the binary in the sandbox under `timeout 60`.
fn bounded(sb: &Sandbox, args: &[&str], extra: &[(&str, &str)]) -> (i32, String, String) {
    bounded_for(60, sb, args, extra)
}

/// The same under `timeout SECS`.
fn bounded_for(
    secs: u32,
    sb: &Sandbox,
    args: &[&str],
    extra: &[(&str, &str)],
) -> (i32, String, String) {
    let out = std::process::Command::new("timeout")
        .env_clear()
        .envs(sb.envs())
        .envs(extra.iter().copied())
        .current_dir(sb.path("work"))
        .arg(secs.to_string())
        .arg(bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_ne!(code, 124, "stackhook hung: {err}");
    (code, String::from_utf8_lossy(&out.stdout).into(), err)
}

/// An unsigned JWT whose payload is `claims`.
fn jwt(claims: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!("{}.{}.sig", b64(r#"{"alg":"none"}"#), b64(claims))
}

fn spec(name: &str) -> String {
    root().join("specs").join(name).display().to_string()
}

/// Finding 8: `ARM_OIDC_TOKEN_FILE_PATH=FIFO stackhook plan` waited for a
/// writer forever; a `/dev/zero` token file grew memory without bound. Now
/// the plan says what the file is and goes on (the token's expiry is not
/// checked); so for the AWS token file and for a Google credentials file,
/// or the token file it names.
#[test]
fn token_and_credentials_files_that_are_not_regular_files_are_said_not_read() {
    let sb = Sandbox::new();
    let fifo = sb.fifo("work/token.fifo");
    let big = sb.path("work/big.oidc");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    let creds = sb.path("work/creds.json");
    let json =
        serde_json::json!({"type": "external_account", "credential_source": {"file": "/dev/zero"}});
    std::fs::write(&creds, json.to_string()).unwrap();
    let fifo = fifo.to_str().unwrap();
    let cases: [(&str, (&str, &str), String); 6] = [
        (
            "azure-aks-oidc.yaml",
            ("ARM_OIDC_TOKEN_FILE_PATH", fifo),
            format!("cannot check {fifo}: it is a FIFO, not a regular file"),
        ),
        (
            "azure-aks-oidc.yaml",
            ("ARM_OIDC_TOKEN_FILE_PATH", "/dev/zero"),
            "cannot check /dev/zero: it is a character device".into(),
        ),
        (
            "azure-aks-oidc.yaml",
            ("ARM_OIDC_TOKEN_FILE_PATH", big.to_str().unwrap()),
            "it is larger than 1 MiB".into(),
        ),
        (
            "aws-eks-oidc.yaml",
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/dev/zero"),
            "cannot check /dev/zero: it is a character device".into(),
        ),
        (
            "gke-oidc.yaml",
            ("GOOGLE_APPLICATION_CREDENTIALS", fifo),
            format!("cannot check {fifo}: it is a FIFO"),
        ),
        (
            "gke-oidc.yaml",
            ("GOOGLE_APPLICATION_CREDENTIALS", creds.to_str().unwrap()),
            "cannot check /dev/zero: it is a character device".into(),
        ),
    ];
    for (name, var, want) in cases {
        let (code, out, err) = bounded(&sb, &["plan", &spec(name)], &[var]);
        assert_eq!(code, 0, "{name} {var:?}: {err}");
        // The paths come from variables that hold paths: shown, so the
        // problem can be found (issue 20 item 4).
        assert!(unwrapped(&out).contains(&want), "{name} {var:?}: {out}");
    }
}

/// The kubeconfig subcommands read only a regular file of bounded size.
#[test]
fn kubeconfig_files_that_are_not_regular_files_are_refused() {
    let sb = Sandbox::new();
    let fifo = sb.fifo("work/kube.fifo");
    let fifo = fifo.to_str().unwrap();
    let (code, _, err) = bounded(&sb, &["kubeconfig", "check"], &[("KUBECONFIG", fifo)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it is a FIFO, not a regular file"), "{err}");
    for from in ["/dev/zero", fifo] {
        let (code, _, err) = bounded(&sb, &["kubeconfig", "install", "--from-file", from], &[]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("not a regular file"), "{err}");
    }
    assert!(!sb.kubeconfig().exists());
}

/// Finding 9: an `exp` out of range (`1e300` overflowed adding it to a
/// time, `1e12` is past the year 9999 that RFC 3339 can write) made
/// `exec-credential` exit 101, so kubectl could not authenticate, and
/// `plan` too. Such an `exp` is no known expiry: the token is handed over
/// without one, and plans go on.
#[test]
fn a_token_whose_expiry_is_out_of_range_is_used_without_one() {
    let sb = Sandbox::new();
    for exp in [
        "1e300",
        "1e12",
        "-1",
        "253402300800",
        "18446744073709551615",
        "1e400",
    ] {
        let token = jwt(&format!(r#"{{"exp":{exp},"sub":"x"}}"#));
        let (code, out, err) = bounded(
            &sb,
            &["exec-credential", "--from-env=GOOGLE_OAUTH_ACCESS_TOKEN"],
            &[("GOOGLE_OAUTH_ACCESS_TOKEN", &token)],
        );
        assert_eq!(code, 0, "{exp}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"]["token"], token.as_str());
        assert!(
            v["status"].get("expirationTimestamp").is_none(),
            "{exp}: {out}"
        );

        // The same token in ARM_OIDC_TOKEN, and in a token file.
        let (code, _, err) = bounded(
            &sb,
            &["plan", &spec("azure-aks-oidc.yaml")],
            &[("ARM_OIDC_TOKEN", &token)],
        );
        assert_eq!(code, 0, "{exp}: {err}");
        let file = sb.path("work/oidc");
        std::fs::write(&file, &token).unwrap();
        let (code, _, err) = bounded(
            &sb,
            &["plan", &spec("aws-eks-oidc.yaml")],
            &[("AWS_WEB_IDENTITY_TOKEN_FILE", file.to_str().unwrap())],
        );
        assert_eq!(code, 0, "{exp}: {err}");
    }
    // The last second RFC 3339 can write is still an expiry.
    let token = jwt(r#"{"exp":253402300799}"#);
    let (_, out, _) = bounded(&sb, &["exec-credential", "--from-env=T"], &[("T", &token)]);
    assert!(
        out.contains(r#""expirationTimestamp":"9999-12-31T23:59:59Z""#),
        "{out}"
    );
}

/// A kubeconfig of `size` bytes with 30,000 contexts (270,000 YAML nodes,
/// past serde-saphyr's default 250,000), the rest a certificate.
fn big_kubeconfig(size: usize) -> String {
    let head = "apiVersion: v1\nkind: Config\ncurrent-context: c0\nclusters:\n- name: k0\n  cluster:\n    server: https://k0.example:6443\n    certificate-authority-data: ";
    let mut tail = String::from("users:\n- name: u0\n  user:\n    token: t\ncontexts:\n");
    for i in 0..30_000 {
        tail.push_str(&format!(
            "- name: c{i}\n  context:\n    cluster: k0\n    user: u0\n"
        ));
    }
    let pad = size - head.len() - tail.len() - 1;
    format!("{head}{}\n{tail}", "Q".repeat(pad))
}

/// The 16 MiB that stackhook reads of a kubeconfig is all it asks: one
/// of exactly that size, however many contexts it holds, is checked and
/// edited (it was refused as a YAML error past 250,000 nodes); one byte
/// more is refused, naming the limit; and an edit that would take it past
/// the limit leaves it as it was, naming the limit. (Up to 300 s each: a
/// debug build parses 16 MiB slowly on a loaded machine.)
#[test]
fn a_kubeconfig_up_to_the_size_limit_is_read_whatever_its_node_count() {
    const CAP: usize = 16 << 20;
    let sb = Sandbox::new();
    let path = sb.kubeconfig();
    let token = [("MY_TOKEN", "tok-big")];
    let set_user = ["kubeconfig", "set-user", "--token-from-env=MY_TOKEN"];

    std::fs::write(&path, big_kubeconfig(CAP)).unwrap();
    let (code, _, err) = bounded_for(300, &sb, &["kubeconfig", "check"], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = bounded_for(300, &sb, &set_user, &token);
    assert_eq!(code, 1, "{err}");
    assert!(
        unwrapped(&err)
            .contains("was left as it was: the new kubeconfig would be larger than 16 MiB"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), big_kubeconfig(CAP));

    std::fs::write(&path, big_kubeconfig(CAP - 4096)).unwrap();
    let (code, _, err) = bounded_for(300, &sb, &set_user, &token);
    assert_eq!(code, 0, "{err}");
    let edited = std::fs::read_to_string(&path).unwrap();
    assert!(edited.contains("tok-big") && edited.contains("c29999"));

    std::fs::write(&path, big_kubeconfig(CAP + 1)).unwrap();
    let (code, _, err) = bounded_for(300, &sb, &["kubeconfig", "check"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it is larger than 16 MiB"), "{err}");
}
