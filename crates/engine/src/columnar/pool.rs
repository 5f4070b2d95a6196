//! Output buffers kept for reuse: the value buffers of the fixed-width outputs a run
//! makes, given back to their engine when the caller drops the last array that holds
//! them, and taken again by the next batches of the same size.
//!
//! Why: a segment's partitions run on rayon's pool, so their per-batch outputs are
//! allocated by the pool threads and freed by the caller. glibc's allocator keeps the
//! 64 KiB blocks of 8,192-row outputs in the pool threads' heaps and, once the free top of
//! such a heap passes 128 KiB, returns it to the system; the next call faults every page
//! in again (W1 spent two thirds of its time in the kernel's page-fault paths, see
//! docs/performance.md). Blocks kept here stay mapped, whatever the allocator.

use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::panic::RefUnwindSafe;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use arrow::buffer::{Buffer, ScalarBuffer};
use arrow::datatypes::ArrowNativeType;

/// The bytes of freed outputs an engine keeps by default: W1's three outputs over
/// 1,000,000 rows (24 MB), with room.
pub(super) const DEFAULT_POOL_BYTES: usize = 32 << 20;

/// Freed value buffers, by layout, up to a number of bytes.
pub struct OutputPool {
    limit: usize,
    blocks: Mutex<Blocks>,
}

/// The sizes of buffer asked for that a pool keeps blocks of, the most recently asked
/// first: a segment asks for a few (a batch's rows, the last batch's), and a block of a
/// size no one asks for is freed rather than kept (nested pipelines' outputs over
/// flattened lists have a new size in every batch).
const LAYOUTS: usize = 8;

#[derive(Default)]
struct Blocks {
    bytes: usize,
    /// The blocks of each layout asked for, oldest first, the layout most recently asked
    /// for first.
    free: Vec<(Layout, VecDeque<Block>)>,
}

impl Blocks {
    fn of(&mut self, layout: Layout) -> Option<&mut VecDeque<Block>> {
        self.free.iter_mut().find(|(l, _)| *l == layout).map(|(_, list)| list)
    }

    /// The blocks of `layout`, now the layout most recently asked for; the least recently
    /// asked for is forgotten (its blocks freed) if there are more than [`LAYOUTS`].
    fn asked(&mut self, layout: Layout) -> &mut VecDeque<Block> {
        match self.free.iter().position(|(l, _)| *l == layout) {
            Some(i) => self.free[..=i].rotate_right(1),
            None => {
                self.free.insert(0, (layout, VecDeque::new()));
                if self.free.len() > LAYOUTS {
                    let (old, list) = self.free.pop().expect("more than LAYOUTS");
                    self.bytes -= old.size() * list.len();
                    list.into_iter().for_each(|b| b.free(old));
                }
            }
        }
        &mut self.free[0].1
    }
}

/// A heap block the pool owns, allocated by the global allocator with its layout.
struct Block(NonNull<u8>);

// SAFETY: a block is memory no one else points to (its `Vec` was given up to the pool);
// the thread that takes it out owns it, as a `Vec` may move between threads.
#[allow(unsafe_code)]
unsafe impl Send for Block {}

impl Block {
    fn free(self, layout: Layout) {
        // SAFETY: the block was allocated by the global allocator with `layout` (a
        // `Vec`'s allocation) and is freed once: `self` is consumed.
        #[allow(unsafe_code)]
        unsafe {
            std::alloc::dealloc(self.0.as_ptr(), layout)
        };
    }
}

impl OutputPool {
    /// A pool keeping up to `limit` bytes of freed buffers (none when 0).
    pub(super) fn new(limit: usize) -> Arc<OutputPool> {
        Arc::new(OutputPool {
            limit,
            blocks: Mutex::new(Blocks::default()),
        })
    }

    /// The most bytes kept.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// An empty `Vec` whose capacity is exactly `capacity`, from a block kept, if one of
    /// that size is.
    fn take<T: ArrowNativeType>(&self, capacity: usize) -> Option<Vec<T>> {
        let layout = Layout::array::<T>(capacity).ok().filter(|l| l.size() > 0)?;
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        // The oldest first: blocks are reused in the order the caller dropped them.
        let block = blocks.asked(layout).pop_front()?;
        blocks.bytes -= layout.size();
        drop(blocks);
        // SAFETY: the block was allocated by the global allocator with `layout`, which is
        // `capacity` values of `T` (same size, same alignment), and nothing else holds it.
        #[allow(unsafe_code)]
        Some(unsafe { Vec::from_raw_parts(block.0.cast::<T>().as_ptr(), 0, capacity) })
    }

    /// Keeps `vec`'s block for [`OutputPool::take`], or frees it when the pool is full or
    /// no one asked for its size lately.
    fn give<T: ArrowNativeType>(&self, vec: Vec<T>) {
        let Ok(layout) = Layout::array::<T>(vec.capacity()) else {
            return;
        };
        if layout.size() == 0 {
            return;
        }
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if blocks.bytes + layout.size() > self.limit {
            return;
        }
        let Some(list) = blocks.of(layout) else {
            return;
        };
        let mut vec = std::mem::ManuallyDrop::new(vec);
        let ptr = NonNull::new(vec.as_mut_ptr().cast::<u8>()).expect("an allocated Vec's pointer");
        list.push_back(Block(ptr));
        blocks.bytes += layout.size();
    }
}

impl Drop for OutputPool {
    fn drop(&mut self) {
        let blocks = self.blocks.get_mut().unwrap_or_else(|e| e.into_inner());
        for (layout, list) in blocks.free.drain(..) {
            list.into_iter().for_each(|b| b.free(layout));
        }
    }
}

impl fmt::Debug for OutputPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.blocks.lock().map_or(0, |b| b.bytes);
        f.debug_struct("OutputPool")
            .field("limit", &self.limit)
            .field("bytes", &bytes)
            .finish()
    }
}

thread_local! {
    /// The pool of the run whose partition this thread computes, if it keeps buffers.
    static CURRENT: RefCell<Option<Arc<OutputPool>>> = const { RefCell::new(None) };
}

/// Runs `f` with `pool` as this thread's pool, then restores the one before.
pub(super) fn with_pool<R>(pool: &Arc<OutputPool>, f: impl FnOnce() -> R) -> R {
    if pool.limit == 0 {
        return f();
    }
    struct Restore(Option<Arc<OutputPool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(pool.clone())));
    f()
}

/// A value buffer for `capacity` values and the pool it came from: this thread's pool's
/// block of that size when it keeps one, else a new allocation.
pub(crate) fn values_with_capacity<T: ArrowNativeType>(capacity: usize) -> (Vec<T>, Option<Arc<OutputPool>>) {
    let pool = CURRENT.with(|c| c.borrow().clone());
    let kept = pool.as_ref().and_then(|p| p.take(capacity));
    (kept.unwrap_or_else(|| Vec::with_capacity(capacity)), pool)
}

/// `values` as an Arrow buffer, whose block goes back to `pool` (when given) once the
/// last array holding it is dropped.
pub(crate) fn into_buffer<T: ArrowNativeType + RefUnwindSafe>(
    values: Vec<T>,
    pool: Option<Arc<OutputPool>>,
) -> ScalarBuffer<T> {
    let Some(pool) = pool else {
        return ScalarBuffer::from(values);
    };
    if values.capacity() == 0 {
        return ScalarBuffer::from(values);
    }
    let len = values.len();
    let bytes = std::mem::size_of_val(values.as_slice());
    let ptr = NonNull::new(values.as_ptr().cast_mut().cast::<u8>()).expect("an allocated Vec's pointer");
    let owner = Arc::new(Kept { values, pool });
    // SAFETY: `ptr` points at `bytes` initialized bytes (the `len` values) of the `Vec`
    // that `owner` holds; the `Vec` is never changed or moved out while `owner` lives,
    // so the memory stays valid and unchanged as long as the buffer holds `owner`.
    #[allow(unsafe_code)]
    let buffer = unsafe { Buffer::from_custom_allocation(ptr, bytes, owner) };
    ScalarBuffer::new(buffer, 0, len)
}

/// The owner of a buffer's values: gives their block back to the pool when dropped.
struct Kept<T: ArrowNativeType> {
    values: Vec<T>,
    pool: Arc<OutputPool>,
}

impl<T: ArrowNativeType> Drop for Kept<T> {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the pool keeps.
    fn kept(pool: &OutputPool) -> usize {
        pool.blocks.lock().unwrap().bytes
    }

    /// The blocks kept for buffers of `rows` `i64`s, if that size is one asked for.
    fn blocks_of(pool: &OutputPool, rows: usize) -> Option<usize> {
        pool.blocks
            .lock()
            .unwrap()
            .of(Layout::array::<i64>(rows).unwrap())
            .map(|l| l.len())
    }

    #[test]
    fn blocks_dropped_come_back_for_buffers_of_their_size() {
        let pool = OutputPool::new(1 << 20);
        let first = with_pool(&pool, || {
            let (mut values, from) = values_with_capacity::<i64>(1000);
            values.extend(0..1000);
            into_buffer(values, from)
        });
        let address = first.as_ptr();
        assert_eq!(first[999], 999);
        let sliced = first.slice(10, 5);
        drop(first);
        // A slice still holds the block: nothing is kept yet.
        assert_eq!(kept(&pool), 0);
        assert_eq!(&sliced[..], &[10, 11, 12, 13, 14]);
        drop(sliced);
        assert_eq!(kept(&pool), 8000);
        // Another size and another alignment do not take it; the same size does.
        let (other, _) = with_pool(&pool, || values_with_capacity::<i32>(2000));
        assert_ne!(other.as_ptr().cast::<i64>(), address);
        let (again, from) = with_pool(&pool, || values_with_capacity::<i64>(1000));
        assert_eq!((again.as_ptr(), again.len(), again.capacity()), (address, 0, 1000));
        assert!(from.is_some());
        assert_eq!(kept(&pool), 0);
        // A block of a size no one asked for is not kept.
        drop(into_buffer(vec![1_i64; 10], Some(pool.clone())));
        assert_eq!(kept(&pool), 0);
        // Outside a run, no pool: a new allocation.
        let (_, none) = values_with_capacity::<i64>(1000);
        assert!(none.is_none());
    }

    #[test]
    fn a_full_pool_frees_what_it_cannot_keep() {
        let pool = OutputPool::new(10_000);
        let buffers: Vec<ScalarBuffer<i64>> = with_pool(&pool, || {
            (0..3)
                .map(|_| {
                    let (mut values, from) = values_with_capacity::<i64>(1000);
                    values.push(7);
                    into_buffer(values, from)
                })
                .collect()
        });
        drop(buffers);
        assert_eq!(kept(&pool), 8000);
        assert_eq!(blocks_of(&pool, 1000), Some(1));
        // Only the sizes asked for most recently are kept: asking for 8 others forgets
        // the first, and frees its block.
        for rows in 1..=8 {
            assert!(pool.take::<i64>(rows).is_none());
        }
        assert_eq!(kept(&pool), 0);
        assert_eq!(blocks_of(&pool, 1000), None);
        // A pool of 0 bytes is none.
        let none = OutputPool::new(0);
        assert!(with_pool(&none, || values_with_capacity::<i64>(10).1.is_none()));
    }
}
