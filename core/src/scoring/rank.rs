//! Ranks (1 = best) with pandas' ties vocabulary, by a stable radix sort.

use super::*;

/// Ranks (1 = best): non-excluded by score descending, then the excluded ones; equal scores (and
/// the excluded parcels, as one group) share ranks by the `ties` rule, listed in input order. The non-excluded rows are sorted by a stable LSD radix sort on the top 32
/// significant bits of an order-preserving key, then runs that share those bits are settled by
/// the full 64-bit key (a stable sort, so exact ties keep input order). Linear in n in practice.
pub(super) fn ranks(scores: &[f64], excluded: &[bool], ties: Ties) -> Vec<f64> {
    use rayon::prelude::*;
    let n = scores.len();
    // ascending key = higher score: the total order of f64, reversed
    let full = |s: f64| -> u64 {
        let b = s.to_bits();
        !(if b >> 63 == 1 { !b } else { b | 1 << 63 })
    };
    let mut a: Vec<(u32, u32)> = (0..n as u32).filter(|&i| !excluded[i as usize]).map(|i| (0, i)).collect();
    let (lo, hi) = a
        .par_iter()
        .map(|&(_, i)| full(scores[i as usize]))
        .fold(|| (u64::MAX, 0), |(l, h), k| (l.min(k), h.max(k)))
        .reduce(|| (u64::MAX, 0), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    let shift = 32u32.saturating_sub((hi.wrapping_sub(lo)).leading_zeros());
    let short = |i: u32| ((full(scores[i as usize]) - lo) >> shift) as u32;
    a.par_iter_mut().for_each(|p| p.0 = short(p.1));
    // two halves radix-sorted in parallel, then merged on (key, index): stable overall
    let m = a.len();
    let mut scratch: Vec<(u32, u32)> = vec![(0, 0); m];
    let h = if m > 1 << 16 { m / 2 } else { m };
    {
        let (x, y) = a.split_at_mut(h);
        let (sx, sy) = scratch.split_at_mut(h);
        rayon::join(|| radix_sort_pairs(x, sx), || radix_sort_pairs(y, sy));
    }
    let a = if h < m {
        let (x, y) = a.split_at(h);
        let (mut i, mut j) = (0, 0);
        for o in scratch.iter_mut() {
            if j == y.len() || (i < x.len() && x[i] <= y[j]) {
                *o = x[i];
                i += 1;
            } else {
                *o = y[j];
                j += 1;
            }
        }
        scratch
    } else {
        a
    };
    let mut a = a;
    // runs sharing the short key: order by the full key (stable: input order among exact ties)
    let mut s = 0;
    while s < m {
        let mut e = s + 1;
        while e < m && a[e].0 == a[s].0 {
            e += 1;
        }
        if e - s > 1 {
            let k0 = full(scores[a[s].1 as usize]);
            if a[s + 1..e].iter().any(|&(_, i)| full(scores[i as usize]) != k0) {
                a[s..e].sort_by_key(|&(_, i)| full(scores[i as usize]));
            }
        }
        s = e;
    }
    // the listing order: scores descending (ties in input order), then the excluded parcels in
    // input order, which share one tie group after every scored one
    let mut order: Vec<u32> = a.into_iter().map(|(_, i)| i).collect();
    order.extend((0..n as u32).filter(|&i| excluded[i as usize]));
    let mut rank = vec![0.0; n];
    let (mut s, mut dense) = (0, 0.0);
    while s < n {
        let mut e = s + 1;
        if s < m {
            let x = scores[order[s] as usize];
            while e < m && scores[order[e] as usize] == x {
                e += 1;
            }
        } else {
            e = n;
        }
        dense += 1.0;
        for (p, &i) in order[s..e].iter().enumerate() {
            rank[i as usize] = match ties {
                Ties::First => (s + p + 1) as f64,
                Ties::Min => (s + 1) as f64,
                Ties::Max => e as f64,
                Ties::Average => (s + 1 + e) as f64 / 2.0,
                Ties::Dense => dense,
            };
        }
        s = e;
    }
    rank
}

/// Stable LSD radix sort of (key, index) pairs on the 32-bit key (3 digits of 11 bits; digits on
/// which every key agrees are skipped); `buf` is scratch space of the same length.
pub(super) fn radix_sort_pairs(a: &mut [(u32, u32)], buf: &mut [(u32, u32)]) {
    const BITS: usize = 11;
    const B: usize = 1 << BITS;
    let m = a.len();
    let mut hist = vec![[0usize; B]; 3];
    for (k, _) in a.iter() {
        for (p, h) in hist.iter_mut().enumerate() {
            h[((k >> (p * BITS)) as usize) & (B - 1)] += 1;
        }
    }
    let mut in_buf = false;
    for (p, h) in hist.iter().enumerate() {
        if h.contains(&m) {
            continue;
        }
        let mut off = vec![0usize; B];
        let mut acc = 0;
        for d in 0..B {
            off[d] = acc;
            acc += h[d];
        }
        type Pairs = [(u32, u32)];
        let (src, dst): (&Pairs, &mut Pairs) = if in_buf { (&*buf, &mut *a) } else { (&*a, &mut *buf) };
        for &(k, i) in src {
            let d = ((k >> (p * BITS)) as usize) & (B - 1);
            dst[off[d]] = (k, i);
            off[d] += 1;
        }
        in_buf = !in_buf;
    }
    if in_buf {
        a.copy_from_slice(buf);
    }
}
