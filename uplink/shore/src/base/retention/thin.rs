//! The thinning planner (IO-free): fed one camera's thumbnails oldest
//! first, it says which to delete so that, among those older than the
//! cutoff, one remains per slot of `keep_every_ns` of UTC time — the
//! first of its slot. The first of a slot is the oldest, so it is the one
//! that crosses the cutoff first and is never deleted later: thinning is
//! idempotent, passes may stop and resume anywhere (as long as they start
//! at a slot's start), and a later step with a longer slot (a multiple of
//! the shorter) keeps a subset of what the earlier kept.

/// Feeds rows of one camera, oldest first.
#[derive(Debug, Clone)]
pub struct Thinner {
    keep_every_ns: i64,
    cutoff_ns: i64,
    slot: Option<i64>,
}

impl Thinner {
    /// `keep_every_ns` ≥ 1; rows at or after `cutoff_ns` are never deleted.
    pub fn new(keep_every_ns: i64, cutoff_ns: i64) -> Self {
        Self {
            keep_every_ns: keep_every_ns.max(1),
            cutoff_ns,
            slot: None,
        }
    }

    /// Where a scan must start to thin everything from `ns` on: the start
    /// of its slot (so that the slot's first row is seen).
    pub fn slot_start(&self, ns: i64) -> i64 {
        ns.div_euclid(self.keep_every_ns)
            .saturating_mul(self.keep_every_ns)
    }

    /// The next row (captured at `ns`, never older than the last): `true`
    /// when it is to be deleted.
    pub fn delete(&mut self, ns: i64) -> bool {
        let slot = ns.div_euclid(self.keep_every_ns);
        if self.slot == Some(slot) {
            ns < self.cutoff_ns
        } else {
            self.slot = Some(slot);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plan(rows: &[i64], every: i64, cutoff: i64) -> Vec<i64> {
        let mut t = Thinner::new(every, cutoff);
        rows.iter().copied().filter(|&ns| !t.delete(ns)).collect()
    }

    #[test]
    fn one_per_slot_before_the_cutoff_all_after() {
        let rows: Vec<i64> = (0..30).collect();
        assert_eq!(
            plan(&rows, 10, 25),
            [0, 10, 20, 25, 26, 27, 28, 29],
            "the slot across the cutoff keeps its first and everything from the cutoff"
        );
        assert_eq!(plan(&[-15, -12, -5, 3], 10, 100), [-15, -5, 3]);
    }

    proptest! {
        #[test]
        fn thinning_is_idempotent_resumable_and_nests(
            mut rows in proptest::collection::btree_set(0i64..5_000, 0..400),
            cutoff in 0i64..6_000,
            resume_at in 0i64..6_000,
        ) {
            let rows: Vec<i64> = std::mem::take(&mut rows).into_iter().collect();
            let once = plan(&rows, 60, cutoff);
            prop_assert_eq!(&plan(&once, 60, cutoff), &once);
            // Before the cutoff, at most one per slot; after it, all.
            let mut slots = std::collections::HashSet::new();
            for &ns in once.iter().filter(|&&ns| ns < cutoff) {
                prop_assert!(slots.insert(ns.div_euclid(60)));
            }
            prop_assert_eq!(
                once.iter().filter(|&&ns| ns >= cutoff).count(),
                rows.iter().filter(|&&ns| ns >= cutoff).count()
            );
            // A pass stopped anywhere and resumed from a slot's start agrees.
            let t = Thinner::new(60, cutoff);
            let start = t.slot_start(resume_at);
            let first = plan(&rows.iter().copied().filter(|&ns| ns < resume_at).collect::<Vec<_>>(), 60, cutoff);
            let mut resumed: Vec<i64> = first.iter().copied().filter(|&ns| ns < start).collect();
            let rest: Vec<i64> = first.iter().copied().filter(|&ns| ns >= start)
                .chain(rows.iter().copied().filter(|&ns| ns >= resume_at)).collect();
            resumed.extend(plan(&rest, 60, cutoff));
            prop_assert_eq!(&resumed, &once);
            // Ten-minute slots over minute-thinned rows keep a subset.
            let ten = plan(&once, 600, cutoff);
            prop_assert!(ten.iter().all(|ns| once.contains(ns)));
            prop_assert_eq!(&ten, &plan(&rows, 600, cutoff));
        }
    }
}
