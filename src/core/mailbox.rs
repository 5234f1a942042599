//! What to tell the application, oldest first, until the driver polls it.

use super::report::AppEvent;
use crate::prelude::*;

/// A Vec with a read cursor rather than a VecDeque: drivers drain it after every call, and the
/// deque's ring-buffer code costs wasm size. The first `read` were handed out (taken, leaving
/// `None`).
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    list: Vec<Option<AppEvent>>,
    read: usize,
}

impl Mailbox {
    /// Something to tell.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn push(&mut self, e: AppEvent) {
        self.list.push(Some(e));
    }

    /// The oldest thing not yet told.
    pub fn poll(&mut self) -> Option<AppEvent> {
        let e = self.list.get_mut(self.read).and_then(Option::take);
        if e.is_some() {
            self.read += 1;
        } else {
            // All handed out: start again at the front of the same allocation.
            self.list.clear();
            self.read = 0;
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_in_order_then_reuses_its_space() {
        let mut m = Mailbox::default();
        m.push(AppEvent::RateLimited { until: 1 });
        m.push(AppEvent::QuotaHeld { until: 2 });
        assert_eq!(m.poll(), Some(AppEvent::RateLimited { until: 1 }));
        m.push(AppEvent::RateLimited { until: 3 });
        assert_eq!(m.poll(), Some(AppEvent::QuotaHeld { until: 2 }));
        assert_eq!(m.poll(), Some(AppEvent::RateLimited { until: 3 }));
        assert_eq!(m.poll(), None);
        assert_eq!(
            (m.list.len(), m.read),
            (0, 0),
            "drained, the list starts over"
        );
        m.push(AppEvent::QuotaHeld { until: 4 });
        assert_eq!(m.poll(), Some(AppEvent::QuotaHeld { until: 4 }));
    }
}
