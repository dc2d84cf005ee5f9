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
    assert_ne!(code, 0, "{err}");
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
