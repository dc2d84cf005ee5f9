//! The worker's line to its guardian, for when the worker dies before its
//! journal is finished (SIGKILL, the kernel's OOM killer) and the guardian
//! must finish the rollback for it. Over a socket made before the fork,
//! the worker hands over the run's directory and the kubeconfig's lock as
//! open files: a flock belongs to the open file, so the guardian, holding
//! it too, keeps the lock held after the worker dies, and no other run
//! can take the kubeconfig before it is restored. The worker then says
//! when its journal is finished. What the journal records of the
//! kubeconfig is a file in the run's directory (rollback.rs).

use std::ffi::OsStr;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

/// What a message hands over; its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Held {
    /// The run's private directory, with its lock file (which keeps a
    /// later run from sweeping it).
    RunDir = b'R',
    /// The kubeconfig's lock file.
    KubeconfigLock = b'K',
}

/// The journal is finished: nothing is left for the guardian to do.
const DONE: u8 = b'D';

/// The worker's end.
#[derive(Debug)]
pub struct Channel(UnixDatagram);

/// The guardian's end, read once the worker has ended.
#[derive(Debug)]
pub struct Receiver(UnixDatagram);

/// What the worker handed over.
#[derive(Debug, Default)]
pub struct Handover {
    pub run_dir: Option<(PathBuf, OwnedFd)>,
    pub kubeconfig_lock: Option<(PathBuf, OwnedFd)>,
    /// The worker's journal was committed or rolled back.
    pub done: bool,
}

/// A connected pair of datagram sockets (close-on-exec: no command
/// inherits either end).
pub fn pair() -> io::Result<(Receiver, Channel)> {
    let (guardian, worker) = UnixDatagram::pair()?;
    guardian.set_nonblocking(true)?;
    Ok((Receiver(guardian), Channel(worker)))
}

static WORKER_END: OnceLock<Channel> = OnceLock::new();

/// In the worker, right after the fork: keeps its end for the journal.
pub fn keep(channel: Channel) {
    let _ = WORKER_END.set(channel);
}

/// This process's guardian: `None` in any process that is not a worker
/// (a fork that failed, the unit tests).
pub fn guardian() -> Option<&'static Channel> {
    WORKER_END.get()
}

impl Channel {
    /// Hands over `file`, open, as `what`, with the path it was opened at.
    pub fn hand_over(&self, what: Held, path: &Path, file: BorrowedFd) -> io::Result<()> {
        let mut message = vec![what as u8];
        message.extend_from_slice(path.as_os_str().as_bytes());
        let fds = [file];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other("no room for a descriptor"));
        }
        self.send(&message, &mut control)
    }

    /// Tells the guardian that the journal is finished.
    pub fn done(&self) {
        let _ = self.send(&[DONE], &mut SendAncillaryBuffer::default());
    }

    /// Never waits: the guardian reads only after the worker has ended,
    /// and a run's three messages fit in the smallest queue (10).
    fn send(&self, message: &[u8], control: &mut SendAncillaryBuffer) -> io::Result<()> {
        sendmsg(
            &self.0,
            &[IoSlice::new(message)],
            control,
            SendFlags::DONTWAIT,
        )?;
        Ok(())
    }
}

impl Receiver {
    /// Everything the worker sent; a message that is not whole is
    /// ignored.
    pub fn receive(&self) -> Handover {
        let mut handover = Handover::default();
        // A kind and a path (at most PATH_MAX).
        let mut buf = vec![0u8; 1 + 4096];
        loop {
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let flags = RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC;
            let Ok(msg) = recvmsg(
                &self.0,
                &mut [IoSliceMut::new(&mut buf)],
                &mut control,
                flags,
            ) else {
                break; // nothing more (EAGAIN)
            };
            if msg.bytes == 0 {
                break;
            }
            let fd = control.drain().find_map(|m| match m {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            });
            if msg
                .flags
                .intersects(ReturnFlags::TRUNC | ReturnFlags::CTRUNC)
            {
                continue;
            }
            let path = PathBuf::from(OsStr::from_bytes(&buf[1..msg.bytes]));
            match (buf[0], fd) {
                (DONE, _) => handover.done = true,
                (k, Some(fd)) if k == Held::RunDir as u8 => handover.run_dir = Some((path, fd)),
                (k, Some(fd)) if k == Held::KubeconfigLock as u8 => {
                    handover.kubeconfig_lock = Some((path, fd))
                }
                _ => {}
            }
        }
        handover
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn a_lock_handed_over_stays_held_after_its_taker_closes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let (receiver, channel) = pair().unwrap();
        let taker = File::create(&path).unwrap();
        taker.try_lock().unwrap();
        channel
            .hand_over(Held::KubeconfigLock, &path, taker.as_fd())
            .unwrap();
        // The taker dies.
        drop(taker);
        drop(channel);
        let handover = receiver.receive();
        assert!(handover.run_dir.is_none() && !handover.done);
        let (got, fd) = handover.kubeconfig_lock.unwrap();
        assert_eq!(got, path);
        let other = File::open(&path).unwrap();
        assert!(other.try_lock().is_err(), "released with its taker");
        drop(fd);
        other.try_lock().unwrap();
    }

    #[test]
    fn done_is_heard_and_each_kind_keeps_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let (receiver, channel) = pair().unwrap();
        let f = File::create(dir.path().join("x")).unwrap();
        channel
            .hand_over(Held::RunDir, Path::new("/tmp/run"), f.as_fd())
            .unwrap();
        channel
            .hand_over(
                Held::KubeconfigLock,
                Path::new("/k/.config.lock"),
                f.as_fd(),
            )
            .unwrap();
        channel.done();
        let handover = receiver.receive();
        assert_eq!(handover.run_dir.unwrap().0, Path::new("/tmp/run"));
        assert_eq!(
            handover.kubeconfig_lock.unwrap().0,
            Path::new("/k/.config.lock")
        );
        assert!(handover.done);
        assert!(!receiver.receive().done, "read once");
    }

    /// A message cut short (a path longer than any real one) or of a kind
    /// the guardian does not know hands nothing over.
    #[test]
    fn a_cut_or_unknown_message_hands_nothing_over() {
        let dir = tempfile::tempdir().unwrap();
        let (receiver, channel) = pair().unwrap();
        let f = File::create(dir.path().join("x")).unwrap();
        let long = "/x".repeat(3000);
        channel
            .hand_over(Held::RunDir, Path::new(&long), f.as_fd())
            .unwrap();
        let fds = [f.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        channel.send(b"X/k/.config.lock", &mut control).unwrap();
        let handover = receiver.receive();
        assert!(handover.run_dir.is_none());
        assert!(handover.kubeconfig_lock.is_none());
        assert!(!handover.done);
    }
}
