//! One round of sends: the deliveries due again, then new events (first
//! tries up to the in-flight limit, or stored with their webhook's backlog),
//! all at once; then their outcomes, and the removal of the events from the
//! outbox, in one commit. A slow endpoint holds the worker for at most
//! `webhook_timeout_ms`; deliveries to other endpoints in the same round are
//! sent alongside it.
//!
//! A `Round` owns what one round gathers, from its collection to its
//! commit; the worker's state (schedule, connections, intake) is lent to the
//! steps that change it.

use super::fresh::Fresh;
use super::intake::{read_outbox, Intake};
use super::tries::{due_tries, record, Try};
use super::STORE_RETRY_MS;
use crate::clock::Millis;
use crate::events::schedule::Schedule;
use crate::events::sender::{self, Connection, Connections};
use crate::events::{Event, EventSettings, Webhooks};
use crate::store::{keys, StoreError, WriteGroup};
use std::collections::HashSet;
use std::time::Duration;

/// Sends one round and commits its outcomes (see the module docs). Returns
/// whether more may be waiting in the outbox.
pub(super) async fn send_round(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &mut Schedule,
    connections: &mut Connections,
    intake: &mut Intake,
) -> Result<bool, StoreError> {
    let mut round = Round::new(webhooks, settings, schedule);
    round.collect(schedule, intake).await;
    if round.tries.is_empty() && round.group.is_empty() {
        return Ok(round.more);
    }
    let answers = round.send(connections).await;
    let recorded = round.record(answers, connections);
    let next = round.read_ahead();
    // A webhook removed while this round was out must not keep what the
    // round wrote for it: removals wait while the round checks and commits.
    let changes = webhooks.hold_changes().await;
    round.reconcile();
    let committed = match recorded {
        Ok(()) => round.commit().await,
        Err(e) => Err(e),
    };
    drop(changes);
    for hook in &round.removed {
        connections.forget(hook);
    }
    match committed {
        Ok(()) => Ok(round.reschedule(schedule, intake, next)),
        Err(e) => {
            round.retry_later(schedule, intake);
            Err(e)
        }
    }
}

/// What one round gathers between its start and its commit.
struct Round<'a> {
    webhooks: &'a Webhooks,
    settings: &'a EventSettings,
    /// When the round began: deliveries it stores behind a backlog are due
    /// then.
    now: Millis,
    /// Most events one read of the outbox returns.
    page: usize,
    /// Everything the round writes, committed at once.
    group: WriteGroup,
    /// Due retries first, then first tries of new events.
    tries: Vec<Try>,
    /// New events' deliveries stored with their webhook's backlog:
    /// scheduled once the round's commit lands.
    queued: Vec<(String, u64)>,
    /// Keys written for new events per webhook (dead letters, stored
    /// deliveries), undone if it is removed before the round commits.
    written: Vec<(String, Vec<u8>)>,
    /// Sequence numbers of the new events taken.
    taken: HashSet<u64>,
    /// Whether more events may be waiting in the outbox.
    more: bool,
    /// Failed tries and when each is due again, once the commit lands.
    retry: Vec<(Millis, String, u64)>,
    /// Stored deliveries tried: due again soon if the commit fails.
    sent: Vec<(String, u64)>,
    /// Every try: each wrote its delivery key or its dead letter.
    tried: Vec<(String, u64)>,
    /// Webhooks removed while the round was out.
    removed: HashSet<String>,
}

impl<'a> Round<'a> {
    fn new(webhooks: &'a Webhooks, settings: &'a EventSettings, schedule: &Schedule) -> Self {
        // A round reads about as many events as it can send; while some
        // webhook has a backlog, whole batches, so that its new events are
        // stored (and meet its cap) as fast as they come.
        let page = match schedule.len() {
            0 => settings
                .webhook_in_flight_max
                .min(settings.outbox_batch_max),
            _ => settings.outbox_batch_max,
        };
        Self {
            webhooks,
            settings,
            now: webhooks.now(),
            page,
            group: WriteGroup::new(),
            tries: Vec::new(),
            queued: Vec::new(),
            written: Vec::new(),
            taken: HashSet::new(),
            more: false,
            retry: Vec::new(),
            sent: Vec::new(),
            tried: Vec::new(),
            removed: HashSet::new(),
        }
    }

    /// Collects the round's tries: deliveries due again off `schedule`,
    /// then new events from `intake` (unless they wait after a failure).
    async fn collect(&mut self, schedule: &mut Schedule, intake: &mut Intake) {
        let in_flight = self.settings.webhook_in_flight_max;
        // Retries leave a quarter of the round (at least one try) to new
        // events, so one endpoint's backlog cannot hold back everyone's new
        // events; with a limit of 1, retries and new events share the one try.
        let reserve = (in_flight / 4).max(1).min(in_flight - 1);
        self.tries = due_tries(
            self.webhooks,
            schedule,
            in_flight - reserve,
            &mut self.group,
        );
        let room = in_flight.saturating_sub(self.tries.len());
        if self.now < intake.not_before {
            return;
        }
        let (webhooks, settings) = (self.webhooks, self.settings);
        let sizes = (self.page, room);
        match intake
            .fresh(webhooks, settings, schedule, sizes, &self.tries)
            .await
        {
            Ok(fresh) => self.take(fresh),
            Err(e) => {
                // The retries above still go out: they must not wait on this.
                tracing::warn!(error = %e, "reading new events for webhooks; retrying shortly");
                intake.not_before = self.now + STORE_RETRY_MS;
            }
        }
    }

    /// Adds the new events' tries and writes to the round's.
    fn take(&mut self, fresh: Fresh) {
        self.group.append(fresh.group);
        self.tries.extend(fresh.tries);
        self.queued = fresh.queued;
        self.written = fresh.written;
        self.taken = fresh.taken;
        self.more = fresh.more;
    }

    /// Sends every try at once, each over an idle connection to its webhook
    /// if there is one; returns each answer with the connection, if it can
    /// be kept.
    async fn send(
        &self,
        connections: &mut Connections,
    ) -> Vec<(Result<(), String>, Option<Connection>)> {
        let timeout = Duration::from_millis(self.settings.webhook_timeout_ms);
        let tls = connections.tls().clone();
        let sends = self.tries.iter().map(|t| {
            let open = connections.take(&t.hook.id);
            sender::send(
                &tls,
                &t.hook,
                &t.delivery.event,
                self.webhooks.now(),
                timeout,
                open,
            )
        });
        futures_util::future::join_all(sends).await
    }

    /// Writes each try's outcome in the round's group and keeps the
    /// connections that can carry another request. An error means some
    /// outcome could not be written, so the round must not commit.
    fn record(
        &mut self,
        answers: Vec<(Result<(), String>, Option<Connection>)>,
        connections: &mut Connections,
    ) -> Result<(), StoreError> {
        let mut recorded = Ok(());
        for (t, (outcome, open)) in std::mem::take(&mut self.tries).into_iter().zip(answers) {
            let (hook, seq) = (t.hook.id.clone(), t.delivery.event.seq);
            if let Some(open) = open {
                connections.put_back(&hook, open);
            }
            if t.stored {
                self.sent.push((hook.clone(), seq));
            }
            self.tried.push((hook.clone(), seq));
            match record(self.webhooks, self.settings, &mut self.group, t, outcome) {
                Ok(Some(next_at)) => self.retry.push((next_at, hook, seq)),
                Ok(None) => {}
                Err(e) => recorded = Err(e),
            }
        }
        recorded
    }

    /// The next round's events, read now so that this round's commit proves
    /// them durable (it completes only after every group applied before it).
    /// Not finding them only costs the next round an empty commit.
    fn read_ahead(&mut self) -> Vec<Event> {
        if !self.more {
            return Vec::new();
        }
        let not_taken = |e: &Event| !self.taken.contains(&e.seq);
        read_outbox(self.webhooks, self.page, not_taken, &mut self.group).unwrap_or_default()
    }

    /// Undoes, in the round's group, what the round wrote for webhooks
    /// removed while it was out, and notes them. Called while changes to
    /// the webhooks are held off, until the commit.
    fn reconcile(&mut self) {
        let webhooks = self.webhooks;
        for (hook, key) in std::mem::take(&mut self.written) {
            if !webhooks.is_registered(&hook) {
                self.group.remove(key);
                self.removed.insert(hook);
            }
        }
        for (hook, seq) in &self.tried {
            if !webhooks.is_registered(hook) {
                for prefix in [keys::DELIVERY, keys::DEAD_LETTER] {
                    self.group.remove(keys::webhook_event(prefix, hook, *seq));
                }
                self.removed.insert(hook.clone());
            }
        }
    }

    /// Commits everything the round wrote, as one group.
    async fn commit(&mut self) -> Result<(), StoreError> {
        let group = std::mem::take(&mut self.group);
        self.webhooks.store().commit(group).await
    }

    /// After the commit landed: failed tries are due at their next time,
    /// new events stored behind a backlog at once (none for webhooks removed
    /// meanwhile), and the events read ahead wait for the next round, now
    /// proven durable. Returns whether more may be waiting in the outbox.
    fn reschedule(self, schedule: &mut Schedule, intake: &mut Intake, next: Vec<Event>) -> bool {
        for (next_at, hook, seq) in self.retry {
            if !self.removed.contains(&hook) {
                schedule.insert(next_at, hook, seq);
            }
        }
        for (hook, seq) in self.queued {
            if !self.removed.contains(&hook) {
                schedule.insert(self.now, hook, seq);
            }
        }
        intake.keep_ahead(next, self.page);
        self.more
    }

    /// After a failed commit nothing of this round is recorded: try all of
    /// it again later (new events are still in the outbox, whose removal was
    /// in this group).
    fn retry_later(self, schedule: &mut Schedule, intake: &mut Intake) {
        let later = self.webhooks.now() + STORE_RETRY_MS;
        for (hook, seq) in self.sent {
            schedule.insert(later, hook, seq);
        }
        intake.not_before = later;
    }
}
