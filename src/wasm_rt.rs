//! What the wasm module needs from a runtime, kept small: the global allocator, and (in the npm
//! package's `no_std` build) the panic handler.
//!
//! The allocator rounds every request up to a power of two and keeps one free list per size: a
//! freed block is reused only by a request of its own size class, and memory is never given back
//! (WebAssembly memory cannot shrink). That costs up to twice the bytes of a block, in exchange
//! for about 300 bytes of code where Rust's default (dlmalloc) is about 7 KB. The engine's
//! allocations fit the model: events are encoded once into one boxed slice each, and the buffers
//! that grow (`Vec` doubling, request bodies) move from one class to the next.
//!
//! Blocks of up to 64 KiB are aligned to their own size, larger ones to 64 KiB, so a block of a
//! class serves any alignment up to its size. The module has one thread: the heap is a plain
//! cell.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr::null_mut;

const PAGE: usize = 65536;

struct Heap {
    /// Per class `c` (blocks of `1 << c` bytes): the first free block, each holding the next.
    free: [usize; 32],
    /// The unused rest of the memory grown so far.
    next: usize,
    end: usize,
}

pub struct Alloc(UnsafeCell<Heap>);

// SAFETY: the module is built without threads (no `atomics` target feature): one thread only.
unsafe impl Sync for Alloc {}

#[global_allocator]
static ALLOC: Alloc = Alloc(UnsafeCell::new(Heap {
    free: [0; 32],
    next: 0,
    end: 0,
}));

/// The size class of a layout, or None when no block on wasm32 can hold it.
fn class(size: usize, align: usize) -> Option<usize> {
    let c = size.max(align).max(8).checked_next_power_of_two()?;
    let c = c.trailing_zeros() as usize;
    (c < 32 && align <= PAGE).then_some(c)
}

impl Heap {
    fn take(&mut self, c: usize) -> *mut u8 {
        let head = self.free[c];
        if head != 0 {
            // SAFETY: a free block of class c >= 3 holds the address of the next one.
            self.free[c] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << c;
        let align = size.min(PAGE);
        let mut start = (self.next + align - 1) & !(align - 1);
        if start.checked_add(size).map_or(true, |e| e > self.end) {
            let pages = size.div_ceil(PAGE);
            let before = wasm32::memory_grow(0, pages);
            if before == usize::MAX {
                return null_mut();
            }
            let base = before * PAGE;
            if base != self.end {
                // Not contiguous with what we had (or the first growth): start afresh there.
                self.next = base;
                start = base;
            }
            self.end = base + pages * PAGE;
        }
        self.next = start + size;
        start as *mut u8
    }

    fn give(&mut self, p: *mut u8, c: usize) {
        // SAFETY: the block is ours, at least 8 bytes and aligned for a usize.
        unsafe { *(p as *mut usize) = self.free[c] };
        self.free[c] = p as usize;
    }
}

unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        match class(l.size(), l.align()) {
            // SAFETY: one thread, and no call re-enters the allocator.
            Some(c) => unsafe { (*self.0.get()).take(c) },
            None => null_mut(),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if let Some(c) = class(l.size(), l.align()) {
            // SAFETY: as in alloc; `p` came from alloc with this layout, hence this class.
            unsafe { (*self.0.get()).give(p, c) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let (Some(old), Some(new)) = (class(l.size(), l.align()), class(new_size, l.align()))
        else {
            return null_mut();
        };
        if old == new {
            return p;
        }
        // SAFETY: as in alloc; the two blocks are distinct and each holds the bytes copied.
        unsafe {
            let heap = &mut *self.0.get();
            let q = heap.take(new);
            if !q.is_null() {
                core::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                heap.give(p, old);
            }
            q
        }
    }
}

/// A panic is a bug, and `panic = "abort"` ends the module either way: trap at once, without
/// formatting a message nobody can read (wasm32-unknown-unknown has no stderr).
#[cfg(not(feature = "std"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    wasm32::unreachable()
}
