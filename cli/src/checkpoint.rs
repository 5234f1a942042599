//! The checkpoint: an append-only text file of the records acknowledged (`D`) or failed for good
//! (`F`), or dropped by the mapping (`X`), each as `file:line`, synced to disk as acknowledgements
//! arrive. A record in it is not read again on a resume (a failed one is, with `--retry-failed`);
//! a line cut short by a kill is ignored (its records are resent, with the same messageIds, and
//! the server de-duplicates them).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};

pub const HEADER: &str = "batchwire-checkpoint 1";

pub struct Checkpoint {
    file: File,
    pending: String,
    pub done: HashSet<(usize, u64)>,
}

impl Checkpoint {
    /// Opens (creating) the checkpoint at `path` and reads what it already records. `identity`
    /// names the run (protocol and inputs); a checkpoint of another run is refused. With
    /// `retry_failed`, the records it marks failed are not counted as done: they go again.
    pub fn open(path: &str, identity: &str, retry_failed: bool) -> Result<Checkpoint, String> {
        let existing = match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("checkpoint {path}: {e}")),
        };
        let mut done = HashSet::new();
        let header = format!("{HEADER} {identity}");
        if let Some(text) = &existing {
            let mut lines = text.split_inclusive('\n');
            match lines.next() {
                Some(h) if h.trim_end() == header => {}
                Some(h) if h.ends_with('\n') => {
                    return Err(format!(
                    "checkpoint {path} belongs to another run ({}); remove it or pass --checkpoint",
                    h.trim_end()
                ))
                }
                _ => {}
            }
            for line in lines {
                // A line without its newline was cut short by a kill: not acknowledged.
                let Some(line) = line.strip_suffix('\n') else {
                    break;
                };
                let mut parts = line.split(' ');
                match parts.next() {
                    Some("D" | "X") => {}
                    Some("F") if !retry_failed => {}
                    _ => continue,
                }
                for tok in parts {
                    if let Some((f, l)) = tok.split_once(':') {
                        if let (Ok(f), Ok(l)) = (f.parse(), l.parse()) {
                            done.insert((f, l));
                        }
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("checkpoint {path}: {e}"))?;
        let fresh = existing.as_deref().is_none_or(|t| !t.contains('\n'));
        if fresh {
            file.set_len(0)
                .map_err(|e| format!("checkpoint {path}: {e}"))?;
            writeln!(file, "{header}").map_err(|e| format!("checkpoint {path}: {e}"))?;
            file.sync_data()
                .map_err(|e| format!("checkpoint {path}: {e}"))?;
        } else if let Some(text) = existing.as_deref().filter(|t| !t.ends_with('\n')) {
            // Cut the line a kill left short, so the next record starts on its own line and no
            // half-written token (`0:3` of `0:345`) ever reads as acknowledged.
            let keep = text.rfind('\n').map_or(0, |i| i + 1) as u64;
            file.set_len(keep)
                .map_err(|e| format!("checkpoint {path}: {e}"))?;
        }
        Ok(Checkpoint {
            file,
            pending: String::new(),
            done,
        })
    }

    /// Records records as delivered (`D`) or failed (`F`); written at the next `sync`.
    pub fn record(&mut self, tag: char, records: impl IntoIterator<Item = (usize, u64)>) {
        let start = self.pending.len();
        self.pending.push(tag);
        let mut any = false;
        for (f, l) in records {
            self.pending.push_str(&format!(" {f}:{l}"));
            any = true;
        }
        if any {
            self.pending.push('\n');
        } else {
            self.pending.truncate(start);
        }
    }

    /// Writes what was recorded and syncs it to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(self.pending.as_bytes())?;
        self.file.sync_data()?;
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_by_a_kill_is_discarded_and_another_runs_checkpoint_refused() {
        let dir = std::env::temp_dir().join(format!("bw-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp");
        let path = path.to_str().unwrap();
        let _ = std::fs::remove_file(path);
        let mut cp = Checkpoint::open(path, "/v1-batch a.ndjson", false).unwrap();
        cp.record('D', [(0, 1), (0, 2)]);
        cp.record('F', [(0, 3)]);
        cp.sync().unwrap();
        drop(cp);
        // A kill in the middle of writing `D 0:4 0:345`.
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(b"D 0:4 0:3").unwrap();
        drop(f);
        let mut cp = Checkpoint::open(path, "/v1-batch a.ndjson", false).unwrap();
        let mut done: Vec<_> = cp.done.iter().copied().collect();
        done.sort();
        assert_eq!(done, [(0, 1), (0, 2), (0, 3)]);
        cp.record('D', [(0, 4)]);
        cp.sync().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.ends_with("F 0:3\nD 0:4\n"), "{text:?}");
        let retry = Checkpoint::open(path, "/v1-batch a.ndjson", true).unwrap();
        let mut done: Vec<_> = retry.done.iter().copied().collect();
        done.sort();
        assert_eq!(done, [(0, 1), (0, 2), (0, 4)], "the failed one goes again");
        drop(retry);
        let other = Checkpoint::open(path, "/batch a.ndjson", false);
        assert!(other.err().unwrap().contains("another run"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
