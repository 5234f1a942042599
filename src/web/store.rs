//! The durable queue: an IndexedDB object store of messageId -> stored-event bytes, one database
//! per origin and write key.
//!
//! Writes are cheap for the caller: [`Store::put`] and [`Store::delete`] only append to a pending
//! list, and the first one of a tick schedules a microtask that commits the whole list as ONE
//! transaction. So `track()` called 1,000 times in a loop costs one IndexedDB transaction, not
//! 1,000. The outcome of each commit goes to the listener: the records committed (a follower tab
//! then tells the leader about them), or the first failure, after which the store stops writing
//! new records (the events stay in memory; the driver warns once) but keeps trying deletes, so
//! records that an earlier page left are still cleared when delivered.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::futures::spawn_local;
use js_sys::{Array, JsString, Promise, Uint8Array};
use wasm_bindgen::prelude::*;

use super::error::JsError;

#[wasm_bindgen(module = "/src/web/idb.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbOpen, catch)]
    fn idb_open(name: &str, timeout_ms: u32) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = idbLoad, catch)]
    fn idb_load(db: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = idbWrite, catch)]
    fn idb_write(db: &JsValue, puts: &Array, deletes: &Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = idbClose, catch)]
    fn idb_close(db: &JsValue) -> Result<(), JsValue>;
}

/// A stored event: its key (the messageId) and the bytes the driver encoded.
pub type Record = (String, Vec<u8>);

/// What a commit came to.
pub enum StoreEvent {
    /// These records are durable now.
    Committed(Vec<Record>),
    /// The first write failure (QuotaExceededError, a closed database, ...). Reported once.
    Failed(JsError),
}

type Listener = Rc<dyn Fn(StoreEvent)>;

/// A handle to the queue's store; clones share it.
#[derive(Clone)]
pub struct Store(Rc<RefCell<Inner>>);

struct Inner {
    /// The IDBDatabase, or `None` for a memory-only store.
    db: Option<JsValue>,
    /// False once a write failed: no new records, deletes only.
    writable: bool,
    puts: Vec<Record>,
    deletes: Vec<String>,
    scheduled: bool,
    listener: Option<Listener>,
}

impl Store {
    /// Opens (creating if needed) the database `name`; fails after `timeout_ms` if the browser
    /// never answers.
    pub async fn open(name: &str, timeout_ms: u32) -> Result<Store, JsError> {
        let db = idb_open(name, timeout_ms)?.await?;
        Ok(Store::with(Some(db)))
    }

    /// A store that keeps nothing: the events live only in the pipeline's memory.
    pub fn memory() -> Store {
        Store::with(None)
    }

    fn with(db: Option<JsValue>) -> Store {
        let writable = db.is_some();
        Store(Rc::new(RefCell::new(Inner {
            db,
            writable,
            puts: Vec::new(),
            deletes: Vec::new(),
            scheduled: false,
            listener: None,
        })))
    }

    /// Whether new records still reach IndexedDB.
    pub fn is_durable(&self) -> bool {
        self.0.borrow().writable
    }

    pub fn set_listener(&self, f: impl Fn(StoreEvent) + 'static) {
        self.0.borrow_mut().listener = Some(Rc::new(f));
    }

    /// Every record, oldest first by the 12-byte header the driver writes (see idb.js). A memory
    /// store has none.
    pub async fn load(&self) -> Result<Vec<Record>, JsError> {
        let Some(db) = self.0.borrow().db.clone() else {
            return Ok(Vec::new());
        };
        let both: Array = idb_load(&db)?.await?.unchecked_into();
        let keys: Array = both.get(0).unchecked_into();
        let values: Array = both.get(1).unchecked_into();
        let mut out = Vec::with_capacity(keys.length() as usize);
        for i in 0..keys.length() {
            // Anything not written by this store (another library, a hand edit) is skipped, not
            // trusted: keys must be strings and values byte arrays.
            let (Some(key), Some(bytes)) = (
                keys.get(i).as_string(),
                values.get(i).dyn_into::<Uint8Array>().ok(),
            ) else {
                continue;
            };
            out.push((key, bytes.to_vec()));
        }
        Ok(out)
    }

    /// Queues a record for this tick's transaction.
    pub fn put(&self, key: String, bytes: Vec<u8>) {
        let mut s = self.0.borrow_mut();
        if s.writable {
            s.puts.push((key, bytes));
            drop(s);
            self.schedule();
        }
    }

    /// Queues a removal for this tick's transaction.
    pub fn delete(&self, key: String) {
        let mut s = self.0.borrow_mut();
        if s.db.is_some() {
            s.deletes.push(key);
            drop(s);
            self.schedule();
        }
    }

    /// Closes the connection; pending writes still go out first.
    pub fn close(&self) {
        let pending = {
            let s = self.0.borrow();
            !s.puts.is_empty() || !s.deletes.is_empty()
        };
        if !pending {
            if let Some(db) = self.0.borrow_mut().db.take() {
                let _ = idb_close(&db);
            }
        }
        // Otherwise the commit in flight still needs the connection; it is closed when the
        // last handle drops and the browser collects it.
    }

    fn schedule(&self) {
        let mut s = self.0.borrow_mut();
        if s.scheduled {
            return;
        }
        s.scheduled = true;
        drop(s);
        // spawn_local first polls in a microtask: every put/delete of the current task joins.
        let me = self.clone();
        spawn_local(async move { me.commit().await });
    }

    async fn commit(self) {
        let (db, puts, deletes, listener) = {
            let mut s = self.0.borrow_mut();
            s.scheduled = false;
            let puts = std::mem::take(&mut s.puts);
            let deletes = std::mem::take(&mut s.deletes);
            (s.db.clone(), puts, deletes, s.listener.clone())
        };
        let Some(db) = db else { return };
        if puts.is_empty() && deletes.is_empty() {
            return;
        }
        let put_arr = Array::new();
        for (key, bytes) in &puts {
            put_arr.push(&JsString::from(key.as_str()));
            put_arr.push(&Uint8Array::from(bytes.as_slice()));
        }
        let del_arr = Array::new();
        for key in &deletes {
            del_arr.push(&JsString::from(key.as_str()));
        }
        let result = match idb_write(&db, &put_arr, &del_arr) {
            Ok(p) => p.await.map(drop),
            Err(e) => Err(e),
        };
        let event = match result {
            Ok(()) if puts.is_empty() => return,
            Ok(()) => StoreEvent::Committed(puts),
            Err(e) => {
                let mut s = self.0.borrow_mut();
                if !s.writable {
                    return;
                }
                s.writable = false;
                s.puts.clear();
                StoreEvent::Failed(e.into())
            }
        };
        if let Some(f) = listener {
            f(event);
        }
    }
}
