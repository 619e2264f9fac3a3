//! The dispatcher's picture of the active jobs: which are due, which wait
//! for an earlier job of their order, which wait for room on their channel.
//! Memory only, rebuilt from the store at every start.

use std::collections::{BTreeSet, HashMap, HashSet};

use statusport_core::domain::event::Job;
use statusport_core::domain::job::{JobState, JobStatus};
use statusport_core::domain::order::{ChannelId, OrderId};

#[derive(Clone, Debug)]
pub struct Entry {
    pub channel: ChannelId,
    /// A platform job: limited per channel, in order per order.
    pub platform: bool,
    lane: Option<OrderId>,
    /// Milliseconds since the epoch.
    due: i64,
    status: JobStatus,
}

#[derive(Default, Debug)]
pub struct Schedule {
    entries: HashMap<u64, Entry>,
    /// Active platform jobs of each order, oldest (lowest id) first.
    lanes: HashMap<OrderId, BTreeSet<u64>>,
    /// Jobs that may start when due: waiting, not running, first of their
    /// lane, not parked.
    ready: BTreeSet<(i64, u64)>,
    /// Jobs waiting for a free place on their channel.
    parked: HashMap<ChannelId, Vec<u64>>,
    parked_ids: HashSet<u64>,
    running: HashSet<u64>,
    running_per_channel: HashMap<ChannelId, usize>,
}

impl Schedule {
    pub fn get(&self, id: u64) -> Option<&Entry> {
        self.entries.get(&id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a job or takes its new state.
    pub fn upsert(&mut self, job: &Job, state: &JobState) {
        let id = job.id;
        if let Some(old) = self.entries.get(&id) {
            self.ready.remove(&(old.due, id));
        }
        let lane = job.kind.is_platform().then_some(job.order);
        self.entries.insert(
            id,
            Entry {
                channel: job.channel.clone(),
                platform: job.kind.is_platform(),
                lane,
                due: state.due.as_millisecond(),
                status: state.status,
            },
        );
        match lane {
            Some(lane) => {
                self.lanes.entry(lane).or_default().insert(id);
                self.reindex(lane);
            }
            None => self.consider(id),
        }
    }

    /// Forgets a job that is no longer active.
    pub fn remove(&mut self, id: u64) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        self.ready.remove(&(entry.due, id));
        if self.parked_ids.remove(&id)
            && let Some(list) = self.parked.get_mut(&entry.channel)
        {
            list.retain(|p| *p != id);
        }
        if let Some(lane) = entry.lane {
            if let Some(ids) = self.lanes.get_mut(&lane) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.lanes.remove(&lane);
                }
            }
            self.reindex(lane);
        }
    }

    /// The earliest job due by `now`, taken off the ready list: the caller
    /// starts, parks or defers it.
    pub fn next_due(&mut self, now: i64) -> Option<u64> {
        let first = *self.ready.first()?;
        if first.0 > now {
            return None;
        }
        self.ready.remove(&first);
        Some(first.1)
    }

    /// When the earliest ready job is due.
    pub fn next_wake(&self) -> Option<i64> {
        self.ready.first().map(|(due, _)| *due)
    }

    pub fn running_in(&self, channel: &ChannelId) -> usize {
        self.running_per_channel.get(channel).copied().unwrap_or(0)
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Holds a job until a job of its channel finishes.
    pub fn park(&mut self, id: u64) {
        if let Some(entry) = self.entries.get(&id) {
            self.parked
                .entry(entry.channel.clone())
                .or_default()
                .push(id);
            self.parked_ids.insert(id);
        }
    }

    /// Moves a job's due time (in memory only): a rate limit's wait.
    pub fn defer(&mut self, id: u64, at: i64) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.due = entry.due.max(at);
            self.ready.insert((entry.due, id));
        }
    }

    pub fn start(&mut self, id: u64) {
        if let Some(entry) = self.entries.get(&id) {
            self.running.insert(id);
            *self
                .running_per_channel
                .entry(entry.channel.clone())
                .or_default() += 1;
        }
    }

    /// An attempt ended: its channel has room again.
    pub fn finish(&mut self, id: u64, channel: &ChannelId) {
        if self.running.remove(&id)
            && let Some(n) = self.running_per_channel.get_mut(channel)
        {
            *n = n.saturating_sub(1);
        }
        if let Some(parked) = self.parked.remove(channel) {
            for p in parked {
                self.parked_ids.remove(&p);
                self.consider(p);
            }
        }
        self.consider(id);
    }

    /// Puts a job on the ready list if it may start.
    fn consider(&mut self, id: u64) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        let head = match entry.lane {
            Some(lane) => self.lanes.get(&lane).and_then(|ids| ids.first()) == Some(&id),
            None => true,
        };
        if entry.status == JobStatus::Pending
            && head
            && !self.running.contains(&id)
            && !self.parked_ids.contains(&id)
        {
            self.ready.insert((entry.due, id));
        }
    }

    /// After a lane changed: only its first job may be ready.
    fn reindex(&mut self, lane: OrderId) {
        let Some(ids) = self.lanes.get(&lane) else {
            return;
        };
        let ids: Vec<u64> = ids.iter().copied().collect();
        for id in &ids {
            if let Some(entry) = self.entries.get(id) {
                self.ready.remove(&(entry.due, *id));
            }
        }
        if let Some(head) = ids.first() {
            self.consider(*head);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use statusport_core::domain::event::JobKind;
    use statusport_core::domain::platform::Dimension;

    fn job(id: u64, order: u64, platform: bool) -> Job {
        Job {
            id,
            order: OrderId(order),
            channel: ChannelId::try_from("shop").unwrap(),
            kind: if platform {
                JobKind::PushStatus {
                    dimension: Dimension::Order,
                    from: None,
                    to: "shipped".into(),
                }
            } else {
                JobKind::Email {
                    template: "shipped".into(),
                }
            },
            idempotency_key: format!("k{id}"),
            event: "e".into(),
            rule: None,
            created: Timestamp::UNIX_EPOCH,
        }
    }

    fn state(due: i64, status: JobStatus) -> JobState {
        let mut s = JobState::new(Timestamp::from_millisecond(due).unwrap());
        s.status = status;
        s
    }

    #[test]
    fn platform_jobs_of_one_order_run_one_at_a_time_oldest_first() {
        let mut s = Schedule::default();
        s.upsert(&job(2, 1, true), &state(0, JobStatus::Pending));
        s.upsert(&job(1, 1, true), &state(5, JobStatus::Pending));
        s.upsert(&job(3, 1, false), &state(0, JobStatus::Pending));
        // The email needs no turn; job 1 comes before job 2 although 2 is due first.
        assert_eq!(s.next_due(10), Some(3));
        assert_eq!(s.next_due(10), Some(1));
        assert_eq!(s.next_due(10), None);
        s.start(1);
        s.finish(1, &ChannelId::try_from("shop").unwrap());
        // Still active (a retry): it stays first.
        assert_eq!(s.next_due(10), Some(1));
        s.remove(1);
        assert_eq!(s.next_due(10), Some(2));
    }

    #[test]
    fn a_failed_job_holds_back_the_later_jobs_of_its_order() {
        let mut s = Schedule::default();
        s.upsert(&job(1, 1, true), &state(0, JobStatus::Failed));
        s.upsert(&job(2, 1, true), &state(0, JobStatus::Pending));
        s.upsert(&job(3, 2, true), &state(0, JobStatus::Pending));
        assert_eq!(s.next_due(10), Some(3));
        assert_eq!(s.next_due(10), None);
        s.upsert(&job(1, 1, true), &state(0, JobStatus::Pending));
        assert_eq!(s.next_due(10), Some(1));
    }

    #[test]
    fn a_parked_job_comes_back_when_its_channel_has_room() {
        let mut s = Schedule::default();
        let shop = ChannelId::try_from("shop").unwrap();
        s.upsert(&job(1, 1, true), &state(0, JobStatus::Pending));
        s.upsert(&job(2, 2, true), &state(0, JobStatus::Pending));
        assert_eq!(s.next_due(0), Some(1));
        s.start(1);
        assert_eq!(s.next_due(0), Some(2));
        s.park(2);
        assert_eq!(s.next_due(0), None);
        assert_eq!(s.running_in(&shop), 1);
        s.remove(1);
        s.finish(1, &shop);
        assert_eq!(s.running_in(&shop), 0);
        assert_eq!(s.next_due(0), Some(2));
    }
}
