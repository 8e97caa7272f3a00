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

/// Define `$name(args)`: calls the `#[inline(always)]` function `$body(args)` compiled with
/// AVX2+FMA when the CPU has them, else the baseline build of it.
macro_rules! dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $t:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $vis fn $name($($arg: $t),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn wide($($arg: $t),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::simd::avx2_fma() {
                    #[allow(unsafe_code)]
                    // SAFETY: the CPU supports AVX2 and FMA (checked at run time); `wide` is
                    // safe Rust compiled for those features.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use dispatch;
