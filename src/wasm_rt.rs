//! What the wasm module needs from a runtime, kept small: the global allocator, and (in the npm
//! package's `no_std` build) the panic handler.
//!
//! The allocator rounds every request up to a size class and keeps one free list per class: a
//! freed block is reused only by a request of its own class, and memory is never given back
//! (WebAssembly memory cannot shrink). Classes are eight per power of two (2^k times 1.125,
//! 1.25, ... 2), so a block wastes under 12.5% of its bytes (6.25% on average: a 790-byte event
//! takes 832, where four classes per power of two would take 896), in exchange for about 400
//! bytes of code where Rust's default (dlmalloc) is about 7 KB. The engine's allocations fit the
//! model: events are encoded once into one boxed slice each, and the buffers that grow (`Vec`
//! doubling, request bodies) move from one class to the next.
//!
//! Blocks start 8-byte aligned (a block's size need not be a multiple of 8: the bytes up to the
//! next such address stay unused); a power-of-two block is aligned to its size (64 KiB at most),
//! so a request aligned to more than 8 bytes is served from the power of two that covers it. The
//! module has one thread: the heap is a plain cell.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr::null_mut;

const PAGE: usize = 65536;
/// Class `8k + q` (q in 1..=8) holds blocks of `2^k + q * 2^(k-3)` bytes, k from 3 to 30.
const CLASSES: usize = 8 * 31 + 1;

struct Heap {
    /// Per class (see `class`): the first free block, each holding the next.
    free: [usize; CLASSES],
    /// The unused rest of the memory grown so far.
    next: usize,
    end: usize,
}

pub struct Alloc(UnsafeCell<Heap>);

// SAFETY: the module is built without threads (no `atomics` target feature): one thread only.
unsafe impl Sync for Alloc {}

#[global_allocator]
static ALLOC: Alloc = Alloc(UnsafeCell::new(Heap {
    free: [0; CLASSES],
    next: 0,
    end: 0,
}));

/// The size class of a layout, or `NONE` when no block on wasm32 can hold it: past the free
/// lists, so `take` and `give` refuse it. A plain index, not an Option returned through memory.
fn class(size: usize, align: usize) -> usize {
    let mut s = size.max(16);
    if align > 8 {
        // Only power-of-two blocks are aligned beyond 8 bytes.
        let Some(p) = s.max(align).checked_next_power_of_two() else {
            return NONE;
        };
        s = p;
    }
    // 2^k < s <= 2^(k+1); q is s - 2^k in eighths of 2^k, rounded up by a shift (div_ceil
    // divided by a variable). s >= 16, so k >= 3.
    let k = (usize::BITS - 1 - (s - 1).leading_zeros()) as usize;
    let q = (s - (1 << k) + (1 << (k - 3)) - 1) >> (k - 3);
    if k < 31 && align <= PAGE {
        8 * k + q
    } else {
        NONE
    }
}

const NONE: usize = usize::MAX;

/// The bytes of a class's blocks. Below 64 bytes they need not be a multiple of 8: `take`
/// starts every new block 8-byte aligned (the bytes up to the next such address stay unused).
fn bytes(c: usize) -> usize {
    let (k, q) = ((c - 1) / 8, (c - 1) % 8 + 1);
    (1 << k) + (q << (k - 3))
}

impl Heap {
    fn take(&mut self, c: usize) -> *mut u8 {
        let Some(head) = self.free.get_mut(c) else {
            return null_mut();
        };
        if *head != 0 {
            let block = *head;
            // SAFETY: a free block (16 bytes at least) holds the address of the next one.
            *head = unsafe { *(block as *const usize) };
            return block as *mut u8;
        }
        let size = bytes(c);
        let align = if size.is_power_of_two() {
            size.min(PAGE)
        } else {
            8
        };
        let mut start = (self.next + align - 1) & !(align - 1);
        // start + size > end, without overflowing (or an Option from checked_add).
        if start > self.end || self.end - start < size {
            // Room for the block after aligning its start, whether or not the new memory
            // follows on from ours.
            let pages = (size + align).div_ceil(PAGE);
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
        if let Some(head) = self.free.get_mut(c) {
            // SAFETY: the block is ours, at least 16 bytes and aligned for a usize.
            unsafe { *(p as *mut usize) = *head };
            *head = p as usize;
        }
    }
}

unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: one thread, and no call re-enters the allocator. `take` refuses NONE.
        unsafe { (*self.0.get()).take(class(l.size(), l.align())) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as in alloc; `p` came from alloc with this layout, hence this class (never
        // NONE, which alloc refused).
        unsafe { (*self.0.get()).give(p, class(l.size(), l.align())) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // `old` is not NONE (alloc refused that); a NONE `new` differs and `take` refuses it.
        let (old, new) = (class(l.size(), l.align()), class(new_size, l.align()));
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
