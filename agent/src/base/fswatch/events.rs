//! From notify's events to the paths worth a look, and the set of paths
//! waiting to settle; both pure.
//!
//! Worth a look: a path created, removed, renamed (either side) or closed
//! after writing. Not: opening, reading, closing after reading (the repair
//! itself reads frames), attribute changes, each write (a copy reports its
//! end by closing), and anything named `*.tmp` (the worker's temp files:
//! never frames). A rename is reported on both sides and once more as a
//! pair; the pair is passed over. notify's `Flag::Rescan` (inotify's
//! `IN_Q_OVERFLOW`: the kernel's queue was full and events were lost) and
//! errors on the stream mean that what happened is unknown.
//!
//! A path is handled once it has been quiet for a moment (`settle`): a copy
//! in progress, or a worker's batch between its rename and its commit, is
//! then usually done. The set is bounded; a path that finds it full is
//! dropped, and the caller falls back to scanning every watched folder.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};

/// What an event says, for the watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Something at this path (relative to `frames/`, `""` for `frames/`
    /// itself) may have come or gone: look at it.
    Path(String),
    /// The kernel's event queue overflowed: events were lost.
    Overflow,
    /// notify reported an error instead of an event.
    Error(String),
}

/// The changes one of notify's events stands for (none for most).
pub fn classify(event: notify::Result<notify::Event>, frames_dir: &Path) -> Vec<Change> {
    let event = match event {
        Ok(event) => event,
        Err(e) => return vec![Change::Error(e.to_string())],
    };
    if event.need_rescan() {
        return vec![Change::Overflow];
    }
    let wanted = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Modify(ModifyKind::Name(mode)) => mode != RenameMode::Both,
        _ => false,
    };
    if !wanted {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter(|p| !p.as_os_str().as_encoded_bytes().ends_with(b".tmp"))
        .filter_map(|p| p.strip_prefix(frames_dir).ok()?.to_str())
        .map(|rel| Change::Path(rel.to_owned()))
        .collect()
}

/// Paths seen changing, each with when it last did. Bounded.
#[derive(Debug)]
pub struct Pending {
    last_seen: HashMap<String, Instant>,
    capacity: usize,
}

impl Pending {
    pub fn new(capacity: usize) -> Self {
        Self {
            last_seen: HashMap::new(),
            capacity,
        }
    }

    /// Notes that `rel` changed at `now`. False when the set is full and
    /// `rel` was not in it (it is dropped).
    pub fn touch(&mut self, rel: String, now: Instant) -> bool {
        if let Some(at) = self.last_seen.get_mut(&rel) {
            *at = now;
            return true;
        }
        if self.last_seen.len() >= self.capacity {
            return false;
        }
        self.last_seen.insert(rel, now);
        true
    }

    /// Takes the paths quiet for `settle` at `now`, sorted (a folder's
    /// files together, a folder before what is in it).
    pub fn take_settled(&mut self, now: Instant, settle: Duration) -> Vec<(String, Instant)> {
        let mut settled = Vec::new();
        self.last_seen.retain(|rel, at| {
            let quiet = now.saturating_duration_since(*at) >= settle;
            if quiet {
                settled.push((rel.clone(), *at));
            }
            !quiet
        });
        settled.sort();
        settled
    }

    /// Puts back paths taken but not handled (their time kept, unless they
    /// changed again meanwhile).
    pub fn put_back(&mut self, rest: impl IntoIterator<Item = (String, Instant)>) {
        for (rel, at) in rest {
            self.last_seen.entry(rel).or_insert(at);
        }
    }

    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use notify::event::{CreateKind, DataChange, Flag, RemoveKind};
    use notify::{Event, EventKind};

    use super::*;

    fn ev(kind: EventKind, paths: &[&str]) -> notify::Result<Event> {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        Ok(e)
    }

    #[test]
    fn only_comings_and_goings_of_non_temp_paths_count() {
        let root = Path::new("/d/frames");
        let jpg = "/d/frames/a/2026/03/10/14/02/05.123-7.jpg";
        let rel = "a/2026/03/10/14/02/05.123-7.jpg";
        let seen = |kind| classify(ev(kind, &[jpg]), root);
        let path = vec![Change::Path(rel.to_owned())];
        assert_eq!(seen(EventKind::Create(CreateKind::File)), path);
        assert_eq!(seen(EventKind::Remove(RemoveKind::File)), path);
        assert_eq!(
            seen(EventKind::Modify(ModifyKind::Name(RenameMode::To))),
            path
        );
        assert_eq!(
            seen(EventKind::Modify(ModifyKind::Name(RenameMode::From))),
            path
        );
        assert_eq!(
            seen(EventKind::Access(AccessKind::Close(AccessMode::Write))),
            path
        );
        for quiet in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(notify::event::MetadataKind::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
        ] {
            assert!(seen(quiet).is_empty(), "{quiet:?}");
        }
        // The worker's temp files, and paths outside frames/, never.
        let tmp = ev(
            EventKind::Create(CreateKind::File),
            &["/d/frames/a/x.jpg.tmp"],
        );
        assert!(classify(tmp, root).is_empty());
        let outside = ev(EventKind::Create(CreateKind::File), &["/d/index.db"]);
        assert!(classify(outside, root).is_empty());
        let folder = ev(EventKind::Create(CreateKind::Folder), &["/d/frames/a"]);
        assert_eq!(classify(folder, root), [Change::Path("a".to_owned())]);
        let itself = ev(EventKind::Remove(RemoveKind::Folder), &["/d/frames"]);
        assert_eq!(classify(itself, root), [Change::Path(String::new())]);
    }

    #[test]
    fn lost_events_are_said_so() {
        let root = Path::new("/d/frames");
        let overflow = Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan));
        assert_eq!(classify(overflow, root), [Change::Overflow]);
        let err = Err(notify::Error::generic("boom"));
        assert!(matches!(&classify(err, root)[..], [Change::Error(_)]));
    }

    #[test]
    fn paths_settle_after_a_quiet_moment_and_the_set_is_bounded() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let settle = Duration::from_millis(100);
        let mut p = Pending::new(2);
        assert!(p.touch("b".into(), ms(0)));
        assert!(p.touch("a".into(), ms(50)));
        assert!(!p.touch("c".into(), ms(60)), "full");
        assert!(
            p.touch("b".into(), ms(80)),
            "a path already there is renewed"
        );
        assert!(p.take_settled(ms(120), settle).is_empty());
        let settled = p.take_settled(ms(150), settle);
        assert_eq!(settled, [("a".to_owned(), ms(50))]);
        assert_eq!(p.len(), 1);
        p.put_back(settled);
        let both: Vec<String> = p
            .take_settled(ms(200), settle)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(both, ["a", "b"]);
        assert!(p.is_empty());
    }
}
