//! New events from the outbox. The worker carries one [`Intake`] between
//! rounds: the events the last round read ahead (durable once its commit
//! landed) and how long new events wait after a failed round. A round asks
//! it for its [`Fresh`] events; reading the outbox sets aside the records
//! that cannot be decoded, and every removal of events from the outbox
//! carries the mark that keeps their numbers from being handed out again.

use super::fresh::{take_events, Fresh};
use super::set_aside;
use super::tries::Try;
use crate::clock::Millis;
use crate::events::schedule::Schedule;
use crate::events::{Event, EventSettings, Webhooks};
use crate::store::{keys, StoreError, WriteGroup};

/// What the worker carries between rounds about the outbox.
#[derive(Default)]
pub(super) struct Intake {
    /// Events read before the last round's commit, so known to be durable.
    pub(super) ahead: Vec<Event>,
    /// Whether that read filled its page (more may wait behind it).
    pub(super) ahead_more: bool,
    /// New events wait until then after a failed round, so that a store
    /// that is busy (or an unreadable event) is not retried at once.
    pub(super) not_before: Millis,
}

impl Intake {
    /// New events from the outbox for this round: the ones read ahead by
    /// the last round, else up to `page` read now and proven durable by an
    /// empty commit; at most `room` first tries. `retries` are the round's
    /// stored tries, which still count in their webhooks' backlogs.
    pub(super) async fn fresh(
        &mut self,
        webhooks: &Webhooks,
        settings: &EventSettings,
        schedule: &Schedule,
        (page, room): (usize, usize),
        retries: &[Try],
    ) -> Result<Fresh, StoreError> {
        let mut events = std::mem::take(&mut self.ahead);
        let mut full = self.ahead_more;
        if events.is_empty() {
            let mut set_aside = WriteGroup::new();
            events = read_outbox(webhooks, page, |_| true, &mut set_aside)?;
            if events.is_empty() && set_aside.is_empty() {
                return Ok(Fresh::default());
            }
            full = events.len() >= page || !set_aside.is_empty();
            // Read before this commit (empty but for what was set aside), so
            // durable once it is.
            webhooks.store().commit(set_aside).await?;
        }
        let mut fresh = Fresh::default();
        let taken = take_events(
            webhooks, settings, schedule, room, &events, retries, &mut fresh,
        )?;
        fresh.taken = events[..taken].iter().map(|e| e.seq).collect();
        fresh.more = full || taken < events.len();
        Ok(fresh)
    }

    /// Keeps the events a round read ahead, now that its commit proved them
    /// durable; a full page means more may wait behind them.
    pub(super) fn keep_ahead(&mut self, next: Vec<Event>, page: usize) {
        self.ahead_more = next.len() >= page;
        self.ahead = next;
    }
}

/// Reads up to `page` events that pass `keep` from the outbox. A record that
/// cannot be decoded (damaged, or written by a newer build) would otherwise
/// stop every event behind it for good: it is moved, bytes intact, to
/// `quarantine/<its key>` in `group`, logged and counted, and the read goes
/// on past it.
pub(super) fn read_outbox(
    webhooks: &Webhooks,
    page: usize,
    keep: impl FnMut(&Event) -> bool,
    group: &mut WriteGroup,
) -> Result<Vec<Event>, StoreError> {
    let store = webhooks.store();
    let read = store.scan_page_salvaging(keys::OUTBOX, page, keep)?;
    if read.unreadable.is_empty() {
        return Ok(read.records);
    }
    // The mark first: records set aside without it could see their numbers
    // handed out again after a restart.
    put_outbox_mark(webhooks, group)?;
    set_aside(group, read.unreadable);
    Ok(read.records)
}

/// Records, with the removal of events from the outbox, that no number
/// handed out so far may be used again after a restart (receivers
/// deduplicate by event id). Numbers are handed out before their commits,
/// which may land out of order, so the mark covers every number handed out,
/// committed or not: it only ever moves up, and a later write of it in the
/// same group is never lower than an earlier one.
pub(super) fn put_outbox_mark(
    webhooks: &Webhooks,
    group: &mut WriteGroup,
) -> Result<(), StoreError> {
    let mark = webhooks
        .store()
        .get::<u64>(keys::OUTBOX_SEQ)?
        .unwrap_or(0)
        .max(webhooks.outbox().last_handed_out());
    group.put(keys::OUTBOX_SEQ.to_vec(), &mark)
}
