//! Batch planning: which queued events go into the next request.
//!
//! Events are packed in id order, counting the exact body bytes (`prefix + events joined by ','
//! + suffix`), up to the event and byte limits; the first event that does not fit ends the
//! request, so order is kept. Skipped are events in flight and events of paused identities. For
//! Amplitude HTTP V2, which orders per device, skipping an event also holds back every later
//! event of its device for this request, so nothing overtakes a paused event of the same device
//! (/v1-batch and Amplitude Batch promise no order, so others flow freely). Order across
//! concurrent requests is only kept with `max_in_flight = 1` (the default).
//!
//! A request leaves when it is due: it is full (events or bytes), holds `flush_at` events, holds
//! a retry, holds an explicitly flushed event, or its oldest event has waited `flush_interval_ms`.

use super::Pipeline;
use crate::core::keys::KeyMap;
use crate::core::outbox::Flight;
use crate::core::pacing::Pacing;
use crate::core::report::{EventId, FailReason, Transmit, TransmitId};
use crate::core::Millis;
use crate::prelude::*;

/// The next request's events, chosen by [`Pipeline::plan`].
struct Plan {
    /// Queue positions, in body order.
    pub picks: Vec<usize>,
    pub body_len: usize,
    /// Stopped by the event or byte limit, not by running out of events.
    pub full: bool,
    pub identity_probes: Vec<u64>,
    /// The earliest flush-interval end among the picks (restored events may precede the
    /// first), and whether any of them is a retry: gathered while picking, so deciding whether
    /// the request is due needs no second pass.
    pub deadline: Millis,
    pub retry: bool,
}

impl Pipeline {
    /// The next request, if one is due (see the module doc).
    pub(super) fn next_transmit(&mut self, now: Millis) -> Option<Transmit> {
        if self.counts.queued().0 == 0 || self.outbox.len() >= self.config.max_in_flight {
            return None;
        }
        if now < self.gates.closed_until() {
            return None;
        }
        #[cfg(feature = "pacing")]
        if let Some(at) = self.pacing.request_wait(now) {
            self.pace_wake = at;
            return None;
        }
        let probe = match self.gates.quota() {
            Some(q) if q.until.map_or(true, |u| now < u) => {
                if now < q.next_probe || !self.outbox.is_empty() {
                    return None;
                }
                true
            }
            _ => false,
        };
        if !probe && self.pauses.is_empty() && !self.surely_due(now) {
            return None;
        }
        let max_events = if probe { 1 } else { self.limits.events() };
        let plan = self.plan(now, max_events, self.limits.bytes());
        let first = self.queue.get(*plan.picks.first()?)?.id;
        let deadline = plan.deadline;
        let due = probe
            || plan.full
            || plan.retry
            || plan.picks.len() >= self.config.flush_at
            || first < self.flush_mark
            || deadline <= now;
        if first >= self.flush_mark {
            self.flush_mark = 0;
        }
        if !due {
            // Not full, so the plan holds every eligible event: none is overdue.
            self.planned_deadline = Some(deadline);
            self.early_deadline = Millis::MAX;
            return None;
        }
        self.planned_deadline = None;
        if probe {
            self.gates
                .probe_sent(now.saturating_add(self.config.quota_probe_ms));
        }
        Some(self.launch(plan, probe))
    }

    /// The next request of an unload, within `budget` bytes, due or not.
    pub(super) fn unload_transmit(&mut self, now: Millis, budget: usize) -> Option<Transmit> {
        let plan = self.plan(now, self.limits.events(), self.limits.bytes().min(budget));
        if plan.picks.is_empty() {
            return None;
        }
        Some(self.launch(plan, false))
    }

    /// Whether a request is due, judged from counters alone (valid when no identity is paused,
    /// so every queued event is eligible).
    fn surely_due(&mut self, now: Millis) -> bool {
        let envelope = self.prefix.len() + self.suffix.len();
        let (queued, queued_bytes) = self.counts.queued();
        self.counts.retries_queued()
            || self.flush_mark > 0
            || queued >= self.config.flush_at
            || queued >= self.limits.events()
            || envelope + queued_bytes + queued - 1 > self.limits.bytes()
            || self.flush_deadline().is_some_and(|d| d <= now)
    }

    /// When the oldest waiting event's interval ends.
    pub(super) fn flush_deadline(&self) -> Option<Millis> {
        if !self.pauses.is_empty() {
            return self.planned_deadline;
        }
        let start = self.queue.lower_bound(self.hint);
        let front = (start..self.queue.len())
            .filter_map(|i| self.queue.get(i))
            .find(|e| e.is_queued())
            .map(|e| e.admitted_at.saturating_add(self.config.flush_interval_ms))?;
        Some(front.min(self.early_deadline))
    }

    /// Chooses the next request's events (see the module doc). Events that cannot fit even alone
    /// under the current byte limit (lowered by a 413) fail here with `TooLarge`.
    fn plan(&mut self, now: Millis, max_events: usize, max_bytes: usize) -> Plan {
        let envelope = self.prefix.len() + self.suffix.len();
        let ordered = self.config.protocol.ordered_per_device();
        let paced = self.pacing.identity_budget() > 0 || self.daily.identity_budget() > 0;
        let paused = paced || !self.pauses.is_empty();
        let mut usage = self.pacing.usage(now);
        let mut usage_day = self.daily.usage(now);
        #[cfg(feature = "pacing")]
        {
            self.pace_wake = Millis::MAX;
        }
        // Identities held back for the rest of this request (same map type as everywhere else).
        let mut blocked = KeyMap::default();
        let mut plan = Plan {
            picks: Vec::new(),
            body_len: envelope,
            full: false,
            identity_probes: Vec::new(),
            deadline: Millis::MAX,
            retry: false,
        };
        let interval = self.config.flush_interval_ms;
        let mut at_front = true;
        let mut idx = self.queue.lower_bound(self.hint);
        while let Some(e) = self.queue.get(idx) {
            idx += 1;
            if !e.is_queued() {
                if at_front {
                    self.hint = e.id + 1;
                }
                continue;
            }
            at_front = false;
            let mut probe = None;
            if paused {
                let mut skip = false;
                for &k in &[e.user, e.device] {
                    if k == 0 {
                        continue;
                    }
                    let wait =
                        (self.pacing.over(&usage, k, now)).max(self.daily.over(&usage_day, k, now));
                    if blocked.contains_key(k) {
                        skip = true;
                    } else if wait > 0 {
                        // Over its budget: it waits alone until a use ages out.
                        #[cfg(feature = "pacing")]
                        {
                            self.pace_wake = self.pace_wake.min(wait);
                        }
                        skip = true;
                    } else if let Some(p) = self.pauses.get(k) {
                        if p.until > now {
                            skip = true;
                        } else if p.hold {
                            probe = Some(k);
                        }
                    }
                }
                if skip {
                    if ordered && e.device != 0 {
                        blocked.insert(e.device, 0);
                    }
                    continue;
                }
            }
            let len = e.bytes.len();
            let limit = self.limits.bytes();
            if envelope + len > limit {
                // Failing leaves a tombstone, so positions (and this walk) stay valid.
                let bytes = envelope + len;
                self.fail(idx - 1, FailReason::TooLarge { bytes, limit });
                continue;
            }
            let add = len + usize::from(!plan.picks.is_empty());
            if plan.body_len + add > max_bytes {
                plan.full = true;
                break;
            }
            if let Some(k) = probe {
                // One event per request tests a held identity; the rest of it waits.
                blocked.insert(k, 0);
                plan.identity_probes.push(k);
            }
            if paced {
                Pacing::add(&mut usage, e.user);
                Pacing::add(&mut usage, e.device);
                Pacing::add(&mut usage_day, e.user);
                Pacing::add(&mut usage_day, e.device);
            }
            plan.picks.push(idx - 1);
            plan.body_len += add;
            plan.deadline = plan.deadline.min(e.admitted_at.saturating_add(interval));
            plan.retry |= e.attempts > 0;
            if plan.picks.len() >= max_events {
                plan.full = true;
                break;
            }
        }
        plan
    }

    /// Builds the request for a plan and marks its events in flight.
    fn launch(&mut self, plan: Plan, quota_probe: bool) -> Transmit {
        let tid = self.outbox.next_id();
        let now = self.last_now;
        self.pacing.request_sent(now);
        if self.pacing.identity_budget() > 0 || self.daily.identity_budget() > 0 {
            let picked = plan.picks.iter().filter_map(|&i| self.queue.get(i));
            let mut keys: Vec<u64> = picked.clone().map(|e| e.user).collect();
            keys.extend(picked.map(|e| e.device));
            self.pacing.identities_sent(now, &keys);
            self.daily.identities_sent(now, &keys);
        }
        let mut body = Vec::with_capacity(plan.body_len);
        body.extend_from_slice(&self.prefix);
        let mut ids = Vec::with_capacity(plan.picks.len());
        let mut events = Vec::with_capacity(plan.picks.len());
        for (n, &idx) in plan.picks.iter().enumerate() {
            let Some(e) = self.queue.get_mut(idx) else {
                continue;
            };
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&e.bytes);
            e.flight = tid;
            ids.push(e.id);
            events.push(EventId(e.id));
            self.counts.launch(e.bytes.len(), e.attempts > 0);
        }
        body.extend_from_slice(&self.suffix);
        debug_assert_eq!(body.len(), plan.body_len);
        self.outbox.send(Flight {
            id: tid,
            events: ids,
            body_len: body.len(),
            quota_probe,
            identity_probes: plan.identity_probes,
        });
        Transmit {
            id: TransmitId(tid),
            path: self.config.protocol.path(),
            body,
            events,
        }
    }
}
