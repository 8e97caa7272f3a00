//! Mapbox Vector Tile 2.1 encoding (the protobuf written by hand: a layer is a handful of fields).

use std::collections::HashMap;

/// A property value of a vector tile feature.
#[derive(Debug, Clone, PartialEq)]
pub enum MvtValue {
    /// Text.
    String(String),
    /// A 64-bit float.
    Double(f64),
    /// A signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

#[derive(PartialEq, Eq, Hash)]
enum ValueKey {
    S(String),
    D(u64),
    I(i64),
    B(bool),
}

impl MvtValue {
    fn key(&self) -> ValueKey {
        match self {
            MvtValue::String(s) => ValueKey::S(s.clone()),
            MvtValue::Double(d) => ValueKey::D(d.to_bits()),
            MvtValue::Int(i) => ValueKey::I(*i),
            MvtValue::Bool(b) => ValueKey::B(*b),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MvtValue::String(s) => bytes_field(out, 1, s.as_bytes()),
            MvtValue::Double(d) => {
                out.push((3 << 3) | 1);
                out.extend_from_slice(&d.to_le_bytes());
            }
            MvtValue::Int(i) => {
                varint(out, 6 << 3);
                varint(out, zigzag64(*i));
            }
            MvtValue::Bool(b) => {
                varint(out, 7 << 3);
                varint(out, u64::from(*b));
            }
        }
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn bytes_field(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn packed(out: &mut Vec<u8>, field: u64, vals: &[u32]) {
    let mut body = Vec::with_capacity(vals.len() * 2);
    vals.iter().for_each(|v| varint(&mut body, u64::from(*v)));
    bytes_field(out, field, &body);
}

/// Twice the signed area of a ring in tile coordinates (the surveyor's formula; positive for an
/// exterior ring in MVT's y-down system).
pub(crate) fn area2(ring: &[[i32; 2]]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

/// The geometry commands of polygons (each an exterior ring then its holes, open rings already
/// oriented: exterior positive area, holes negative).
pub(crate) fn polygon_commands(polys: &[Vec<Vec<[i32; 2]>>]) -> Vec<u32> {
    let mut cmds = Vec::new();
    let mut cur = [0i32, 0];
    for ring in polys.iter().flatten() {
        cmds.push(1 | (1 << 3)); // MoveTo, 1
        cmds.push(zigzag32(ring[0][0] - cur[0]));
        cmds.push(zigzag32(ring[0][1] - cur[1]));
        cur = ring[0];
        cmds.push(2 | (((ring.len() - 1) as u32) << 3)); // LineTo, n - 1
        for p in &ring[1..] {
            cmds.push(zigzag32(p[0] - cur[0]));
            cmds.push(zigzag32(p[1] - cur[1]));
            cur = *p;
        }
        cmds.push(7 | (1 << 3)); // ClosePath
    }
    cmds
}

/// One layer of a vector tile, built feature by feature; keys and text, integer and boolean
/// values are shared (numbers are stored per feature: nearly all are distinct).
#[derive(Debug)]
pub struct MvtLayer {
    name: String,
    extent: u32,
    keys: Vec<String>,
    key_ix: HashMap<String, u32>,
    values: Vec<MvtValue>,
    value_ix: HashMap<ValueKeyWrap, u32>,
    features: Vec<u8>,
    count: usize,
}

#[derive(PartialEq, Eq, Hash)]
struct ValueKeyWrap(ValueKey);

impl std::fmt::Debug for ValueKeyWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValueKey")
    }
}

impl MvtLayer {
    /// An empty layer; `extent` is the tile's size in its integer coordinates (4096 usually).
    pub fn new(name: &str, extent: u32) -> MvtLayer {
        MvtLayer {
            name: name.to_string(),
            extent,
            keys: Vec::new(),
            key_ix: HashMap::new(),
            values: Vec::new(),
            value_ix: HashMap::new(),
            features: Vec::new(),
            count: 0,
        }
    }

    /// Number of features added.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no feature was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Add a polygon feature: `polys` are polygons in tile coordinates, each an exterior ring and
    /// its holes, rings open (first point not repeated), exterior rings of positive area (clockwise
    /// on screen) and holes negative, as MVT 2.1 requires. Nothing is added when `polys` is empty.
    pub fn add_polygon(&mut self, id: Option<u64>, polys: &[Vec<Vec<[i32; 2]>>], props: &[(&str, MvtValue)]) {
        if polys.is_empty() {
            return;
        }
        let cmds = polygon_commands(polys);
        self.add_encoded(id, &cmds, props);
    }

    fn add_encoded(&mut self, id: Option<u64>, cmds: &[u32], props: &[(&str, MvtValue)]) {
        let mut tags = Vec::with_capacity(props.len() * 2);
        for (k, v) in props {
            let ki = match self.key_ix.get(*k) {
                Some(i) => *i,
                None => {
                    let i = self.keys.len() as u32;
                    self.keys.push((*k).to_string());
                    self.key_ix.insert((*k).to_string(), i);
                    i
                }
            };
            // numbers are nearly all distinct (scores, measurements): stored as they come, not
            // looked up (a hash lookup per value was most of a dense tile's encoding time)
            let vi = if let MvtValue::Double(_) = v {
                self.values.push(v.clone());
                (self.values.len() - 1) as u32
            } else {
                let vk = ValueKeyWrap(v.key());
                match self.value_ix.get(&vk) {
                    Some(i) => *i,
                    None => {
                        let i = self.values.len() as u32;
                        self.values.push(v.clone());
                        self.value_ix.insert(vk, i);
                        i
                    }
                }
            };
            tags.push(ki);
            tags.push(vi);
        }
        let mut f = Vec::with_capacity(cmds.len() * 2 + tags.len() + 16);
        if let Some(id) = id {
            varint(&mut f, 1 << 3);
            varint(&mut f, id);
        }
        if !tags.is_empty() {
            packed(&mut f, 2, &tags);
        }
        varint(&mut f, 3 << 3);
        varint(&mut f, 3); // POLYGON
        packed(&mut f, 4, cmds);
        bytes_field(&mut self.features, 2, &f);
        self.count += 1;
    }

    /// The layer message.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.features.len() + 64 * (self.keys.len() + self.values.len()));
        varint(&mut out, 15 << 3);
        varint(&mut out, 2);
        bytes_field(&mut out, 1, self.name.as_bytes());
        out.extend_from_slice(&self.features);
        for k in &self.keys {
            bytes_field(&mut out, 3, k.as_bytes());
        }
        let mut v = Vec::new();
        for val in &self.values {
            v.clear();
            val.encode(&mut v);
            bytes_field(&mut out, 4, &v);
        }
        varint(&mut out, 5 << 3);
        varint(&mut out, u64::from(self.extent));
        out
    }

    /// A tile of these layers (empty layers are left out; no layer gives an empty tile, which is
    /// a valid vector tile).
    pub fn tile(layers: &[MvtLayer]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in layers.iter().filter(|l| !l.is_empty()) {
            bytes_field(&mut out, 3, &l.encode());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_polygon() {
        // MVT 2.1 spec, 4.3.5.3: polygon (3,6) (8,12) (20,34) → [9 3 6 18 10 12 24 44 15]
        let cmds = polygon_commands(&[vec![vec![[3, 6], [8, 12], [20, 34]]]]);
        assert_eq!(cmds, vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
        assert!(area2(&[[3, 6], [8, 12], [20, 34]]) > 0);
        let mut l = MvtLayer::new("p", 4096);
        l.add_polygon(Some(7), &[vec![vec![[0, 0], [10, 0], [10, 10]]]], &[("a", MvtValue::Int(-1))]);
        l.add_polygon(Some(8), &[vec![vec![[0, 0], [10, 0], [10, 10]]]], &[("a", MvtValue::Int(-1))]);
        assert_eq!((l.keys.len(), l.values.len(), l.len()), (1, 1, 2));
        l.add_polygon(None, &[vec![vec![[0, 0], [10, 0], [10, 10]]]], &[("b", MvtValue::Double(0.5))]);
        l.add_polygon(None, &[vec![vec![[0, 0], [10, 0], [10, 10]]]], &[("b", MvtValue::Double(0.5))]);
        assert_eq!((l.keys.len(), l.values.len(), l.len()), (2, 3, 4));
        assert!(!MvtLayer::tile(&[l]).is_empty());
        assert!(MvtLayer::tile(&[MvtLayer::new("e", 4096)]).is_empty());
    }
}
