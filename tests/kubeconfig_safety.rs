//! The kubeconfig is never lost: runs on one kubeconfig take turns (a run
//! never restores its snapshot over another run's login), a rollback puts
//! back links, modes and owners as they were, and touches nothing it did
//! not change. When the worker is killed mid-run (the kernel's OOM killer
//! sends SIGKILL), its guardian does the rollback, under the lock.

mod common;

use std::io::BufReader;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Stdio};

use common::harness::{self, Need, case};
use common::*;

fn main() {
    harness::main(vec![
        case!(
            a_second_run_waits_and_its_login_survives_the_first_ones_rollback,
            Need::Kubectl
        ),
        case!(
            concurrent_runs_keep_every_successful_login_and_no_failed_one,
            Need::Kubectl
        ),
        case!(a_run_that_cannot_get_the_kubeconfig_in_time_runs_nothing),
        case!(a_dangling_symlink_kubeconfig_survives_a_failed_run),
        case!(a_symlinked_kubeconfig_replaced_by_a_step_comes_back_as_the_link),
        case!(mode_and_owner_come_back, Need::Root),
        case!(an_unchanged_kubeconfig_is_not_touched),
        case!(a_run_through_a_symlink_takes_the_same_lock, Need::Kubectl),
        case!(a_lock_file_planted_as_a_symlink_is_refused_not_followed),
        case!(an_edit_keeps_the_kubeconfig_owner, Need::Root),
        case!(
            a_symlink_planted_by_another_user_is_not_followed,
            Need::Root
        ),
        case!(a_run_waiting_on_a_killed_worker_gets_the_restored_kubeconfig),
        case!(a_killed_worker_leaves_no_kubeconfig_where_there_was_none),
        case!(a_killed_worker_leaves_a_symlinked_kubeconfig_a_link),
        case!(
            a_lock_file_another_user_planted_stops_the_run,
            Need::Root,
            Need::Cli("setpriv")
        ),
        case!(
            a_lock_path_that_is_not_a_lock_file_of_ours_stops_the_run,
            Need::Root
        ),
        case!(
            a_kubeconfig_in_a_directory_the_run_cannot_write_is_refused,
            Need::Root,
            Need::Cli("setpriv")
        ),
        case!(rollback_removes_what_a_step_left_at_the_kubeconfig),
        case!(a_hard_linked_kubeconfig_is_restored_under_every_name),
        case!(
            a_rollback_on_a_full_disk_says_what_it_left,
            Need::Root,
            Need::Cli("unshare")
        ),
        case!(
            a_writable_kubeconfig_in_a_read_only_directory_is_refused,
            Need::Root,
            Need::Cli("unshare")
        ),
    ]);
}

/// A spec whose step adds the context `name` with kubectl, then waits for
/// a line on the fifo `gate` (if any) and exits with what it read.
fn login_spec(sb: &Sandbox, file: &str, name: &str, gate: Option<&std::path::Path>) -> String {
    let wait = match gate {
        Some(g) => format!(
            " && echo ready && read code < {} && exit \"$code\"",
            g.display()
        ),
        None => String::new(),
    };
    let spec = sb.path(&format!("work/{file}.yaml"));
    std::fs::write(
        &spec,
        format!(
            r#"version: 1
steps:
  - provider: run
    name: {name}
    with:
      commands:
        - kubectl config set-context {name} --cluster=prod --user=alice >/dev/null{wait}
"#
        ),
    )
    .unwrap();
    spec.display().to_string()
}

fn spawn(sb: &Sandbox, spec: &str) -> Child {
    sb.command()
        .args(["run", spec])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn contexts(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.kubeconfig()).unwrap()
}

/// Run A logs in, then waits; run B starts and must wait for A; A fails
/// and rolls back; B then logs in and keeps its login. Without the lock, B
/// would finish first and A's rollback would erase B's login.
fn a_second_run_waits_and_its_login_survives_the_first_ones_rollback() {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let gate = sb.fifo("work/gate");
    let mut a = spawn(&sb, &login_spec(&sb, "a", "run-a", Some(&gate)));
    wait_for_line(
        &mut BufReader::new(a.stdout.take().unwrap()),
        "[run-a] ready",
    );
    let mut b = spawn(&sb, &login_spec(&sb, "b", "run-b", None));
    let mut b_err = BufReader::new(b.stderr.take().unwrap());
    wait_for_line(&mut b_err, "waiting for another stackhook run");
    std::fs::write(&gate, "3\n").unwrap();
    let (code, _, err) = output_of(a);
    assert_eq!(code, 1, "{err}");
    assert!(b.wait().unwrap().success());
    let kube = contexts(&sb);
    assert!(kube.contains("name: run-b"), "B's login was lost: {kube}");
    assert!(
        !kube.contains("name: run-a"),
        "A's login survived its rollback: {kube}"
    );
    assert!(kube.contains("name: staging") && kube.contains("name: prod"));
    assert!(!lock_file(&sb).exists(), "the lock file is left behind");
}

fn lock_file(sb: &Sandbox) -> std::path::PathBuf {
    sb.path("kube/.config.stackhook-lock")
}

/// Many runs at once: each ends with its login kept (if it succeeded) or
/// the file as the others left it (if it failed).
fn concurrent_runs_keep_every_successful_login_and_no_failed_one() {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let runs: Vec<(String, bool, Child)> = (0..6)
        .map(|i| {
            let name = format!("run-{i}");
            let fails = i % 2 == 1;
            let spec = sb.path(&format!("work/{name}.yaml"));
            let last = if fails { "exit 1" } else { "'true'" };
            std::fs::write(
                &spec,
                format!(
                    "version: 1\nsteps:\n  - provider: run\n    name: {name}\n    with:\n      commands:\n        - kubectl config set-context {name} --cluster=prod --user=alice\n        - {last}\n"
                ),
            )
            .unwrap();
            (name, fails, spawn(&sb, spec.to_str().unwrap()))
        })
        .collect();
    for (name, fails, child) in runs {
        let (code, _, err) = output_of(child);
        assert_eq!(code, if fails { 1 } else { 0 }, "{name}: {err}");
    }
    let kube = contexts(&sb);
    for i in 0..6 {
        let present = kube.contains(&format!("name: run-{i}\n"));
        assert_eq!(present, i % 2 == 0, "run-{i} in:\n{kube}");
    }
    assert!(kube.contains("name: staging") && kube.contains("name: prod"));
    assert!(!lock_file(&sb).exists());
}

fn a_run_that_cannot_get_the_kubeconfig_in_time_runs_nothing() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let held = std::fs::File::create(lock_file(&sb)).unwrap();
    held.lock().unwrap();
    let marker = sb.path("work/ran");
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    with: {{commands: ['touch {}']}}\n",
        marker.display()
    ));
    let (code, _, err) = sb.run(
        &["run", "--lock-timeout", "100ms", spec.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    let err = unwrapped(&err);
    assert!(err.contains("waiting for another stackhook run"), "{err}");
    assert!(err.contains("for longer than 100ms"), "{err}");
    assert!(!marker.exists());
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

fn failing_run(sb: &Sandbox, command: &str) -> (i32, String) {
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    with:\n      commands:\n        - '{command}'\n        - exit 7\n"
    ));
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    (code, err)
}

fn a_dangling_symlink_kubeconfig_survives_a_failed_run() {
    let sb = Sandbox::new();
    let target = sb.path("mounted/config");
    std::os::unix::fs::symlink(&target, sb.kubeconfig()).unwrap();
    let (code, err) = failing_run(&sb, "true");
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read_link(sb.kubeconfig()).unwrap(), target);
    // A step that wrote through the link: what it wrote goes, the link stays.
    let (code, err) = failing_run(
        &sb,
        "mkdir -p $(dirname $(readlink $KUBECONFIG)) && echo x > $KUBECONFIG",
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read_link(sb.kubeconfig()).unwrap(), target);
    assert!(!target.exists());
}

fn a_symlinked_kubeconfig_replaced_by_a_step_comes_back_as_the_link() {
    let sb = Sandbox::new();
    let target = sb.path("mounted-config");
    std::fs::write(&target, TWO_CONTEXTS).unwrap();
    std::os::unix::fs::symlink(&target, sb.kubeconfig()).unwrap();
    let (code, err) = failing_run(
        &sb,
        "echo new > $KUBECONFIG.new && mv $KUBECONFIG.new $KUBECONFIG",
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read_link(sb.kubeconfig()).unwrap(), target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), TWO_CONTEXTS);
}

fn mode_and_owner_come_back() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::fs::set_permissions(sb.kubeconfig(), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(sb.kubeconfig(), Some(4242), Some(4343)).unwrap();
    let (code, err) = failing_run(
        &sb,
        "echo new > $KUBECONFIG.new && mv $KUBECONFIG.new $KUBECONFIG",
    );
    assert_eq!(code, 1, "{err}");
    let meta = std::fs::metadata(sb.kubeconfig()).unwrap();
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
}

/// In a shared directory another user can plant a link where a user's
/// env file or kubeconfig will be. stackhook follows links itself (the
/// kernel's protected_symlinks does not see that), so it follows only this
/// user's and root's: nothing runs and the link's target is untouched.
fn a_symlink_planted_by_another_user_is_not_followed() {
    let sb = Sandbox::new();
    let victim = sb.path("work/victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let planted = sb.path("work/planted");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(4242), Some(4242)).unwrap();
    let ran = sb.path("work/ran");
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    with: {{commands: ['touch {}']}}\n",
        ran.display()
    ));
    let spec = spec.to_str().unwrap();
    let planted = planted.to_str().unwrap();
    // A directory on the way may be the planted link, too.
    let dir_link = sb.path("work/dirlink");
    std::os::unix::fs::symlink(sb.path("work"), &dir_link).unwrap();
    std::os::unix::fs::lchown(&dir_link, Some(4242), Some(4242)).unwrap();
    let through_dir = dir_link.join("victim");
    let through_dir = through_dir.to_str().unwrap();
    for (args, what) in [
        (vec!["run", spec, "--env-file", planted], "the env file"),
        (vec!["run", spec, "--kubeconfig", planted], "the kubeconfig"),
        (vec!["run", spec, "--env-file", through_dir], "the env file"),
        (
            vec!["run", spec, "--kubeconfig", through_dir],
            "the kubeconfig",
        ),
    ] {
        let (code, _, err) = sb.run(&args, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(what), "{err}");
        assert!(err.contains("of another user (uid 4242)"), "{err}");
        assert!(!ran.exists(), "a command ran: {err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}

/// Neither a failed run nor a successful one rewrites or re-modes a
/// kubeconfig it did not change.
fn an_unchanged_kubeconfig_is_not_touched() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::fs::set_permissions(sb.kubeconfig(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(sb.kubeconfig()).unwrap();
    let (code, err) = failing_run(&sb, "true");
    assert_eq!(code, 1, "{err}");
    let ok =
        sb.write_spec("version: 1\nsteps:\n  - provider: run\n    with: {commands: ['true']}\n");
    let (code, _, err) = sb.run(&["run", ok.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let after = std::fs::metadata(sb.kubeconfig()).unwrap();
    assert_eq!(after.ino(), before.ino());
    assert_eq!(after.mtime_nsec(), before.mtime_nsec());
    assert_eq!(after.permissions().mode() & 0o777, 0o644);
}

/// Two paths to one file (a symlink) are one kubeconfig: the second run
/// waits for the first.
fn a_run_through_a_symlink_takes_the_same_lock() {
    let sb = Sandbox::new();
    sb.with_real_kubectl();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let link = sb.path("work/link-to-config");
    std::os::unix::fs::symlink(sb.kubeconfig(), &link).unwrap();
    let gate = sb.fifo("work/gate");
    let mut a = spawn(&sb, &login_spec(&sb, "a", "run-a", Some(&gate)));
    wait_for_line(
        &mut BufReader::new(a.stdout.take().unwrap()),
        "[run-a] ready",
    );
    let mut b = sb
        .command()
        .args(["run", &login_spec(&sb, "b", "run-b", None)])
        .env("KUBECONFIG", &link)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_line(
        &mut BufReader::new(b.stderr.take().unwrap()),
        "waiting for another stackhook run",
    );
    std::fs::write(&gate, "3\n").unwrap();
    assert_eq!(output_of(a).0, 1);
    assert!(b.wait().unwrap().success());
    let kube = contexts(&sb);
    assert!(
        kube.contains("name: run-b") && !kube.contains("name: run-a"),
        "{kube}"
    );
    assert!(link.is_symlink());
}

/// Another user of a shared directory cannot make a run write through a
/// planted lock file.
fn a_lock_file_planted_as_a_symlink_is_refused_not_followed() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let victim = sb.path("work/victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, lock_file(&sb)).unwrap();
    let marker = sb.path("work/ran");
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    with: {{commands: ['touch {}']}}\n",
        marker.display()
    ));
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        unwrapped(&err).contains("is not a lock file of this user"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(!marker.exists());
}

/// A run as root that installs a kubeconfig owned by a user leaves it the
/// user's (only private: 0600).
fn an_edit_keeps_the_kubeconfig_owner() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::os::unix::fs::chown(sb.kubeconfig(), Some(4242), Some(4343)).unwrap();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: kubeconfig\n    with: {from: env, var: KC}\n",
    );
    let replaced = TWO_CONTEXTS.replace("current-context: staging", "current-context: prod");
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC", &replaced)]);
    assert_eq!(code, 0, "{err}");
    let meta = std::fs::metadata(sb.kubeconfig()).unwrap();
    assert_eq!(std::fs::read_to_string(sb.kubeconfig()).unwrap(), replaced);
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

/// A run whose step runs `edit`, then prints `ready <worker pid>` (the
/// step's parent) and waits to be killed. Returns the run and the pid.
fn start_editing(sb: &Sandbox, edit: &str, kubeconfig: &std::path::Path) -> (Child, i32) {
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: run
    name: edit
    with:
      commands:
        - |
          {edit}
          echo "ready $PPID"
          sleep 600
"#
    ));
    let mut child = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = wait_for_line(
        &mut BufReader::new(child.stdout.take().unwrap()),
        "[edit] ready",
    );
    let worker = lines.last().unwrap().split_whitespace().last().unwrap();
    (child, worker.parse().unwrap())
}

/// SIGKILL of the worker alone; the guardian's exit code and stderr.
fn kill_worker(child: Child, worker: i32) -> (i32, String) {
    assert_ne!(worker, child.id() as i32);
    unsafe { libc::kill(worker, libc::SIGKILL) };
    let (code, _, err) = output_of(child);
    (code, err)
}

/// Run A's worker dies with the kubeconfig half-written while run B waits
/// for it. B must get the kubeconfig only once A's guardian has restored
/// it: had the lock gone with A's worker, B would start from the
/// half-written file, and B's own snapshot (and login) would build on it.
/// A's guardian is stopped while its worker dies, so that the lock is
/// seen held between the two.
fn a_run_waiting_on_a_killed_worker_gets_the_restored_kubeconfig() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let half = r#"printf 'half-written: [' > "$KUBECONFIG""#;
    let (a, worker) = start_editing(&sb, half, &sb.kubeconfig());
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: b
    with:
      commands:
        - |
          echo "found $(head -n 1 "$KUBECONFIG")"
          echo "login: b" >> "$KUBECONFIG"
"#,
    );
    let mut b = sb
        .command()
        .args(["run", "--lock-timeout", "5m", spec.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut b_err = BufReader::new(b.stderr.take().unwrap());
    wait_for_line(&mut b_err, "waiting for another stackhook run");
    let guardian = a.id() as i32;
    unsafe { libc::kill(guardian, libc::SIGSTOP) };
    unsafe { libc::kill(worker, libc::SIGKILL) };
    wait_for_exit(worker);
    let held = std::fs::File::open(lock_file(&sb)).map(|f| f.try_lock().is_err());
    let meanwhile = contexts(&sb);
    // Resumed before any assertion, so that a failure leaves nothing
    // stopped.
    unsafe { libc::kill(guardian, libc::SIGCONT) };
    assert!(
        held.unwrap(),
        "the lock went with the worker, before the rollback"
    );
    assert_eq!(meanwhile, "half-written: [");
    let (code, _, err) = output_of(a);
    assert_eq!(code, 137, "{err}");
    assert!(
        err.contains("the run was killed (SIGKILL); rolled back"),
        "{err}"
    );
    let (code, out, _) = output_of(b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[b] found apiVersion: v1"), "{out}");
    assert_eq!(contexts(&sb), format!("{TWO_CONTEXTS}login: b\n"));
    assert!(!lock_file(&sb).exists(), "the lock file is left behind");
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

fn a_killed_worker_leaves_no_kubeconfig_where_there_was_none() {
    let sb = Sandbox::new();
    let kubeconfig = sb.path("kube/new/sub/config");
    let (a, worker) = start_editing(
        &sb,
        r#"printf 'half-written: [' > "$KUBECONFIG""#,
        &kubeconfig,
    );
    assert!(kubeconfig.exists());
    let (code, err) = kill_worker(a, worker);
    assert_eq!(code, 137, "{err}");
    assert!(
        err.contains(&format!(
            "rolled back: temp files removed, {} restored",
            kubeconfig.display()
        )),
        "{err}"
    );
    assert!(
        !sb.path("kube/new").exists(),
        "the directories made for it stay"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

/// A mounted kubeconfig (a symlink) that a step wrote through, then
/// replaced with a file.
fn a_killed_worker_leaves_a_symlinked_kubeconfig_a_link() {
    let sb = Sandbox::new();
    let target = sb.path("mounted-config");
    std::fs::write(&target, TWO_CONTEXTS).unwrap();
    std::os::unix::fs::symlink(&target, sb.kubeconfig()).unwrap();
    let edit = r#"echo "through: 1" >> "$KUBECONFIG" && echo new > "$KUBECONFIG.new" && mv "$KUBECONFIG.new" "$KUBECONFIG""#;
    let (a, worker) = start_editing(&sb, edit, &sb.kubeconfig());
    assert!(!sb.kubeconfig().is_symlink(), "the step replaced the link");
    let (code, err) = kill_worker(a, worker);
    assert_eq!(code, 137, "{err}");
    assert_eq!(std::fs::read_link(sb.kubeconfig()).unwrap(), target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), TWO_CONTEXTS);
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

/// The sandbox made usable by uid 65534 ("nobody"), who runs the binary
/// through `setpriv` in the tests where the run must not be root (root
/// opens and writes anything): its TMPDIR, HOME and spec are nobody's,
/// and the kubeconfig's directory is `kube_mode` (root's).
fn for_nobody(sb: &Sandbox, kube_mode: u32) {
    let chmod = |p: std::path::PathBuf, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    chmod(sb.dir.path().to_path_buf(), 0o755);
    chmod(sb.path("kube"), kube_mode);
    for d in ["tmp", "work"] {
        std::os::unix::fs::chown(sb.path(d), Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

const NOBODY: u32 = 65534;

/// `stackhook run SPEC` as uid 65534: exit code and stderr.
fn run_as_nobody(sb: &Sandbox, spec: &std::path::Path) -> (i32, String) {
    let child = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin())
        .args(["run", spec.to_str().unwrap()])
        .env_clear()
        .envs(sb.envs())
        .current_dir(sb.path("work"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, _, err) = output_of(child);
    (code, err)
}

/// A spec whose one step touches `marker`, then runs `then`.
fn touching_spec(sb: &Sandbox, marker: &std::path::Path, then: &str) -> std::path::PathBuf {
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    with: {{commands: ['touch {}', '{then}']}}\n",
        marker.display()
    ));
    std::os::unix::fs::chown(&spec, Some(NOBODY), Some(NOBODY)).unwrap();
    spec
}

/// Issue 19, defect 5: in a shared directory (sticky, world-writable),
/// another user planted a 0600 file at the lock's name. This user cannot
/// open it; the run went on unlocked, so two runs could restore over each
/// other's logins. Now nothing runs, exit 2, and the diagnostic says why
/// and what to do.
fn a_lock_file_another_user_planted_stops_the_run() {
    let sb = Sandbox::new();
    for_nobody(&sb, 0o1777);
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::os::unix::fs::chown(sb.kubeconfig(), Some(NOBODY), Some(NOBODY)).unwrap();
    // Root's, in the part of another user.
    std::fs::write(lock_file(&sb), "").unwrap();
    std::fs::set_permissions(lock_file(&sb), std::fs::Permissions::from_mode(0o600)).unwrap();
    let marker = sb.path("work/ran");
    let spec = touching_spec(&sb, &marker, "echo login >> $KUBECONFIG");
    let (code, err) = run_as_nobody(&sb, &spec);
    assert_eq!(code, 2, "{err}");
    let err = unwrapped(&err);
    // (miette may break the long paths.)
    for said in [
        "cannot lock the kubeconfig",
        ".config.stackhook-lock cannot be opened by this user (Permission denied",
        "nothing ran",
    ] {
        assert!(err.contains(said), "{said}: {err}");
    }
    assert!(err.contains("Remove it"), "{err}");
    assert!(!marker.exists(), "a step ran unlocked");
    assert_eq!(contexts(&sb), TWO_CONTEXTS);
    assert!(
        lock_file(&sb).exists(),
        "another user's file is not ours to remove"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

/// Whatever else is at the lock's name stops the run the same way (exit
/// 2, before, some of them made it exit 1 as a failed step would):
/// another user's file, a directory, a FIFO (opened without waiting for a
/// writer: the run does not hang).
fn a_lock_path_that_is_not_a_lock_file_of_ours_stops_the_run() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let marker = sb.path("work/ran");
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    with: {{commands: ['touch {}']}}\n",
        marker.display()
    ));
    let lock = lock_file(&sb);
    let cases = [
        ("theirs", "it is a file of another user, uid 65534"),
        ("dir", "it is a directory"),
        ("fifo", "it is a FIFO"),
    ];
    for (plant, what) in cases {
        match plant {
            "theirs" => {
                std::fs::write(&lock, "").unwrap();
                std::os::unix::fs::chown(&lock, Some(NOBODY), None).unwrap();
            }
            "dir" => std::fs::create_dir(&lock).unwrap(),
            _ => drop(sb.fifo("kube/.config.stackhook-lock")),
        }
        let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
        assert_eq!(code, 2, "{what}: {err}");
        let err = unwrapped(&err);
        assert!(
            err.contains(&format!("is not a lock file of this user: {what}")),
            "{err}"
        );
        assert!(!marker.exists(), "{what}: a step ran");
        let meta = std::fs::symlink_metadata(&lock).unwrap();
        if meta.is_dir() {
            std::fs::remove_dir(&lock).unwrap();
        } else {
            std::fs::remove_file(&lock).unwrap();
        }
    }
}

/// Issue 19, defect 6: a kubeconfig of this user, in a directory it
/// cannot write. The step edited the file; the rollback, which writes a
/// new file beside it, failed ("rollback incomplete … Permission
/// denied") and the step's edit stayed. Now preflight refuses it, saying
/// why, before anything runs.
fn a_kubeconfig_in_a_directory_the_run_cannot_write_is_refused() {
    let sb = Sandbox::new();
    for_nobody(&sb, 0o755);
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::os::unix::fs::chown(sb.kubeconfig(), Some(NOBODY), Some(NOBODY)).unwrap();
    let marker = sb.path("work/ran");
    let spec = touching_spec(&sb, &marker, "echo edited > $KUBECONFIG; exit 3");
    let (code, err) = run_as_nobody(&sb, &spec);
    assert_eq!(code, 2, "{err}");
    let err = unwrapped(&err);
    assert!(
        err.contains(&format!(
            "the kubeconfig {}: {} is not writable by this user: a run locks the kubeconfig there, and puts it back there after a failed step",
            sb.kubeconfig().display(),
            sb.path("kube").display()
        )),
        "{err}"
    );
    assert!(!marker.exists(), "a step ran");
    assert_eq!(contexts(&sb), TWO_CONTEXTS);
}

/// Issue 19, defect 7: a failed step that left a directory (empty or
/// not), a FIFO or a symlink where the kubeconfig was made the rollback
/// give up, though it held the original bytes. Now the original comes
/// back, and what the step left goes without a link in it being followed.
fn rollback_removes_what_a_step_left_at_the_kubeconfig() {
    let sb = Sandbox::new();
    let outside = sb.path("work/outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep"), "keep me").unwrap();
    let cases = [
        "rm $KUBECONFIG && mkdir $KUBECONFIG".to_string(),
        "rm $KUBECONFIG && mkdir -p $KUBECONFIG/a/b && echo x > $KUBECONFIG/a/b/f".into(),
        format!(
            "rm $KUBECONFIG && mkdir $KUBECONFIG && ln -s {} $KUBECONFIG/out && ln -s {}/keep $KUBECONFIG/keep",
            outside.display(),
            outside.display()
        ),
        "rm $KUBECONFIG && mkfifo $KUBECONFIG".into(),
        format!(
            "rm $KUBECONFIG && ln -s {}/keep $KUBECONFIG",
            outside.display()
        ),
    ];
    for edit in &cases {
        std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
        let (code, err) = failing_run(&sb, edit);
        assert_eq!(code, 1, "{edit}: {err}");
        assert!(
            unwrapped(&err).contains(&format!(
                "rolled back: temp files removed, {} restored",
                sb.kubeconfig().display()
            )),
            "{edit}: {err}"
        );
        let meta = std::fs::symlink_metadata(sb.kubeconfig()).unwrap();
        assert!(meta.is_file(), "{edit}: {meta:?}");
        assert_eq!(contexts(&sb), TWO_CONTEXTS, "{edit}");
        assert_eq!(
            std::fs::read_to_string(outside.join("keep")).unwrap(),
            "keep me",
            "{edit}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "{edit}");
    }
    // A kubeconfig that is a link, replaced by a directory, comes back as
    // the link; one that was not there goes with what took its place.
    let target = sb.path("mounted-config");
    std::fs::write(&target, TWO_CONTEXTS).unwrap();
    std::fs::remove_file(sb.kubeconfig()).unwrap();
    std::os::unix::fs::symlink(&target, sb.kubeconfig()).unwrap();
    let (code, err) = failing_run(&sb, "rm $KUBECONFIG && mkdir -p $KUBECONFIG/x");
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read_link(sb.kubeconfig()).unwrap(), target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), TWO_CONTEXTS);
    std::fs::remove_file(sb.kubeconfig()).unwrap();
    let (code, err) = failing_run(&sb, "mkdir -p $KUBECONFIG/x");
    assert_eq!(code, 1, "{err}");
    assert!(std::fs::symlink_metadata(sb.kubeconfig()).is_err(), "{err}");
}

/// Also in issue 19: a kubeconfig with a second hard link, edited in
/// place by a failing step, was restored by replacing its name, so the
/// other name kept the step's edit. Now it is written back in place, and
/// both names hold the original; a step that replaced the name leaves the
/// other name as it was.
fn a_hard_linked_kubeconfig_is_restored_under_every_name() {
    let sb = Sandbox::new();
    let other = sb.path("work/other-name");
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    std::fs::set_permissions(sb.kubeconfig(), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::hard_link(sb.kubeconfig(), &other).unwrap();
    let inode = std::fs::metadata(&other).unwrap().ino();
    let (code, err) = failing_run(&sb, "echo edited > $KUBECONFIG && chmod 600 $KUBECONFIG");
    assert_eq!(code, 1, "{err}");
    for name in [sb.kubeconfig(), other.clone()] {
        let meta = std::fs::metadata(&name).unwrap();
        assert_eq!(
            std::fs::read_to_string(&name).unwrap(),
            TWO_CONTEXTS,
            "{name:?}"
        );
        assert_eq!(meta.ino(), inode, "{name:?}");
        assert_eq!(meta.nlink(), 2);
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    }
    let (code, err) = failing_run(
        &sb,
        "echo new > $KUBECONFIG.new && mv $KUBECONFIG.new $KUBECONFIG",
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(contexts(&sb), TWO_CONTEXTS);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), TWO_CONTEXTS);
    assert_eq!(std::fs::metadata(&other).unwrap().ino(), inode);
}

/// A step that fills the disk: the rollback cannot write the original
/// back, and says exactly what it left, which is what is there. The
/// kubeconfig is on a 64 KiB tmpfs, mounted in a mount namespace of the
/// run's own (`unshare -m`), so nothing else sees it. A hard-linked
/// kubeconfig, written back in place, has its space reserved first: it is
/// not cut short either.
fn a_rollback_on_a_full_disk_says_what_it_left() {
    let cut = ": > $KUBECONFIG";
    let left = "it is left as the failed step left it";
    // The step cuts the file short, or removes it.
    for (edit, linked, said, after) in [
        (cut, "", left, Some("")),
        (cut, "1", left, Some("")),
        ("rm $KUBECONFIG", "", "nothing is there", None),
    ] {
        let sb = Sandbox::new();
        let spec = sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: run\n    with:\n      commands:\n        - '{edit}; cat /dev/zero > $KUBECONFIG.fill; exit 3'\n",
        ));
        let script = r#"set -e
mount -t tmpfs -o size=64k tmpfs "$SB/kube"
printf '%s' "$ORIGINAL" > "$SB/kube/config"
if [ -n "$LINKED" ]; then ln "$SB/kube/config" "$SB/kube/second"; fi
set +e
"$BIN" run "$SPEC"
echo $? > "$SB/work/code"
if [ -e "$SB/kube/config" ]; then cat "$SB/kube/config" > "$SB/work/after"; fi
"#;
        let out = std::process::Command::new("unshare")
            .env_clear()
            .envs(sb.envs())
            .current_dir(sb.path("work"))
            .env("SB", sb.dir.path())
            .env("ORIGINAL", TWO_CONTEXTS)
            .env("LINKED", linked)
            .env("BIN", bin())
            .env("SPEC", &spec)
            .args(["-m", "sh", "-c", script])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let code = std::fs::read_to_string(sb.path("work/code")).unwrap();
        assert_eq!(code.trim(), "1", "{err}");
        let err = unwrapped(&err);
        let restore = format!(
            "rollback incomplete: could not restore {}: No space left on device",
            sb.kubeconfig().display()
        );
        assert!(err.contains(&restore), "{edit} {linked}: {err}");
        assert!(
            err.contains(&format!("; {said} command:")),
            "{edit} {linked}: {err}"
        );
        let now = std::fs::read_to_string(sb.path("work/after")).ok();
        assert_eq!(now.as_deref(), after, "{edit} {linked}");
    }
}

/// A kubeconfig mounted read-write over a file of a read-only directory
/// (a container with a read-only root file system): the lock cannot be
/// created beside it, nor the file put back by rename, yet a step could
/// change it. Nothing runs. The same directory with the file read-only
/// too is fine: no step can change it. The mounts live in a mount
/// namespace of the run's own (`unshare -m`).
fn a_writable_kubeconfig_in_a_read_only_directory_is_refused() {
    for (file_mounted, code) in [(true, "2"), (false, "0")] {
        let sb = Sandbox::new();
        std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
        std::fs::write(sb.path("work/source"), TWO_CONTEXTS).unwrap();
        let spec = sb.write_spec(
            "version: 1\nsteps:\n  - provider: run\n    with:\n      commands:\n        - 'echo ran > ran; echo changed > \"$KUBECONFIG\" || true'\n",
        );
        let script = r#"set -e
mount --bind "$SB/kube" "$SB/kube"
mount -o remount,bind,ro "$SB/kube"
if [ -n "$FILE" ]; then mount --bind "$SB/work/source" "$SB/kube/config"; fi
set +e
"$BIN" run "$SPEC" 2> "$SB/work/err"
echo $? > "$SB/work/code"
"#;
        let out = std::process::Command::new("unshare")
            .env_clear()
            .envs(sb.envs())
            .current_dir(sb.path("work"))
            .env("SB", sb.dir.path())
            .env("FILE", if file_mounted { "1" } else { "" })
            .env("BIN", bin())
            .env("SPEC", &spec)
            .args(["-m", "sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = unwrapped(&std::fs::read_to_string(sb.path("work/err")).unwrap());
        let got = std::fs::read_to_string(sb.path("work/code")).unwrap();
        assert_eq!(got.trim(), code, "{err}");
        assert_eq!(
            std::fs::read_to_string(sb.path("work/source")).unwrap(),
            TWO_CONTEXTS
        );
        assert_eq!(
            std::fs::read_to_string(sb.kubeconfig()).unwrap(),
            TWO_CONTEXTS
        );
        if file_mounted {
            assert!(!sb.path("work/ran").exists(), "{err}");
            let why = format!(
                "the kubeconfig {}: its directory {} is on a read-only file system, yet the file itself can be written",
                sb.kubeconfig().display(),
                sb.path("kube").display()
            );
            // Wrapping may break a line at a hyphen.
            let flat = |t: &str| t.split_whitespace().collect::<String>();
            assert!(flat(&err).contains(&flat(&why)), "{err}");
            assert!(err.contains("Mount "), "{err}");
            assert_eq!(sb.tmp_entries(), Vec::<String>::new());
        } else {
            assert!(sb.path("work/ran").exists(), "{err}");
        }
    }
}
