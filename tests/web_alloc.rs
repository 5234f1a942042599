//! The wasm module's allocator (src/wasm_rt.rs), which every wasm32 build uses, in real Chromium:
//! blocks never overlap, keep their contents through growth and reuse, and honour alignments up
//! to a page; requests of megabytes grow the memory.
#![cfg(target_arch = "wasm32")]

use std::alloc::{alloc, dealloc, realloc, Layout};

// The allocator's own source, compiled into this test as its `#[global_allocator]`. Linking the
// batchwire crate instead would not do: a test that names nothing of a crate does not link it
// (these tests would check Rust's default allocator), and one that did would link the package's
// boundary too, whose imports only src/web/index.js provides.
#[path = "../src/wasm_rt.rs"]
mod wasm_rt;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A byte that depends on the block and the offset, so overlapping blocks show.
fn pattern(block: usize, i: usize) -> u8 {
    (block.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8
}

#[wasm_bindgen_test]
fn blocks_of_every_size_class_hold_their_bytes_side_by_side() {
    // Sizes across many classes, odd ones included, all alive at once.
    let sizes: Vec<usize> = (1..400).chain((400..70_000).step_by(997)).collect();
    let blocks: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(b, &n)| (0..n).map(|i| pattern(b, i)).collect())
        .collect();
    for (b, v) in blocks.iter().enumerate() {
        assert_eq!(v.len(), sizes[b]);
        assert!(
            v.iter().enumerate().all(|(i, &x)| x == pattern(b, i)),
            "block {b} was overwritten"
        );
    }
}

#[wasm_bindgen_test]
fn freed_blocks_are_reused_without_disturbing_live_ones() {
    let keep: Vec<Vec<u8>> = (0..200).map(|b| vec![b as u8; 24 + b]).collect();
    for round in 0..50 {
        // Same sizes as `keep`: these reuse each other's freed blocks round after round.
        let churn: Vec<Vec<u8>> = (0..200).map(|b| vec![!(b as u8) ^ round; 24 + b]).collect();
        assert!(churn
            .iter()
            .enumerate()
            .all(|(b, v)| v.iter().all(|&x| x == !(b as u8) ^ round)));
    }
    for (b, v) in keep.iter().enumerate() {
        assert!(
            v.len() == 24 + b && v.iter().all(|&x| x == b as u8),
            "live block {b} changed"
        );
    }
}

#[wasm_bindgen_test]
fn growing_and_shrinking_keep_the_contents() {
    let mut v: Vec<u8> = Vec::new();
    for i in 0..(3 << 20) {
        v.push(pattern(1, i)); // doubles through every class up to 4 MiB
    }
    assert!(v.iter().enumerate().all(|(i, &x)| x == pattern(1, i)));
    v.truncate(1000);
    v.shrink_to_fit(); // realloc to a smaller class
    assert!(v.iter().enumerate().all(|(i, &x)| x == pattern(1, i)));
    // realloc by hand across classes, both ways.
    unsafe {
        let l = Layout::from_size_align(100, 8).unwrap();
        let p = alloc(l);
        assert!(!p.is_null());
        for i in 0..100 {
            *p.add(i) = pattern(2, i);
        }
        let q = realloc(p, l, 5000);
        assert!(!q.is_null());
        assert!((0..100).all(|i| *q.add(i) == pattern(2, i)));
        let r = realloc(q, Layout::from_size_align(5000, 8).unwrap(), 40);
        assert!((0..40).all(|i| *r.add(i) == pattern(2, i)));
        dealloc(r, Layout::from_size_align(40, 8).unwrap());
    }
}

#[wasm_bindgen_test]
fn alignments_up_to_a_page_are_honoured() {
    for align in [1, 2, 4, 8, 16, 64, 256, 4096, 65536] {
        for size in [1, 24, 100, 3000, 70_000] {
            let l = Layout::from_size_align(size, align).unwrap();
            unsafe {
                let p = alloc(l);
                assert!(!p.is_null(), "size {size} align {align}");
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                p.write_bytes(0xAB, size);
                assert_eq!(*p.add(size - 1), 0xAB);
                dealloc(p, l);
            }
        }
    }
}
