//! A cache prefetch hint, for loops that know their next reads some iterations ahead and
//! whose reads land at random in arrays larger than the cache: the paths of the flows a
//! max-min step freezes, the state of a worm's scan targets. Without it, a read that
//! misses the cache waits for the branches on the one before, and the misses do not
//! overlap. It lives here so that the one `unsafe` block it needs is in one place.

/// Asks the CPU to start loading the cache line of `data`'s first element: a hint, with no
/// effect on results (and none at all off x86-64).
#[inline(always)]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(first) = data.first() {
        #[expect(
            unsafe_code,
            reason = "a prefetch hint: it reads nothing and cannot fault"
        )]
        // SAFETY: SSE is part of the x86-64 baseline, and a prefetch of a valid reference
        // neither reads nor writes memory the program can observe.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                std::ptr::from_ref(first).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
