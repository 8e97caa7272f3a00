//! Spectral indices from the Awesome Spectral Indices catalogue (as spyndex 0.12 ships it:
//! formulas, band names, constants), sensor band maps and reflectance scaling, and cloud / shadow /
//! snow / nodata masks from Sentinel-2 SCL and Landsat QA_PIXEL.
//!
//! Formulas are compiled once to a small stack program and evaluated over chunks of 4,096 cells in
//! `f32`, several indices per pass so each input chunk is read from memory once. Masked cells and
//! cells whose denominator is zero give NaN (numpy gives ±inf/NaN there; both are "no value").
//!
//! Catalogue data (`core/data/spectral-*.json`) © Awesome Spectral Indices contributors (MIT),
//! from the spyndex 0.12.0 wheel.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// One catalogue entry.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct SpectralIndex {
    /// Formula in the catalogue's notation (`(N - R)/(N + R)`).
    pub formula: String,
    /// Bands and constants the formula uses (`N`, `R`, `L`, ...).
    pub bands: Vec<String>,
    /// Long name.
    pub long_name: String,
    /// Application domain (vegetation, water, urban, burn, snow, ...).
    pub domain: String,
    /// Reference (DOI or URL).
    pub reference: String,
}

#[derive(Debug, Deserialize)]
struct ConstantDef {
    default: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct BandDef {}

struct Catalogue {
    indices: BTreeMap<String, SpectralIndex>,
    constants: BTreeMap<String, ConstantDef>,
    bands: BTreeMap<String, BandDef>,
}

fn catalogue() -> &'static Catalogue {
    static C: OnceLock<Catalogue> = OnceLock::new();
    C.get_or_init(|| Catalogue {
        indices: serde_json::from_str(include_str!("../data/spectral-indices.json")).unwrap_or_default(),
        constants: serde_json::from_str(include_str!("../data/spectral-constants.json")).unwrap_or_default(),
        bands: serde_json::from_str(include_str!("../data/spectral-bands.json")).unwrap_or_default(),
    })
}

/// Every index of the catalogue, by short name.
pub fn indices() -> &'static BTreeMap<String, SpectralIndex> {
    &catalogue().indices
}

/// One index by short name (case-sensitive as in the catalogue, e.g. `NDVI`, `kNDVI`).
pub fn index(name: &str) -> Result<&'static SpectralIndex> {
    indices().get(name).ok_or_else(|| {
        let close: Vec<String> = indices().keys().filter(|k| k.eq_ignore_ascii_case(name)).cloned().collect::<Vec<_>>();
        Error::not_found("spectral index", name, close)
    })
}

/// Default value of a catalogue constant (`L` = 1, `g` = 2.5, `C1` = 6, `C2` = 7.5, ...).
pub fn constant_default(name: &str) -> Option<f64> {
    catalogue().constants.get(name).and_then(|c| c.default)
}

/// True when `name` is a catalogue band (`B`, `G`, `R`, `N`, `S1`, `RE1`, ...) rather than a constant.
pub fn is_band(name: &str) -> bool {
    catalogue().bands.contains_key(name)
}

/// A sensor, for band maps and reflectance scaling. As JSON: `{"sensor": "landsat89"}`, or for
/// Sentinel-2 `{"sensor": "sentinel2_l2a", "baseline": "04.00"}` (the processing baseline sets
/// the offset) or `{"sensor": "sentinel2_l2a", "offset": -1000}`; without either the offset is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "sensor", try_from = "SensorJson")]
pub enum Sensor {
    /// Sentinel-2 Level-1C top-of-atmosphere: reflectance = DN / 10000 (− 1000 offset from
    /// processing baseline 04.00).
    Sentinel2L1c {
        /// Radiometric offset added to DN (−1000 from baseline 04.00, else 0).
        offset: f64,
    },
    /// Sentinel-2 Level-2A surface reflectance: (DN + BOA_ADD_OFFSET) / 10000.
    Sentinel2L2a {
        /// BOA_ADD_OFFSET (−1000 from baseline 04.00, else 0).
        offset: f64,
    },
    /// Landsat 4/5/7 Collection 2 Level-2 surface reflectance: DN × 0.0000275 − 0.2.
    Landsat457,
    /// Landsat 8/9 Collection 2 Level-2 surface reflectance: DN × 0.0000275 − 0.2.
    Landsat89,
    /// Values already in reflectance (0..1): no scaling.
    #[default]
    Reflectance,
}

/// [`Sensor`] as written: a Sentinel-2 offset given directly or by a processing baseline.
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "sensor", deny_unknown_fields)]
enum SensorJson {
    Sentinel2L1c {
        #[serde(default)]
        offset: Option<f64>,
        #[serde(default)]
        baseline: Option<String>,
    },
    Sentinel2L2a {
        #[serde(default)]
        offset: Option<f64>,
        #[serde(default)]
        baseline: Option<String>,
    },
    // struct variants, so that a stray key (a baseline for Landsat) is refused
    Landsat457 {},
    Landsat89 {},
    Reflectance {},
}

impl TryFrom<SensorJson> for Sensor {
    type Error = Error;
    fn try_from(j: SensorJson) -> Result<Self> {
        let offset = |offset: Option<f64>, baseline: Option<String>| -> Result<f64> {
            match (offset, baseline) {
                (Some(_), Some(_)) => {
                    Err(Error::InvalidInput("give a Sentinel-2 offset or its processing baseline, not both".into()))
                }
                (Some(o), None) if o.is_finite() => Ok(o),
                (Some(o), None) => Err(Error::InvalidInput(format!("Sentinel-2 offset {o} is not finite"))),
                (None, Some(b)) => s2_offset(&b),
                (None, None) => Ok(0.0),
            }
        };
        Ok(match j {
            SensorJson::Sentinel2L1c { offset: o, baseline } => Sensor::Sentinel2L1c { offset: offset(o, baseline)? },
            SensorJson::Sentinel2L2a { offset: o, baseline } => Sensor::Sentinel2L2a { offset: offset(o, baseline)? },
            SensorJson::Landsat457 {} => Sensor::Landsat457,
            SensorJson::Landsat89 {} => Sensor::Landsat89,
            SensorJson::Reflectance {} => Sensor::Reflectance,
        })
    }
}

impl Sensor {
    /// Sentinel-2 L2A with the offset implied by a processing baseline such as `"02.14"` or `"04.00"`.
    pub fn sentinel2_l2a(baseline: &str) -> Result<Self> {
        Ok(Sensor::Sentinel2L2a { offset: s2_offset(baseline)? })
    }

    /// A sensor by name (`reflectance`, `sentinel2_l2a`, `sentinel2_l1c`, `landsat89`,
    /// `landsat457`), with a Sentinel-2 processing baseline when known — the one place the
    /// baseline's offset rule lives.
    pub fn from_name(name: &str, baseline: Option<&str>) -> Result<Self> {
        let mut v = serde_json::json!({ "sensor": name });
        if let Some(b) = baseline {
            v["baseline"] = b.into();
        }
        serde_json::from_value(v).map_err(|e| Error::InvalidInput(format!("sensor: {e}")))
    }
    /// DN → reflectance.
    #[inline]
    pub fn scale(&self, dn: f64) -> f64 {
        match self {
            Sensor::Sentinel2L1c { offset } | Sensor::Sentinel2L2a { offset } => (dn + offset) / 10_000.0,
            Sensor::Landsat457 | Sensor::Landsat89 => dn * 0.000_027_5 - 0.2,
            Sensor::Reflectance => dn,
        }
    }
    /// The sensor's band id for a catalogue band name (`N` → `B08` on Sentinel-2, `B5` on
    /// Landsat 8/9, `B4` on Landsat 4/5/7), per the sensors' band definitions.
    pub fn band_id(&self, name: &str) -> Option<String> {
        let table: &[(&str, &str)] = match self {
            Sensor::Sentinel2L1c { .. } | Sensor::Sentinel2L2a { .. } => &[
                ("A", "B01"),
                ("B", "B02"),
                ("G", "B03"),
                ("R", "B04"),
                ("RE1", "B05"),
                ("RE2", "B06"),
                ("RE3", "B07"),
                ("N", "B08"),
                ("N2", "B8A"),
                ("WV", "B09"),
                ("S1", "B11"),
                ("S2", "B12"),
            ],
            Sensor::Landsat89 => &[
                ("A", "B1"),
                ("B", "B2"),
                ("G", "B3"),
                ("R", "B4"),
                ("N", "B5"),
                ("S1", "B6"),
                ("S2", "B7"),
                ("T1", "B10"),
                ("T2", "B11"),
            ],
            Sensor::Landsat457 => {
                &[("B", "B1"), ("G", "B2"), ("R", "B3"), ("N", "B4"), ("S1", "B5"), ("T", "B6"), ("S2", "B7")]
            }
            Sensor::Reflectance => &[],
        };
        table.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }
}

/// BOA/TOA offset of a Sentinel-2 processing baseline (`"02.14"`, `"04.00"`, `"05.11"`): −1000
/// from 04.00 on, else 0. A baseline that is not such a number is `INVALID_INPUT`.
pub fn s2_offset(baseline: &str) -> Result<f64> {
    match baseline.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(if v >= 4.0 { -1000.0 } else { 0.0 }),
        // not quoted: the value may come from a file
        _ => {
            Err(Error::InvalidInput("the Sentinel-2 processing baseline is not a version number like \"04.00\"".into()))
        }
    }
}

// ------------------------------------------------------------------------------------------
// Formula compiler

/// A step of the parsed (postfix) formula; binary operators are those of the register form.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Var(usize),
    Const(f64),
    Bin(Op2),
    Neg,
}

/// A compiled formula: a stack program over named variables.
#[derive(Debug, Clone)]
pub struct Program {
    ops: Vec<Op>,
    /// Variable names, by index.
    pub vars: Vec<String>,
    /// Register form for one binding of the variables (see [`Program::lower`]).
    code: Vec<Instr>,
}

/// An operand of a register instruction: a slot of the evaluation stack, a variable's chunk, or
/// a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Opd {
    Slot(usize),
    Var(usize),
    Const(f64),
}

/// `slot[dst] = post(a op b)` over a chunk (`Neg`: `-a`; `Mov`: `a`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Instr {
    op: Op2,
    a: Opd,
    b: Opd,
    dst: usize,
    /// A following `× c` or `+ c` fused into the same pass (see [`Program::fuse`]).
    post: Option<Post>,
}

/// A commutative constant operation applied to an instruction's result in the same pass:
/// `c × x` and `x × c` (or `+`) round identically, so fusing it changes no value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Post {
    Mul(f64),
    Add(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op2 {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Neg,
    Mov,
    /// `(a - b) / (a + b)`, the normalized difference, in one pass (same operations and
    /// rounding as the three it replaces).
    NormDiff,
    /// `(k·(a - b)) / ((a + b) + c)`: the normalized difference with a scaled numerator and an
    /// offset denominator (SAVI, OSAVI, ...), in one pass.
    ScaledNormDiff(f64, f64),
    /// `a + c·b`.
    AddScaled(f64),
    /// `a - c·b`.
    SubScaled(f64),
}

#[inline(always)]
fn pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else if y == 0.5 {
        x.sqrt()
    } else {
        x.powf(y)
    }
}

impl Op2 {
    #[inline(always)]
    fn f(self, x: f64, y: f64) -> f64 {
        match self {
            Op2::Add => x + y,
            Op2::Sub => x - y,
            Op2::Mul => x * y,
            Op2::Div => x / y,
            Op2::Pow => pow(x, y),
            Op2::Neg => -x,
            Op2::Mov => x,
            Op2::NormDiff => (x - y) / (x + y),
            Op2::ScaledNormDiff(k, c) => (k * (x - y)) / ((x + y) + c),
            Op2::AddScaled(c) => x + c * y,
            Op2::SubScaled(c) => x - c * y,
        }
    }
}

/// A chunk operand while evaluating.
enum Src<'a> {
    /// The destination slot's own values (in-place update).
    Same,
    Slice(&'a [f64]),
    Scalar(f64),
}

/// `d[i] = f(a[i], b[i])` with each operand a slice, a scalar or `d` itself; one tight loop per
/// shape so every case vectorises.
#[inline(always)]
fn apply(d: &mut [f64], a: Src<'_>, b: Src<'_>, f: impl Fn(f64, f64) -> f64) {
    let n = d.len();
    match (a, b) {
        (Src::Same, Src::Slice(y)) => d.iter_mut().zip(&y[..n]).for_each(|(x, y)| *x = f(*x, *y)),
        (Src::Same, Src::Scalar(c)) => d.iter_mut().for_each(|x| *x = f(*x, c)),
        (Src::Same, Src::Same) => d.iter_mut().for_each(|x| *x = f(*x, *x)),
        (Src::Slice(x), Src::Slice(y)) => d.iter_mut().zip(&x[..n]).zip(&y[..n]).for_each(|((o, x), y)| *o = f(*x, *y)),
        (Src::Slice(x), Src::Scalar(c)) => d.iter_mut().zip(&x[..n]).for_each(|(o, x)| *o = f(*x, c)),
        (Src::Scalar(c), Src::Slice(y)) => d.iter_mut().zip(&y[..n]).for_each(|(o, y)| *o = f(c, *y)),
        (Src::Scalar(c), Src::Same) => d.iter_mut().for_each(|x| *x = f(c, *x)),
        (Src::Slice(x), Src::Same) => d.iter_mut().zip(&x[..n]).for_each(|(o, x)| *o = f(*x, *o)),
        (Src::Scalar(c), Src::Scalar(e)) => d.fill(f(c, e)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Id(String),
    Op(char),
    Pow,
    LParen,
    RParen,
}

fn lex(s: &str) -> Result<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < b.len() && ((b[i] as char).is_ascii_digit() || b[i] == b'.' || b[i] == b'e' || b[i] == b'E') {
                if (b[i] == b'e' || b[i] == b'E') && i + 1 < b.len() && (b[i + 1] == b'-' || b[i + 1] == b'+') {
                    i += 1;
                }
                i += 1;
            }
            out.push(Tok::Num(s[st..i].parse().map_err(|_| Error::InvalidInput(format!("bad number in {s:?}")))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let st = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Id(s[st..i].to_string()));
        } else if c == '*' && i + 1 < b.len() && b[i + 1] == b'*' {
            out.push(Tok::Pow);
            i += 2;
        } else if "+-*/".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else {
            return Err(Error::InvalidInput(format!("unexpected {c:?} in formula {s:?}")));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
    ops: Vec<Op>,
    vars: Vec<String>,
    src: &'a str,
}

impl Parser<'_> {
    fn err(&self) -> Error {
        Error::InvalidInput(format!("cannot parse formula {:?}", self.src))
    }
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    // expr := term (('+'|'-') term)*
    fn expr(&mut self) -> Result<()> {
        self.term()?;
        while let Some(Tok::Op(c @ ('+' | '-'))) = self.peek().cloned() {
            self.i += 1;
            self.term()?;
            self.ops.push(Op::Bin(if c == '+' { Op2::Add } else { Op2::Sub }));
        }
        Ok(())
    }
    // term := unary (('*'|'/') unary)*
    fn term(&mut self) -> Result<()> {
        self.unary()?;
        while let Some(Tok::Op(c @ ('*' | '/'))) = self.peek().cloned() {
            self.i += 1;
            self.unary()?;
            self.ops.push(Op::Bin(if c == '*' { Op2::Mul } else { Op2::Div }));
        }
        Ok(())
    }
    // unary := ('-'|'+') unary | power   (Python: -x**2 == -(x**2))
    fn unary(&mut self) -> Result<()> {
        match self.peek() {
            Some(Tok::Op('-')) => {
                self.i += 1;
                self.unary()?;
                self.ops.push(Op::Neg);
                Ok(())
            }
            Some(Tok::Op('+')) => {
                self.i += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }
    // power := atom ('**' unary)?   (right associative)
    fn power(&mut self) -> Result<()> {
        self.atom()?;
        if let Some(Tok::Pow) = self.peek() {
            self.i += 1;
            self.unary()?;
            self.ops.push(Op::Bin(Op2::Pow));
        }
        Ok(())
    }
    fn atom(&mut self) -> Result<()> {
        match self.peek().cloned() {
            Some(Tok::Num(v)) => {
                self.i += 1;
                self.ops.push(Op::Const(v));
            }
            Some(Tok::Id(name)) => {
                self.i += 1;
                let k = match self.vars.iter().position(|v| *v == name) {
                    Some(k) => k,
                    None => {
                        self.vars.push(name);
                        self.vars.len() - 1
                    }
                };
                self.ops.push(Op::Var(k));
            }
            Some(Tok::LParen) => {
                self.i += 1;
                self.expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err());
                }
                self.i += 1;
            }
            _ => return Err(self.err()),
        }
        Ok(())
    }
}

/// The variables of a spectral index expression in the Awesome Spectral Indices grammar (`+ - * /
/// **`, parentheses, numbers, band and constant names), in order of first use; an expression the
/// parser refuses is `INVALID_INPUT`.
///
/// ```
/// assert_eq!(landopp::spectral::formula_variables("g*(N-R)/(N+C1*R-C2*B+L)")?, ["g", "N", "R", "C1", "C2", "B", "L"]);
/// assert_eq!(landopp::spectral::formula_variables("(N-R").unwrap_err().code(), "INVALID_INPUT");
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn formula_variables(expr: &str) -> Result<Vec<String>> {
    Ok(Program::compile(expr)?.vars)
}

impl Program {
    /// Compile a formula using `+ - * / **`, parentheses, numbers and variable names.
    pub fn compile(formula: &str) -> Result<Program> {
        let toks = lex(formula)?;
        let mut p = Parser { t: &toks, i: 0, ops: Vec::new(), vars: Vec::new(), src: formula };
        p.expr()?;
        if p.i != toks.len() {
            return Err(p.err());
        }
        let mut prog = Program { ops: p.ops, vars: p.vars, code: Vec::new() };
        // every variable a chunk of cells until bound
        prog.lower(&vec![None; prog.vars.len()]);
        Ok(prog)
    }

    /// Lower the stack program to register instructions for one binding (`scalar[k]`: variable
    /// `k` is the constant, else a chunk of cells): operands are read where they are (no copy of
    /// a variable onto the stack) and constant subexpressions are folded.
    fn lower(&mut self, scalar: &[Option<f64>]) {
        self.code = Self::fuse(self.lower_code(scalar));
    }

    /// The register form, before [`Program::fuse`].
    fn lower_code(&self, scalar: &[Option<f64>]) -> Vec<Instr> {
        let mut st: Vec<Opd> = Vec::new();
        let mut code = Vec::new();
        for op in &self.ops {
            match op {
                Op::Var(k) => st.push(match scalar[*k] {
                    Some(c) => Opd::Const(c),
                    None => Opd::Var(*k),
                }),
                Op::Const(c) => st.push(Opd::Const(*c)),
                Op::Neg => {
                    let a = st.pop().unwrap_or(Opd::Const(f64::NAN));
                    let dst = st.len();
                    match a {
                        Opd::Const(c) => st.push(Opd::Const(-c)),
                        a => {
                            code.push(Instr { op: Op2::Neg, a, b: Opd::Const(0.0), dst, post: None });
                            st.push(Opd::Slot(dst));
                        }
                    }
                }
                Op::Bin(op2) => {
                    let op2 = *op2;
                    let b = st.pop().unwrap_or(Opd::Const(f64::NAN));
                    let a = st.pop().unwrap_or(Opd::Const(f64::NAN));
                    let dst = st.len();
                    match (a, b) {
                        (Opd::Const(x), Opd::Const(y)) => st.push(Opd::Const(op2.f(x, y))),
                        _ => {
                            code.push(Instr { op: op2, a, b, dst, post: None });
                            st.push(Opd::Slot(dst));
                        }
                    }
                }
            }
        }
        // the result must end in slot 0
        match st.pop() {
            Some(Opd::Slot(0)) => {}
            Some(a) => code.push(Instr { op: Op2::Mov, a, b: Opd::Const(0.0), dst: 0, post: None }),
            None => code.push(Instr { op: Op2::Mov, a: Opd::Const(f64::NAN), b: Opd::Const(0.0), dst: 0, post: None }),
        }
        code
    }

    /// Fewer passes over a chunk, with the same values: an instruction followed by `× c` or `+ c`
    /// of its result takes that as its [`Post`]; then `(x - y) / (x + y)` of two leaves becomes
    /// one [`Op2::NormDiff`] (`(x - y)·k / ((x + y) + c)` one [`Op2::ScaledNormDiff`]) and
    /// `a ± c·v` of a leaf `v` one [`Op2::AddScaled`] / [`Op2::SubScaled`]. A slot read by an
    /// instruction is dead afterwards (stack discipline), so the fused instruction may write
    /// where the second one did.
    fn fuse(code: Vec<Instr>) -> Vec<Instr> {
        let code = Self::fuse_posts(code);
        let leaf = |o: Opd| !matches!(o, Opd::Slot(_));
        let mut out: Vec<Instr> = Vec::with_capacity(code.len());
        let mut i = 0;
        while i < code.len() {
            if let [s, a, d, ..] = code[i..] {
                let same_pair = (a.a == s.a && a.b == s.b) || (a.a == s.b && a.b == s.a);
                let k = match s.post {
                    None => Some(1.0),
                    Some(Post::Mul(k)) => Some(k),
                    Some(Post::Add(_)) => None,
                };
                let c = match a.post {
                    None => Some(0.0),
                    Some(Post::Add(c)) => Some(c),
                    Some(Post::Mul(_)) => None,
                };
                if let (Op2::Sub, Op2::Add, Op2::Div, Some(k), Some(c), true, true, true) =
                    (s.op, a.op, d.op, k, c, leaf(s.a), leaf(s.b), same_pair)
                {
                    // `1·v` and `v + 0` are exact (a `-0` sum only where the numerator is 0 too:
                    // 0/±0 is NaN either way)
                    if a.dst == s.dst + 1 && d.a == Opd::Slot(s.dst) && d.b == Opd::Slot(a.dst) {
                        let op = match (s.post, a.post) {
                            (None, None) => Op2::NormDiff,
                            _ => Op2::ScaledNormDiff(k, c),
                        };
                        out.push(Instr { op, a: s.a, b: s.b, dst: d.dst, post: d.post });
                        i += 3;
                        continue;
                    }
                }
            }
            if let [m, x, ..] = code[i..] {
                // `c·v` of a leaf consumed by the next `+` or `-`
                let scaled = match (m.op, m.a, m.b, m.post) {
                    (Op2::Mul, Opd::Const(c), v, None) | (Op2::Mul, v, Opd::Const(c), None) if leaf(v) => Some((c, v)),
                    _ => None,
                };
                let t = Opd::Slot(m.dst);
                let fused = match (scaled, x.op) {
                    (Some((c, v)), Op2::Add) if x.b == t && x.a != t => Some((Op2::AddScaled(c), x.a, v)),
                    (Some((c, v)), Op2::Add) if x.a == t && x.b != t => Some((Op2::AddScaled(c), x.b, v)),
                    (Some((c, v)), Op2::Sub) if x.b == t && x.a != t => Some((Op2::SubScaled(c), x.a, v)),
                    _ => None,
                };
                if let Some((op, a, b)) = fused {
                    out.push(Instr { op, a, b, dst: x.dst, post: x.post });
                    i += 2;
                    continue;
                }
            }
            out.push(code[i]);
            i += 1;
        }
        out
    }

    /// The first step of [`Program::fuse`]: an instruction followed by `× c` or `+ c` of its
    /// result takes that as its [`Post`].
    fn fuse_posts(code: Vec<Instr>) -> Vec<Instr> {
        let mut out: Vec<Instr> = Vec::with_capacity(code.len());
        let mut i = 0;
        while i < code.len() {
            let ins = code[i];
            if let Some(prev) = out.last_mut() {
                let arith = matches!(prev.op, Op2::Add | Op2::Sub | Op2::Mul | Op2::Div);
                let post = match (ins.op, ins.a, ins.b) {
                    (Op2::Mul, Opd::Const(c), Opd::Slot(k)) | (Op2::Mul, Opd::Slot(k), Opd::Const(c))
                        if k == prev.dst =>
                    {
                        Some(Post::Mul(c))
                    }
                    (Op2::Add, Opd::Const(c), Opd::Slot(k)) | (Op2::Add, Opd::Slot(k), Opd::Const(c))
                        if k == prev.dst =>
                    {
                        Some(Post::Add(c))
                    }
                    _ => None,
                };
                if let (true, None, Some(p)) = (arith, prev.post, post) {
                    prev.post = Some(p);
                    prev.dst = ins.dst;
                    i += 1;
                    continue;
                }
            }
            out.push(ins);
            i += 1;
        }
        out
    }

    /// Evaluate over `n` cells; `var(k)` is variable `k` (its `n` cells, or a constant). The
    /// result is the first stack slot's `n` values.
    #[inline(always)]
    fn eval_chunk<'s, 'i>(
        &self,
        var: impl Fn(usize) -> Input<'i>,
        n: usize,
        stack: &'s mut Vec<Vec<f64>>,
    ) -> &'s [f64] {
        if stack.is_empty() {
            stack.push(vec![0.0; CHUNK]);
        }
        Self::run(&self.code, &var, n, stack);
        &stack[0][..n]
    }

    /// [`Program::eval_chunk`] whose last instruction writes its result straight into `out`,
    /// masked: NaN where `valid` is zero or the result is infinite (the blend of
    /// [`masked`] in the same pass as the last operation, not a pass of its own).
    #[inline(always)]
    fn eval_into<'i>(
        &self,
        var: impl Fn(usize) -> Input<'i>,
        n: usize,
        stack: &mut Vec<Vec<f64>>,
        out: &mut [f32],
        valid: &[u32],
    ) {
        let (d, ok) = (&mut out[..n], &valid[..n]);
        match self.code.split_last() {
            // the result is the last instruction's slot 0 (see `lower_code`)
            Some((last, head)) if last.dst == 0 => {
                Self::run(head, &var, n, stack);
                let leaf = |o: Opd| -> Leaf<'_> {
                    match o {
                        Opd::Slot(k) => Leaf::Slice(&stack[k][..n]),
                        Opd::Var(k) => match var(k) {
                            Input::Slice(s) => Leaf::Slice(&s[..n]),
                            Input::Scalar(v) => Leaf::Scalar(v),
                        },
                        Opd::Const(c) => Leaf::Scalar(c),
                    }
                };
                let (a, b) = (leaf(last.a), leaf(last.b));
                macro_rules! go {
                    ($f:expr) => {
                        apply_masked(d, ok, a, b, $f)
                    };
                }
                for_op!(last, go);
            }
            _ => {
                let r = self.eval_chunk(var, n, stack);
                apply_masked(d, ok, Leaf::Slice(r), Leaf::Scalar(0.0), |x, _| x);
            }
        }
    }

    /// Run `code` over `n` cells of the stack.
    #[inline(always)]
    fn run<'i>(code: &[Instr], var: &impl Fn(usize) -> Input<'i>, n: usize, stack: &mut Vec<Vec<f64>>) {
        for ins in code {
            while stack.len() <= ins.dst + 1 {
                stack.push(vec![0.0; CHUNK]);
            }
            let mut d = std::mem::take(&mut stack[ins.dst]);
            {
                let src = |o: Opd| -> Src<'_> {
                    match o {
                        Opd::Slot(k) if k == ins.dst => Src::Same,
                        Opd::Slot(k) => Src::Slice(&stack[k][..n]),
                        Opd::Var(k) => match var(k) {
                            Input::Slice(s) => Src::Slice(&s[..n]),
                            Input::Scalar(v) => Src::Scalar(v),
                        },
                        Opd::Const(c) => Src::Scalar(c),
                    }
                };
                let (a, b, dd) = (src(ins.a), src(ins.b), &mut d[..n]);
                macro_rules! go {
                    ($f:expr) => {
                        apply(dd, a, b, $f)
                    };
                }
                for_op!(ins, go);
            }
            stack[ins.dst] = d;
        }
    }
}

/// `$go!(f)` with `f` the scalar function of instruction `$ins` (its post-op included).
macro_rules! for_op {
    ($ins:expr, $go:ident) => {{
        macro_rules! with_post {
            ($f:expr) => {
                match $ins.post {
                    None => $go!($f),
                    Some(Post::Mul(c)) => $go!(|x, y| c * $f(x, y)),
                    Some(Post::Add(c)) => $go!(|x, y| $f(x, y) + c),
                }
            };
        }
        match $ins.op {
            Op2::Add => with_post!(|x: f64, y: f64| x + y),
            Op2::Sub => with_post!(|x: f64, y: f64| x - y),
            Op2::Mul => with_post!(|x: f64, y: f64| x * y),
            Op2::Div => with_post!(|x: f64, y: f64| x / y),
            Op2::NormDiff => with_post!(|x: f64, y: f64| (x - y) / (x + y)),
            Op2::ScaledNormDiff(k, c) => with_post!(|x: f64, y: f64| (k * (x - y)) / ((x + y) + c)),
            Op2::AddScaled(c) => with_post!(|x: f64, y: f64| x + c * y),
            Op2::SubScaled(c) => with_post!(|x: f64, y: f64| x - c * y),
            Op2::Pow => $go!(pow),
            Op2::Neg => $go!(|x: f64, _: f64| -x),
            Op2::Mov => $go!(|x: f64, _: f64| x),
        }
    }};
}
use for_op;

/// An operand of the last instruction: cells or a constant.
#[derive(Clone, Copy)]
enum Leaf<'a> {
    Slice(&'a [f64]),
    Scalar(f64),
}

/// `r` rounded to f32, or NaN where the lane mask `ok` is zero or the result is infinite — a bit
/// blend, no branch.
#[inline(always)]
fn masked(r: f64, ok: u32) -> f32 {
    // the f64 result rounded once to the f32 output (beyond f32's range: infinite, hence NaN)
    let b = (r as f32).to_bits();
    let finite = (((b & 0x7fff_ffff) != 0x7f80_0000) as u32).wrapping_neg();
    let keep = ok & finite;
    f32::from_bits((b & keep) | (f32::NAN.to_bits() & !keep))
}

/// `d[i] = masked(f(a[i], b[i]), ok[i])`, one tight loop per operand shape.
#[inline(always)]
fn apply_masked(d: &mut [f32], ok: &[u32], a: Leaf<'_>, b: Leaf<'_>, f: impl Fn(f64, f64) -> f64) {
    let n = d.len();
    let ok = &ok[..n];
    match (a, b) {
        (Leaf::Slice(x), Leaf::Slice(y)) => {
            d.iter_mut().zip(ok).zip(&x[..n]).zip(&y[..n]).for_each(|(((o, &k), x), y)| *o = masked(f(*x, *y), k))
        }
        (Leaf::Slice(x), Leaf::Scalar(c)) => {
            d.iter_mut().zip(ok).zip(&x[..n]).for_each(|((o, &k), x)| *o = masked(f(*x, c), k))
        }
        (Leaf::Scalar(c), Leaf::Slice(y)) => {
            d.iter_mut().zip(ok).zip(&y[..n]).for_each(|((o, &k), y)| *o = masked(f(c, *y), k))
        }
        (Leaf::Scalar(c), Leaf::Scalar(e)) => {
            let v = f(c, e);
            d.iter_mut().zip(ok).for_each(|(o, &k)| *o = masked(v, k))
        }
    }
}

const CHUNK: usize = 4096;

/// A compiled index whose variables are bound to band slots (`Err(slot)`) or constants (`Ok(v)`).
type Bound = (Program, Vec<std::result::Result<f64, usize>>);

/// Compile every index and bind its variables: bands through `slot`, constants from `constants`
/// or the catalogue defaults. All errors come before any work.
fn bind_indices(
    names: &[&str],
    slot: impl Fn(&str) -> Option<usize>,
    constants: &HashMap<String, f64>,
) -> Result<Vec<Bound>> {
    let mut progs = Vec::new();
    for name in names {
        let idx = index(name)?;
        let mut prog = Program::compile(&idx.formula)?;
        let mut bind = Vec::new();
        for v in &prog.vars {
            if let Some(k) = slot(v) {
                bind.push(Err(k));
            } else if let Some(c) =
                constants.get(v).copied().or_else(|| (!is_band(v)).then(|| constant_default(v)).flatten())
            {
                bind.push(Ok(c));
            } else {
                return Err(Error::InvalidInput(format!(
                    "index {name} needs {} {v:?}, which was not given{}",
                    if is_band(v) { "band" } else { "constant" },
                    if is_band(v) { "" } else { " (the catalogue has no default)" }
                )));
            }
        }
        let scalars: Vec<Option<f64>> = bind.iter().map(|b| b.ok()).collect();
        prog.lower(&scalars);
        progs.push((prog, bind));
    }
    Ok(progs)
}

/// A variable's chunk while evaluating: cells (reflectance, widened to f64) or a constant.
enum Input<'a> {
    Slice(&'a [f64]),
    Scalar(f64),
}

/// Inputs of [`compute_indices`]: reflectance arrays by catalogue band name (`N`, `R`, ...), a
/// validity mask, and constant overrides.
#[derive(Debug, Default)]
pub struct IndexInputs<'a> {
    /// Reflectance (0..1) per catalogue band name; all the same length.
    pub bands: HashMap<String, &'a [f32]>,
    /// `true` = cell usable; masked cells give NaN.
    pub valid: Option<&'a [bool]>,
    /// Constant values overriding the catalogue defaults (`L`, `g`, ...).
    pub constants: HashMap<String, f64>,
}

/// Compute several indices in one pass. Returns one `Vec<f32>` per index name, in order.
///
/// ```
/// use landopp::spectral::{compute_indices, IndexInputs};
/// let n = [0.5f32, 0.4];
/// let r = [0.1f32, 0.2];
/// let mut inp = IndexInputs::default();
/// inp.bands.insert("N".into(), &n);
/// inp.bands.insert("R".into(), &r);
/// let out = compute_indices(&["NDVI"], &inp)?;
/// assert!((out[0][0] - 0.6666667).abs() < 1e-6);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn compute_indices(names: &[&str], inputs: &IndexInputs<'_>) -> Result<Vec<Vec<f32>>> {
    let len = inputs.bands.values().next().map(|s| s.len()).unwrap_or(0);
    if let Some((k, s)) = inputs.bands.iter().find(|(_, s)| s.len() != len) {
        return Err(Error::InvalidInput(format!("band {k} has {} cells, expected {len}", s.len())));
    }
    if let Some(v) = inputs.valid {
        if v.len() != len {
            return Err(Error::InvalidInput(format!("mask has {} cells, expected {len}", v.len())));
        }
    }
    let slices: Vec<&[f32]> = inputs.bands.values().copied().collect();
    let keys: Vec<&String> = inputs.bands.keys().collect();
    let progs = bind_indices(names, |v| keys.iter().position(|k| *k == v), &inputs.constants)?;
    let mut outs: Vec<Vec<f32>> = names.iter().map(|_| vec![0f32; len]).collect();
    use rayon::prelude::*;
    let chunks: Vec<usize> = (0..len).step_by(CHUNK).collect();
    // each output split into the same chunks, processed in parallel
    let mut out_chunks: Vec<Vec<&mut [f32]>> = chunks.iter().map(|_| Vec::with_capacity(names.len())).collect();
    for o in outs.iter_mut() {
        for (k, ch) in o.chunks_mut(CHUNK).enumerate() {
            out_chunks[k].push(ch);
        }
    }
    let scratch = || (Vec::new(), vec![vec![0f64; CHUNK]; slices.len()], vec![0u32; CHUNK]);
    out_chunks.into_par_iter().zip(chunks.par_iter()).for_each_init(
        scratch,
        |(stack, wide, ok), (mut outs_c, &start)| {
            let n = CHUNK.min(len - start);
            // reflectance widened to f64 (exact): every index is computed in f64, rounded once
            for (w, s) in wide.iter_mut().zip(&slices) {
                w[..n].iter_mut().zip(&s[start..start + n]).for_each(|(w, s)| *w = *s as f64);
            }
            match inputs.valid {
                Some(v) => {
                    ok[..n].iter_mut().zip(&v[start..start + n]).for_each(|(o, v)| *o = (*v as u32).wrapping_neg())
                }
                None => ok[..n].fill(!0),
            }
            for ((prog, bind), out) in progs.iter().zip(outs_c.iter_mut()) {
                let var = |k: usize| match bind[k] {
                    Ok(c) => Input::Scalar(c),
                    Err(b) => Input::Slice(&wide[b][..n]),
                };
                prog.eval_into(var, n, stack, &mut out[..n], &ok[..n]);
            }
        },
    );
    Ok(outs)
}

/// Sentinel-2 SCL classes masked by default: 0 no data, 1 saturated/defective, 3 cloud shadow,
/// 8 cloud medium, 9 cloud high, 10 thin cirrus, 11 snow.
pub const SCL_DEFAULT_MASK: [u8; 7] = [0, 1, 3, 8, 9, 10, 11];

/// Landsat QA_PIXEL bits masked by default: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
/// 4 cloud shadow, 5 snow.
pub const QA_PIXEL_DEFAULT_BITS: [u8; 6] = [0, 1, 2, 3, 4, 5];

/// Validity from an SCL band: `false` where the class is in `masked`.
pub fn scl_valid(scl: &[u8], masked: &[u8]) -> Vec<bool> {
    let mut table = [true; 256];
    for &c in masked {
        table[c as usize] = false;
    }
    scl.iter().map(|c| table[*c as usize]).collect()
}

/// Validity from a Landsat QA_PIXEL band: `false` where any of `bits` is set.
pub fn qa_pixel_valid(qa: &[u16], bits: &[u8]) -> Vec<bool> {
    // bits beyond 15 cannot be set in a u16
    let m: u16 = bits.iter().fold(0, |m, &b| m | 1u16.checked_shl(b as u32).unwrap_or(0));
    qa.iter().map(|v| v & m == 0).collect()
}

/// Scene metadata carried into feature provenance (from a STAC item).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SceneMeta {
    /// Scene id.
    pub scene_id: String,
    /// Capture date-time (ISO 8601).
    pub datetime: String,
    /// Scene cloud cover, percent.
    pub cloud_cover: Option<f64>,
    /// Ground sample distance of the finest band, metres.
    pub resolution_m: Option<f64>,
    /// Platform (`sentinel-2a`, `landsat-8`, ...).
    pub platform: String,
    /// Sentinel-2 processing baseline, when given.
    pub processing_baseline: Option<String>,
}

impl SceneMeta {
    /// Read a STAC item JSON file.
    pub fn from_stac(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::error::read_text_bounded(path, crate::error::MAX_CONFIG_BYTES, "STAC item")?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::format("STAC", path, e.to_string()))?;
        let p = &v["properties"];
        let datetime = p["datetime"].as_str().unwrap_or_default().to_string();
        if v["id"].as_str().is_none() || datetime.is_empty() {
            return Err(Error::format("STAC", path, "an item needs \"id\" and properties.datetime"));
        }
        let gsd = p["gsd"].as_f64().or_else(|| {
            v["assets"].as_object().and_then(|a| a.values().filter_map(|x| x["gsd"].as_f64()).reduce(f64::min))
        });
        Ok(SceneMeta {
            scene_id: v["id"].as_str().unwrap_or_default().to_string(),
            datetime,
            cloud_cover: p["eo:cloud_cover"].as_f64(),
            resolution_m: gsd,
            platform: p["platform"].as_str().unwrap_or_default().to_string(),
            processing_baseline: match p["s2:processing_baseline"].as_str() {
                Some(b) => {
                    s2_offset(b).map_err(|_| {
                        Error::format("STAC", path, "properties.s2:processing_baseline is not a version number")
                    })?;
                    Some(b.to_string())
                }
                None => None,
            },
        })
    }
    /// The sensor implied by the platform / product (L2A unless the id says L1C).
    pub fn sensor(&self) -> Sensor {
        let pl = self.platform.to_ascii_lowercase();
        if pl.starts_with("sentinel-2") {
            // checked by `from_stac`; a baseline set by hand that is not a number counts as 0
            let off = self.processing_baseline.as_deref().map_or(0.0, |b| s2_offset(b).unwrap_or(0.0));
            if self.scene_id.contains("L1C") {
                Sensor::Sentinel2L1c { offset: off }
            } else {
                Sensor::Sentinel2L2a { offset: off }
            }
        } else if pl.contains("landsat-8") || pl.contains("landsat-9") {
            Sensor::Landsat89
        } else if pl.contains("landsat") {
            Sensor::Landsat457
        } else {
            Sensor::Reflectance
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_catalogue_compiles() {
        assert!(indices().len() >= 200);
        for (name, i) in indices() {
            let p = Program::compile(&i.formula).unwrap_or_else(|e| panic!("{name}: {e}"));
            for v in &p.vars {
                assert!(i.bands.contains(v), "{name}: {v} not in its band list");
            }
        }
    }

    #[test]
    fn precedence_like_python() {
        let n = [2.0f64];
        let p = Program::compile("-x**2 + 3*x/2**2**1").unwrap();
        let mut st = Vec::new();
        let out = p.eval_chunk(|_| Input::Slice(&n), 1, &mut st);
        assert_eq!(out[0], -4.0 + 3.0 * 2.0 / 4.0);
    }

    #[test]
    fn sensors() {
        assert_eq!(Sensor::sentinel2_l2a("04.00").unwrap().scale(2000.0), 0.1);
        assert_eq!(Sensor::sentinel2_l2a("02.14").unwrap().scale(2000.0), 0.2);
        // the baseline rule in one place: by name, by JSON, strict
        assert_eq!(
            Sensor::from_name("sentinel2_l1c", Some("05.11")).unwrap(),
            Sensor::Sentinel2L1c { offset: -1000.0 }
        );
        assert_eq!(Sensor::from_name("landsat89", None).unwrap(), Sensor::Landsat89);
        for (name, b) in [("sentinel2_l2a", Some("latest")), ("landsat89", Some("04.00")), ("sentinel3", None)] {
            assert_eq!(Sensor::from_name(name, b).unwrap_err().code(), "INVALID_INPUT", "{name} {b:?}");
        }
        let j: Sensor = serde_json::from_str(r#"{"sensor": "sentinel2_l2a", "offset": -1000}"#).unwrap();
        assert_eq!(j, Sensor::sentinel2_l2a("04.00").unwrap());
        assert!(
            serde_json::from_str::<Sensor>(r#"{"sensor": "sentinel2_l2a", "offset": 0, "baseline": "04.00"}"#).is_err()
        );
        assert!((Sensor::Landsat89.scale(10000.0) - 0.075).abs() < 1e-12);
        assert_eq!(Sensor::Landsat89.band_id("N").as_deref(), Some("B5"));
        assert_eq!(Sensor::Landsat457.band_id("N").as_deref(), Some("B4"));
        assert_eq!(Sensor::sentinel2_l2a("02.14").unwrap().band_id("N").as_deref(), Some("B08"));
        assert_eq!(Sensor::sentinel2_l2a("02.14").unwrap().band_id("S1").as_deref(), Some("B11"));
        assert_eq!(qa_pixel_valid(&[0b1000, 0b1000000], &QA_PIXEL_DEFAULT_BITS), vec![false, true]);
    }

    #[test]
    fn qa_bits_beyond_15_are_refused() {
        // bits a u16 does not have: ignored by the mask helper, refused by the index options
        assert_eq!(qa_pixel_valid(&[0xffff, 0], &[16, 200]), vec![true, true]);
        let (n, r, qa) = ([5000u16; 4], [1000u16; 4], [0u16; 4]);
        let mut bands = BTreeMap::new();
        bands.insert("N".to_string(), (crate::BandView::U16(&n), None));
        bands.insert("R".to_string(), (crate::BandView::U16(&r), None));
        let grid =
            BandGrid { width: 2, height: 2, transform: crate::GeoTransform::north_up(0.0, 2.0, 1.0, 1.0), crs: None };
        let opts = ImageryOptions {
            sensor: Sensor::Landsat89,
            qa_pixel: Some(Mask::Cells {
                cells: crate::BandView::U16(&qa),
                width: 2,
                height: 2,
                transform: grid.transform,
            }),
            qa_bits: vec![3, 16],
            ..Default::default()
        };
        let e = index_views(&bands, &grid, &["NDVI"], &opts).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT");
        assert!(e.to_string().contains("QA_PIXEL bit 16"), "{e}");
    }
}

/// How to turn band rasters into indices: sensor scaling, masks, constants.
#[derive(Debug, Clone)]
pub struct ImageryOptions<'a> {
    /// Sensor (scaling of stored DN to reflectance).
    pub sensor: Sensor,
    /// Sentinel-2 SCL band (same grid, or an integer factor coarser and aligned: nearest).
    pub scl: Option<Mask<'a>>,
    /// SCL classes to mask.
    pub scl_masked: Vec<u8>,
    /// Landsat QA_PIXEL band (same grid, or coarser as the SCL).
    pub qa_pixel: Option<Mask<'a>>,
    /// QA_PIXEL bits to mask.
    pub qa_bits: Vec<u8>,
    /// Constant overrides.
    pub constants: HashMap<String, f64>,
}

impl Default for ImageryOptions<'_> {
    fn default() -> Self {
        ImageryOptions {
            sensor: Sensor::Reflectance,
            scl: None,
            scl_masked: SCL_DEFAULT_MASK.to_vec(),
            qa_pixel: None,
            qa_bits: QA_PIXEL_DEFAULT_BITS.to_vec(),
            constants: HashMap::new(),
        }
    }
}

/// A mask band (SCL or QA_PIXEL): the first band of a raster, or borrowed row-major cells on a
/// grid (e.g. a numpy array lent by a binding). Integer cells are read in place.
#[derive(Debug, Clone, Copy)]
pub enum Mask<'a> {
    /// The raster's first band.
    Raster(&'a crate::Raster),
    /// `width × height` cells, row-major, on `transform`.
    Cells {
        /// The cells.
        cells: crate::BandView<'a>,
        /// Columns.
        width: usize,
        /// Rows.
        height: usize,
        /// Geotransform.
        transform: crate::GeoTransform,
    },
}

impl<'a> From<&'a crate::Raster> for Mask<'a> {
    fn from(r: &'a crate::Raster) -> Self {
        Mask::Raster(r)
    }
}

/// A mask raster mapped onto the band grid: same grid, or an aligned integer factor coarser.
struct MaskGrid<'a> {
    data: MaskData<'a>,
    width: usize,
    ky: usize,
    /// band columns per mask column
    kx: usize,
    /// mask column of each band column
    colmap: Vec<u32>,
}

/// Mask cells: SCL (u8) and QA_PIXEL (u16) bands are read in place; other types are converted
/// once (NaN → u32::MAX).
enum MaskData<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    Other(Vec<u32>),
}

impl<'a> MaskGrid<'a> {
    fn new(mask: Mask<'a>, target: &BandGrid) -> Result<Self> {
        let (tw, th) = (target.width, target.height);
        let (mw, mh, mt) = match mask {
            Mask::Raster(r) => (r.width(), r.height(), r.transform),
            Mask::Cells { width, height, transform, .. } => (width, height, transform),
        };
        let (tg, mg) = (target.transform.0, mt.0);
        let fx = mg[1] / tg[1];
        let fy = mg[5] / tg[5];
        let aligned = (mg[0] - tg[0]).abs() < 1e-6 * tg[1].abs() && (mg[3] - tg[3]).abs() < 1e-6 * tg[5].abs();
        let integer = (fx - fx.round()).abs() < 1e-9 && (fy - fy.round()).abs() < 1e-9 && fx >= 1.0 && fy >= 1.0;
        let (kx, ky) = (fx.round() as usize, fy.round() as usize);
        if !(aligned && integer) || mw.saturating_mul(kx) < tw || mh.saturating_mul(ky) < th {
            return Err(Error::InvalidInput(format!(
                "the mask grid ({mw}x{mh}, cell {}) is not the band grid ({tw}x{th}, cell {}) nor an aligned integer multiple of it",
                mg[1], tg[1]
            )));
        }
        let class = |v: f64| if v.is_nan() { u32::MAX } else { v as u32 };
        // the cells in place; a raster band that is not contiguous is converted
        let cells = match mask {
            Mask::Raster(r) => {
                let band = r.band(0)?;
                band.view().ok_or(band)
            }
            Mask::Cells { cells, .. } => Ok(cells),
        };
        use crate::BandView as B;
        macro_rules! other {
            ($a:expr) => {
                MaskData::Other($a.iter().map(|v| class(*v as f64)).collect())
            };
        }
        let data = match cells {
            Err(band) => MaskData::Other(band.to_f64().iter().map(|v| class(*v)).collect()),
            Ok(c) if mw.checked_mul(mh) != Some(c.len()) => {
                return Err(Error::InvalidInput(format!("the mask has {} cells, expected {mw} × {mh}", c.len())))
            }
            Ok(B::U8(a)) => MaskData::U8(a),
            Ok(B::U16(a)) => MaskData::U16(a),
            Ok(B::I8(a)) => other!(a),
            Ok(B::I16(a)) => other!(a),
            Ok(B::I32(a)) => other!(a),
            Ok(B::U32(a)) => other!(a),
            Ok(B::F32(a)) => other!(a),
            Ok(B::F64(a)) => other!(a),
        };
        let colmap = (0..tw).map(|c| (c / kx) as u32).collect();
        Ok(MaskGrid { data, width: mw, ky, kx, colmap })
    }
    /// `dst[i] = src[i] & keep(mask cell)` (all-ones / zero lane masks) for band columns `c0..`
    /// of band row `row`. Source and destination differ so that the store is unconditional (an
    /// in-place `&=` compiles to a masked store, which is microcoded and slow on some CPUs).
    #[inline(always)]
    fn apply(&self, row: usize, c0: usize, src: &[u32], dst: &mut [u32], keep: impl Fn(u32) -> bool) {
        let r = (row / self.ky) * self.width..(row / self.ky + 1) * self.width;
        let len = dst.len();
        let same_columns = self.width == self.colmap.len();
        macro_rules! go {
            ($d:expr) => {{
                let base = &$d[r];
                if same_columns {
                    // same grid: the mask row is read in place, no column map
                    for ((ok, &v), &x) in dst.iter_mut().zip(src).zip(&base[c0..c0 + len]) {
                        *ok = v & (keep(x as u32) as u32).wrapping_neg();
                    }
                } else if self.kx == 2 {
                    // the usual coarser mask (Sentinel-2's 20 m SCL over 10 m bands): one mask
                    // cell per pair of band columns, read in order without a column map
                    let (src, dst) = (&src[..len], &mut dst[..len]);
                    let head = c0 % 2;
                    if head == 1 && len > 0 {
                        dst[0] = src[0] & (keep(base[c0 / 2] as u32) as u32).wrapping_neg();
                    }
                    let h = head.min(len);
                    let (body_s, body_d) = (&src[h..], &mut dst[h..]);
                    let first = (c0 + h) / 2;
                    let pairs = body_d.len() / 2;
                    let cells = &base[first..first + pairs];
                    for ((d, s), &x) in body_d.chunks_exact_mut(2).zip(body_s.chunks_exact(2)).zip(cells) {
                        let k = (keep(x as u32) as u32).wrapping_neg();
                        d[0] = s[0] & k;
                        d[1] = s[1] & k;
                    }
                    if body_d.len() % 2 == 1 {
                        let i = body_d.len() - 1;
                        body_d[i] = body_s[i] & (keep(base[first + pairs] as u32) as u32).wrapping_neg();
                    }
                } else {
                    let cols = &self.colmap[c0..c0 + len];
                    for ((ok, &v), &c) in dst.iter_mut().zip(src).zip(cols) {
                        *ok = v & (keep(base[c as usize] as u32) as u32).wrapping_neg();
                    }
                }
            }};
        }
        match &self.data {
            MaskData::U8(d) => go!(d),
            MaskData::U16(d) => go!(d),
            MaskData::Other(d) => go!(d),
        }
    }
}

/// A sensor's DN → reflectance as `((dn + add) / div) * mul + sub`: the same arithmetic as
/// [`Sensor::scale`] (adding 0 or multiplying by 1 is exact), without a branch per cell.
#[derive(Clone, Copy)]
struct Linear {
    add: f64,
    div: f64,
    /// `1 / div` rounded once: the quotient is `x · rcp` corrected by one fused multiply-add.
    rcp: f64,
    mul: f64,
    sub: f64,
}

impl Linear {
    fn of(s: &Sensor) -> Self {
        match s {
            Sensor::Sentinel2L1c { offset } | Sensor::Sentinel2L2a { offset } => {
                Linear { add: *offset, div: 10_000.0, rcp: 1.0 / 10_000.0, mul: 1.0, sub: 0.0 }
            }
            Sensor::Landsat457 | Sensor::Landsat89 => {
                Linear { add: 0.0, div: 1.0, rcp: 1.0, mul: 0.000_027_5, sub: -0.2 }
            }
            Sensor::Reflectance => Linear { add: 0.0, div: 1.0, rcp: 1.0, mul: 1.0, sub: 0.0 },
        }
    }
}

impl Linear {
    /// DN → reflectance in f64: the same operations as [`Sensor::scale`] (adding 0, dividing or
    /// multiplying by 1 are exact), so the reflectance is the f64 formula's.
    #[inline(always)]
    fn apply(&self, dn: f64) -> f64 {
        ((dn + self.add) / self.div) * self.mul + self.sub
    }
    /// [`Linear::apply`] for an integer DN, bit for bit, without a division (the kernel's limit
    /// in f64): `q = x·(1/div)` is within an ulp of `x/div`, the remainder `x − q·div` is exact
    /// in one FMA, and `q + rem·(1/div)` is the correctly rounded quotient (Markstein's theorem:
    /// `1/div` rounded to nearest, `q` faithful, no underflow — `x` is an integer plus the
    /// sensor offset, never subnormal, never infinite). Float bands keep the division (±∞ and
    /// subnormal DN are theirs). Tested equal over every u8, i16 and u16 DN of every sensor.
    /// In the kernel's baseline copy (CPUs without FMA) `mul_add` is the C library's exact
    /// `fma`: the same values, slower.
    #[inline(always)]
    fn apply_int(&self, dn: f64) -> f64 {
        let x = dn + self.add;
        let q = x * self.rcp;
        let rem = (-q).mul_add(self.div, x);
        rem.mul_add(self.rcp, q) * self.mul + self.sub
    }
}

/// Scale a run of stored DN to reflectance (f64); `valid = src` with the lane masks of nodata/NaN
/// cells cleared (see [`MaskGrid::apply`] for why source and destination differ).
#[inline(always)]
fn scale_into(
    b: &crate::BandView<'_>,
    nodata: Option<f64>,
    lin: Linear,
    start: usize,
    out: &mut [f64],
    src: &[u32],
    valid: &mut [u32],
) {
    // NaN never equals: "no nodata" compares against NaN
    let nd = nodata.unwrap_or(f64::NAN);
    let len = out.len();
    macro_rules! go {
        ($a:ident, $apply:ident) => {{
            for (((o, ok), &s), x) in out.iter_mut().zip(valid.iter_mut()).zip(src).zip(&$a[start..start + len]) {
                let v = *x as f64;
                *ok = s & (!(v.is_nan() | (v == nd)) as u32).wrapping_neg();
                *o = lin.$apply(v);
            }
        }};
    }
    use crate::BandView as B;
    match b {
        B::U8(a) => go!(a, apply_int),
        B::I8(a) => go!(a, apply_int),
        B::I16(a) => go!(a, apply_int),
        B::U16(a) => go!(a, apply_int),
        B::I32(a) => go!(a, apply_int),
        B::U32(a) => go!(a, apply_int),
        B::F32(a) => go!(a, apply),
        B::F64(a) => go!(a, apply),
    }
}

/// Whether SCL class `c` is kept (not among the masked classes `bits`, all below 32).
#[inline(always)]
fn scl_keeps(c: u32, bits: u32) -> bool {
    (c >= 32) | ((bits >> c.min(31)) & 1 == 0)
}

/// [`scale_into`] for `K` u16 bands at once (`(cells, nodata)`, NaN for none): `dst = src` with
/// the lanes of nodata cells in any of them cleared, `outs[j] = lin(dn)`. One lane-mask pass for
/// the group instead of one per band; `keep(i)` (all ones or zero) folds in another mask, such as
/// a same-grid SCL band.
#[inline(always)]
fn scale_u16<const K: usize>(
    bands: [(&[u16], f64); K],
    lin: Linear,
    outs: [&mut [f64]; K],
    src: &[u32],
    dst: &mut [u32],
    keep: impl Fn(usize) -> u32,
) {
    let n = dst.len();
    let src = &src[..n];
    let bands = bands.map(|(b, nd)| (&b[..n], nd));
    let outs = outs.map(|o| &mut o[..n]);
    for i in 0..n {
        let mut k = src[i] & keep(i);
        for j in 0..K {
            let v = bands[j].0[i] as f64;
            k &= ((v != bands[j].1) as u32).wrapping_neg();
            outs[j][i] = lin.apply_int(v);
        }
        dst[i] = k;
    }
}

/// A worker's buffers for [`run_chunk`]: the evaluation stack, the scaled bands and two lane-mask
/// buffers.
struct Scratch {
    stack: Vec<Vec<f64>>,
    bufs: Vec<Vec<f64>>,
    valid: (Vec<u32>, Vec<u32>),
}

/// Everything a chunk of [`index_rasters`] needs besides its buffers.
struct Chunker<'a> {
    band_data: Vec<(crate::BandView<'a>, Option<f64>)>,
    lin: Linear,
    scl: Option<MaskGrid<'a>>,
    qa: Option<MaskGrid<'a>>,
    scl_table: [bool; 256],
    /// The masked SCL classes as bits when all are below 32 (a shift per cell, in vector lanes).
    scl_bits: Option<u32>,
    qa_bits: u32,
    progs: Vec<Bound>,
    w: usize,
    /// Every band as `(u16 cells, nodata)` when all are u16 (scaled four per pass).
    u16_bands: Option<Vec<(&'a [u16], f64)>>,
    /// The SCL cells and masked-class bits when SCL is u8 on the band grid itself (row-major,
    /// so a run's cells are one slice) and the bands are `u16_bands`: SCL is then applied in the
    /// first scaling pass, not a pass of its own.
    scl_flat: Option<(&'a [u8], u32)>,
}

crate::simd::dispatch! {
    /// Scale, mask and evaluate every index over cells `start..start + m`, written to
    /// `outs[..][off..off + m]`.
    fn run_chunk(
        ctx: &Chunker<'_>,
        start: usize,
        m: usize,
        scratch: &mut Scratch,
        outs: &mut [&mut [f32]],
        off: usize,
    ) {
        let Scratch { stack, bufs, valid } = scratch;
        let w = ctx.w;
        // lane masks (all ones = valid), updated from one buffer into the other
        let (mut cur, mut nxt): (&mut [u32], &mut [u32]) = (&mut valid.0[..m], &mut valid.1[..m]);
        cur.fill(!0);
        match &ctx.u16_bands {
            // u16 bands, up to four per pass: one lane-mask update per pass
            Some(u16s) => {
                let lin = ctx.lin;
                let band = |k: usize| (&u16s[k].0[start..start + m], u16s[k].1);
                for (g, outs) in bufs.chunks_mut(4).enumerate() {
                    let k = 4 * g;
                    let (src, dst) = (&*cur, &mut *nxt);
                    macro_rules! go {
                        ($bands:expr, $outs:expr) => {
                            match (g, ctx.scl_flat) {
                                // a same-grid u8 SCL band folded into the first scaling pass
                                (0, Some((scl, bits))) => {
                                    let scl = &scl[start..start + m];
                                    scale_u16($bands, lin, $outs, src, dst, |i| {
                                        (scl_keeps(scl[i] as u32, bits) as u32).wrapping_neg()
                                    })
                                }
                                _ => scale_u16($bands, lin, $outs, src, dst, |_| !0),
                            }
                        };
                    }
                    match outs {
                        [a] => go!([band(k)], [&mut a[..m]]),
                        [a, b] => go!([band(k), band(k + 1)], [&mut a[..m], &mut b[..m]]),
                        [a, b, c] => {
                            go!([band(k), band(k + 1), band(k + 2)], [&mut a[..m], &mut b[..m], &mut c[..m]])
                        }
                        [a, b, c, d, ..] => go!(
                            [band(k), band(k + 1), band(k + 2), band(k + 3)],
                            [&mut a[..m], &mut b[..m], &mut c[..m], &mut d[..m]]
                        ),
                        [] => continue,
                    }
                    std::mem::swap(&mut cur, &mut nxt);
                }
            }
            None => {
                for ((b, nd), buf) in ctx.band_data.iter().zip(bufs.iter_mut()) {
                    scale_into(b, *nd, ctx.lin, start, &mut buf[..m], cur, nxt);
                    std::mem::swap(&mut cur, &mut nxt);
                }
            }
        }
        // the chunk as row segments: one mask row lookup per segment
        let segments = || {
            let mut k = 0;
            std::iter::from_fn(move || {
                (k < m).then(|| {
                    let (row, col) = ((start + k) / w, (start + k) % w);
                    let len = (w - col).min(m - k);
                    k += len;
                    (k - len, row, col, len)
                })
            })
        };
        if let (Some(g), None) = (&ctx.scl, ctx.scl_flat) {
            for (k, row, col, len) in segments() {
                let (src, dst) = (&cur[k..k + len], &mut nxt[k..k + len]);
                match ctx.scl_bits {
                    Some(bits) => g.apply(row, col, src, dst, |c| scl_keeps(c, bits)),
                    None => g.apply(row, col, src, dst, |c| ctx.scl_table[(c as usize).min(255)]),
                }
            }
            std::mem::swap(&mut cur, &mut nxt);
        }
        if let Some(g) = &ctx.qa {
            for (k, row, col, len) in segments() {
                g.apply(row, col, &cur[k..k + len], &mut nxt[k..k + len], |c| c & ctx.qa_bits == 0);
            }
            std::mem::swap(&mut cur, &mut nxt);
        }
        let valid: &[u32] = cur;
        // one index at a time over the whole run (its output written as one long stream), in
        // blocks whose temporaries stay in the L1 cache
        for ((prog, bind), out) in ctx.progs.iter().zip(outs.iter_mut()) {
            for b0 in (0..m).step_by(EVAL_BLOCK) {
                let len = EVAL_BLOCK.min(m - b0);
                let var = |k: usize| match bind[k] {
                    Ok(c) => Input::Scalar(c),
                    Err(b) => Input::Slice(&bufs[b][b0..b0 + len]),
                };
                // masked or infinite cells become NaN in the last operation's pass
                prog.eval_into(var, len, stack, &mut out[off + b0..off + b0 + len], &valid[b0..b0 + len]);
            }
        }
    }
}

/// Cells per block of formula evaluation (its temporaries stay in the L1 cache).
const EVAL_BLOCK: usize = 512;

/// Compute indices from band rasters keyed by catalogue band name (`N`, `R`, `G`, ...), all on one
/// grid, in one streaming pass: each chunk of cells is scaled (DN → reflectance with
/// `opts.sensor`), masked (band nodata, SCL classes, QA_PIXEL bits) and evaluated for every index
/// while it is in cache. Returns one f32 band per index, named by the index, nodata NaN.
pub fn index_rasters(
    bands: &BTreeMap<String, crate::Raster>,
    names: &[&str],
    opts: &ImageryOptions<'_>,
) -> Result<crate::Raster> {
    let grids: Vec<(&str, BandGrid)> = bands.iter().map(|(k, b)| (k.as_str(), BandGrid::of(b))).collect();
    let grid = BandGrid::common(&grids)?;
    let mut views = BTreeMap::new();
    for (k, b) in bands {
        let v =
            b.band(0)?.view().ok_or_else(|| Error::InvalidInput(format!("band {k} is not contiguous in memory")))?;
        views.insert(k.clone(), (v, b.nodata));
    }
    index_views(&views, grid, names, opts)
}

/// The grid of borrowed bands given to [`index_views`].
#[derive(Debug, Clone, PartialEq)]
pub struct BandGrid {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Geotransform.
    pub transform: crate::GeoTransform,
    /// CRS, if known.
    pub crs: Option<crate::Crs>,
}

impl BandGrid {
    /// `width × height`, or an error when the product overflows (a size from a caller).
    pub fn cells(&self) -> Result<usize> {
        self.width.checked_mul(self.height).ok_or_else(|| {
            Error::InvalidInput(format!(
                "a {} × {} grid has more cells than memory can address",
                self.width, self.height
            ))
        })
    }

    /// The grid of a raster.
    pub fn of(r: &crate::Raster) -> Self {
        BandGrid { width: r.width(), height: r.height(), transform: r.transform, crs: r.crs.clone() }
    }

    /// The grid every named band is on (size and geotransform): the first one's, or an error
    /// naming a band on another grid. Bands are not resampled.
    pub fn common<'g>(grids: &'g [(&str, BandGrid)]) -> Result<&'g BandGrid> {
        let (_, first) = grids.first().ok_or_else(|| Error::Empty("no band raster given".into()))?;
        let key = |g: &BandGrid| (g.width, g.height, g.transform);
        match grids.iter().find(|(_, g)| key(g) != key(first)) {
            Some((k, g)) => Err(Error::InvalidInput(format!(
                "band {k} is on another grid ({}x{}) than the others ({}x{}); resample the bands to one grid first",
                g.width, g.height, first.width, first.height
            ))),
            None => Ok(first),
        }
    }
}

/// [`index_rasters`] over borrowed bands (`(cells, nodata)` by catalogue band name, each
/// `width × height` cells on `grid`): the bands are read in place, never copied.
pub fn index_views(
    bands: &BTreeMap<String, (crate::BandView<'_>, Option<f64>)>,
    grid: &BandGrid,
    names: &[&str],
    opts: &ImageryOptions<'_>,
) -> Result<crate::Raster> {
    let n = grid.cells()?;
    // the bands' sizes are checked before any output is allocated
    if let Some((k, (v, _))) = bands.iter().find(|(_, (v, _))| v.len() != n) {
        return Err(Error::InvalidInput(format!(
            "band {k} has {} cells, expected {} × {}",
            v.len(),
            grid.width,
            grid.height
        )));
    }
    let mut outs: Vec<Vec<f32>> = names.iter().map(|_| vec![0f32; n]).collect();
    {
        let mut slices: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
        index_views_into(bands, grid, names, opts, &mut slices)?;
    }
    let shape = (grid.height, grid.width);
    let data = outs
        .into_iter()
        .map(|v| ndarray::Array2::from_shape_vec(shape, v).map(crate::BandData::F32))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    let mut r = crate::Raster::new(data, grid.transform, grid.crs.clone(), Some(f64::NAN))?;
    r.band_names = names.iter().map(|s| Some(s.to_string())).collect();
    Ok(r)
}

/// [`index_views`] writing into caller-provided outputs (one `width × height` slice per index,
/// row-major, NaN where masked), like numpy's `out=`: re-using outputs across scenes or tiles
/// skips allocating (and the kernel zero-filling) fresh pages for every call, which is most of
/// the cost of a call on large rasters.
pub fn index_views_into(
    bands: &BTreeMap<String, (crate::BandView<'_>, Option<f64>)>,
    grid: &BandGrid,
    names: &[&str],
    opts: &ImageryOptions<'_>,
    outs: &mut [&mut [f32]],
) -> Result<()> {
    if bands.is_empty() {
        return Err(Error::Empty("no band raster given".into()));
    }
    let (w, h) = (grid.width, grid.height);
    let n = grid.cells()?;
    if let Some((k, (v, _))) = bands.iter().find(|(_, (v, _))| v.len() != n) {
        return Err(Error::InvalidInput(format!("band {k} has {} cells, expected {w} × {h}", v.len())));
    }
    if outs.len() != names.len() {
        return Err(Error::InvalidInput(format!("{} output arrays for {} indices", outs.len(), names.len())));
    }
    if let Some((k, o)) = names.iter().zip(outs.iter()).find(|(_, o)| o.len() != n) {
        return Err(Error::InvalidInput(format!("the output for {k} has {} cells, expected {w} × {h}", o.len())));
    }
    let scl = opts.scl.map(|m| MaskGrid::new(m, grid)).transpose()?;
    let qa = opts.qa_pixel.map(|m| MaskGrid::new(m, grid)).transpose()?;
    let mut scl_table = [true; 256];
    for &c in &opts.scl_masked {
        scl_table[c as usize] = false;
    }
    let scl_bits =
        opts.scl_masked.iter().all(|&c| c < 32).then(|| opts.scl_masked.iter().fold(0u32, |m, &c| m | (1 << c)));
    if let Some(b) = opts.qa_bits.iter().find(|&&b| b > 15) {
        return Err(Error::InvalidInput(format!("QA_PIXEL bit {b} does not exist: QA_PIXEL has bits 0..15")));
    }
    let qa_bits: u32 = opts.qa_bits.iter().fold(0, |m, b| m | (1u32 << b));
    let band_names: Vec<&String> = bands.keys().collect();
    let progs = bind_indices(names, |v| band_names.iter().position(|b| *b == v), &opts.constants)?;
    use rayon::prelude::*;
    // parallel tasks of TASK cells, each scaled and masked in runs of RUN cells (the f64 band
    // buffers, 32 KB each, stay in the L2 cache; 16 Ki cells measured 1.2x slower) then evaluated
    // index by index: every input and output is read or written in
    // long sequential runs, which the hardware prefetchers follow
    const TASK: usize = 1 << 16;
    const RUN: usize = 1 << 12;
    let starts: Vec<usize> = (0..n).step_by(TASK).collect();
    let mut out_chunks: Vec<Vec<&mut [f32]>> = starts.iter().map(|_| Vec::with_capacity(names.len())).collect();
    for o in outs.iter_mut() {
        for (k, ch) in o.chunks_mut(TASK).enumerate() {
            out_chunks[k].push(ch);
        }
    }
    let lin = Linear::of(&opts.sensor);
    let band_data: Vec<(crate::BandView<'_>, Option<f64>)> = bands.values().copied().collect();
    let u16_bands = band_data
        .iter()
        .map(|(b, nd)| match b {
            crate::BandView::U16(a) => Some((*a, nd.unwrap_or(f64::NAN))),
            _ => None,
        })
        .collect::<Option<Vec<_>>>();
    let scl_flat = match (&scl, scl_bits) {
        (Some(MaskGrid { data: MaskData::U8(d), width, ky: 1, .. }), Some(bits))
            if *width == w && d.len() == n && u16_bands.is_some() =>
        {
            Some((*d, bits))
        }
        _ => None,
    };
    let ctx = Chunker { band_data, lin, scl, qa, scl_table, scl_bits, qa_bits, progs, w, u16_bands, scl_flat };
    out_chunks.into_par_iter().zip(starts.par_iter()).for_each_init(
        || Scratch {
            stack: Vec::new(),
            bufs: vec![vec![0f64; RUN]; ctx.band_data.len()],
            valid: (vec![!0u32; RUN], vec![!0u32; RUN]),
        },
        |scratch, (mut outs_c, &start)| {
            let m = TASK.min(n - start);
            for off in (0..m).step_by(RUN) {
                run_chunk(&ctx, start + off, RUN.min(m - off), scratch, &mut outs_c, off);
            }
        },
    );
    Ok(())
}

/// Serializable imagery settings (the `imagery` part of feature specs and binding options).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagerySettings {
    /// Sensor scaling (`{"sensor": "sentinel2_l2a", "offset": 0}`); default: values are reflectance.
    #[serde(default = "default_sensor")]
    pub sensor: Sensor,
    /// SCL classes to mask (default [`SCL_DEFAULT_MASK`]).
    #[serde(default)]
    pub scl_masked: Option<Vec<u8>>,
    /// QA_PIXEL bits to mask (default [`QA_PIXEL_DEFAULT_BITS`]).
    #[serde(default)]
    pub qa_bits: Option<Vec<u8>>,
    /// Constant overrides.
    #[serde(default)]
    pub constants: HashMap<String, f64>,
}

fn default_sensor() -> Sensor {
    Sensor::Reflectance
}

impl ImagerySettings {
    /// Options for [`index_rasters`] with these settings and the given mask bands.
    pub fn options<'a>(&self, scl: Option<Mask<'a>>, qa_pixel: Option<Mask<'a>>) -> ImageryOptions<'a> {
        ImageryOptions {
            sensor: self.sensor,
            scl,
            scl_masked: self.scl_masked.clone().unwrap_or_else(|| SCL_DEFAULT_MASK.to_vec()),
            qa_pixel,
            qa_bits: self.qa_bits.clone().unwrap_or_else(|| QA_PIXEL_DEFAULT_BITS.to_vec()),
            constants: self.constants.clone(),
        }
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    /// Same bits, NaN equal to NaN.
    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The formula evaluated the plain way: its postfix operations one value at a time in f64,
    /// no folding, no fusion — what spyndex computes on float64 arrays.
    fn reference(p: &Program, vals: &[f64]) -> f64 {
        let mut st: Vec<f64> = Vec::new();
        for op in &p.ops {
            match op {
                Op::Var(k) => st.push(vals[*k]),
                Op::Const(c) => st.push(*c),
                Op::Neg => {
                    let a = st.pop().unwrap_or(f64::NAN);
                    st.push(-a)
                }
                Op::Bin(o) => {
                    let b = st.pop().unwrap_or(f64::NAN);
                    let a = st.pop().unwrap_or(f64::NAN);
                    st.push(o.f(a, b))
                }
            }
        }
        st.pop().unwrap_or(f64::NAN)
    }

    /// Every index of the catalogue, on every kind of input (bright and dark pixels, equal and
    /// opposite bands, near-zero and exactly zero denominators, large DN), is the f64 formula's
    /// value rounded once to f32 — infinite results NaN. Computed in f32 before, EVI on a bright
    /// cloud pixel came out 3.3e4 where the f64 formula gives -1.8e13.
    #[test]
    fn every_index_is_the_f64_formula_rounded_to_f32() {
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // reflectances as they come from DN: (dn - 1000) / 10000 and Landsat's dn·2.75e-5 - 0.2
        let s2 = Sensor::sentinel2_l2a("04.00").unwrap();
        let mut pool: Vec<f64> = (0..4000).map(|_| s2.scale((next() % 20_000) as f64)).collect();
        pool.extend((0..2000).map(|_| Sensor::Landsat89.scale((next() % 65_536) as f64)));
        pool.extend([0.0, -0.0, 1e-4, -1e-4, 0.1, 0.1000001, 1.6, 2.0, 0.5]);
        let n = 4096;
        let mut checked = 0usize;
        for (name, idx) in indices() {
            let prog = Program::compile(&idx.formula).unwrap();
            let mut inputs: HashMap<String, Vec<f32>> = HashMap::new();
            let mut cols: Vec<Vec<f64>> = Vec::new();
            for (k, v) in prog.vars.iter().enumerate() {
                if is_band(v) {
                    // every third cell: a band equal to the previous one, for 0/0 and x/0 cases
                    let c: Vec<f64> = (0..n)
                        .map(|i| match (i % 3, k) {
                            (0, k) if k > 0 => cols[k - 1][i],
                            _ => pool[(next() % pool.len() as u64) as usize],
                        })
                        .collect();
                    // the public API takes f32 reflectance: exact for these inputs only after
                    // rounding, so the reference reads the same f32 values
                    let c32: Vec<f32> = c.iter().map(|x| *x as f32).collect();
                    cols.push(c32.iter().map(|x| *x as f64).collect());
                    inputs.insert(v.clone(), c32);
                } else {
                    cols.push(vec![constant_default(v).unwrap_or(0.5); n]);
                }
            }
            let mut inp = IndexInputs::default();
            for (k, v) in &inputs {
                inp.bands.insert(k.clone(), v);
            }
            for v in prog.vars.iter().filter(|v| !is_band(v)) {
                inp.constants.insert(v.clone(), constant_default(v).unwrap_or(0.5));
            }
            if inputs.is_empty() {
                continue; // an index of constants only has no cells
            }
            let out = &compute_indices(&[name.as_str()], &inp).unwrap()[0];
            for i in 0..n {
                let vals: Vec<f64> = cols.iter().map(|c| c[i]).collect();
                let want = reference(&prog, &vals) as f32;
                let want = if want.is_finite() { want } else { f32::NAN };
                assert!(
                    out[i].to_bits() == want.to_bits() || (out[i].is_nan() && want.is_nan()),
                    "{name} cell {i} {vals:?}: {} vs f64 formula {want}",
                    out[i]
                );
                checked += 1;
            }
        }
        assert!(checked > 200 * 4096, "{checked}");
    }

    #[test]
    fn fused_programs_give_the_same_bits() {
        let n = 997;
        // values with equal pairs, zeros, negatives and opposite pairs (0/0, x/0)
        let col = |k: usize| -> Vec<f64> {
            (0..n).map(|i| (((i * (7 + 2 * k) + k * 13) % 41) as f64 - 20.0) * 0.037 * (1 + k % 3) as f64).collect()
        };
        let cols: Vec<Vec<f64>> = (0..16).map(col).collect();
        let mut fused_any = 0;
        for (name, idx) in indices() {
            let mut p = Program::compile(&idx.formula).unwrap();
            let scalars: Vec<Option<f64>> = p
                .vars
                .iter()
                .map(|v| if is_band(v) { None } else { Some(constant_default(v).unwrap_or(0.5)) })
                .collect();
            let plain = p.lower_code(&scalars);
            p.lower(&scalars);
            fused_any += (p.code.len() < plain.len()) as usize;
            let var = |k: usize| Input::Slice(&cols[k % cols.len()]);
            let (mut s1, mut s2) = (Vec::new(), Vec::new());
            let fused = p.eval_chunk(var, n, &mut s1).to_vec();
            let q = Program { code: plain, ..p.clone() };
            let unfused = q.eval_chunk(var, n, &mut s2);
            for i in 0..n {
                assert!(same(fused[i], unfused[i]), "{name} cell {i}: {} vs {}", fused[i], unfused[i]);
            }
        }
        assert!(fused_any > 50, "only {fused_any} programs fused");
        // passes per chunk for the common indices
        for (name, passes) in [("NDVI", 1), ("NDWI", 1), ("SAVI", 1), ("OSAVI", 1), ("EVI", 4)] {
            let mut p = Program::compile(&index(name).unwrap().formula).unwrap();
            let scalars: Vec<Option<f64>> =
                p.vars.iter().map(|v| (!is_band(v)).then(|| constant_default(v).unwrap())).collect();
            p.lower(&scalars);
            assert_eq!(p.code.len(), passes, "{name}: {:?}", p.code);
        }
    }

    #[test]
    fn bands_share_one_grid() {
        let g = |w: usize, x0: f64| BandGrid {
            width: w,
            height: 4,
            transform: crate::GeoTransform([x0, 10.0, 0.0, 0.0, 0.0, -10.0]),
            crs: None,
        };
        assert_eq!(BandGrid::common(&[]).unwrap_err().code(), "EMPTY");
        let same = [("N", g(5, 0.0)), ("R", g(5, 0.0))];
        assert_eq!(BandGrid::common(&same).unwrap(), &g(5, 0.0));
        for other in [g(6, 0.0), g(5, 5.0)] {
            let e = BandGrid::common(&[("N", g(5, 0.0)), ("R", other)]).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT");
            assert!(e.to_string().contains("band R is on another grid"), "{e}");
        }
    }

    #[test]
    fn scaling_equals_the_sensor_formula_in_f64() {
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let i16s: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        for sensor in
            [Sensor::Sentinel2L2a { offset: 0.0 }, Sensor::Sentinel2L2a { offset: -1000.0 }, Sensor::Landsat89]
        {
            let lin = Linear::of(&sensor);
            let mut out = vec![0f64; all.len()];
            let src = vec![!0u32; all.len()];
            let mut valid = vec![0u32; all.len()];
            let b = crate::BandView::U16(&all);
            scale_into(&b, Some(0.0), lin, 0, &mut out, &src, &mut valid);
            for (i, v) in all.iter().enumerate() {
                assert_eq!(out[i].to_bits(), sensor.scale(*v as f64).to_bits(), "dn {v} {sensor:?}");
                assert_eq!(valid[i] == 0, *v == 0);
            }
            let b = crate::BandView::I16(&i16s);
            let mut out = vec![0f64; i16s.len()];
            scale_into(&b, Some(-9999.0), lin, 0, &mut out, &src, &mut valid);
            for (i, v) in i16s.iter().enumerate() {
                assert_eq!(out[i].to_bits(), sensor.scale(*v as f64).to_bits());
                assert_eq!(valid[i] == 0, *v == -9999);
            }
        }
        // a nodata value that is not the cell's value matches no integer cell
        let lin = Linear::of(&Sensor::Reflectance);
        let (mut out, src, mut valid) = (vec![0f64; 3], vec![!0u32; 3], vec![0u32; 3]);
        scale_into(&crate::BandView::U16(&[100, 101, 102]), Some(100.000001), lin, 0, &mut out, &src, &mut valid);
        assert_eq!(valid, vec![!0u32; 3]);
    }

    #[test]
    fn grouped_u16_scaling_with_same_grid_scl_equals_the_per_band_path() {
        // u16 bands (grouped passes, SCL folded in) against the same numbers as f32 bands (one
        // pass per band, SCL by row segments): the scaling is exact in f32 for both
        let (w, h) = (53, 31);
        let g = crate::GeoTransform([0.0, 10.0, 0.0, 0.0, 0.0, -10.0]);
        let band = |k: u16| -> Vec<u16> {
            (0..w * h).map(|i| ((i as u16).wrapping_mul(37 + k) % 9000) * (i % (11 + k as usize) != 0) as u16).collect()
        };
        let names = ["B", "G", "N", "R", "S1"];
        let ints: Vec<Vec<u16>> = (0..5).map(|k| band(k as u16)).collect();
        let floats: Vec<Vec<f32>> = ints.iter().map(|v| v.iter().map(|x| *x as f32).collect()).collect();
        let scl: Vec<u8> = (0..w * h).map(|i| ((i * 7) % 13) as u8).collect();
        let scl_m = Mask::Cells { cells: crate::BandView::U8(&scl), width: w, height: h, transform: g };
        let opts =
            ImageryOptions { sensor: Sensor::sentinel2_l2a("04.00").unwrap(), scl: Some(scl_m), ..Default::default() };
        let grid = BandGrid { width: w, height: h, transform: g, crs: None };
        let idx = ["NDVI", "NDWI", "NDBI", "SAVI", "EVI"];
        let views = |f: bool| -> BTreeMap<String, (crate::BandView<'_>, Option<f64>)> {
            (0..5)
                .map(|k| {
                    let v = if f { crate::BandView::F32(&floats[k]) } else { crate::BandView::U16(&ints[k]) };
                    (names[k].to_string(), (v, Some(0.0)))
                })
                .collect()
        };
        let a = index_views(&views(false), &grid, &idx, &opts).unwrap();
        let b = index_views(&views(true), &grid, &idx, &opts).unwrap();
        let mut masked = 0;
        for (k, name) in idx.iter().enumerate() {
            let (x, y) = (a.band(k).unwrap().to_f64(), b.band(k).unwrap().to_f64());
            for (i, (x, y)) in x.iter().zip(y.iter()).enumerate() {
                assert!(same(*x, *y), "{name} cell {i}: {x} vs {y}");
                masked += x.is_nan() as usize;
            }
        }
        assert!(masked > 0 && masked < idx.len() * w * h);
    }

    #[test]
    fn integer_dn_scale_without_division_is_the_sensor_formula_bit_for_bit() {
        let sensors = [
            Sensor::Sentinel2L1c { offset: 0.0 },
            Sensor::Sentinel2L1c { offset: -1000.0 },
            Sensor::Sentinel2L2a { offset: 0.0 },
            Sensor::Sentinel2L2a { offset: -1000.0 },
            Sensor::Landsat457,
            Sensor::Landsat89,
            Sensor::Reflectance,
        ];
        // every u8, i8, i16 and u16 DN, and a sample of the 32-bit ones with their extremes
        let mut dns: Vec<f64> = (-32768..=65535).map(f64::from).collect();
        let mut z = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            z = z.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            dns.push(f64::from((z >> 32) as u32));
            dns.push(f64::from((z >> 32) as u32 as i32));
        }
        dns.extend([f64::from(u32::MAX), f64::from(i32::MIN), f64::from(i32::MAX)]);
        for s in sensors {
            let lin = Linear::of(&s);
            let mut wrong = 0usize;
            for &dn in &dns {
                let want = s.scale(dn);
                wrong += usize::from(lin.apply_int(dn).to_bits() != want.to_bits());
                wrong += usize::from(lin.apply(dn).to_bits() != want.to_bits());
            }
            assert_eq!(wrong, 0, "{s:?}: {wrong} DN scaled differently from Sensor::scale");
        }
    }

    #[test]
    fn a_coarser_mask_equals_the_same_mask_repeated_onto_the_band_grid() {
        // 1365 columns: runs of 4096 cells start mid-row at odd and even columns, so the
        // two-columns-per-mask-cell path meets both alignments and odd-length segments
        let (w, h) = (1365, 7);
        let g = crate::GeoTransform([0.0, 10.0, 0.0, 0.0, 0.0, -10.0]);
        let band = |k: u16| -> Vec<u16> {
            (0..w * h).map(|i| ((i as u16).wrapping_mul(29 + k) % 7000) * (i % (13 + k as usize) != 0) as u16).collect()
        };
        let (n, r) = (band(1), band(2));
        let views: BTreeMap<String, (crate::BandView<'_>, Option<f64>)> = [
            ("N".to_string(), (crate::BandView::U16(&n), Some(0.0))),
            ("R".to_string(), (crate::BandView::U16(&r), Some(0.0))),
        ]
        .into();
        let grid = BandGrid { width: w, height: h, transform: g, crs: None };
        for k in [2usize, 3] {
            let (mw, mh) = (w.div_ceil(k), h.div_ceil(k));
            let coarse: Vec<u8> = (0..mw * mh).map(|i| ((i * 5 + i / 7) % 12) as u8).collect();
            let fine: Vec<u8> = (0..w * h).map(|i| coarse[(i / w / k) * mw + (i % w) / k]).collect();
            let gc = crate::GeoTransform([0.0, 10.0 * k as f64, 0.0, 0.0, 0.0, -10.0 * k as f64]);
            let mc = Mask::Cells { cells: crate::BandView::U8(&coarse), width: mw, height: mh, transform: gc };
            let mf = Mask::Cells { cells: crate::BandView::U8(&fine), width: w, height: h, transform: g };
            let run = |m: Mask<'_>| {
                let opts = ImageryOptions {
                    sensor: Sensor::sentinel2_l2a("04.00").unwrap(),
                    scl: Some(m),
                    ..Default::default()
                };
                index_views(&views, &grid, &["NDVI"], &opts).unwrap().band(0).unwrap().to_f64()
            };
            let (a, b) = (run(mc), run(mf));
            let masked = b.iter().filter(|v| v.is_nan()).count();
            assert!(masked > w && masked < w * h - w, "{masked} masked");
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                assert!(same(*x, *y), "factor {k}, cell {i} (row {}, column {}): {x} vs {y}", i / w, i % w);
            }
        }
    }

    #[test]
    fn into_caller_outputs_equals_allocating_and_checks_sizes() {
        let (w, h) = (37, 23);
        let g = crate::GeoTransform([0.0, 10.0, 0.0, 0.0, 0.0, -10.0]);
        let band = |k: u16| -> Vec<u16> {
            (0..w * h).map(|i| ((i as u16).wrapping_mul(31 + k) % 5000) * (i % 17 != 0) as u16).collect()
        };
        let (n, r, gb, b) = (band(1), band(2), band(3), band(4));
        // SCL on a grid twice as coarse
        let scl: Vec<u8> = (0..19 * 12).map(|i| (i % 12) as u8).collect();
        let scl_r = crate::Raster::new(
            vec![crate::BandData::U8(ndarray::Array2::from_shape_vec((12, 19), scl).unwrap())],
            crate::GeoTransform([0.0, 20.0, 0.0, 0.0, 0.0, -20.0]),
            None,
            None,
        )
        .unwrap();
        let views: BTreeMap<String, (crate::BandView<'_>, Option<f64>)> = [
            ("N".to_string(), (crate::BandView::U16(&n), Some(0.0))),
            ("R".to_string(), (crate::BandView::U16(&r), Some(0.0))),
            ("G".to_string(), (crate::BandView::U16(&gb), Some(0.0))),
            ("B".to_string(), (crate::BandView::U16(&b), Some(0.0))),
        ]
        .into();
        let grid = BandGrid { width: w, height: h, transform: g, crs: None };
        let names = ["NDVI", "EVI", "SAVI", "GNDVI"];
        let opts = ImageryOptions {
            sensor: Sensor::sentinel2_l2a("04.00").unwrap(),
            scl: Some((&scl_r).into()),
            ..Default::default()
        };
        let r1 = index_views(&views, &grid, &names, &opts).unwrap();
        let mut outs = vec![vec![7f32; w * h]; names.len()];
        let mut sl: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
        index_views_into(&views, &grid, &names, &opts, &mut sl).unwrap();
        let mut masked = 0;
        for (k, o) in outs.iter().enumerate() {
            let a = r1.band(k).unwrap().to_f64();
            for (i, (x, y)) in a.iter().zip(o).enumerate() {
                assert!(same(*x, *y as f64), "{} cell {i}", names[k]);
                masked += y.is_nan() as usize;
                // scalar reference: the same formula in f64 on scaled reflectance, masks applied
                let (row, col) = (i / w, i % w);
                let c = (row / 2) * 19 + col / 2;
                let bad =
                    n[i] == 0 || r[i] == 0 || gb[i] == 0 || b[i] == 0 || SCL_DEFAULT_MASK.contains(&((c % 12) as u8));
                if k == 0 {
                    let (nn, rr) = ((n[i] as f64 - 1000.0) / 1e4, (r[i] as f64 - 1000.0) / 1e4);
                    let want = (nn - rr) / (nn + rr);
                    if bad || !want.is_finite() {
                        assert!(y.is_nan(), "cell {i}");
                    } else {
                        assert!((*y as f64 - want).abs() <= 1e-5 * want.abs().max(1.0), "cell {i}: {y} vs {want}");
                    }
                }
            }
        }
        assert!(masked > 0);
        let mut short = vec![0f32; w * h - 1];
        let mut bad: Vec<&mut [f32]> = vec![&mut short];
        assert!(matches!(index_views_into(&views, &grid, &names[..1], &opts, &mut bad), Err(Error::InvalidInput(_))));
        assert!(matches!(index_views_into(&views, &grid, &names, &opts, &mut []), Err(Error::InvalidInput(_))));
    }
}
