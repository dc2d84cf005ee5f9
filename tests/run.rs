//! `stackhook run` driven as a user runs it, with real `sh` and a real
//! `kubectl config` on temp kubeconfigs; every test checks the disk
//! afterwards. Waits are on observable events (a line of output, a process
//! exit), never on sleeps.

mod common;

use std::io::BufReader;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};

use common::harness::{self, Need, case};
use common::*;

fn main() {
    harness::main(vec![
        case!(
            success_edits_the_kubeconfig_and_leaves_no_temp_files,
            Need::Kubectl
        ),
        case!(
            failure_in_step_two_of_three_restores_the_kubeconfig_byte_for_byte,
            Need::Kubectl
        ),
        case!(
            a_kubeconfig_that_did_not_exist_is_removed_with_its_directory,
            Need::Kubectl
        ),
        case!(a_timeout_kills_the_whole_process_group),
        case!(sigint_mid_step_rolls_back_and_exits_130, Need::Kubectl),
        case!(a_second_sigint_does_not_skip_the_rollback, Need::Kubectl),
        case!(sigterm_mid_step_rolls_back_and_exits_143, Need::Kubectl),
        case!(sighup_mid_step_rolls_back_and_exits_129, Need::Kubectl),
        case!(the_next_run_sweeps_the_directory_of_a_killed_run),
        case!(a_fifo_planted_as_a_run_directorys_lock_does_not_hang_the_sweep),
        case!(
            the_sweep_leaves_directories_that_are_not_this_users,
            Need::Root
        ),
        case!(the_sweep_shows_the_names_it_removes_escaped),
        case!(
            a_temp_directory_others_can_rename_in_stops_the_run,
            Need::Root
        ),
        case!(retries_rerun_the_step_and_succeed_on_the_second_attempt),
        case!(secret_values_never_reach_output_or_disk),
        case!(github_actions_get_every_secret_form_registered_with_its_masker),
        case!(env_file_exports_values_and_secret_references),
        case!(no_env_file_after_a_failure),
        case!(preflight_stops_before_anything_runs_or_is_written),
        case!(preflight_names_the_runner_image_for_missing_azure_clis),
        case!(output_streams_live_before_the_command_ends),
        case!(dry_run_is_plan),
        case!(kubeconfig_from_env_is_validated_and_installed),
        case!(quiet_prints_only_failures_and_verbose_echoes_commands),
        case!(temp_files_go_after_their_last_use_exactly),
    ]);
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

const EDIT_KUBECONFIG: &str = r#"  - provider: run
    name: edit
    with:
      commands:
        - kubectl config set-cluster hook --server=https://127.0.0.1:6443
        - kubectl config set-credentials hook --token=abc
        - kubectl config set-context hook --cluster=hook --user=hook
        - kubectl config use-context hook
"#;

fn success_edits_the_kubeconfig_and_leaves_no_temp_files() {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::fs::set_permissions(sb.kubeconfig(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
{EDIT_KUBECONFIG}  - provider: verify
    with: {{server: false}}
"#
    ));
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let kube = std::fs::read_to_string(sb.kubeconfig()).unwrap();
    assert!(kube.contains("current-context: hook"), "{kube}");
    assert!(
        kube.contains("name: staging"),
        "other contexts kept: {kube}"
    );
    assert_eq!(mode(&sb.kubeconfig()), 0o600);
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
    assert!(
        err.contains("[1/2] edit") && err.contains("Summary:"),
        "{err}"
    );
}

fn failure_in_step_two_of_three_restores_the_kubeconfig_byte_for_byte() {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let marker = sb.path("work/step-three-ran");
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
{EDIT_KUBECONFIG}  - provider: run
    name: broken
    with:
      commands:
        - "echo 'garbage: [' >> $KUBECONFIG"
        - "echo 'cluster prod not found' >&2; exit 3"
  - provider: run
    name: three
    with:
      commands: ['touch {}']
"#,
        marker.display()
    ));
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS
    );
    assert!(!marker.exists(), "step three ran");
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
    assert!(
        err.contains("step `broken` failed: command 2 of 2 exited with status 3"),
        "{err}"
    );
    assert!(
        err.contains("cluster prod not found"),
        "stderr tail shown: {err}"
    );
    assert!(err.contains("hint: the cluster was not found"), "{err}");
    assert!(err.contains("not run"), "{err}");
    // The diagnostic points at the step in the spec.
    assert!(err.contains("spec.yaml:"), "{err}");
}

fn a_kubeconfig_that_did_not_exist_is_removed_with_its_directory() {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    let kube = sb.path("kube/new/dir/config");
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
{EDIT_KUBECONFIG}  - provider: run
    name: fail
    with: {{commands: [exit 1]}}
"#
    ));
    let (code, _, err) = sb.run(
        &["run", spec.to_str().unwrap()],
        &[("KUBECONFIG", kube.to_str().unwrap())],
    );
    assert_eq!(code, 1, "{err}");
    assert!(!sb.path("kube/new").exists());
}

fn a_timeout_kills_the_whole_process_group() {
    let sb = Sandbox::new();
    let pidfile = sb.path("work/grandchild.pid");
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: slow
    timeout: 1s
    with:
      commands:
        - sh -c 'sleep 600 & echo $! > "$PIDFILE"; wait'
"#,
    );
    let (code, _, err) = sb.run(
        &["run", spec.to_str().unwrap()],
        &[("PIDFILE", pidfile.to_str().unwrap())],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("step `slow` timed out after 1s"), "{err}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "the grandchild sleep {pid} survived");
    assert!(sb.tmp_entries().is_empty());
}

/// Alive and not a zombie waiting for its (adoptive) parent.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Starts `stackhook run` on a spec whose step `wait` writes a secret temp
/// file, prints `ready <pid of its sh>` and sleeps; returns once it is ready.
fn start_waiting(sb: &Sandbox, before: &str) -> (Child, String) {
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
{before}  - provider: run
    name: wait
    with:
      commands:
        - test -s {{{{ tempfile("tok", env.MY_TOKEN) }}}} && echo ready $$ $PPID && sleep 600
"#
    ));
    let mut child = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .env("MY_TOKEN", "CANARY-token-123")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let lines = wait_for_line(&mut stdout, "[wait] ready");
    (child, lines.last().unwrap().clone())
}

fn interrupted_run(signals: &[i32], expected: i32) {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let (mut child, _) = start_waiting(&sb, EDIT_KUBECONFIG);
    // Mid-step: the token file exists, private.
    let run_dir = sb.tmp().join(&sb.tmp_entries()[0]);
    assert_eq!(mode(&run_dir), 0o700);
    assert_eq!(mode(&run_dir.join("tok")), 0o600);
    for &sig in signals {
        unsafe { libc::kill(child.id() as i32, sig) };
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(expected), "{err}");
    assert!(err.contains("interrupted by"), "{err}");
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

fn sigint_mid_step_rolls_back_and_exits_130() {
    interrupted_run(&[libc::SIGINT], 130);
}

fn a_second_sigint_does_not_skip_the_rollback() {
    interrupted_run(&[libc::SIGINT, libc::SIGINT], 130);
}

fn sigterm_mid_step_rolls_back_and_exits_143() {
    interrupted_run(&[libc::SIGTERM], 143);
}

fn sighup_mid_step_rolls_back_and_exits_129() {
    interrupted_run(&[libc::SIGHUP], 129);
}

fn the_next_run_sweeps_the_directory_of_a_killed_run() {
    let sb = Sandbox::new();
    let (mut child, ready) = start_waiting(&sb, "");
    // The guardian and the worker that runs the steps (the parent of the
    // step's sh) are both killed, as in a power loss: nothing can roll
    // back. (The guardian is stopped first: it would roll back for a
    // worker that dies before it, tests/kubeconfig_safety.rs.)
    let pids: Vec<i32> = ready
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (sh, worker) = (pids[0], pids[1]);
    let guardian = child.id() as i32;
    unsafe {
        libc::kill(guardian, libc::SIGSTOP);
        libc::kill(worker, libc::SIGKILL);
        libc::kill(guardian, libc::SIGKILL);
    }
    child.wait().unwrap();
    // Nothing is left to end the command: this test does.
    unsafe { libc::kill(-sh, libc::SIGKILL) };
    let stale = sb.tmp_entries();
    assert_eq!(stale.len(), 1, "a killed run cannot clean up");

    let ok = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['true']}
"#,
    );
    let (code, _, err) = sb.run(&["run", ok.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("removed {}", sb.tmp().join(&stale[0]).display())),
        "{err}"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

/// The directory a killed run left in TMPDIR, named `name`: this user's,
/// private, with an unlocked lock file.
fn stale_run_dir(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let dir = sb.tmp().join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(dir.join(".lock"), "").unwrap();
    dir
}

const TRUE_SPEC: &str = "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['true']}\n";

/// Whether `child` ends within `limit`: its pidfd polled with a timeout.
fn ends_within(child: &Child, limit: std::time::Duration) -> bool {
    // SAFETY: pidfd_open and poll on a descriptor this function owns.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, child.id() as i32, 0) as i32;
        assert!(fd >= 0, "pidfd_open");
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = libc::poll(&mut p, 1, limit.as_millis() as i32);
        libc::close(fd);
        ready == 1
    }
}

/// Issue 19, defect 1: another user of a shared TMPDIR plants a FIFO as
/// the lock file of a directory named like a killed run's. The sweep that
/// starts every run opened it and waited for a writer for ever: every
/// later run hung. Now the run ends, and leaves the FIFO's directory (its
/// lock is no lock file of this user). Bounded by a wait with a timeout;
/// on expiry the test opens the FIFO's other end to free the run.
fn a_fifo_planted_as_a_run_directorys_lock_does_not_hang_the_sweep() {
    let sb = Sandbox::new();
    let planted = sb.tmp().join("stackhook-1-planted");
    std::fs::create_dir(&planted).unwrap();
    let fifo = sb.fifo("tmp/stackhook-1-planted/.lock");
    let spec = sb.write_spec(TRUE_SPEC);
    let child = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = ends_within(&child, std::time::Duration::from_secs(60));
    if !ended {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
    }
    let (code, _, err) = output_of(child);
    assert!(ended, "the run hung on the FIFO: {err}");
    assert_eq!(code, 0, "{err}");
    assert!(planted.join(".lock").exists(), "{err}");
    assert_eq!(sb.tmp_entries(), ["stackhook-1-planted"]);
}

/// Review of issue 19, finding D: a TMPDIR that another user can rename
/// entries of (0777 without the sticky bit, owned by nobody) let that
/// user move the run's private directory away mid-run, leaving its temp
/// files and kubeconfig record on disk. Now nothing runs (exit 2), and
/// nothing is made there; a shared 1777 directory, as /tmp, is fine.
fn a_temp_directory_others_can_rename_in_stops_the_run() {
    use std::os::unix::fs::PermissionsExt;
    for (m, owner, code) in [(0o777, "65534", 2), (0o1777, "0", 0)] {
        let sb = Sandbox::new();
        let shared = sb.path("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(m)).unwrap();
        let chowned = std::process::Command::new("chown")
            .args([owner, shared.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(chowned.success());
        let spec = sb.write_spec(
            "version: 1\nsteps:\n  - provider: run\n    with:\n      commands: ['echo ran > ran']\n",
        );
        let tmpdir = shared.display().to_string();
        let (got, _, err) = sb.run(
            &["run", spec.to_str().unwrap()],
            &[("TMPDIR", tmpdir.as_str())],
        );
        assert_eq!(got, code, "{m:o}: {err}");
        assert_eq!(sb.path("work/ran").exists(), code == 0, "{err}");
        assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0, "{err}");
        if code == 2 {
            let flat = unwrapped(&err).split_whitespace().collect::<String>();
            let why = format!(
                "the temp directory (TMPDIR) {tmpdir}: {tmpdir} belongs to another user (uid 65534)"
            );
            let why: String = why.split_whitespace().collect();
            assert!(flat.contains(&why), "{err}");
            assert!(
                err.contains("set TMPDIR to a directory of this user"),
                "{err}"
            );
        }
    }
}

/// The sweep removes only directories of this user that no other user
/// can write, whose lock file is this user's regular file: a directory of
/// another user (or with another user's lock file) that looks like a
/// killed run's is left, as is one that others can write into, or a
/// symlink to a killed run's directory. The killed run's own goes.
fn the_sweep_leaves_directories_that_are_not_this_users() {
    let sb = Sandbox::new();
    let theirs = stale_run_dir(&sb, "stackhook-2-theirs");
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(theirs.join(".lock"), Some(65534), Some(65534)).unwrap();
    let their_lock = stale_run_dir(&sb, "stackhook-2-their-lock");
    std::os::unix::fs::chown(their_lock.join(".lock"), Some(65534), Some(65534)).unwrap();
    let shared = stale_run_dir(&sb, "stackhook-2-shared");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let elsewhere = sb.path("work/stackhook-2-elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join(".lock"), "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, sb.tmp().join("stackhook-2-link")).unwrap();
    let killed = stale_run_dir(&sb, "stackhook-2-killed");
    let spec = sb.write_spec(TRUE_SPEC);
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("removed {} left by a run", killed.display())),
        "{err}"
    );
    assert_eq!(err.matches("removed").count(), 1, "{err}");
    assert_eq!(
        sb.tmp_entries(),
        [
            "stackhook-2-link",
            "stackhook-2-shared",
            "stackhook-2-their-lock",
            "stackhook-2-theirs"
        ]
    );
    assert!(theirs.join(".lock").exists() && elsewhere.join(".lock").exists());
}

/// A directory name is text from the file system: shown with its control
/// characters escaped, not acted on by the terminal.
fn the_sweep_shows_the_names_it_removes_escaped() {
    let sb = Sandbox::new();
    stale_run_dir(&sb, "stackhook-3-\u{1b}[2J\r\u{202e}x");
    let spec = sb.write_spec(TRUE_SPEC);
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "removed {}/stackhook-3-\\x1b[2J\\r\\u{{202e}}x left by a run",
            sb.tmp().display()
        )),
        "{err}"
    );
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

fn retries_rerun_the_step_and_succeed_on_the_second_attempt() {
    let sb = Sandbox::new();
    let mark = sb.path("work/first-attempt-done");
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: flaky
    retries: 2
    with:
      commands:
        - 'if [ -e "$MARK" ]; then echo second try; else touch "$MARK"; echo first try fails >&2; exit 1; fi'
"#,
    );
    let (code, out, err) = sb.run(
        &["run", spec.to_str().unwrap()],
        &[("MARK", mark.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("retrying in 1s"), "{err}");
    assert!(err.contains("(attempt 2/3)"), "{err}");
    assert!(!err.contains("(attempt 3/3)"), "{err}");
    assert!(out.contains("[flaky] second try"), "{out}");
}

fn secret_values_never_reach_output_or_disk() {
    let sb = Sandbox::new();
    let canary = "CANARY-s3cr3t-value";
    let spec = sb.write_spec(
        r#"version: 1
env:
  AUTH_HEADER: "Bearer ${MY_TOKEN}"
steps:
  - provider: run
    name: leaky
    with:
      commands:
        - echo "$MY_TOKEN"
        - echo "before $MY_TOKEN after"
        - printf '%s' "$MY_TOKEN"
        - echo "$MY_TOKEN" >&2
        - echo "header $AUTH_HEADER"
        - cat {{ tempfile("token", env.MY_TOKEN) }}
  - provider: run
    name: fails
    with:
      commands:
        - echo "denied for $MY_TOKEN" >&2; exit 1
"#,
    );
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("MY_TOKEN", canary)]);
    assert_eq!(code, 1, "{err}");
    let all = format!("{out}{err}");
    assert!(!all.contains(canary), "leaked: {all}");
    assert!(!all.contains("s3cr3t"), "leaked in part: {all}");
    assert!(out.contains("[leaky] ***\n"), "{out}");
    assert!(out.contains("[leaky] before *** after\n"), "{out}");
    assert!(err.contains("[leaky] ***\n"), "{err}");
    // The derived value is masked whole.
    assert!(out.contains("[leaky] header ***\n"), "{out}");
    assert!(err.contains("denied for ***"), "{err}");
    for entry in walk(sb.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(canary),
            "{} holds the secret",
            entry.display()
        );
    }
    assert!(sb.tmp_entries().is_empty());
}

/// Under GitHub Actions every secret form is announced (`::add-mask::`,
/// which GitHub strips from the log) before anything runs; under any other
/// platform nothing is printed that would show a value.
fn github_actions_get_every_secret_form_registered_with_its_masker() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
env:
  AUTH_HEADER: "Bearer ${MY_TOKEN}"
steps:
  - provider: run
    with: {commands: ['echo "$AUTH_HEADER"']}
"#,
    );
    let spec = spec.to_str().unwrap();
    let token = ("MY_TOKEN", "tok-123456\n");
    let (code, out, err) = sb.run(&["run", spec], &[token, ("GITHUB_ACTIONS", "true")]);
    assert_eq!(code, 0, "{err}");
    let masks: Vec<&str> = out
        .lines()
        .take_while(|l| l.starts_with("::add-mask::"))
        .collect();
    assert!(masks.contains(&"::add-mask::tok-123456"), "{out}");
    assert!(masks.contains(&"::add-mask::Bearer tok-123456"), "{out}");
    // The runner unescapes `%25`, `%0D` and `%0A` in a command's data: a
    // value holding them is sent escaped, so that the value itself is
    // what GitHub masks.
    let escaped = ("MY_TOKEN", "ab%0Acd%25ef\rgh");
    let (code, out, err) = sb.run(&["run", spec], &[escaped, ("GITHUB_ACTIONS", "true")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("::add-mask::ab%250Acd%2525ef%0Dgh\n"), "{out}");
    assert!(out.contains("[run] ***"), "{out}");
    let (code, out, err) = sb.run(&["run", spec], &[token, ("TF_VAR_spacelift_run_id", "r")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("tok-123456") && !out.contains("add-mask"),
        "{out}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// az and kubelogin are stubs here: the env file is about what stackhook
/// writes, not about Azure (the e2e tests drive the real az).
fn stub_azure(sb: &Sandbox) {
    sb.script(
        "az",
        r#"#!/bin/sh
case "$1 $2" in
  "aks get-credentials")
    while [ $# -gt 0 ]; do case "$1" in --file=*) file="${1#--file=}";; esac; shift; done
    printf 'apiVersion: v1\nkind: Config\ncurrent-context: aks\ncontexts:\n- name: aks\n  context: {cluster: aks, user: u}\nclusters:\n- name: aks\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: u\n  user: {exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1beta1}}\n' > "$file";;
esac
"#,
    );
    sb.script("kubelogin", "#!/bin/sh\nexit 0\n");
}

fn env_file_exports_values_and_secret_references() {
    let sb = Sandbox::new();
    stub_azure(&sb);
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: azure-aks
    with: {cluster: c, resource_group: g, login: spn, client_secret: "${SP_SECRET}"}
  - provider: run
    name: later
    with:
      commands: ['test "$ARM_CLIENT_SECRET" = "$SP_SECRET" && echo later step sees the export']
"#,
    );
    let env_file = sb.path("work/out/stackhook.env");
    let secret = "CANARY-arm-secret";
    let (code, out, err) = sb.run(
        &[
            "run",
            "--env-file",
            env_file.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[
            ("ARM_CLIENT_ID", "app id"),
            ("ARM_TENANT_ID", "t"),
            ("SP_SECRET", secret),
        ],
    );
    // kubelogin reads ARM_CLIENT_SECRET at kubectl time; the spec reads
    // another variable, so the step exports ARM_CLIENT_SECRET (a reference,
    // never the value) for later steps and the caller.
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("later step sees the export"), "{out}");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let kube = sb.kubeconfig().display().to_string();
    assert_eq!(
        text,
        format!(
            "# written by stackhook run; source it: . FILE\nexport KUBECONFIG={kube}\nexport KUBE_CONFIG_PATH={kube}\nexport ARM_CLIENT_SECRET=\"$SP_SECRET\"\n"
        )
    );
    assert!(!text.contains(secret));
    assert_eq!(mode(&env_file), 0o600);
    // Sourced as the hook line does, a later phase sees the value.
    let seen = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            ". {} && printf '%s' \"$ARM_CLIENT_SECRET\"",
            env_file.display()
        ))
        .env("SP_SECRET", secret)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&seen.stdout), secret);
}

fn no_env_file_after_a_failure() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['exit 4']}
"#,
    );
    let env_file = sb.path("work/stackhook.env");
    let (code, _, _) = sb.run(
        &[
            "run",
            "--env-file",
            env_file.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(!env_file.exists());
}

fn preflight_stops_before_anything_runs_or_is_written() {
    let sb = Sandbox::new();
    let marker = sb.path("work/ran");
    let kube = sb.path("kube/not-yet/config");
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: run
    with:
      commands: ['touch {}']
  - provider: run
    name: needs-cli
    with:
      requires: [definitely-not-a-cli]
      commands: ['definitely-not-a-cli']
  - provider: gke
    with: {{cluster: c, project: p, zone: z}}
"#,
        marker.display()
    ));
    let (code, _, err) = sb.run(
        &["run", spec.to_str().unwrap()],
        &[("KUBECONFIG", kube.to_str().unwrap())],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`definitely-not-a-cli` is not on PATH"),
        "{err}"
    );
    assert!(
        err.contains("GOOGLE_OAUTH_ACCESS_TOKEN is not set"),
        "{err}"
    );
    assert!(!marker.exists());
    assert!(!sb.path("kube/not-yet").exists());
    assert!(sb.tmp_entries().is_empty());
}

fn preflight_names_the_runner_image_for_missing_azure_clis() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: azure-aks
    with: {cluster: c, resource_group: g, login: msi}
"#,
    );
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`az` is not on PATH") && err.contains("`kubelogin` is not on PATH"),
        "{err}"
    );
    assert!(err.contains("custom runner"), "{err}");
}

fn output_streams_live_before_the_command_ends() {
    let sb = Sandbox::new();
    let fifo = sb.fifo("work/release");
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: live
    with:
      commands: ['echo first; read x < "$RELEASE"; echo "second $x"']
"#,
    );
    let mut child = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .env("RELEASE", &fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "[live] first");
    // The command is blocked on the fifo: still running.
    assert!(child.try_wait().unwrap().is_none());
    std::fs::write(&fifo, "go\n").unwrap();
    let rest = wait_for_line(&mut stdout, "[live] second go");
    assert!(!rest.is_empty());
    assert!(child.wait().unwrap().success());
}

fn dry_run_is_plan() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['touch should-not-exist']}
"#,
    );
    let (code, out, _) = sb.run(&["run", "--dry-run", spec.to_str().unwrap()], &[]);
    let (_, plan_out, _) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0);
    assert_eq!(out, plan_out);
    assert!(!sb.path("work/should-not-exist").exists());
}

fn kubeconfig_from_env_is_validated_and_installed() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: kubeconfig
    with: {from: env, var: KC}
"#,
    );
    let bad = "apiVersion: v1\ncurrent-context: nope\n";
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC", bad)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("names no context"), "{err}");
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS
    );

    let good = TWO_CONTEXTS.replace("current-context: staging", "current-context: prod");
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC", &good)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(sb.kubeconfig()).unwrap(), good);
    assert_eq!(mode(&sb.kubeconfig()), 0o600);
    assert!(!err.contains("alice-token"));
}

fn quiet_prints_only_failures_and_verbose_echoes_commands() {
    let sb = Sandbox::new();
    let ok = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['echo hello']}
"#,
    );
    let (code, out, err) = sb.run(&["run", "--quiet", ok.to_str().unwrap()], &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    let (code, out, err) = sb.run(
        &["run", "--verbose", ok.to_str().unwrap()],
        &[("MY_TOKEN", "CANARY-x")],
    );
    assert_eq!(code, 0);
    assert!(err.contains("$ echo hello"), "{err}");
    assert_eq!(out, "[run] hello\n");

    let bad = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['echo noisy; exit 2']}
"#,
    );
    let (code, out, err) = sb.run(&["run", "--quiet", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(!err.contains("==>"), "{err}");
    assert!(err.contains("step `run` failed"), "{err}");
}

/// A temp file is removed right after the last command that uses it, and
/// a file named like the prefix of another (`tok`, `tok2`) is not kept
/// alive by the other's use.
fn temp_files_go_after_their_last_use_exactly() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: files
    with:
      commands:
        - test -s {{ tempfile("tok", env.MY_TOKEN) }}
        - test -s {{ tempfile("tok2", env.MY_TOKEN) }} && test ! -e "$STACKHOOK_TMPDIR/tok" && echo tok gone
        - test ! -e "$STACKHOOK_TMPDIR/tok2" && echo tok2 gone
"#,
    );
    let (code, out, err) = sb.run(
        &["run", spec.to_str().unwrap()],
        &[("MY_TOKEN", "CANARY-tok")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "[files] tok gone\n[files] tok2 gone\n");
    let (_, plan, _) = sb.run(
        &["plan", "--format", "json", spec.to_str().unwrap()],
        &[("MY_TOKEN", "CANARY-tok")],
    );
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let files = &plan["steps"][0]["tempfiles"];
    assert_eq!(files[0]["name"], "tok");
    assert_eq!(files[0]["remove_after"], 1);
    assert_eq!(files[1]["name"], "tok2");
    assert_eq!(files[1]["remove_after"], 2);
}
