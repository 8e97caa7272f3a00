//! Predictors (horizontal and floating-point), PackBits, and the sample types cells decode to.

/// Undo byte-wise horizontal differencing (floating-point predictor, first stage).
pub(super) fn undo_byte_diff(row: &mut [u8], spp: usize) {
    if spp == 1 {
        let mut acc = 0u8;
        for b in row.iter_mut() {
            acc = acc.wrapping_add(*b);
            *b = acc;
        }
    } else {
        for i in spp..row.len() {
            row[i] = row[i].wrapping_add(row[i - spp]);
        }
    }
}

pub(super) fn horizontal_undiff(buf: &mut [u8], row_bytes: usize, spp: usize, sz: usize) {
    for row in buf.chunks_exact_mut(row_bytes) {
        match sz {
            1 => {
                for i in spp..row.len() {
                    row[i] = row[i].wrapping_add(row[i - spp]);
                }
            }
            2 => {
                let n = row.len() / 2;
                for i in spp..n {
                    let a = u16::from_ne_bytes([row[2 * (i - spp)], row[2 * (i - spp) + 1]]);
                    let b = u16::from_ne_bytes([row[2 * i], row[2 * i + 1]]);
                    row[2 * i..2 * i + 2].copy_from_slice(&b.wrapping_add(a).to_ne_bytes());
                }
            }
            4 => {
                let n = row.len() / 4;
                for i in spp..n {
                    let p = 4 * (i - spp);
                    let a = u32::from_ne_bytes([row[p], row[p + 1], row[p + 2], row[p + 3]]);
                    let b = u32::from_ne_bytes([row[4 * i], row[4 * i + 1], row[4 * i + 2], row[4 * i + 3]]);
                    row[4 * i..4 * i + 4].copy_from_slice(&b.wrapping_add(a).to_ne_bytes());
                }
            }
            _ => {
                let n = row.len() / 8;
                for i in spp..n {
                    let mut a = [0u8; 8];
                    let mut b = [0u8; 8];
                    a.copy_from_slice(&row[8 * (i - spp)..8 * (i - spp) + 8]);
                    b.copy_from_slice(&row[8 * i..8 * i + 8]);
                    let v = u64::from_ne_bytes(b).wrapping_add(u64::from_ne_bytes(a));
                    row[8 * i..8 * i + 8].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
    }
}

pub(super) fn unpackbits(src: &[u8], need: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(need);
    let mut i = 0;
    while i < src.len() && out.len() < need {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let k = n as usize + 1;
            let end = (i + k).min(src.len());
            out.extend_from_slice(&src[i..end]);
            i = end;
        } else if n != -128 {
            if let Some(&b) = src.get(i) {
                out.extend(std::iter::repeat_n(b, (-(n as i32)) as usize + 1));
            }
            i += 1;
        }
    }
    out
}

/// A sample type that can be decoded from native-endian bytes.
pub(crate) trait Sample: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn from_ne(b: &[u8]) -> Self;
    fn put(self, out: &mut Vec<u8>, little: bool);
    /// Append samples as little-endian bytes (a plain copy on little-endian machines).
    fn put_slice_le(s: &[Self], out: &mut Vec<u8>);
}

macro_rules! sample {
    ($t:ty, $n:expr) => {
        impl Sample for $t {
            const ZERO: Self = 0 as $t;
            #[inline(always)]
            fn from_ne(b: &[u8]) -> Self {
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                <$t>::from_ne_bytes(a)
            }
            fn put_slice_le(s: &[Self], out: &mut Vec<u8>) {
                let start = out.len();
                out.resize(start + s.len() * $n, 0);
                for (o, x) in out[start..].chunks_exact_mut($n).zip(s) {
                    o.copy_from_slice(&x.to_le_bytes());
                }
            }
            #[inline(always)]
            fn put(self, out: &mut Vec<u8>, little: bool) {
                if little {
                    out.extend_from_slice(&self.to_le_bytes())
                } else {
                    out.extend_from_slice(&self.to_be_bytes())
                }
            }
        }
    };
}
sample!(u8, 1);
sample!(i8, 1);
sample!(i16, 2);
sample!(u16, 2);
sample!(i32, 4);
sample!(u32, 4);
sample!(f32, 4);
sample!(f64, 8);

pub(super) fn apply_predictor(buf: &mut [u8], predictor: u16, row_bytes: usize, sz: usize) {
    match predictor {
        2 => {
            for row in buf.chunks_exact_mut(row_bytes) {
                let n = row.len() / sz;
                for i in (1..n).rev() {
                    match sz {
                        1 => row[i] = row[i].wrapping_sub(row[i - 1]),
                        2 => {
                            let a = u16::from_le_bytes([row[2 * i - 2], row[2 * i - 1]]);
                            let b = u16::from_le_bytes([row[2 * i], row[2 * i + 1]]);
                            row[2 * i..2 * i + 2].copy_from_slice(&b.wrapping_sub(a).to_le_bytes());
                        }
                        _ => {
                            let a =
                                u32::from_le_bytes([row[4 * i - 4], row[4 * i - 3], row[4 * i - 2], row[4 * i - 1]]);
                            let b = u32::from_le_bytes([row[4 * i], row[4 * i + 1], row[4 * i + 2], row[4 * i + 3]]);
                            row[4 * i..4 * i + 4].copy_from_slice(&b.wrapping_sub(a).to_le_bytes());
                        }
                    }
                }
            }
        }
        3 => {
            let mut tmp = vec![0u8; row_bytes];
            for row in buf.chunks_exact_mut(row_bytes) {
                let count = row_bytes / sz;
                for i in 0..count {
                    for b in 0..sz {
                        tmp[(sz - 1 - b) * count + i] = row[i * sz + b];
                    }
                }
                for i in (1..row_bytes).rev() {
                    tmp[i] = tmp[i].wrapping_sub(tmp[i - 1]);
                }
                row.copy_from_slice(&tmp);
            }
        }
        _ => {}
    }
}
