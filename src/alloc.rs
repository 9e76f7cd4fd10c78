//! The binary's global allocator, mimalloc, counting what one thread holds
//! while it runs a scenario script: the script sandbox's memory limit.
//!
//! Rhai's own size limits (longest string, largest array) check a value
//! after every call that changes it by walking the whole value, so
//! `a.push(x)` in a loop costs O(len) a push and 100 000 pushes take
//! seconds. With this allocator the sandbox drops those limits and bounds
//! what the script holds instead, in bytes, checked once per operation
//! (a thread-local read) and before any single allocation that would
//! overshoot by far. Without it (another binary linking tracelab),
//! [`ScriptBudget::counting`] says so and the sandbox keeps Rhai's limits.
//!
//! Counting costs every allocation one thread-local read; only the thread
//! running a script, between [`ScriptBudget::arm`] and its drop, adds up
//! sizes.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

/// mimalloc (see `main.rs` for why), counting for armed threads.
pub struct Counting(pub mimalloc::MiMalloc);

thread_local! {
    /// Bytes this thread holds above what it held when armed; `None`: not
    /// counting.
    static HELD: Cell<Option<isize>> = const { Cell::new(None) };
    /// A single allocation that would bring `HELD` past this fails.
    static CEILING: Cell<isize> = const { Cell::new(isize::MAX) };
}

/// Add `delta` to the armed thread's count; false when an allocation of
/// that much would pass the ceiling.
#[inline]
fn charge(delta: isize) -> bool {
    HELD.with(|held| match held.get() {
        None => true,
        Some(now) => {
            let next = now.saturating_add(delta);
            if delta > 0 && next > CEILING.with(Cell::get) {
                return false;
            }
            held.set(Some(next));
            true
        }
    })
}

// SAFETY: every call is passed on to mimalloc unchanged; counting only
// reads and writes thread-locals that need no allocation (const-initialised
// `Cell`s without destructors), and refusing an allocation is returning
// null, as any allocator may.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !charge(layout.size() as isize) {
            return std::ptr::null_mut();
        }
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !charge(layout.size() as isize) {
            return std::ptr::null_mut();
        }
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        charge(-(layout.size() as isize));
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let delta = new_size as isize - layout.size() as isize;
        if !charge(delta) {
            return std::ptr::null_mut();
        }
        let moved = unsafe { self.0.realloc(ptr, layout, new_size) };
        if moved.is_null() {
            charge(-delta);
        }
        moved
    }
}

/// Counting on this thread, for as long as it lives.
pub struct ScriptBudget {
    counting: bool,
}

impl ScriptBudget {
    /// Count what this thread allocates from now on, against `limit` bytes.
    /// The sandbox stops a script past the limit at its next operation; a
    /// single allocation that would hold more than eight times the limit
    /// (no script function asks that much at once: those that allocate a
    /// size the script names check first) is refused, which stops the
    /// process rather than the machine.
    pub fn arm(limit: usize) -> ScriptBudget {
        let limit_bytes = limit.min(isize::MAX as usize / 16) as isize;
        HELD.with(|held| held.set(Some(0)));
        CEILING.with(|c| c.set(limit_bytes.saturating_mul(8)));
        // Counting only happens if this allocator is the global one.
        let probe = std::hint::black_box(Vec::<u8>::with_capacity(64));
        let counting = HELD.with(Cell::get).is_some_and(|held| held >= 64);
        drop(probe);
        ScriptBudget { counting }
    }

    /// Count from zero again (what the thread holds now is not charged).
    pub fn restart(&mut self) {
        if self.counting {
            HELD.with(|held| held.set(Some(0)));
        }
    }

    /// Whether this process counts (its global allocator is [`Counting`]).
    pub fn counting(&self) -> bool {
        self.counting
    }

    /// Bytes held above what the thread held when armed.
    pub fn held() -> usize {
        HELD.with(Cell::get).unwrap_or(0).max(0) as usize
    }
}

impl Drop for ScriptBudget {
    fn drop(&mut self) {
        HELD.with(|held| held.set(None));
        CEILING.with(|c| c.set(isize::MAX));
    }
}
