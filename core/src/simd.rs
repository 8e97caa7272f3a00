//! Run-time CPU feature detection for the few hot loops compiled twice: once for the baseline
//! target and once with AVX2+FMA, chosen per call (portable binaries, wide lanes where the CPU has
//! them). The AVX2 copies are `#[target_feature]` functions whose bodies are the same safe Rust.

/// True when the CPU has AVX2 and FMA (checked once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// Define `fn $name(args) { body }` compiled twice — baseline and AVX2+FMA — calling the AVX2
/// copy when the CPU has those features.
macro_rules! dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $t:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $t),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $t),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $t),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::simd::avx2_fma() {
                    #[allow(unsafe_code)]
                    // SAFETY: the CPU supports AVX2 and FMA (checked at run time); `wide` is
                    // safe Rust compiled for those features.
                    return unsafe { wide($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use dispatch;
